package agent_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// hasControl reports whether s holds a control character or an invalid byte.
func hasControl(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl)
}

// hostile maps values a label could carry to how a line must print them.
var hostile = []struct{ in, want string }{
	{"a\tb", `a\tb`},
	{"x\ny", `x\ny`},
	{"cr\r", `cr\r`},
	{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
	{"\x1b]0;title\x07", `\x1b]0;title\a`},
	{"csi\u009b2J", `csi\u009b2J`},
	{"del\x7f", `del\x7f`},
	{"nul\x00", `nul\x00`},
	{`back\slash`, `back\\slash`},
	{"bad\xffutf8", `bad\xffutf8`},
}

func writeLine(t *testing.T, a agent.Agent) string {
	t.Helper()
	var b bytes.Buffer
	if err := agent.WriteLine(&b, a); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fields splits one line into its tab-separated fields, failing unless it
// is exactly one line of four fields with no control character.
func fields(t *testing.T, line string) []string {
	t.Helper()
	body, ok := strings.CutSuffix(line, "\n")
	if !ok || strings.Contains(body, "\n") {
		t.Fatalf("output %q is not exactly one line", line)
	}
	f := strings.Split(body, "\t")
	if len(f) != 4 {
		t.Fatalf("line %q has %d fields, want 4", line, len(f))
	}
	for _, s := range f {
		if hasControl(s) {
			t.Fatalf("line %q has a control character in field %q", line, s)
		}
	}
	return f
}

func TestWriteLine(t *testing.T) {
	for _, tc := range []struct {
		services []string
		want     string
	}{
		{nil, "-"},
		{[]string{}, "-"},
		{[]string{"egress"}, "egress"},
		{[]string{"egress", "dlp", "audit"}, "egress,dlp,audit"},
		{[]string{"dlp", "egress"}, "dlp,egress"},
	} {
		a := agent.Agent{Backend: "docker", Slug: "reviewer-3f9a1c", Name: "reviewer", Services: tc.services}
		got := writeLine(t, a)
		want := "docker\treviewer-3f9a1c\treviewer\t" + tc.want + "\n"
		if got != want {
			t.Errorf("WriteLine with services %q = %q, want %q", tc.services, got, want)
		}
		// awk with its default separator must count four fields too.
		if n := len(strings.Fields(got)); n != 4 {
			t.Errorf("WriteLine with services %q = %q: %d whitespace-separated fields, want 4", tc.services, got, n)
		}
	}
}

func TestWriteLineHostile(t *testing.T) {
	base := agent.Agent{Backend: "docker", Slug: "reviewer-3f9a1c", Name: "reviewer", Services: []string{"egress"}}
	for _, h := range hostile {
		for i, set := range []func(*agent.Agent){
			func(a *agent.Agent) { a.Backend = h.in },
			func(a *agent.Agent) { a.Slug = h.in },
			func(a *agent.Agent) { a.Name = h.in },
			func(a *agent.Agent) { a.Services = []string{"egress", h.in} },
		} {
			a := base
			set(&a)
			f := fields(t, writeLine(t, a))
			want := []string{"docker", "reviewer-3f9a1c", "reviewer", "egress"}
			want[i] = h.want
			if i == 3 {
				want[i] = "egress," + h.want
			}
			if !slices.Equal(f, want) {
				t.Errorf("WriteLine with %q in field %d: fields %q, want %q", h.in, i+1, f, want)
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	zone := time.FixedZone("CEST", 2*60*60)
	for _, tc := range []struct {
		name     string
		a        agent.Agent
		services []any
		started  string
	}{
		{"no services, other zone",
			agent.Agent{Backend: "docker", Slug: "reviewer-3f9a1c", Name: "reviewer",
				StartedAt: time.Date(2024, 5, 1, 12, 30, 15, 0, zone), State: "running"},
			[]any{}, "2024-05-01T10:30:15Z"},
		{"empty services, UTC",
			agent.Agent{Backend: "smolmachines", Slug: "a", Name: "a", Services: []string{},
				StartedAt: time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC), State: "created"},
			[]any{}, "2023-12-31T23:59:59Z"},
		{"services in order, crosses midnight",
			agent.Agent{Backend: "docker", Slug: "b-1", Name: "b", Services: []string{"egress", "dlp"},
				StartedAt: time.Date(2024, 1, 1, 1, 0, 0, 0, zone), State: "stopped"},
			[]any{"egress", "dlp"}, "2023-12-31T23:00:00Z"},
		{"hostile values",
			agent.Agent{Backend: "docker", Slug: "c", Name: "evil\n\x1b[2J\tname", Services: []string{"x\ny"},
				StartedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), State: "run\nning"},
			[]any{"x\ny"}, "2024-01-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := agent.WriteJSON(&b, tc.a); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			body, ok := strings.CutSuffix(out, "\n")
			if !ok || strings.Contains(body, "\n") || hasControl(body) {
				t.Fatalf("WriteJSON = %q, want one line without control characters", out)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("WriteJSON = %q: %v", out, err)
			}
			want := map[string]any{
				"backend": tc.a.Backend, "slug": tc.a.Slug, "agent": tc.a.Name,
				"services": tc.services, "started_at": tc.started, "state": tc.a.State,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("WriteJSON = %s\nkeys %q, want %q\ngot  %#v\nwant %#v",
					body, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)), got, want)
			}
			if _, err := time.Parse(time.RFC3339, got["started_at"].(string)); err != nil {
				t.Errorf("started_at is not RFC 3339: %v", err)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for _, s := range []string{"", "docker", "reviewer-3f9a1c", "with space", "a,b", "caf\u00e9", "日本語", `"quoted"`, "-"} {
		if got := agent.Escape(s); got != s {
			t.Errorf("Escape(%q) = %q, want it unchanged", s, got)
		}
	}
	for _, h := range hostile {
		got := agent.Escape(h.in)
		if got != h.want {
			t.Errorf("Escape(%q) = %q, want %q", h.in, got, h.want)
		}
		if hasControl(got) || strings.Contains(got, "\t") {
			t.Errorf("Escape(%q) = %q still has a control character", h.in, got)
		}
	}
}

const jsonLine = `{"backend":"docker","slug":"reviewer-3f9a1c","agent":"reviewer","services":["egress"],"started_at":"2024-05-01T10:30:15Z","state":"running"}`

func TestParseRef(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		in   string
		want agent.Ref
	}{
		{"docker\treviewer-3f9a1c\treviewer\tegress,dlp", agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{"docker\treviewer-3f9a1c\treviewer\tegress,dlp\n", agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{"docker\treviewer-3f9a1c\treviewer\t-\r\n", agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{"smolmachines\tx\tx\t-\r", agent.Ref{Backend: "smolmachines", Slug: "x"}},
		{"docker\treviewer-3f9a1c\tevil\\x1b[2J\t-", agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{jsonLine, agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{"  " + jsonLine + " \r\n", agent.Ref{Backend: "docker", Slug: "reviewer-3f9a1c"}},
		{`{"slug": "b-2", "extra": {"backend": "no"}, "backend": "smolmachines"}`, agent.Ref{Backend: "smolmachines", Slug: "b-2"}},
		{"reviewer-3f9a1c", agent.Ref{Slug: "reviewer-3f9a1c"}},
		{"  reviewer-3f9a1c  \n", agent.Ref{Slug: "reviewer-3f9a1c"}},
		{long + "\r\n", agent.Ref{Slug: long}},
		{"0", agent.Ref{Slug: "0"}},
	} {
		got, err := agent.ParseRef(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v, nil", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRefErrors(t *testing.T) {
	for _, in := range []string{
		"", "   ", "\n", "\r\n", " \t ",
		// invalid slugs
		"Reviewer-3f9a1c", "-reviewer", strings.Repeat("a", 64), "a_b", "two words", "caf\u00e9",
		"\x1b[2Jreviewer", "reviewer\t", "\treviewer", "reviewer\t\t",
		// TSV lines
		"\treviewer-3f9a1c\treviewer\t-", "  \treviewer-3f9a1c\treviewer\t-",
		"docker\tREVIEWER\treviewer\t-", "docker\t\treviewer\t-",
		"revi\tewer", "docker\treviewer-3f9a1c", "docker\treviewer-3f9a1c\treviewer\t-\textra",
		// JSON lines
		`{"slug":"reviewer-3f9a1c"}`, `{"backend":"docker"}`, `{}`,
		`{"backend":1,"slug":"reviewer-3f9a1c"}`, `{"backend":"docker","slug":7}`,
		`{"backend":"docker","slug":null}`, `{"backend":"docker","slug":["a"]}`,
		`{"backend":"docker","slug":"Bad Slug"}`,
		`{"backend":"docker","slug":"reviewer-3f9a1c"`, `{"backend":"docker","slug":"a"} trailing`,
		"{", "{\x1b]0;pwned\x07}",
	} {
		ref, err := agent.ParseRef(in)
		if err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", in, ref)
			continue
		}
		if hasControl(err.Error()) {
			t.Errorf("ParseRef(%q) error %q carries a control character", in, err)
		}
	}
}

func TestParseRefRoundTrip(t *testing.T) {
	for _, a := range []agent.Agent{
		{Backend: "docker", Slug: "reviewer-3f9a1c", Name: "reviewer", Services: []string{"egress", "dlp"}},
		{Backend: "smolmachines", Slug: "0", Name: "x"},
		{Backend: "docker", Slug: strings.Repeat("z", 63), Name: "evil\t\n\x1b[2J", Services: []string{"a\tb", "c\nd"}, State: "x\ty"},
	} {
		want := agent.Ref{Backend: a.Backend, Slug: a.Slug}
		var tsv, js bytes.Buffer
		if err := agent.WriteLine(&tsv, a); err != nil {
			t.Fatal(err)
		}
		if err := agent.WriteJSON(&js, a); err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{tsv.String(), js.String()} {
			if got, err := agent.ParseRef(line); err != nil || got != want {
				t.Errorf("ParseRef(%q) = %+v, %v; want %+v", line, got, err, want)
			}
		}
	}
}

func TestReadRefs(t *testing.T) {
	in := "\n  \n\t\ndocker\treviewer-3f9a1c\treviewer\t-\n\n" + jsonLine + "\r\n   bare-1  \r\n\nlast"
	got, err := agent.ReadRefs(strings.NewReader(in))
	want := []agent.Ref{
		{Backend: "docker", Slug: "reviewer-3f9a1c"},
		{Backend: "docker", Slug: "reviewer-3f9a1c"},
		{Slug: "bare-1"},
		{Slug: "last"},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadRefs = %+v, %v; want %+v, nil", got, err, want)
	}

	for _, in := range []string{"", "\n\n   \r\n"} {
		if got, err := agent.ReadRefs(strings.NewReader(in)); err != nil || len(got) != 0 {
			t.Errorf("ReadRefs(%q) = %+v, %v; want nothing and no error", in, got, err)
		}
	}
}

func TestReadRefsBadLine(t *testing.T) {
	_, err := agent.ReadRefs(strings.NewReader("good-1\nFIRST-BAD\nSECOND-BAD\ngood-2\n"))
	if err == nil || !strings.Contains(err.Error(), "FIRST-BAD") || strings.Contains(err.Error(), "SECOND-BAD") {
		t.Errorf("ReadRefs error = %v, want one about FIRST-BAD only", err)
	}

	boom := errors.New("boom")
	if _, err := agent.ReadRefs(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("ReadRefs on a failing reader = %v, want it to wrap %v", err, boom)
	}
}

// endless yields 'x' forever and counts what it gave.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += len(p)
	return len(p), nil
}

func TestReadRefsLongLine(t *testing.T) {
	// A line with a huge agent name would parse if it were read whole.
	line := func(n int) string {
		return "docker\treviewer-3f9a1c\t" + strings.Repeat("x", n) + "\t-\n"
	}
	if refs, err := agent.ReadRefs(strings.NewReader(line(60 << 10))); err != nil || len(refs) != 1 {
		t.Errorf("ReadRefs of a 60 KiB line = %v, %v; want one ref", refs, err)
	}
	if refs, err := agent.ReadRefs(strings.NewReader("ok-1\n" + line(64<<10))); err == nil {
		t.Errorf("ReadRefs of a line over 64 KiB = %v, nil; want an error", refs)
	}

	// A stream that never ends its line is refused after a bounded read.
	r := &endless{}
	if _, err := agent.ReadRefs(io.MultiReader(strings.NewReader("docker\tabc\t"), r)); err == nil {
		t.Error("ReadRefs of an endless line = nil error, want an error")
	}
	if r.n > 1<<20 {
		t.Errorf("ReadRefs read %d bytes of an endless line before giving up, want at most about 64 KiB", r.n)
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"", "reviewer-3f9a1c", " a \r\n", "docker\treviewer-3f9a1c\treviewer\t-\n", "\tx", "x\t",
		jsonLine, `{"backend":1}`, `{"backend":"d","slug":"A"}`, "{", "\x1b[2J", "a\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, err := agent.ParseRef(in)
		if err != nil {
			if ref != (agent.Ref{}) {
				t.Errorf("ParseRef(%q) = %+v with error %v, want a zero Ref", in, ref, err)
			}
			return
		}
		if !agent.ValidSlug(ref.Slug) {
			t.Errorf("ParseRef(%q) = %+v: invalid slug %q without an error", in, ref, ref.Slug)
		}
	})
}

func TestWriteJSONPorts(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	a := agent.Agent{Backend: "docker", Slug: "r-1", Name: "r", StartedAt: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), State: "running",
		Ports: []agent.Port{{Port: 3000, Host: "127.0.0.1:49213"}, {Port: 8080, Host: "0.0.0.0:8080"}}}
	if err := agent.WriteJSON(&b, a); err != nil {
		t.Fatal(err)
	}
	want := `{"backend":"docker","slug":"r-1","agent":"r","services":[],"started_at":"2026-11-28T09:00:00Z","state":"running","ports":[{"port":3000,"host":"127.0.0.1:49213"},{"port":8080,"host":"0.0.0.0:8080"}]}` + "\n"
	if b.String() != want {
		t.Errorf("WriteJSON = %s, want %s", b.String(), want)
	}
	b.Reset()
	a.Ports = nil
	agent.WriteJSON(&b, a)
	if strings.Contains(b.String(), "ports") {
		t.Errorf("WriteJSON without ports = %s, want no ports key", b.String())
	}
}
