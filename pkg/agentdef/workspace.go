package agentdef

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// systemTrees are the host directories that no bottle may mount, nor any
// directory above or below them: the host's configuration, the kernel's and
// the devices' interfaces, the runtime sockets (the Docker Engine's among
// them), Docker's default data root, where every container's files lie, and
// the programs and libraries the host runs, as root too.
var systemTrees = []string{
	"/etc", "/proc", "/sys", "/dev", "/run", "/var/run", "/var/lib/docker",
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot",
}

// workspace reads the workspace key: a directory, relative to the one the
// definition was found in, resolved through symlinks so that a link cannot
// carry a refused directory in under another name.
func (l *loader) workspace(at string, v any) (string, error) {
	s, info, err := l.hostPath(at, v, "directory ", "leave it out for no workspace")
	switch {
	case err != nil:
		return "", err
	case !info.IsDir():
		return "", l.fail(at, fmt.Sprintf("%q is not a directory", s))
	}
	real, err := l.realPath(at, s)
	if err != nil {
		return "", err
	}
	if err := l.checkWorkspace(real); err != nil {
		return "", l.fail(at, err.Error())
	}
	return real, nil
}

// hostPath reads a host path of the definition's, relative to the
// directory it was found in, and returns it cleaned with what it is; what
// names it in the message for one that does not exist, empty says what to
// do instead of giving "".
func (l *loader) hostPath(at string, v any, what, empty string) (string, fs.FileInfo, error) {
	s, err := l.stringValue(at, v)
	switch {
	case err != nil:
		return "", nil, err
	case s == "":
		return "", nil, l.fail(at, "must not be empty; "+empty)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", nil, l.fail(at, fmt.Sprintf("%q must not contain control characters", s))
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(l.dir, s)
	}
	s = filepath.Clean(s)
	info, err := os.Stat(s)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, l.fail(at, fmt.Sprintf("%s%q does not exist", what, s))
	case err != nil:
		return "", nil, l.fail(at, fmt.Sprintf("cannot use %q: %s", s, describe(err)))
	}
	return s, info, nil
}

// realPath resolves s through symlinks, so that a link cannot carry a
// refused directory in under another name.
func (l *loader) realPath(at, s string) (string, error) {
	real, err := filepath.EvalSymlinks(s)
	if err != nil {
		return "", l.fail(at, fmt.Sprintf("cannot use %q: %s", s, describe(err)))
	}
	return real, nil
}

// checkWorkspace refuses the directories whose mount would let the agent
// out of its bottle or let it rewrite its own policy.
func (l *loader) checkWorkspace(dir string) error {
	if dir == "/" {
		return errors.New(`"/" is the host's whole file system, which no bottle may mount`)
	}
	if home := l.cfg.Home; home != "" {
		for _, h := range resolved(home) {
			if dir == h {
				return fmt.Errorf("%q is your home directory, which no bottle may mount; use a project directory inside it", dir)
			}
			if within(h, dir) {
				return fmt.Errorf("%q contains your home directory, which no bottle may mount; use a project directory inside it", dir)
			}
		}
	}
	if err := CheckWorkspace(dir); err != nil {
		return err
	}
	// A bottle that could write bottle's own directories could add
	// definitions that need no trust, or trust its own, or write into
	// other agents' copies and the repositories bottle reads them through.
	for _, own := range []struct{ dir, what string }{
		{l.cfg.ConfigDir, "bottle's configuration"},
		{l.cfg.StateDir, "bottle's trust store"},
		{l.cfg.DataDir, "the agents' copies of repositories"},
	} {
		if own.dir != "" {
			if err := checkTree(dir, own.dir, " ("+own.what+")"); err != nil {
				return err
			}
		}
	}
	if dir == l.defDir {
		return fmt.Errorf("%q is the directory of the definition itself, which the agent could then rewrite; move the definition into a subdirectory of the workspace or out of it", dir)
	}
	return nil
}

// CheckWorkspace refuses dir, an absolute directory with symlinks resolved,
// when it is, contains or lies inside one of the host's system directories
// (/etc, /proc, /sys, /dev, /run, /var/run, /var/lib/docker, /usr, /bin,
// /sbin, /lib, /lib32, /lib64, /libx32, /boot) or one of forbidden, each
// resolved through symlinks too when it exists. Load has
// checked every workspace this way; a backend adds the directories of its
// own engine, such as the Docker Engine's real data root and socket's
// directory. The error is one line without the key, for the caller to name.
func CheckWorkspace(dir string, forbidden ...string) error {
	for _, tree := range slices.Concat(systemTrees, forbidden) {
		if err := checkTree(dir, tree, ""); err != nil {
			return err
		}
	}
	return nil
}

// checkTree refuses dir when it is tree, contains it or lies inside it;
// what says what the tree is, for the message.
func checkTree(dir, tree, what string) error {
	for _, t := range resolved(tree) {
		switch {
		case dir == t:
			return fmt.Errorf("%q is %s%s, which no bottle may mount", dir, t, what)
		case within(t, dir):
			return fmt.Errorf("%q contains %s%s, which no bottle may mount", dir, t, what)
		case within(dir, t):
			return fmt.Errorf("%q lies inside %s%s, which no bottle may mount", dir, t, what)
		}
	}
	return nil
}

// resolved returns dir cleaned and, when that differs, with its symlinks
// resolved: /var/run is often a link to /run, a home directory a link too.
func resolved(dir string) []string {
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		return []string{dir, real}
	}
	return []string{dir}
}

// within says whether path lies strictly inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Mount is a host directory that the agent sees.
type Mount struct {
	Source   string // absolute host path, symlinks resolved
	Target   string // absolute path inside the agent
	ReadOnly bool
}

// Mounts returns the host directories the agent sees: the workspace at
// Workdir and, when the definition's own directory lies inside the
// workspace, that directory read-only over it, so that the agent cannot
// rewrite the policy it is started with. Every directory between the two
// is a mount of its own too (read-write, onto itself): a mount point cannot
// be renamed or removed, so the agent cannot move the read-only directory
// aside and put a definition of its own in its place.
func (d *Definition) Mounts() []Mount {
	if d.Workspace == "" {
		return nil
	}
	mounts := []Mount{{Source: d.Workspace, Target: d.Workdir}}
	if !within(d.Dir, d.Workspace) {
		return mounts
	}
	rel, _ := filepath.Rel(d.Workspace, d.Dir) // cannot fail: within has just done the same
	parts := strings.Split(rel, string(filepath.Separator))
	for i := range parts {
		sub := filepath.Join(parts[:i+1]...)
		mounts = append(mounts, Mount{
			Source:   filepath.Join(d.Workspace, sub),
			Target:   path.Join(d.Workdir, filepath.ToSlash(sub)),
			ReadOnly: i == len(parts)-1,
		})
	}
	return mounts
}
