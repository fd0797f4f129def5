package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for when, want := range map[string]time.Time{
		"10m":                       now.Add(-10 * time.Minute),
		"1h30m":                     now.Add(-90 * time.Minute),
		"0s":                        now,
		"2026-11-28T09:00:00Z":      time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		"2026-11-28T10:00:00+01:00": time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		"2026-11-28T09:00:00.5Z":    time.Date(2026, 11, 28, 9, 0, 0, 5e8, time.UTC),
	} {
		got, err := parseSince(when, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("--since %s: %v, %v; want %v", when, got, err, want)
		}
	}
	for _, when := range []string{"yesterday", "10", "-10m", "2026-11-28", "2026-11-28 09:00:00", "10 minutes"} {
		_, err := logOptions(options{Since: when, Tail: "all"}, now)
		var stderr bytes.Buffer
		if status := cli.Exit(prog, &stderr, err); status != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "--since") {
			t.Errorf("--since %q: status %d, %q; want 2 and one line", when, status, stderr.String())
		}
	}
}

func TestTail(t *testing.T) {
	for tail, want := range map[string]int{"all": -1, "0": 0, "2": 2, "1000": 1000} {
		lo, err := logOptions(options{Tail: tail}, time.Now())
		if err != nil || lo.Tail != want {
			t.Errorf("--tail %s: %d, %v; want %d", tail, lo.Tail, err, want)
		}
	}
	for _, tail := range []string{"-1", "x", "2.5", ""} {
		_, err := logOptions(options{Tail: tail}, time.Now())
		if cli.Exit(prog, io.Discard, err) != 2 {
			t.Errorf("--tail %q: %v, want a usage error", tail, err)
		}
	}
}

func TestSelected(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		stdin   string
		ref     agent.Ref
		service string
		status  int
	}{
		{args: []string{"rv-1"}, ref: agent.Ref{Slug: "rv-1"}},
		{args: []string{"rv-1", "egress"}, ref: agent.Ref{Slug: "rv-1"}, service: "egress"},
		{args: []string{"docker\trv-1\treviewer\tegress"}, ref: agent.Ref{Backend: "docker", Slug: "rv-1"}},
		{stdin: "\n  \ndocker\trv-1\treviewer\tegress\nsmolmachines\tvm-1\tvm\t-\n", ref: agent.Ref{Backend: "docker", Slug: "rv-1"}},
		{stdin: `{"backend":"docker","slug":"rv-1","agent":"reviewer","services":[]}` + "\n", ref: agent.Ref{Backend: "docker", Slug: "rv-1"}},
		{stdin: "rv-1\n", ref: agent.Ref{Slug: "rv-1"}},
		{stdin: "", status: 1},                           // nothing selected
		{args: []string{"a", "b", "c"}, status: 2},       // too many
		{args: []string{"Not A Slug"}, status: 2},        // not a reference
		{stdin: "docker\tNot A Slug\tx\t-\n", status: 2}, // nor on stdin
	} {
		ref, service, err := selected(tc.args, strings.NewReader(tc.stdin))
		if status := cli.Exit(prog, io.Discard, err); status != tc.status || status == 0 && (ref != tc.ref || service != tc.service) {
			t.Errorf("%q, stdin %q: %v %q, %v (status %d); want %v %q, status %d", tc.args, tc.stdin, ref, service, err, status, tc.ref, tc.service, tc.status)
		}
	}
}

// fake is a backend with the agents rv-1 (sidecars egress and web) and
// sh-1 (none); a Logger when logs is set, which gives each service's log
// by name ("" the program's), or an error for it.
type fake struct {
	name string
	logs map[string]any
	got  []backend.LogOptions
}

func (f *fake) Name() string                            { return f.name }
func (f *fake) Usable(ctx context.Context) error        { return nil }
func (f *fake) Stop(context.Context, agent.Agent) error { return nil }
func (f *fake) Start(context.Context, string, *agentdef.Definition, map[string]string) (agent.Agent, error) {
	return agent.Agent{}, nil
}
func (f *fake) Exec(context.Context, agent.Agent, backend.Session) (int, error) { return 0, nil }
func (f *fake) Enumerate(ctx context.Context, q backend.Query) ([]agent.Agent, error) {
	return []agent.Agent{
		{Backend: f.name, Slug: "rv-1", Name: "reviewer", Services: []string{"egress", "web"}, State: "exited"},
		{Backend: f.name, Slug: "sh-1", Name: "shell", State: "running"},
	}, nil
}

type logger struct{ *fake }

func (l logger) Logs(ctx context.Context, a agent.Agent, service string, o backend.LogOptions, out io.Writer) error {
	l.got = append(l.got, o)
	switch v := l.logs[service].(type) {
	case string:
		// In writes that split what they hold anywhere, as a follower's do.
		for i := 0; i < len(v); i += 3 {
			out.Write([]byte(v[i:min(i+3, len(v))]))
		}
		return nil
	case error:
		return v
	}
	return fmt.Errorf("no such service %q", service)
}

func runWith(t *testing.T, b backend.Backend, opts options, args ...string) (string, string, int) {
	t.Helper()
	ref, service, err := selected(args, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	lo, err := logOptions(opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = printLog(context.Background(), backend.NewSet(b), ref, service, opts, lo, &stdout)
	status := cli.Exit(prog, &stderr, err)
	return stdout.String(), stderr.String(), status
}

func TestPrintLog(t *testing.T) {
	f := &fake{name: "docker", logs: map[string]any{
		"":       "\x1b[31mred\x1b[0m\r\n\x1b]52;c;Y3VybA==\x07tick 1\r\ntick 2\r\n",
		"egress": "bottle-egress: listening on :3128\ndeny CONNECT example.invalid:443 from 10.0.0.2\n",
		"web":    fmt.Errorf("its container is gone: %w", backend.ErrNoLogs),
	}}
	b := logger{f}
	all := options{Tail: "all"}
	for _, tc := range []struct {
		opts         options
		args         []string
		stdout, errs string
		status       int
	}{
		// To a pipe: the text, without the control sequences, line ends as in a file.
		{all, []string{"rv-1"}, "red\ntick 1\ntick 2\n", "", 0},
		// --raw: every byte.
		{options{Tail: "all", Raw: true}, []string{"rv-1"}, f.logs[""].(string), "", 0},
		// A sidecar's log as it was written.
		{all, []string{"rv-1", "egress"}, f.logs["egress"].(string), "", 0},
		{all, []string{"docker\trv-1\treviewer\tegress,web", "egress"}, f.logs["egress"].(string), "", 0},
		// What the backend cannot read.
		{all, []string{"rv-1", "web"}, "", "bottle-logs: docker rv-1: its service web's output cannot be read: its container is gone: no log\n", 1},
		// A service the agent does not have: bad usage, naming those it has.
		{all, []string{"rv-1", "foo"}, "", `bottle-logs: rv-1 has no service "foo"; its services are egress, web` + "\n", 2},
		{all, []string{"sh-1", "egress"}, "", `bottle-logs: sh-1 has no service "egress"; it has no services, only its program (name none)` + "\n", 2},
		// An agent that is not there.
		{all, []string{"gone-1"}, "", "bottle-logs: gone-1: no such agent on any usable backend\n", 1},
	} {
		stdout, stderr, status := runWith(t, b, tc.opts, tc.args...)
		if stdout != tc.stdout || stderr != tc.errs || status != tc.status {
			t.Errorf("%q: stdout %q, stderr %q, status %d; want %q, %q, %d", tc.args, stdout, stderr, status, tc.stdout, tc.errs, tc.status)
		}
	}
}

func TestPrintLogOptions(t *testing.T) {
	f := &fake{name: "docker", logs: map[string]any{"": "x\n"}}
	since := "2026-11-28T09:00:00Z"
	if _, _, status := runWith(t, logger{f}, options{Follow: true, Since: since, Tail: "2"}, "rv-1"); status != 0 {
		t.Fatalf("status %d", status)
	}
	want := backend.LogOptions{Follow: true, Since: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), Tail: 2}
	if len(f.got) != 1 || f.got[0].Follow != want.Follow || !f.got[0].Since.Equal(want.Since) || f.got[0].Tail != want.Tail {
		t.Errorf("the backend was asked for %+v, want %+v", f.got, want)
	}
}

// A backend that keeps no logs says so: status 1, one line.
func TestNoLogger(t *testing.T) {
	_, stderr, status := runWith(t, &fake{name: "smolmachines"}, options{Tail: "all"}, "rv-1")
	if status != 1 || stderr != "bottle-logs: smolmachines rv-1: the smolmachines backend keeps no logs of its agents\n" {
		t.Errorf("status %d, %q", status, stderr)
	}
}
