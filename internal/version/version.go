// Package version tells which build of bottle is running, for every
// binary's --version, bottle-egress's among them: it imports nothing but
// the standard library, so the proxy can share it and stay static.
package version

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// String is the version of the running binary, from its build info: the
// main module's version (v0.3.0 from go install …@v0.3.0, a pseudo-version
// or (devel) from a build in a checkout), then the commit it was built from
// when the build recorded one and the version does not already name it.
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	return of(info)
}

func of(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(revision) > 12 {
		revision = revision[:12] // as in pseudo-versions
	}
	switch {
	case revision == "" || strings.Contains(v, revision):
	case modified == "true":
		v += " (" + revision + ", modified)"
	default:
		v += " (" + revision + ")"
	}
	return v
}

// ParseFlags is the ending every standard-library command of bottle's
// shares (bottle-egress, bottle-netlock): it adds -version to fs, parses
// args, and says whether the command is done, with its exit status: after
// -h (0), after -version, printed on stdout as "NAME VERSION" (0), and for
// a bad flag or any argument left over (2, said on fs's output).
func ParseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (status int, done bool) {
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, fs.Name(), String())
		return 0, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
}
