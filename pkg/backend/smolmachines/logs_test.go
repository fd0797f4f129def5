package smolmachines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// deny appends lines to the machine's denial log, as its VM would.
func (s *standIn) deny(t *testing.T, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.dataDir, "egress-denials.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func logLine(at, op, dest string) string {
	if op == "connect" {
		dest = "to " + dest
	}
	return "[" + at + "]: egress policy denied " + op + " " + dest
}

func TestLogsEgress(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, "egress", "web")
	ctx := context.Background()
	var out bytes.Buffer
	if err := s.b.Logs(ctx, s.a, "egress", backend.LogOptions{Tail: -1}, &out); err != nil || out.Len() != 0 {
		t.Fatalf("no refusals yet: %q, %v", out.String(), err)
	}
	if got, want := s.callsLog(t), "machine egress-events --name rv-1 --json --limit 1000000\n"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	s.deny(t,
		logLine("2026-11-28T05:31:07Z", "resolve", "pypi.org"),
		logLine("2026-11-28T05:31:09Z", "connect", "151.101.0.223:443"),
		"[2026-11-28T05:31:10Z]: virtio-net: some other line",
		logLine("2026-11-28T05:40:12Z", "sendto", "203.0.113.7:123"),
	)
	all := "deny resolve pypi.org at 2026-11-28T05:31:07Z\n" +
		"deny connect 151.101.0.223:443 at 2026-11-28T05:31:09Z\n" +
		"deny sendto 203.0.113.7:123 at 2026-11-28T05:40:12Z\n"
	for _, tc := range []struct {
		o     backend.LogOptions
		limit int
		want  string
	}{
		{backend.LogOptions{Tail: -1}, allEvents, all},
		{backend.LogOptions{Tail: 2}, 2, all[strings.Index(all, "\n")+1:]},
		{backend.LogOptions{Tail: 0}, 0, ""},
		// Since is taken to its second: smolvm's times are whole seconds.
		{backend.LogOptions{Tail: -1, Since: time.Date(2026, 11, 28, 5, 31, 9, 500e6, time.UTC)}, allEvents, all[strings.Index(all, "\n")+1:]},
		{backend.LogOptions{Tail: 3, Since: time.Date(2026, 11, 28, 5, 40, 13, 0, time.UTC)}, 3, ""},
	} {
		out.Reset()
		if err := s.b.Logs(ctx, s.a, "egress", tc.o, &out); err != nil || out.String() != tc.want {
			t.Errorf("%+v: %v\n%s\nwant:\n%s", tc.o, err, out.String(), tc.want)
		}
		if got, want := s.callsLog(t), fmt.Sprintf("machine egress-events --name rv-1 --json --limit %d\n", tc.limit); got != want {
			t.Errorf("%+v: calls %q, want %q", tc.o, got, want)
		}
	}
}

// What the agent asks for reaches the line escaped: one line of printable
// ASCII, its fields split at spaces, whatever it asked for. The time and the
// operation are smolvm's, through the machine's log, which the agent can
// write lines into with a name that holds a newline: those are taken as
// smolvm takes them, and still printed safely.
func TestLogsHostile(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, "egress")
	s.deny(t,
		logLine("2026-11-28T05:31:07Z", "resolve", "evil\x1b]0;pwned\x07\x1b[2J.example"),
		logLine("2026-11-28T05:31:08Z", "resolve", "caf\u00e9.example"),
		logLine("2026-11-28T05:31:09Z", "resolve", `quote" and\back slash`),
		logLine("2026-11-28T05:31:10Z", "resolve", "a\u2028b\u00a0c\x7f"),
		logLine("2026-11-28T05:31:11Z", "resolve", "x\r\n[not-a-time\x1b[31m]: egress policy denied connect to 6.6.6.6:66"),
		"no time: egress policy denied connect to 192.0.2.1:80",
	)
	var out bytes.Buffer
	if err := s.b.Logs(context.Background(), s.a, "egress", backend.LogOptions{Tail: -1}, &out); err != nil {
		t.Fatal(err)
	}
	want := `deny resolve "evil\x1b]0;pwned\a\x1b[2J.example" at 2026-11-28T05:31:07Z
deny resolve "caf\u00e9.example" at 2026-11-28T05:31:08Z
deny resolve "quote\"\x20and\\back\x20slash" at 2026-11-28T05:31:09Z
deny resolve "a\u2028b\u00a0c\x7f" at 2026-11-28T05:31:10Z
deny resolve x at 2026-11-28T05:31:11Z
deny connect 6.6.6.6:66
deny connect 192.0.2.1:80
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, line := range strings.SplitAfter(out.String(), "\n") {
		for _, c := range []byte(strings.TrimSuffix(line, "\n")) {
			if c < ' ' || c > '~' {
				t.Errorf("line %q holds byte %#x", line, c)
			}
		}
		if f := strings.Fields(line); line != "" && !(len(f) == 5 && f[3] == "at" || len(f) == 3) {
			t.Errorf("line %q has fields %q, want deny OP DEST [at TIME]", line, f)
		}
		if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[2], `"`) {
			if _, err := strconv.Unquote(f[2]); err != nil {
				t.Errorf("line %q: destination %s does not read back: %v", line, f[2], err)
			}
		}
	}
	// With a since, a refusal without a time cannot be placed: left out.
	out.Reset()
	if err := s.b.Logs(context.Background(), s.a, "egress", backend.LogOptions{Tail: -1, Since: time.Date(2026, 11, 28, 5, 31, 11, 0, time.UTC)}, &out); err != nil || out.String() != "deny resolve x at 2026-11-28T05:31:11Z\n" {
		t.Errorf("since: %q, %v", out.String(), err)
	}
}

func TestWriteDenials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    denial
		want string
	}{
		{denial{timestamp: "2026-11-28T05:31:09Z", operation: "connect", dest: "203.0.113.9:443", at: time.Date(2026, 11, 28, 5, 31, 9, 0, time.UTC)}, "deny connect 203.0.113.9:443 at 2026-11-28T05:31:09Z\n"},
		{denial{timestamp: "", operation: "resolve", dest: "example.org"}, "deny resolve example.org\n"},
		{denial{operation: "connect", dest: "[2001:db8::1]:443"}, "deny connect [2001:db8::1]:443\n"},
		{denial{operation: "con nect", dest: ""}, `deny "con\x20nect" ""` + "\n"},
		{denial{operation: "resolve", dest: "a\tb"}, `deny resolve "a\tb"` + "\n"},
		{denial{operation: "resolve", dest: "\x00\xff"}, `deny resolve "\x00\xff"` + "\n"},
	} {
		var b strings.Builder
		if err := writeDenials(&b, []denial{tc.d}, time.Time{}); err != nil || b.String() != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.d, b.String(), err, tc.want)
		}
	}
}

func TestParseDenials(t *testing.T) {
	t.Parallel()
	got, err := parseDenials(readFixture(t, "egress-events.json"))
	if err != nil || len(got) != 3 || got[1] != (denial{timestamp: "2026-11-28T05:31:09Z", operation: "connect", dest: "151.101.0.223:443", at: time.Date(2026, 11, 28, 5, 31, 9, 0, time.UTC)}) {
		t.Fatalf("egress-events.json: %+v, %v", got, err)
	}
	if got, err := parseDenials([]byte("[]\n")); err != nil || len(got) != 0 {
		t.Errorf("[]: %v, %v", got, err)
	}
	// A time smolvm could not read is "", one of libkrun's has fractions.
	if got, err := parseDenials([]byte(`[{"timestamp": "2026-11-28T05:31:09.123456Z", "operation": "connect", "dest": "a"}, {"timestamp": "", "operation": "resolve", "dest": "b"}, {"timestamp": "nonsense", "operation": "resolve", "dest": "c"}]`)); err != nil ||
		!got[0].at.Equal(time.Date(2026, 11, 28, 5, 31, 9, 123456e3, time.UTC)) || !got[1].at.IsZero() || !got[2].at.IsZero() {
		t.Errorf("times: %+v, %v", got, err)
	}
	for _, tc := range []struct{ out, want string }{
		{`[{"timestamp": "x",`, `output is not valid JSON: [{"timestamp": "x",`},
		{`{"events": []}`, "output is an object, not an array"},
		{`["deny"]`, "event 0 is a string, not an object"},
		{`[{"timestamp": "", "operation": "connect"}]`, `event 0: "dest" is missing, not a string`},
		{`[{"timestamp": 1, "operation": "connect", "dest": "a"}]`, `event 0: "timestamp" is a number, not a string`},
	} {
		if _, err := parseDenials([]byte(tc.out)); err == nil || err.Error() != tc.want {
			t.Errorf("parseDenials(%q) = %v, want %q", tc.out, err, tc.want)
		}
	}
}

func TestFresh(t *testing.T) {
	t.Parallel()
	ev := func(names ...string) []denial {
		var ds []denial
		for _, n := range names {
			ds = append(ds, denial{timestamp: "t", operation: "resolve", dest: n})
		}
		return ds
	}
	dests := func(ds []denial) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.dest)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		before, now []denial
		want        string
	}{
		{ev(), ev(), ""},
		{ev(), ev("a", "b"), "a,b"},
		{ev("a", "b"), ev("a", "b"), ""},
		{ev("a", "b"), ev("a", "b", "c"), "c"},
		// smolvm's window moved on: the oldest are no longer read.
		{ev("a", "b", "c"), ev("b", "c", "d", "e"), "d,e"},
		{ev("a", "b", "c"), ev("c", "d"), "d"},
		// The log started anew (rotated): all of it is new.
		{ev("a", "b", "c"), ev("x"), "x"},
		// Alike refusals: none is reported twice.
		{ev("a", "a"), ev("a", "a", "a"), "a"},
		{ev("a", "a"), ev("a", "a"), ""},
	} {
		if got := dests(fresh(tc.before, tc.now)); got != tc.want {
			t.Errorf("fresh(%s, %s) = %q, want %q", dests(tc.before), dests(tc.now), got, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer for one writer and one reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Following: the tail of what is there, then each refusal once, as it is
// written, one smolvm process a poll, until ctx is done.
func TestLogsFollow(t *testing.T) {
	s := newStandIn(t, "egress")
	pollInterval = 20 * time.Millisecond
	t.Cleanup(func() { pollInterval = time.Second })
	s.deny(t, logLine("2026-11-28T05:31:07Z", "resolve", "old.example"), logLine("2026-11-28T05:31:08Z", "resolve", "last.example"))
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- s.b.Logs(ctx, s.a, "egress", backend.LogOptions{Follow: true, Tail: 1}, &out) }()
	waitOutput := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); out.String() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
			}
		}
	}
	want := "deny resolve last.example at 2026-11-28T05:31:08Z\n"
	waitOutput(want)
	for i := range 3 {
		at := fmt.Sprintf("2026-11-28T05:32:%02dZ", i)
		// Two alike at once, and one more of the same later on.
		s.deny(t, logLine(at, "connect", "203.0.113.9:443"), logLine(at, "connect", "203.0.113.9:443"))
		want += strings.Repeat("deny connect 203.0.113.9:443 at "+at+"\n", 2)
		waitOutput(want)
		time.Sleep(3 * pollInterval) // polls that find nothing new print nothing
		waitOutput(want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Logs ended with %v, want nil once ctx is done", err)
	}
	calls := strings.Split(strings.TrimSuffix(s.callsLog(t), "\n"), "\n")
	if len(calls) < 4 {
		t.Errorf("%d calls, want one a poll", len(calls))
	}
	for _, c := range calls {
		if c != "machine egress-events --name rv-1 --json --limit 1000000" {
			t.Errorf("a poll ran %q", c)
		}
	}
}

// Follow with Tail 0: only what is written from then on.
func TestLogsFollowTailZero(t *testing.T) {
	s := newStandIn(t, "egress")
	pollInterval = 20 * time.Millisecond
	t.Cleanup(func() { pollInterval = time.Second })
	s.deny(t, logLine("2026-11-28T05:31:07Z", "resolve", "old.example"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- s.b.Logs(ctx, s.a, "egress", backend.LogOptions{Follow: true, Tail: 0}, &out) }()
	time.Sleep(5 * pollInterval)
	s.deny(t, logLine("2026-11-28T05:31:08Z", "resolve", "new.example"))
	for out.String() == "" && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := out.String(); got != "deny resolve new.example at 2026-11-28T05:31:08Z\n" {
		t.Errorf("got %q", got)
	}
}

func TestLogsRefused(t *testing.T) {
	t.Parallel()
	b := New(Config{Program: "/nonexistent/smolvm"})
	a := b.agent(machine{Name: "rv-1", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1", "dev.bottle.services": "egress,web"}})
	ctx := context.Background()
	for _, tc := range []struct {
		service string
		want    string
	}{
		{"", "smolvm keeps no log of what a machine's program writes: it has no machine logs, and its console log is its own agent's"},
		{"web", "smolvm keeps no log of what the daemons inside a machine write, sidecar web among them"},
	} {
		err := b.Logs(ctx, a, tc.service, backend.LogOptions{Tail: -1}, &bytes.Buffer{})
		if !errors.Is(err, backend.ErrNoLogs) || err.Error() != tc.want {
			t.Errorf("service %q: %v; want ErrNoLogs, %q", tc.service, err, tc.want)
		}
	}
	if err := b.Logs(ctx, a, "pipelock", backend.LogOptions{}, &bytes.Buffer{}); err == nil || errors.Is(err, backend.ErrNoLogs) {
		t.Errorf("a sidecar it has not: %v", err)
	}
	noEgress := b.agent(machine{Name: "rv-1", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1"}})
	if err := b.Logs(ctx, noEgress, "egress", backend.LogOptions{}, &bytes.Buffer{}); err == nil || err.Error() != "rv-1 has no sidecar egress" {
		t.Errorf("egress of an agent without it: %v", err)
	}
	for _, stray := range []agent.Agent{{Backend: "smolmachines", Slug: "rv-1", Services: []string{"egress"}}, b.agent(machine{Name: "dev", Labels: map[string]string{"dev.bottle.slug": "rv-1"}})} {
		if err := b.Logs(ctx, stray, "egress", backend.LogOptions{}, &bytes.Buffer{}); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", stray, err)
		}
	}
}

// A smolvm before 1.8.1 has no egress-events: nothing to read.
func TestLogsOldSmolvm(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, "egress")
	s.b.cfg.Env = append(s.b.cfg.Env, "SMOLVM_VERSION=1.8.0")
	err := s.b.Logs(context.Background(), s.a, "egress", backend.LogOptions{Tail: -1}, &bytes.Buffer{})
	if !errors.Is(err, backend.ErrNoLogs) || err.Error() != "this smolvm records no refused connections: machine egress-events came with smolvm 1.8.1" {
		t.Errorf("%v", err)
	}
}

// smolvm cannot join a machine's workload: the backend is no Joiner, so
// that bottle-attach without a command refuses it.
func TestNotAJoiner(t *testing.T) {
	t.Parallel()
	if _, ok := any(New(Config{})).(backend.Joiner); ok {
		t.Error("the smolmachines backend is a backend.Joiner")
	}
}
