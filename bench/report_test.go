package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEgressRows: the egress targets are read from the Go benchmarks'
// lines, whatever GOMAXPROCS suffix they have.
func TestEgressRows(t *testing.T) {
	r := &report{goBench: `pkg: github.com/bottle-dev/bottle/pkg/egress
BenchmarkEgressHTTPS/swap-2     	    8438	    150000 ns/op	   13044 B/op	     159 allocs/op
BenchmarkEgressHTTPS/tunnel-2   	   13994	     80000 ns/op	    5069 B/op	      66 allocs/op
BenchmarkEgressHTTPSNewConn/swap-2         	     272	   4500000 ns/op	  317446 B/op	    2181 allocs/op
BenchmarkEgressHTTPSNewConn/tunnel-2       	     390	   3000000 ns/op	  224661 B/op	    1037 allocs/op
BenchmarkEgressStreams/swap-2              	       3	 480225349 ns/op	     86016 heap-B/stream	     47841 stack-B/stream	36969749 B/op	  221533 allocs/op
BenchmarkEgressStreams/tunnel-2            	       3	 343371762 ns/op	    112312 heap-B/stream	     23593 stack-B/stream	24035578 B/op	  105728 allocs/op
BenchmarkEgressStreams/direct-2            	       3	 366261157 ns/op	     30884 heap-B/stream	     15073 stack-B/stream	15166344 B/op	   94680 allocs/op
`}
	rows := r.egressRows()
	if len(rows) != 3 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	want := []string{"1.88×", "1.50×", "0.67× the target"}
	for i, rw := range rows {
		if rw.ratio != want[i] || !rw.met {
			t.Errorf("row %d: %+v, want ratio %s, met", i, rw, want[i])
		}
	}
	if !strings.Contains(rows[2].measured, "86 KiB (heap 54 KiB, stacks 32 KiB); through a tunnel 88 KiB") {
		t.Errorf("memory: %s", rows[2].measured)
	}
	if r.goBench = ""; len(r.egressRows()) != 0 {
		t.Error("rows without benchmarks")
	}
	t.Log(r.targetsTable(rows))
}

// The figures a report carries over from the one it replaces: when it was
// measured, start-up, init, and the listing table, nothing else.
func TestPreviousFigures(t *testing.T) {
	old := "# Performance\n\nMeasured by `make bench` on DAY.\n\nEach comparison ...\n\n## Targets (issue 7)\n\n| a | b |\n\n" +
		"## Listing at each number of agents\n\n| agents | wall |\n|---|---|\n| 0 | 7 ms |\n\n`bottle-ls`'s requests ...\n\n## Other figures\n\n" +
		"- Start-up without the Engine, `bottle-ls --help`: 5.87 ms median.\n- `bottle-ls`'s package `init` functions: 2.1 ms.\n- `docker version`: 20 ms.\n"
	path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "Measured by `make bench` on DAY.\n\n| agents | wall |\n|---|---|\n| 0 | 7 ms |\n\n" +
		"- Start-up without the Engine, `bottle-ls --help`: 5.87 ms median.\n- `bottle-ls`'s package `init` functions: 2.1 ms.\n"
	if got := previousFigures(path); got != want {
		t.Errorf("previousFigures = %q\nwant %q", got, want)
	}
	if got := previousFigures(filepath.Join(t.TempDir(), "none.md")); got != "" {
		t.Errorf("previousFigures of no report = %q", got)
	}
}
