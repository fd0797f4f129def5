package docker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// logsEngine answers the log requests of the containers "agent-ctr" (a
// terminal's raw stream) and "egress-ctr" (stdout and stderr multiplexed),
// says that "gone-ctr" is not there and that "none-ctr" logs with the
// driver none; it records each request's query.
func logsEngine(t *testing.T) (*Backend, *[]url.Values) {
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.URL.Path, "/logs")
		if !ok {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.Query())
		switch id[strings.LastIndex(id, "/")+1:] {
		case "agent-ctr":
			w.Write([]byte("\x1b[31mtick 1\x1b[0m\r\ntick 2\r\n"))
		case "egress-ctr":
			frame(w, stdcopy.Stderr, "bottle-egress: listening on :3128\n")
			frame(w, stdcopy.Stdout, "deny CONNECT example.invalid:443 from 10.0.0.2\n")
		case "gone-ctr":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No such container: gone-ctr"}`))
		case "none-ctr":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotImplemented)
			w.Write([]byte(`{"message":"configured logging driver does not support reading"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return New(Config{Host: "tcp://" + srv.Listener.Addr().String()}), &queries
}

// frame writes s as the Engine multiplexes a stream of a container
// without a terminal.
func frame(w io.Writer, stream stdcopy.StdType, s string) {
	header := [8]byte{byte(stream)}
	binary.BigEndian.PutUint32(header[4:], uint32(len(s)))
	w.Write(append(header[:], s...))
}

var logged = agent.Agent{Backend: "docker", Slug: "rv-1", Services: []string{"egress"},
	Handle: handle{container: "agent-ctr", sidecars: map[string]string{"egress": "egress-ctr"}}}

func TestLogs(t *testing.T) {
	t.Parallel()
	b, queries := logsEngine(t)
	ctx := context.Background()
	var out bytes.Buffer
	// The agent's terminal: the bytes as they were written.
	if err := b.Logs(ctx, logged, "", backend.LogOptions{Tail: -1}, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "\x1b[31mtick 1\x1b[0m\r\ntick 2\r\n"; got != want {
		t.Errorf("the agent's log: %q, want %q", got, want)
	}
	// A sidecar's stdout and stderr, taken apart, in the order written.
	out.Reset()
	since := time.Date(2026, 11, 28, 12, 0, 0, 500, time.UTC)
	if err := b.Logs(ctx, logged, "egress", backend.LogOptions{Follow: true, Since: since, Tail: 2}, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "bottle-egress: listening on :3128\ndeny CONNECT example.invalid:443 from 10.0.0.2\n"; got != want {
		t.Errorf("the egress sidecar's log: %q, want %q", got, want)
	}
	if len(*queries) != 2 {
		t.Fatalf("%d requests, want 2", len(*queries))
	}
	all, some := (*queries)[0], (*queries)[1]
	for _, q := range []url.Values{all, some} {
		if q.Get("stdout") != "1" || q.Get("stderr") != "1" {
			t.Errorf("not both streams: %v", q)
		}
	}
	if all.Has("follow") || all.Has("since") || all.Has("tail") {
		t.Errorf("all of a log, asked with %v", all)
	}
	if some.Get("follow") != "1" || some.Get("since") != "1795867200.000000500" || some.Get("tail") != "2" {
		t.Errorf("follow, since and tail 2, asked with %v", some)
	}
}

func TestLogsErrors(t *testing.T) {
	t.Parallel()
	b, _ := logsEngine(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		a       agent.Agent
		service string
		want    error
	}{
		{"no handle", agent.Agent{Slug: "rv-1"}, "", backend.ErrNotFound},
		{"a service with no container", logged, "web", backend.ErrNoLogs},
		{"a container gone", agent.Agent{Handle: handle{container: "gone-ctr"}}, "", backend.ErrNotFound},
		{"the logging driver none", agent.Agent{Handle: handle{container: "none-ctr"}}, "", backend.ErrNoLogs},
	} {
		err := b.Logs(ctx, tc.a, tc.service, backend.LogOptions{Tail: -1}, &bytes.Buffer{})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
