// Package agentdef loads and validates agent definitions: the JSON files that say what an agent runs and which sidecars guard it.
//
// Validation is strict and happens once, here, so that backends can trust every
// value: unknown or repeated keys, wrong types and values that could smuggle
// control characters into labels or output lines are rejected with an *Error
// naming the file, the key and the reason.
package agentdef

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
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
	Workspace string            // absolute, cleaned host directory (given relative to the definition file's own directory, or absolute); "" when absent
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

	topKeys     = []string{"image", "command", "attach", "env", "workdir", "workspace", "sidecars", "egress", "user", "read_only", "pids_limit", "cap_add"}
	userRE      = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$`)
	capRE       = lazyre.New(`^[A-Z][A-Z_]{1,30}$`)
	sidecarKeys = []string{"name", "image", "command", "env"}
	egressKeys  = []string{"allow"}
)

const agentNameRule = `agent names are 1 to 56 characters of a-z, 0-9 and "-", not starting with "-"`

// SearchPath returns the directories searched for AGENT.json, in order:
// the colon-separated BOTTLE_AGENT_PATH if set and non-empty (empty entries skipped),
// else "./.bottle/agents" then "$XDG_CONFIG_HOME/bottle/agents" (XDG_CONFIG_HOME defaulting to "$HOME/.config"; skip that entry if neither is set).
// A relative XDG_CONFIG_HOME is ignored, as the XDG base directory specification requires.
func SearchPath(getenv func(string) string) []string {
	if list := getenv("BOTTLE_AGENT_PATH"); list != "" {
		var dirs []string
		for _, dir := range strings.Split(list, ":") {
			if dir != "" {
				dirs = append(dirs, dir)
			}
		}
		return dirs
	}
	dirs := []string{"./.bottle/agents"}
	config := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(config) {
		config = ""
		if home := getenv("HOME"); home != "" {
			config = filepath.Join(home, ".config")
		}
	}
	if config != "" {
		dirs = append(dirs, filepath.Join(config, "bottle", "agents"))
	}
	return dirs
}

// Load finds and loads a definition. ref is either a path to a file ending in ".json"
// (relative to the current directory or absolute), or an agent name that is looked up as
// NAME.json in each directory of searchPath, first match wins.
func Load(ref string, searchPath []string) (*Definition, error) {
	if strings.HasSuffix(ref, ".json") {
		name := strings.TrimSuffix(filepath.Base(ref), ".json")
		if !agentNameRE().MatchString(name) {
			return nil, &Error{File: ref, Reason: fmt.Sprintf("the file name gives the agent name %q, which is not allowed: %s", name, agentNameRule)}
		}
		return loadFile(ref, name)
	}
	if !agentNameRE().MatchString(ref) {
		reason := "not a valid agent name: " + agentNameRule
		if strings.ContainsAny(ref, `/\.`) {
			reason += `; to load a file, give a path ending in ".json"`
		}
		return nil, &Error{File: ref, Reason: reason}
	}
	file, err := find(ref, searchPath)
	if err != nil {
		return nil, err
	}
	return loadFile(file, ref)
}

// Names lists the agent names found on searchPath (sorted, deduplicated, first match wins), for help and error messages.
func Names(searchPath []string) []string {
	seen := map[string]bool{}
	for _, dir := range searchPath {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, entry := range entries {
			name, ok := strings.CutSuffix(entry.Name(), ".json")
			if !ok || !agentNameRE().MatchString(name) {
				continue
			}
			if info, err := os.Stat(filepath.Join(dir, entry.Name())); err == nil && info.Mode().IsRegular() {
				seen[name] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func find(name string, searchPath []string) (string, error) {
	for _, dir := range searchPath {
		file := filepath.Join(dir, name+".json")
		_, err := os.Stat(file)
		if err == nil {
			return file, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", &Error{File: file, Reason: "cannot read: " + describe(err)}
		}
	}
	if len(searchPath) == 0 {
		return "", &Error{File: name, Reason: fmt.Sprintf("no definition %s.json: the search path is empty (set BOTTLE_AGENT_PATH)", name)}
	}
	dirs := make([]string, len(searchPath))
	for i, dir := range searchPath {
		dirs[i] = printable(dir)
	}
	reason := fmt.Sprintf("no definition %s.json in %s", name, strings.Join(dirs, ", "))
	if names := Names(searchPath); len(names) > 0 {
		reason += "; available agents: " + strings.Join(names, ", ")
	}
	return "", &Error{File: name, Reason: reason}
}

func loadFile(file, name string) (*Definition, error) {
	l := &loader{file: file}
	data, err := l.read()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, l.fail("", "cannot resolve the path: "+describe(err))
	}
	root, err := l.parse(data)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(*object)
	if !ok {
		return nil, l.fail("", "must hold a JSON object at the top level, not "+typeName(root))
	}
	def, err := l.definition(obj, filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, l.fail("", "cannot resolve the path: "+describe(err))
	}
	def.Name, def.File, def.Dir = name, abs, filepath.Dir(real)
	return def, nil
}

// loader carries the file name into every error it reports.
type loader struct{ file string }

func (l *loader) fail(key, reason string) error {
	return &Error{File: l.file, Key: key, Reason: reason}
}

func (l *loader) wrongType(key, want string, got any) error {
	return l.fail(key, fmt.Sprintf("must be %s, not %s", want, typeName(got)))
}

func (l *loader) read() ([]byte, error) {
	// Stat first so that a FIFO or device is refused without blocking on open.
	info, err := os.Stat(l.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, l.fail("", "no such file")
	case err != nil:
		return nil, l.fail("", "cannot read: "+describe(err))
	case info.IsDir():
		return nil, l.fail("", "is a directory, not a definition file")
	case !info.Mode().IsRegular():
		return nil, l.fail("", "is not a regular file")
	case info.Size() > maxFileSize:
		return nil, l.fail("", "is larger than 1 MiB")
	}
	f, err := os.Open(l.file)
	if err != nil {
		return nil, l.fail("", "cannot read: "+describe(err))
	}
	defer f.Close()
	// The file may have grown since the stat.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, l.fail("", "cannot read: "+describe(err))
	}
	if len(data) > maxFileSize {
		return nil, l.fail("", "is larger than 1 MiB")
	}
	return data, nil
}

// object keeps keys in file order, which decides which problem is reported first.
type object struct {
	keys   []string
	values []any
}

// parse turns data into strings, json.Numbers, bools, nils, []any and *objects,
// rejecting repeated keys, NUL characters and needless nesting on the way.
func (l *loader) parse(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, l.fail("", "is empty; it must hold a JSON object")
	}
	// The token stream reports syntax errors with offsets relative to the current
	// value, so a whole-document check comes first for an exact line and column.
	if !json.Valid(data) {
		var syntax *json.SyntaxError
		if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syntax) {
			at := int(syntax.Offset) - 1 // the offset counts the offending byte
			if strings.Contains(syntax.Error(), "end of JSON input") {
				at = len(data)
			}
			return nil, l.fail("", fmt.Sprintf("invalid JSON at %s: %s", position(data, at), syntax.Error()))
		}
		return nil, l.fail("", "invalid JSON")
	}
	p := &parser{loader: l, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber() // a huge number is a type error later, not a parse failure here
	return p.value("", 0)
}

type parser struct {
	*loader
	data []byte
	dec  *json.Decoder
}

func (p *parser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail("", "invalid JSON: "+err.Error())
	}
	return tok, nil
}

func (p *parser) value(at string, depth int) (any, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxNesting {
			return nil, p.fail(at, fmt.Sprintf("nested more than %d levels deep", maxNesting))
		}
		if t == '{' {
			return p.object(at, depth)
		}
		return p.array(at, depth)
	case string:
		if strings.ContainsRune(t, 0) {
			return nil, p.fail(at, "must not contain a NUL character")
		}
	}
	return tok, nil
}

func (p *parser) object(at string, depth int) (any, error) {
	obj := &object{}
	firstSeen := map[string]int{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // the input is valid JSON, so this is always a string
		keyAt := member(at, key)
		if first, dup := firstSeen[key]; dup {
			return nil, p.fail(keyAt, fmt.Sprintf("duplicate key (first given at line %d)", lineOf(p.data, first)))
		}
		firstSeen[key] = int(p.dec.InputOffset())
		v, err := p.value(keyAt, depth+1)
		if err != nil {
			return nil, err
		}
		obj.keys = append(obj.keys, key)
		obj.values = append(obj.values, v)
	}
	_, err := p.token() // the closing brace
	return obj, err
}

func (p *parser) array(at string, depth int) (any, error) {
	arr := []any{}
	for p.dec.More() {
		v, err := p.value(index(at, len(arr)), depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := p.token() // the closing bracket
	return arr, err
}

func (l *loader) definition(obj *object, dir string) (*Definition, error) {
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
			d.Workspace, err = l.workspace(at, v, dir)
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
	if d.PidsLimit == 0 {
		d.PidsLimit = DefaultPidsLimit
	}
	return d, nil
}

func (l *loader) pidsLimit(at string, v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, l.wrongType(at, "a whole number", v)
	}
	limit, err := strconv.Atoi(n.String())
	if err != nil || limit < 16 || limit > 1<<22 {
		return 0, l.fail(at, fmt.Sprintf("%s must be a whole number from 16 to %d", n, 1<<22))
	}
	return limit, nil
}

// capabilities reads cap_add: Linux capability names, with or without the
// CAP_ prefix, given back one by one to an agent that starts with none.
func (l *loader) capabilities(at string, v any) ([]string, error) {
	list, err := l.stringList(at, v)
	if err != nil {
		return nil, err
	}
	for i, c := range list {
		c = strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		if !capRE().MatchString(c) || c == "ALL" {
			return nil, l.fail(index(at, i), fmt.Sprintf("%q is not a capability name (such as NET_BIND_SERVICE); ALL is not allowed", list[i]))
		}
		list[i] = c
	}
	return list, nil
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

func (l *loader) workspace(at string, v any, dir string) (string, error) {
	s, err := l.stringValue(at, v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", l.fail(at, "must not be empty; leave it out for no workspace")
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(dir, s)
	}
	s = filepath.Clean(s)
	info, err := os.Stat(s)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", l.fail(at, fmt.Sprintf("directory %q does not exist", s))
	case err != nil:
		return "", l.fail(at, fmt.Sprintf("cannot use %q: %s", s, describe(err)))
	case !info.IsDir():
		return "", l.fail(at, fmt.Sprintf("%q is not a directory", s))
	}
	return s, nil
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

// position gives the 1-based line and column (in characters) of data[at].
func position(data []byte, at int) string {
	at = min(max(at, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:at], '\n') + 1
	return fmt.Sprintf("line %d, column %d", lineOf(data, at), utf8.RuneCount(data[lineStart:at])+1)
}

func lineOf(data []byte, at int) int {
	return bytes.Count(data[:min(at, len(data))], []byte("\n")) + 1
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
