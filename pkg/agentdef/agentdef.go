// Package agentdef loads and validates agent definitions: the JSON files that say what an agent runs and which sidecars guard it.
//
// A definition is security policy, not workspace data. Validation is strict
// and happens once, here, so that backends can trust every value: unknown or
// repeated keys, wrong types, values that could smuggle control characters
// into labels or output lines, capabilities or mounts that would let an agent
// out of its bottle, and definitions from the current directory that the user
// has not trusted (see Trust) are rejected with an *Error naming the file,
// the key and the reason.
package agentdef

import (
	"cmp"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// DefaultWorkdir is where the agent sees its workspace unless the
// definition's workdir says otherwise.
const DefaultWorkdir = "/workspace"

// Definition is a validated agent definition, with defaults applied.
type Definition struct {
	Name      string            // the agent name: the file's base name without ".json"
	File      string            // absolute path of the definition file
	Dir       string            // the directory the file really lies in (symlinks resolved): never writable from inside the bottle
	Image     string            // required
	Pull      Pull              // when the images are pulled: the "pull" key, else bottle-start's --pull; "" is PullMissing
	Command   []string          // the agent's program, the bottle's session, run on a terminal; nil: the image's own command
	Env       map[string]string // never nil after Load (empty map when absent)
	Workdir   string            // absolute path inside the agent; default "/workspace" when Workspace is set, else ""
	Workspace string            // absolute host directory, symlinks resolved (given relative to the definition file's own directory, or absolute); "" when absent
	Sidecars  []Sidecar         // in file order
	Egress    Egress            // its Allow holds every secret's hosts too
	Secrets   []Secret          // sorted by name
	Ports     []Publish         // the agent's ports published on the host, in order; no port twice
	// Branch is set by bottle-start, never by the file: the agent's own
	// copy of a repository, which Workspace then names.
	Branch *agent.Branch

	// The agent's confinement on docker. The defaults are the strict ones;
	// each key that weakens them must be written out in the definition.
	User      string   // user[:group] the agent runs as; "" is the image's own
	ReadOnly  bool     // the root file system is read-only (with a /tmp in memory)
	PidsLimit int      // the most processes the agent may have; default DefaultPidsLimit
	CapAdd    []string // capabilities given back after all are dropped, from SafeCapabilities only
	Limits             // memory and CPUs; defaults DefaultMemory and DefaultCPUs

	Smolmachines Smolmachines // what the smolmachines backend takes instead of docker's
}

// Smolmachines is what a definition gives the smolmachines backend in
// place of what docker takes.
type Smolmachines struct {
	// Image is the agent's image as smolvm reads a local one: an archive
	// (.tar, .tar.gz, .tgz) or an unpacked root file system directory,
	// absolute, symlinks resolved; "" when absent, and the definition's
	// Image is then a registry reference to smolvm.
	Image string
}

// Limits bound what one container or machine may take of the host.
type Limits struct {
	Memory int64   // bytes of memory (and of memory plus swap)
	CPUs   float64 // CPUs' worth of time, such as 1.5
}

// The bounds an agent and each sidecar get when the definition gives none:
// a runaway agent cannot take the host's memory or all of its CPUs.
const (
	DefaultPidsLimit     = 1024
	DefaultMemory        = 4 << 30
	DefaultCPUs          = 2.0
	DefaultSidecarMemory = 512 << 20
	DefaultSidecarCPUs   = 1.0
)

// Sidecar is a service that runs beside the agent to guard it.
type Sidecar struct {
	Name    string            // [a-z][a-z0-9-]*, at most 32 characters, unique within the definition
	Image   string            // required
	Command []string          // nil: the image's own command
	Env     map[string]string // never nil after Load

	// A sidecar is confined like the agent: all capabilities dropped but
	// CapAdd (from SafeCapabilities), no privilege gain, bounded processes,
	// memory and CPUs.
	CapAdd    []string
	PidsLimit int // default DefaultPidsLimit
	Limits        // defaults DefaultSidecarMemory and DefaultSidecarCPUs
}

// Secret is a value the agent may use but never holds: it sees a
// placeholder under Name, and the egress proxy puts Value into requests
// to Hosts in its place.
type Secret struct {
	Name     string   // the environment variable the agent sees: [A-Za-z_][A-Za-z0-9_]*
	FromEnv  string   // the host's environment variable the value comes from, or ""
	FromFile string   // the host file it comes from, absolute, or ""; exactly one of the two is set
	Hosts    []string // patterns of egress.allow's grammar, normalised as Allow's are
	// Value is the secret itself, "" until ResolveSecrets reads it on the
	// host at start; never printed, logged or put in a label.
	Value string
}

// Egress says where the agent may connect to.
type Egress struct {
	Allow []string // exact hosts or "*.suffix" patterns, lower-cased, trailing dot removed
}

// Error is what every problem with a definition is: it names the file, the key and the reason.
type Error struct {
	File   string // path as the user gave it or as found on the search path
	Key    string // JSON path of the key, e.g. "sidecars[1].image", "env.FOO", "" when the problem is the file itself
	Reason string
}

// Error returns "FILE: KEY: REASON", or "FILE: REASON" when Key is "".
// The file name is quoted when it holds characters that must not reach a terminal raw.
func (e *Error) Error() string {
	if e.Key == "" {
		return printable(e.File) + ": " + e.Reason
	}
	return printable(e.File) + ": " + e.Key + ": " + e.Reason
}

// printable quotes s when it holds invalid UTF-8 or anything but printable characters.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

const (
	maxImageLen = 255
	maxSidecars = 16
)

// loader carries the file name into every error it reports, and what the
// checks of its values need to know.
type loader struct {
	file   string
	cfg    Config
	dir    string // the directory the file was found in, symlinks not resolved
	defDir string // the directory the file really lies in
}

func (l *loader) fail(key, reason string) error {
	return &Error{File: l.file, Key: key, Reason: reason}
}

func (l *loader) wrongType(key, want string, got any) error {
	return l.fail(key, fmt.Sprintf("must be %s, not %s", want, strictjson.TypeName(got)))
}

func (l *loader) definition(obj *strictjson.Object) (*Definition, error) {
	d := &Definition{Env: map[string]string{}}
	err := l.fields(obj, "", topKeys, func(key, at string, v any) (err error) {
		switch key {
		case "image":
			d.Image, err = l.image(at, v)
		case "pull":
			d.Pull, err = l.pull(at, v)
		case "command":
			d.Command, err = l.stringList(at, v)
		case "env":
			d.Env, err = l.env(at, v)
		case "workdir":
			d.Workdir, err = l.workdir(at, v)
		case "workspace":
			d.Workspace, err = l.workspace(at, v)
		case "sidecars":
			d.Sidecars, err = l.sidecars(at, v)
		case "egress":
			d.Egress, err = l.egress(at, v)
		case "user":
			d.User, err = l.stringValue(at, v)
			if err == nil && !validUser(d.User) {
				err = l.fail(at, fmt.Sprintf("%q is not a user or user:group (names or numeric ids)", d.User))
			}
		case "read_only":
			var ok bool
			if d.ReadOnly, ok = v.(bool); !ok {
				err = l.wrongType(at, "a boolean", v)
			}
		case "pids_limit":
			d.PidsLimit, err = l.pidsLimit(at, v)
		case "cap_add":
			d.CapAdd, err = l.capabilities(at, v)
		case "memory":
			d.Memory, err = l.memory(at, v)
		case "cpus":
			d.CPUs, err = l.cpus(at, v)
		case "smolmachines":
			d.Smolmachines, err = l.smolmachines(at, v)
		case "secrets":
			d.Secrets, err = l.secrets(at, v)
		case "ports":
			d.Ports, err = l.ports(at, v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Image == "" {
		return nil, l.fail("image", "required")
	}
	if err := l.checkSecrets(d); err != nil {
		return nil, err
	}
	if d.Workdir == "" && d.Workspace != "" {
		d.Workdir = DefaultWorkdir
	}
	d.PidsLimit = cmp.Or(d.PidsLimit, DefaultPidsLimit)
	d.Memory = cmp.Or(d.Memory, DefaultMemory)
	d.CPUs = cmp.Or(d.CPUs, DefaultCPUs)
	return d, nil
}

func (l *loader) sidecars(at string, v any) ([]Sidecar, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, l.wrongType(at, "an array of objects", v)
	}
	if len(items) > maxSidecars {
		return nil, l.fail(at, fmt.Sprintf("at most %d sidecars are allowed, not %d", maxSidecars, len(items)))
	}
	var sidecars []Sidecar
	firstIndex := map[string]int{}
	for i, item := range items {
		itemAt := strictjson.Index(at, i)
		obj, ok := item.(*strictjson.Object)
		if !ok {
			return nil, l.wrongType(itemAt, "an object", item)
		}
		s := Sidecar{Env: map[string]string{}}
		err := l.fields(obj, itemAt, sidecarKeys, func(key, at string, v any) (err error) {
			switch key {
			case "name":
				s.Name, err = l.sidecarName(at, v)
			case "image":
				s.Image, err = l.image(at, v)
			case "command":
				s.Command, err = l.stringList(at, v)
			case "env":
				s.Env, err = l.env(at, v)
			case "cap_add":
				s.CapAdd, err = l.capabilities(at, v)
			case "pids_limit":
				s.PidsLimit, err = l.pidsLimit(at, v)
			case "memory":
				s.Memory, err = l.memory(at, v)
			case "cpus":
				s.CPUs, err = l.cpus(at, v)
			}
			return err
		})
		switch {
		case err != nil:
			return nil, err
		case s.Name == "":
			return nil, l.fail(itemAt+".name", "required")
		case s.Image == "":
			return nil, l.fail(itemAt+".image", "required")
		}
		if err := l.egressSidecar(itemAt, s); err != nil {
			return nil, err
		}
		s.PidsLimit = cmp.Or(s.PidsLimit, DefaultPidsLimit)
		s.Memory = cmp.Or(s.Memory, DefaultSidecarMemory)
		s.CPUs = cmp.Or(s.CPUs, DefaultSidecarCPUs)
		if j, dup := firstIndex[s.Name]; dup {
			return nil, l.fail(itemAt+".name", fmt.Sprintf("%q is already the name of sidecars[%d]; sidecar names must be unique", s.Name, j))
		}
		firstIndex[s.Name] = i
		sidecars = append(sidecars, s)
	}
	return sidecars, nil
}

func (l *loader) egress(at string, v any) (Egress, error) {
	var e Egress
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return e, l.wrongType(at, "an object", v)
	}
	err := l.fields(obj, at, egressKeys, func(_, at string, v any) error {
		hosts, err := l.stringList(at, v)
		if err != nil {
			return err
		}
		for i, host := range hosts {
			pattern, err := rules.ParsePattern(host)
			if err != nil {
				return l.fail(strictjson.Index(at, i), err.Error())
			}
			e.Allow = append(e.Allow, pattern.String())
		}
		return nil
	})
	return e, err
}

func (l *loader) stringValue(at string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", l.wrongType(at, "a string", v)
	}
	return s, nil
}

// stringList returns nil for an empty array, so that nil alone means "not given".
func (l *loader) stringList(at string, v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, l.wrongType(at, "an array of strings", v)
	}
	var out []string
	for i, item := range items {
		s, err := l.stringValue(strictjson.Index(at, i), item)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (l *loader) env(at string, v any) (map[string]string, error) {
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return nil, l.wrongType(at, "an object of strings", v)
	}
	env := make(map[string]string, len(obj.Keys))
	for i, key := range obj.Keys {
		keyAt := strictjson.Member(at, key)
		if !validEnvName(key) {
			return nil, l.fail(keyAt, `not a valid variable name: use letters, digits and "_", not starting with a digit`)
		}
		value, err := l.stringValue(keyAt, obj.Values[i])
		if err != nil {
			return nil, err
		}
		env[key] = value
	}
	return env, nil
}

func (l *loader) image(at string, v any) (string, error) {
	s, err := l.stringValue(at, v)
	switch {
	case err != nil:
		return "", err
	case s == "":
		return "", l.fail(at, "must not be empty")
	case strings.HasPrefix(s, "-"):
		// No image reference starts with "-", and a CLI would read it as a flag.
		return "", l.fail(at, fmt.Sprintf("%q must not start with \"-\"", s))
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", l.fail(at, fmt.Sprintf("%q must not contain whitespace or control characters", s))
	case utf8.RuneCountInString(s) > maxImageLen:
		return "", l.fail(at, fmt.Sprintf("must be at most %d characters long", maxImageLen))
	}
	return s, nil
}

func (l *loader) sidecarName(at string, v any) (string, error) {
	s, err := l.stringValue(at, v)
	if err == nil && !validSidecarName(s) {
		err = l.fail(at, fmt.Sprintf(`%q is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`, s))
	}
	return s, err
}

func (l *loader) workdir(at string, v any) (string, error) {
	s, err := l.stringValue(at, v)
	switch {
	case err != nil:
		return "", err
	case !strings.HasPrefix(s, "/"):
		return "", l.fail(at, fmt.Sprintf("%q must be an absolute path (starting with \"/\")", s))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", l.fail(at, fmt.Sprintf("%q must not contain control characters", s))
	case path.Clean(s) == ToolDir || strings.HasPrefix(path.Clean(s), ToolDir+"/"):
		return "", l.fail(at, fmt.Sprintf("%q is where bottle keeps its own tools inside the agent; choose another directory", s))
	}
	return path.Clean(s), nil
}

// ToolDir is where bottle's own tools are inside an agent, such as
// bottle-tether on docker; nothing of a definition's may go there.
const ToolDir = "/.bottle"

// SidecarNames returns the names of the sidecars, in definition order: the
// services an agent shows.
func (d *Definition) SidecarNames() []string {
	names := make([]string, len(d.Sidecars))
	for i, s := range d.Sidecars {
		names[i] = s.Name
	}
	return names
}
