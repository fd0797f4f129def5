package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// NoServices stands in the services column for an agent without sidecars,
// so that every line keeps four fields for awk and cut.
const NoServices = "-"

// maxLine bounds one line of input: a real line is a few hundred bytes, and
// a reader must not hold a runaway stream in memory.
const maxLine = 64 << 10

// WriteLine writes the agent as one tab-separated line. Values are escaped so
// that a hostile label can never add a field, a line or a terminal sequence.
func WriteLine(w io.Writer, a Agent) error {
	services := NoServices
	if len(a.Services) > 0 {
		escaped := make([]string, len(a.Services))
		for i, s := range a.Services {
			escaped[i] = Escape(s)
		}
		services = strings.Join(escaped, ",")
	}
	_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", Escape(a.Backend), Escape(a.Slug), Escape(a.Name), services)
	return err
}

type jsonAgent struct {
	Backend   string     `json:"backend"`
	Slug      string     `json:"slug"`
	Agent     string     `json:"agent"`
	Services  []string   `json:"services"`
	StartedAt string     `json:"started_at"`
	State     string     `json:"state"`
	Exit      *int       `json:"exit_status,omitempty"`
	Ports     []jsonPort `json:"ports,omitempty"`
	Branch    string     `json:"branch,omitempty"`
	Repo      string     `json:"repo,omitempty"`
}

type jsonPort struct {
	Port int    `json:"port"`
	Host string `json:"host"`
}

// WriteJSON writes the agent as one JSON object on one line.
func WriteJSON(w io.Writer, a Agent) error {
	services := a.Services
	if services == nil {
		services = []string{}
	}
	var ports []jsonPort
	for _, p := range a.Ports {
		ports = append(ports, jsonPort{Port: p.Port, Host: Escape(p.Host)})
	}
	var branch, repo string
	if a.Branch != nil {
		branch, repo = Escape(a.Branch.Name), Escape(a.Branch.Repo)
	}
	b, err := json.Marshal(jsonAgent{
		Backend:   a.Backend,
		Slug:      a.Slug,
		Agent:     a.Name,
		Services:  services,
		StartedAt: a.StartedAt.UTC().Format(time.RFC3339),
		State:     a.State,
		Exit:      a.Exit,
		Ports:     ports,
		Branch:    branch,
		Repo:      repo,
	})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Escape returns s with every control character, invalid byte and backslash
// written as a Go escape, so it is safe as a field of a line and on a
// terminal. Ordinary values come back unchanged.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == '\\' || r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	quoted := strconv.QuoteToASCII(s)
	return quoted[1 : len(quoted)-1]
}

// Ref names an agent the way a user hands it to a reader: by a line that
// carries its backend, or by a bare slug that may be on any backend.
type Ref struct {
	Backend string // "" for a bare slug
	Slug    string
}

func (r Ref) String() string {
	if r.Backend == "" {
		return r.Slug
	}
	return r.Backend + " " + r.Slug
}

// ParseRef reads a TSV line as bottle-ls prints it, a JSON line as
// bottle-ls --json prints it, or a bare slug. It checks the slug's form; the
// backend name is the caller's to check against its backends.
func ParseRef(line string) (Ref, error) {
	line = strings.TrimRight(line, "\r\n")
	trimmed := strings.TrimSpace(line)
	var ref Ref
	switch {
	case trimmed == "":
		return Ref{}, fmt.Errorf("empty line: expected a bottle-ls line or a slug")
	case strings.HasPrefix(trimmed, "{"):
		if !gjson.Valid(trimmed) {
			return Ref{}, fmt.Errorf("not a valid JSON line: %s", shorten(trimmed))
		}
		backend, slug := gjson.Get(trimmed, "backend"), gjson.Get(trimmed, "slug")
		if slug.Type != gjson.String || backend.Type != gjson.String {
			return Ref{}, fmt.Errorf("JSON line without string \"backend\" and \"slug\": %s", shorten(trimmed))
		}
		ref = Ref{Backend: backend.Str, Slug: slug.Str}
	case strings.Contains(line, "\t"):
		fields := strings.Split(line, "\t")
		if len(fields) != 4 {
			return Ref{}, fmt.Errorf("a bottle-ls line has 4 tab-separated fields, not %d: %s", len(fields), shorten(line))
		}
		ref = Ref{Backend: strings.TrimSpace(fields[0]), Slug: strings.TrimSpace(fields[1])}
		if ref.Backend == "" {
			return Ref{}, fmt.Errorf("line has no backend in its first field: %s", shorten(line))
		}
	default:
		ref = Ref{Slug: trimmed}
	}
	if err := CheckSlug(ref.Slug); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// ReadRefs reads one reference per non-blank line.
func ReadRefs(r io.Reader) ([]Ref, error) {
	var refs []Ref
	err := eachLine(r, func(line string) error {
		ref, err := ParseRef(line)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
		return nil
	})
	return refs, err
}

// ErrNoRef is what ReadFirstRef returns for input with no line in it.
var ErrNoRef = errors.New("no agent named")

// ReadFirstRef reads the reference on the first non-blank line, and
// nothing after it.
func ReadFirstRef(r io.Reader) (Ref, error) {
	var ref Ref
	errFound := errors.New("found")
	err := eachLine(r, func(line string) error {
		var err error
		if ref, err = ParseRef(line); err != nil {
			return err
		}
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return ref, nil
	case err != nil:
		return Ref{}, err
	}
	return Ref{}, ErrNoRef
}

func eachLine(r io.Reader, f func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		if err := f(sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("input line longer than %d KiB: expected a bottle-ls line or a slug", maxLine>>10)
	} else if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	return nil
}

func shorten(s string) string {
	const most = 60
	if len(s) > most {
		s = s[:most] + "..."
	}
	return Escape(s)
}
