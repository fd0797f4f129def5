package agent_test

import (
	"bufio"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
)

func benchAgents(n int) []agent.Agent {
	agents := make([]agent.Agent, n)
	for i := range agents {
		agents[i] = agent.Agent{
			Backend:   "docker",
			Slug:      fmt.Sprintf("reviewer-%06x", i),
			Name:      "reviewer",
			Services:  []string{"egress", "web"},
			StartedAt: time.Unix(1795843200+int64(i), 0).UTC(),
			State:     "running",
		}
	}
	return agents
}

// countingWriter counts Write calls: bottle-ls writes to its stdout
// directly, so each call is a write(2).
type countingWriter struct{ writes int }

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return len(p), nil }

// BenchmarkWriteLine is bottle-ls printing 200 agents as lines; writes/op
// is how many write(2) calls that is on an unbuffered stdout.
func BenchmarkWriteLine(b *testing.B) {
	agents := benchAgents(200)
	b.Run("unbuffered", func(b *testing.B) {
		w := &countingWriter{}
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range agents {
				if err := agent.WriteLine(w, a); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(w.writes)/float64(b.N), "writes/op")
	})
	b.Run("buffered", func(b *testing.B) {
		w := &countingWriter{}
		b.ReportAllocs()
		for b.Loop() {
			bw := bufio.NewWriter(w)
			for _, a := range agents {
				if err := agent.WriteLine(bw, a); err != nil {
					b.Fatal(err)
				}
			}
			bw.Flush()
		}
		b.ReportMetric(float64(w.writes)/float64(b.N), "writes/op")
	})
}

// BenchmarkWriteJSON is bottle-ls --json printing 200 agents.
func BenchmarkWriteJSON(b *testing.B) {
	agents := benchAgents(200)
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range agents {
			if err := agent.WriteJSON(io.Discard, a); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEscape is the check every printed value goes through; ordinary
// values come back unchanged.
func BenchmarkEscape(b *testing.B) {
	b.Run("clean", func(b *testing.B) {
		for b.Loop() {
			agent.Escape("reviewer-3f9a1c")
		}
	})
	b.Run("hostile", func(b *testing.B) {
		for b.Loop() {
			agent.Escape("review\ter\x1b[31m")
		}
	})
}
