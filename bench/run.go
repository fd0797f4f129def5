package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one run of one command.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system CPU time of the process, from wait4
	rssKiB int64         // peak resident set size, only when run with rss
	stdout []byte
	stderr []byte
}

// cmdSpec is a command the harness times: argv and its environment on top
// of the harness's clean base environment.
type cmdSpec struct {
	name string   // how the report names it
	argv []string // argv[0] is a path or a name on PATH
	env  []string // KEY=VALUE on top of baseEnv
	// check, when set, is given the output of the first (warm-up) run.
	check func(stdout []byte) error
	// rss runs the command under /usr/bin/time to get its own peak RSS.
	// wait4's ru_maxrss cannot be used from Go: os/exec starts a child with
	// vfork semantics (CLONE_VM), and Linux carries the parent's high-water
	// mark into the child's at exec, so every child would show at least the
	// harness's own RSS. GNU time forks, and is small.
	rss bool
}

// series is every timed run of one cmdSpec, and its peak RSS over the
// separate runs under /usr/bin/time.
type series struct {
	spec    cmdSpec
	samples []sample
	rss     int64 // KiB
}

func (s *series) cpuMedian() time.Duration {
	cpu := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		cpu[i] = x.cpu
	}
	return medianDur(cpu)
}

func (s *series) median() time.Duration {
	walls := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		walls[i] = x.wall
	}
	return medianDur(walls)
}

func (s *series) peakRSS() int64 { return s.rss }

func medianDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

// baseEnv is the harness's environment without anything that would point a
// measured program elsewhere than the harness says: the Docker variables,
// the toolkit's and the stand-in's own.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "BOTTLE_") || strings.HasPrefix(k, "SMOLVM_") || k == "GODEBUG" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runOnce runs the command and measures its wall time (fork to reaped) and
// its peak RSS. A non-zero exit status is an error that carries stderr.
func runOnce(ctx context.Context, spec cmdSpec) (sample, error) {
	argv := spec.argv
	var rssFile string
	if spec.rss {
		f, err := os.CreateTemp("", "bottle-bench-rss-")
		if err != nil {
			return sample{}, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		argv = append([]string{timeBin, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(baseEnv(), spec.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	wall := time.Since(began)
	s := sample{wall: wall, stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if cmd.ProcessState != nil {
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", strings.Join(spec.argv, " "), err, firstLines(stderr.String(), 3))
	}
	if rssFile != "" {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return s, err
		}
		// The last line: GNU time puts a note about a non-zero status first.
		lines := strings.Fields(string(b))
		if len(lines) == 0 {
			return s, fmt.Errorf("%s wrote no RSS for %s", timeBin, spec.argv[0])
		}
		if s.rssKiB, err = strconv.ParseInt(lines[len(lines)-1], 10, 64); err != nil {
			return s, fmt.Errorf("%s: %w", timeBin, err)
		}
	}
	return s, nil
}

// timeBin is GNU time, for the peak RSS of one command.
const timeBin = "/usr/bin/time"

// rssRuns is how many runs under /usr/bin/time give a command's peak RSS.
const rssRuns = 3

// measureRSS runs each series' command rssRuns times under /usr/bin/time,
// alternately, and keeps the largest peak RSS.
func measureRSS(ctx context.Context, ss ...*series) error {
	for range rssRuns {
		for _, s := range ss {
			spec := s.spec
			spec.rss = true
			x, err := runOnce(ctx, spec)
			if err != nil {
				return err
			}
			s.rss = max(s.rss, x.rssKiB)
		}
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

// compare runs the commands alternately: one untimed warm-up round (whose
// output is checked), then rounds timed rounds, each starting with the next
// command, so that no command always runs first or after the same one.
func compare(ctx context.Context, rounds int, specs ...cmdSpec) ([]*series, error) {
	out := make([]*series, len(specs))
	for i, s := range specs {
		out[i] = &series{spec: s}
	}
	for _, s := range specs {
		x, err := runOnce(ctx, s)
		if err != nil {
			return nil, err
		}
		if s.check != nil {
			if err := s.check(x.stdout); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	for r := range rounds {
		for k := range specs {
			i := (r + k) % len(specs)
			x, err := runOnce(ctx, specs[i])
			if err != nil {
				return nil, err
			}
			out[i].samples = append(out[i].samples, x)
		}
	}
	return out, nil
}

func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.2f ms", f)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
