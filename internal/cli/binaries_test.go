package cli_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/internal/cli/allow"
	"github.com/bottle-dev/bottle/internal/cli/attach"
	"github.com/bottle-dev/bottle/internal/cli/fetch"
	"github.com/bottle-dev/bottle/internal/cli/hasbackend"
	"github.com/bottle-dev/bottle/internal/cli/logs"
	"github.com/bottle-dev/bottle/internal/cli/ls"
	"github.com/bottle-dev/bottle/internal/cli/port"
	"github.com/bottle-dev/bottle/internal/cli/start"
	"github.com/bottle-dev/bottle/internal/cli/stop"
	"github.com/bottle-dev/bottle/internal/cli/trust"
)

type runFunc func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

// binaries are the binaries built on cli.Command; TestBinaryList keeps the
// list whole.
var binaries = map[string]runFunc{
	"bottle-allow":       allow.Run,
	"bottle-attach":      attach.Run,
	"bottle-fetch":       fetch.Run,
	"bottle-has-backend": hasbackend.Run,
	"bottle-logs":        logs.Run,
	"bottle-ls":          ls.Run,
	"bottle-port":        port.Run,
	"bottle-start":       start.Run,
	"bottle-stop":        stop.Run,
	"bottle-trust":       trust.Run,
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if status := binaries[name](args, strings.NewReader(""), &stdout, &stderr); status != 0 || stderr.Len() > 0 {
		t.Fatalf("%s %q: status %d, stderr %q", name, args, status, stderr.String())
	}
	return stdout.String()
}

// longFlags are the flags the binary completes, as go-flags lists them:
// every one but the hidden.
func longFlags(t *testing.T, name string) []string {
	t.Setenv("GO_FLAGS_COMPLETION", "1")
	defer os.Unsetenv("GO_FLAGS_COMPLETION")
	var flags []string
	for _, f := range strings.Fields(run(t, name, "-")) {
		if strings.HasPrefix(f, "--") {
			flags = append(flags, f)
		}
	}
	if !slices.Contains(flags, "--help") || !slices.Contains(flags, "--version") {
		t.Fatalf("%s completes %q", name, flags)
	}
	return flags
}

var helpHeading = regexp.MustCompile(`(?m)^([A-Z][A-Za-z ]*):`)

// Every binary's man page has every flag it has, and a section for each
// part of its help after the options (ENVIRONMENT, EXAMPLES, ...).
func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1795867200")
	for name := range binaries {
		t.Run(name, func(t *testing.T) {
			page := run(t, name, "--man")
			if !strings.HasPrefix(page, ".TH "+name+` 1 "28 November 2026"`+"\n") ||
				!strings.Contains(page, "\n.SH NAME\n"+name+` \- `) ||
				!strings.Contains(page, "\n.SH SYNOPSIS\n"+`\fB`+name+`\fP `) {
				t.Errorf("no .TH, NAME or SYNOPSIS:\n%s", page)
			}
			for _, f := range longFlags(t, name) {
				if !strings.Contains(page, `\fB\-\-`+strings.TrimPrefix(f, "--")+`\fR`) {
					t.Errorf("no %s in the man page", f)
				}
			}
			_, epilog, _ := strings.Cut(run(t, name, "--help"), "Help Options:\n")
			for _, m := range helpHeading.FindAllStringSubmatch(epilog, -1) {
				if !strings.Contains(page, "\n.SH "+strings.ToUpper(m[1])+"\n") {
					t.Errorf("no section for the help's %q", m[1])
				}
			}
			// groff is not needed, but when it is there it must read
			// the page without a warning.
			if groff, err := exec.LookPath("groff"); err == nil {
				cmd := exec.Command(groff, "-ww", "-z", "-man", "-Tutf8")
				cmd.Stdin = strings.NewReader(page)
				if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
					t.Errorf("groff: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	for name := range binaries {
		if got, want := run(t, name, "--version"), name+" "+cli.Version()+"\n"; got != want {
			t.Errorf("%s --version: %q, want %q", name, got, want)
		}
	}
}

// The binaries are those of cmd/ that are built on internal/cli, and both
// completion scripts complete every one of them.
func TestBinaryList(t *testing.T) {
	mains, err := filepath.Glob("../../cmd/*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatal("no cmd/*/main.go", err)
	}
	for _, main := range mains {
		src, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(main))
		if uses := bytes.Contains(src, []byte(`"github.com/bottle-dev/bottle/internal/cli/`)); uses != (binaries[name] != nil) {
			t.Errorf("%s: built on internal/cli: %v; in this test's list: %v", name, uses, binaries[name] != nil)
		}
	}
	bash, zsh := run(t, "bottle-ls", "--completion=bash"), run(t, "bottle-ls", "--completion=zsh")
	compdef, _, _ := strings.Cut(zsh, "\n")
	for name := range binaries {
		fn := "_" + strings.ReplaceAll(name, "-", "_")
		if !regexp.MustCompile(`(?m)^complete .*-F ` + fn + ` ` + name + `$`).MatchString(bash) {
			t.Errorf("the bash script does not complete %s with %s", name, fn)
		}
		if !slices.Contains(strings.Fields(compdef), name) || !strings.Contains(zsh, "compdef _bottle "+strings.Join(sortedNames(), " ")) {
			t.Errorf("the zsh script does not complete %s", name)
		}
	}
}

func sortedNames() []string {
	var names []string
	for name := range binaries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
