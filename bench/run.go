package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sample is one run of one command.
type sample struct {
	wall   time.Duration
	rssKiB int64 // peak resident set size of the process, from wait4
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
}

// series is every timed run of one cmdSpec.
type series struct {
	spec    cmdSpec
	samples []sample
}

func (s *series) median() time.Duration {
	walls := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		walls[i] = x.wall
	}
	return medianDur(walls)
}

func (s *series) peakRSS() int64 {
	var peak int64
	for _, x := range s.samples {
		peak = max(peak, x.rssKiB)
	}
	return peak
}

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
	cmd := exec.CommandContext(ctx, spec.argv[0], spec.argv[1:]...)
	cmd.Env = append(baseEnv(), spec.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	wall := time.Since(began)
	s := sample{wall: wall, stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKiB = ru.Maxrss // KiB on Linux
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", strings.Join(spec.argv, " "), err, firstLines(stderr.String(), 3))
	}
	return s, nil
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
