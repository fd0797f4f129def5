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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bottle-dev/bottle/pkg/egress"

	"github.com/bottle-dev/bottle/internal/lazyre"
	"github.com/bottle-dev/bottle/pkg/agent"
)

// Definition is a validated agent definition, with defaults applied.
type Definition struct {
	Name      string            // the agent name: the file's base name without ".json"
	File      string            // absolute path of the definition file
	Dir       string            // the directory the file really lies in (symlinks resolved): never writable from inside the bottle
	Image     string            // required
	Command   []string          // nil: the image's own command
	Attach    []string          // default []string{"/bin/sh"}
	Env       map[string]string // never nil after Load (empty map when absent)
	Workdir   string            // absolute path inside the agent; default "/workspace" when Workspace is set, else ""
	Workspace string            // absolute host directory, symlinks resolved (given relative to the definition file's own directory, or absolute); "" when absent
	Sidecars  []Sidecar         // in file order
	Egress    Egress

	// The agent's confinement on docker. The defaults are the strict ones;
	// each key that weakens them must be written out in the definition.
	User      string   // user[:group] the agent runs as; "" is the image's own
	ReadOnly  bool     // the root file system is read-only (with a /tmp in memory)
	PidsLimit int      // the most processes the agent may have; default DefaultPidsLimit
	CapAdd    []string // capabilities given back after all are dropped, from SafeCapabilities only
	Limits             // memory and CPUs; defaults DefaultMemory and DefaultCPUs
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

const (
	maxFileSize  = 1 << 20
	maxImageLen  = 255
	maxSidecars  = 16
	maxNesting   = 32 // far deeper than any valid definition; bounds the work spent on hostile files
	defaultShell = "/bin/sh"
)

var (
	// An agent name becomes part of a slug "NAME-xxxxxx" of at most 63 characters.
	agentNameRE   = lazyre.New(`^[a-z0-9][a-z0-9-]{0,55}$`)
	sidecarNameRE = lazyre.New(`^[a-z][a-z0-9-]{0,31}$`)
	envKeyRE      = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// Keys that print as .key in a path; anything else prints as ["key"].
	plainKeyRE = lazyre.New(`^[A-Za-z_][A-Za-z0-9_-]*$`)

	topKeys     = []string{"image", "command", "attach", "env", "workdir", "workspace", "sidecars", "egress", "user", "read_only", "pids_limit", "cap_add", "memory", "cpus"}
	userRE      = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$`)
	sidecarKeys = []string{"name", "image", "command", "env", "cap_add", "pids_limit", "memory", "cpus"}
	egressKeys  = []string{"allow"}
)

const agentNameRule = `agent names are 1 to 56 characters of a-z, 0-9 and "-", not starting with "-"`

// Load finds and loads a definition. ref is either a path to a file ending in ".json"
// (relative to the current directory or absolute), or an agent name that is looked up as
// NAME.json in each directory of cfg.SearchPath, first match wins. A definition found
// through a relative directory of the search path must be trusted (see Trust).
func Load(ref string, cfg Config) (*Definition, error) {
	file, name, mustTrust, err := locate(ref, cfg.SearchPath)
	if err != nil {
		return nil, err
	}
	def, _, err := loadFile(file, name, cfg, mustTrust)
	return def, err
}

// loadFile reads file once and parses the very bytes it hashed: a file
// changed in between cannot pass for the one the user trusted. It returns
// the definition and what a trust record of it would hold.
func loadFile(file, name string, cfg Config, mustTrust bool) (*Definition, TrustedFile, error) {
	l := &loader{file: file, cfg: cfg}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, TrustedFile{}, l.fail("", "cannot resolve the path: "+describe(err))
	}
	data, real, err := l.read(abs)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	digest := sha256.Sum256(data)
	record := TrustedFile{File: real, SHA256: hex.EncodeToString(digest[:])}
	if mustTrust {
		if err := l.checkTrusted(record); err != nil {
			return nil, TrustedFile{}, err
		}
	}
	root, err := l.parse(data)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	obj, ok := root.(*object)
	if !ok {
		return nil, TrustedFile{}, l.fail("", "must hold a JSON object at the top level, not "+typeName(root))
	}
	// A relative workspace is relative to the directory the file was
	// found in; the definition's own directory is where it really lies.
	l.dir, l.defDir = filepath.Dir(abs), filepath.Dir(real)
	def, err := l.definition(obj)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	def.Name, def.File, def.Dir = name, abs, l.defDir
	return def, record, nil
}

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
	return l.fail(key, fmt.Sprintf("must be %s, not %s", want, typeName(got)))
}

// read returns the file's bytes and its real path, having checked that
// the bytes are those of the file at that path.
func (l *loader) read(abs string) (data []byte, real string, err error) {
	// Stat first, so that a FIFO or device is refused without being opened.
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", l.fail("", "no such file")
	case err != nil:
		return nil, "", l.fail("", "cannot read: "+describe(err))
	case info.IsDir():
		return nil, "", l.fail("", "is a directory, not a definition file")
	case !info.Mode().IsRegular():
		return nil, "", l.fail("", "is not a regular file")
	case info.Size() > maxFileSize:
		return nil, "", l.fail("", "is larger than 1 MiB")
	}
	// Non-blocking, so that a FIFO put in its place since cannot hang the open.
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", l.fail("", "cannot read: "+describe(err))
	}
	defer f.Close()
	replaced := l.fail("", "was replaced while it was read; try again")
	if opened, err := f.Stat(); err != nil || !os.SameFile(info, opened) {
		return nil, "", replaced
	}
	// The file may have grown since the stat.
	data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, "", l.fail("", "cannot read: "+describe(err))
	}
	if len(data) > maxFileSize {
		return nil, "", l.fail("", "is larger than 1 MiB")
	}
	real, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, "", l.fail("", "cannot resolve the path: "+describe(err))
	}
	// A rename or a changed link since the open would have the bytes of
	// one file recorded under the path of another.
	if now, err := os.Stat(real); err != nil || !os.SameFile(info, now) {
		return nil, "", replaced
	}
	return data, real, nil
}

func (l *loader) definition(obj *object) (*Definition, error) {
	d := &Definition{Env: map[string]string{}}
	err := l.fields(obj, "", topKeys, func(key, at string, v any) (err error) {
		switch key {
		case "image":
			d.Image, err = l.image(at, v)
		case "command":
			d.Command, err = l.stringList(at, v)
		case "attach":
			d.Attach, err = l.stringList(at, v)
			if err == nil && len(d.Attach) == 0 {
				err = l.fail(at, `must not be empty; leave it out for the default ["/bin/sh"]`)
			}
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
			if err == nil && !userRE().MatchString(d.User) {
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
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Image == "" {
		return nil, l.fail("image", "required")
	}
	if d.Attach == nil {
		d.Attach = []string{defaultShell}
	}
	if d.Workdir == "" && d.Workspace != "" {
		d.Workdir = "/workspace"
	}
	d.PidsLimit = cmp.Or(d.PidsLimit, DefaultPidsLimit)
	d.Memory = cmp.Or(d.Memory, DefaultMemory)
	d.CPUs = cmp.Or(d.CPUs, DefaultCPUs)
	return d, nil
}

// fields walks obj in file order, rejecting keys not in known and skipping nulls,
// which stand for an absent optional key (a missing required key is the caller's to report).
func (l *loader) fields(obj *object, at string, known []string, set func(key, at string, v any) error) error {
	for i, key := range obj.keys {
		keyAt := member(at, key)
		if !slices.Contains(known, key) {
			return l.fail(keyAt, unknownKey(key, known))
		}
		if obj.values[i] == nil {
			continue
		}
		if err := set(key, keyAt, obj.values[i]); err != nil {
			return err
		}
	}
	return nil
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
		itemAt := index(at, i)
		obj, ok := item.(*object)
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
	obj, ok := v.(*object)
	if !ok {
		return e, l.wrongType(at, "an object", v)
	}
	err := l.fields(obj, at, egressKeys, func(_, at string, v any) error {
		hosts, err := l.stringList(at, v)
		if err != nil {
			return err
		}
		for i, host := range hosts {
			pattern, err := egress.ParsePattern(host)
			if err != nil {
				return l.fail(index(at, i), err.Error())
			}
			e.Allow = append(e.Allow, pattern)
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
		s, err := l.stringValue(index(at, i), item)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (l *loader) env(at string, v any) (map[string]string, error) {
	obj, ok := v.(*object)
	if !ok {
		return nil, l.wrongType(at, "an object of strings", v)
	}
	env := make(map[string]string, len(obj.keys))
	for i, key := range obj.keys {
		keyAt := member(at, key)
		if !envKeyRE().MatchString(key) {
			return nil, l.fail(keyAt, `not a valid variable name: use letters, digits and "_", not starting with a digit`)
		}
		value, err := l.stringValue(keyAt, obj.values[i])
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
	if err == nil && !sidecarNameRE().MatchString(s) {
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
	}
	return path.Clean(s), nil
}

func unknownKey(key string, known []string) string {
	best, bestDistance := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestDistance {
			best, bestDistance = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; the keys here are " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance, computed over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range ra {
		cur := make([]int, len(rb)+1)
		cur[0] = i + 1
		for j := range rb {
			cost := 1
			if ra[i] == rb[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// member and index build JSON paths such as sidecars[1].env.FOO; a key that would
// be ambiguous or unprintable in that form is quoted instead: env["A B"].
func member(at, key string) string {
	if !plainKeyRE().MatchString(key) {
		return at + "[" + strconv.Quote(key) + "]"
	}
	if at == "" {
		return key
	}
	return at + "." + key
}

func index(at string, i int) string {
	return at + "[" + strconv.Itoa(i) + "]"
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case *object:
		return "an object"
	}
	return "null"
}

// describe drops the path that os errors repeat, since Error already names the file.
func describe(err error) string {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err.Error()
	}
	return err.Error()
}

// printable quotes s when it holds invalid UTF-8 or anything but printable characters.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// Running is the agent a start of this definition has just made.
func (d *Definition) Running(backend, slug string) agent.Agent {
	return agent.Agent{
		Backend:   backend,
		Slug:      slug,
		Name:      d.Name,
		Services:  d.SidecarNames(),
		StartedAt: time.Now().UTC().Truncate(time.Second),
		State:     "running",
	}
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
	rel, err := filepath.Rel(d.Workspace, d.Dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return mounts
	}
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

// SidecarNames returns the names of the sidecars, in definition order: the
// services an agent shows.
func (d *Definition) SidecarNames() []string {
	names := make([]string, len(d.Sidecars))
	for i, s := range d.Sidecars {
		names[i] = s.Name
	}
	return names
}
