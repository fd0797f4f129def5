package agentdef

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

const (
	// maxSecretName is the longest name a secret, or the host variable it
	// comes from, may have.
	maxSecretName = 64
	// MaxSecretFile is the largest file a secret may be read from.
	MaxSecretFile = 64 << 10

	secretNameRule = `use 1 to 64 letters, digits and "_", not starting with a digit`
)

// reservedNames are the variables bottle sets in an agent itself, which a
// secret must not take the place of (compared without regard to case).
var reservedNames = []string{
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
	"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
}

// reservedPrefix begins the names of bottle's own variables, such as
// BOTTLE_SIDECAR_DAEMONS.
const reservedPrefix = "BOTTLE_"

func validSecretName(s string) bool {
	return isName(s, maxSecretName, upper+lower+"_", upper+lower+digits+"_")
}

// secrets reads the secrets object: each key the variable the agent sees,
// each value where the secret comes from and where it may go. They come
// out sorted by name.
func (l *loader) secrets(at string, v any) ([]Secret, error) {
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return nil, l.wrongType(at, "an object", v)
	}
	var secrets []Secret
	for i, name := range obj.Keys {
		nameAt := strictjson.Member(at, name)
		upperName := strings.ToUpper(name)
		switch {
		case !validSecretName(name):
			return nil, l.fail(nameAt, "not a valid variable name: "+secretNameRule)
		case slices.Contains(reservedNames, upperName):
			return nil, l.fail(nameAt, fmt.Sprintf("%s is set by bottle itself in every agent; choose another name", name))
		case strings.HasPrefix(upperName, reservedPrefix):
			return nil, l.fail(nameAt, fmt.Sprintf("names starting with %s are bottle's own; choose another name", reservedPrefix))
		}
		s, err := l.secret(nameAt, name, obj.Values[i])
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s)
	}
	slices.SortFunc(secrets, func(a, b Secret) int { return strings.Compare(a.Name, b.Name) })
	return secrets, nil
}

func (l *loader) secret(at, name string, v any) (Secret, error) {
	s := Secret{Name: name}
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return s, l.wrongType(at, "an object", v)
	}
	err := l.fields(obj, at, secretKeys, func(key, at string, v any) (err error) {
		switch key {
		case "from_env":
			s.FromEnv, err = l.stringValue(at, v)
			if err == nil && !validSecretName(s.FromEnv) {
				err = l.fail(at, fmt.Sprintf("%q is not a valid variable name: %s", s.FromEnv, secretNameRule))
			}
		case "from_file":
			s.FromFile, err = l.secretFile(at, v)
		case "hosts":
			s.Hosts, err = l.secretHosts(at, v)
		}
		return err
	})
	switch {
	case err != nil:
		return s, err
	case s.FromEnv != "" && s.FromFile != "":
		return s, l.fail(at, "has both from_env and from_file; give one of them")
	case s.FromEnv == "" && s.FromFile == "":
		return s, l.fail(at, "needs from_env or from_file, where its value comes from")
	case s.Hosts == nil:
		return s, l.fail(at+".hosts", "required: the hosts the secret may be sent to")
	}
	return s, nil
}

// secretFile reads from_file: an absolute path, or one starting with "~/"
// for the user's home directory. The file itself is read at start.
func (l *loader) secretFile(at string, v any) (string, error) {
	s, err := l.stringValue(at, v)
	switch {
	case err != nil:
		return "", err
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", l.fail(at, fmt.Sprintf("%q must not contain control characters", s))
	case strings.HasPrefix(s, "~/"):
		if l.cfg.Home == "" {
			return "", l.fail(at, fmt.Sprintf("%q starts with \"~/\", but your home directory is not known (HOME is not an absolute path)", s))
		}
		s = filepath.Join(l.cfg.Home, s[2:])
	case !filepath.IsAbs(s):
		return "", l.fail(at, fmt.Sprintf("%q must be an absolute path, or start with \"~/\" for your home directory", s))
	}
	return filepath.Clean(s), nil
}

// secretHosts reads hosts: patterns of egress.allow's grammar, normalised
// as its are, each once.
func (l *loader) secretHosts(at string, v any) ([]string, error) {
	list, err := l.stringList(at, v)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, l.fail(at, "must not be empty: give the hosts the secret may be sent to")
	}
	var hosts []string
	for i, host := range list {
		pattern, err := rules.ParsePattern(host)
		if err != nil {
			return nil, l.fail(strictjson.Index(at, i), err.Error())
		}
		if p := pattern.String(); !slices.Contains(hosts, p) {
			hosts = append(hosts, p)
		}
	}
	return hosts, nil
}

// checkSecrets checks the secrets against the rest of the definition,
// which may come after them in the file, and adds their hosts to the
// allowlist, so that the proxy lets them through.
func (l *loader) checkSecrets(d *Definition) error {
	for _, s := range d.Secrets {
		if _, clash := d.Env[s.Name]; clash {
			return l.fail(strictjson.Member("secrets", s.Name), fmt.Sprintf("%s is also a key of env; give the variable in one place only", s.Name))
		}
		for _, host := range s.Hosts {
			if !slices.Contains(d.Egress.Allow, host) {
				d.Egress.Allow = append(d.Egress.Allow, host)
			}
		}
	}
	return nil
}

// ResolveSecrets reads the value of each secret on the host: a from_env
// one from getenv, a from_file one from its file (a regular file,
// symlinks followed, at most MaxSecretFile bytes, trailing newlines
// trimmed). A value must be one line of text: not empty, no control
// characters. A problem is an *Error naming the definition's file, the
// secret's key and the reason, never the value nor any of the file's
// content. A file that lies in what the agent sees (its workspace, the
// root file system directory of smolmachines) is refused: the agent
// could read it there.
func (d *Definition) ResolveSecrets(getenv func(string) string) error {
	for i := range d.Secrets {
		s := &d.Secrets[i]
		at := strictjson.Member("secrets", s.Name)
		fail := func(key, reason string) error {
			return &Error{File: d.File, Key: at + "." + key, Reason: reason}
		}
		var value string
		if s.FromEnv != "" {
			if value = getenv(s.FromEnv); value == "" {
				return fail("from_env", fmt.Sprintf("%s is not set (or is empty) in your environment", s.FromEnv))
			}
			if controlIn(value) {
				return fail("from_env", fmt.Sprintf("the value of %s holds a control character; a secret is one line of text", s.FromEnv))
			}
		} else {
			var reason string
			if value, reason = d.readSecretFile(s.FromFile); reason != "" {
				return fail("from_file", reason)
			}
		}
		s.Value = value
	}
	return nil
}

// readSecretFile returns the secret in file, or why it cannot: a reason
// that names the file and never holds any of its content.
func (d *Definition) readSecretFile(file string) (value, reason string) {
	q := fmt.Sprintf("%q", file)
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", q + " does not exist"
	case err != nil:
		return "", fmt.Sprintf("cannot read %s: %s", q, describe(err))
	case info.IsDir():
		return "", q + " is a directory, not a file"
	case !info.Mode().IsRegular():
		return "", q + " is not a regular file"
	case info.Size() > MaxSecretFile:
		return "", fmt.Sprintf("%s is larger than %d KiB", q, MaxSecretFile>>10)
	}
	if real, err := filepath.EvalSymlinks(file); err == nil {
		for _, seen := range d.seenDirs() {
			if within(real, seen) {
				return "", fmt.Sprintf("%s lies in %q, which the agent sees; keep secrets out of what a bottle mounts", q, seen)
			}
		}
	}
	// Non-blocking, so that a FIFO put in its place since cannot hang the open.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Sprintf("cannot read %s: %s", q, describe(err))
	}
	defer f.Close()
	if opened, err := f.Stat(); err != nil || !os.SameFile(info, opened) {
		return "", q + " was replaced while it was read; try again"
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	switch {
	case err != nil:
		return "", fmt.Sprintf("cannot read %s: %s", q, describe(err))
	case len(data) > MaxSecretFile:
		return "", fmt.Sprintf("%s is larger than %d KiB", q, MaxSecretFile>>10)
	}
	value = strings.TrimRight(string(data), "\r\n")
	switch {
	case value == "":
		return "", q + " is empty"
	case controlIn(value):
		return "", q + " holds a control character (a line break inside, say); a secret is one line of text"
	}
	return value, ""
}

// seenDirs are the host directories the agent sees, symlinks resolved.
func (d *Definition) seenDirs() []string {
	var dirs []string
	if d.Workspace != "" {
		dirs = append(dirs, d.Workspace)
	}
	if d.Smolmachines.Image != "" {
		dirs = append(dirs, d.Smolmachines.Image)
	}
	return dirs
}

func controlIn(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
