package main

import (
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tether is the bottle-tether binary under test, built static as the
// tether image's is.
var tether string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bottle-tether-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tether = filepath.Join(dir, "bottle-tether")
	build := exec.Command("go", "build", "-o", tether, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building bottle-tether: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestStatic: the binary needs no dynamic loader, which the agent's image
// may not have.
func TestStatic(t *testing.T) {
	f, err := elf.Open(tether)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatalf("%s asks for a program interpreter: not static", tether)
		}
	}
}

// patience is how long a test waits for what should happen at once, on a
// machine that may be busy.
const patience = 10 * time.Second

// markerVar marks, with a test's token, the environment of every process
// the test starts, which its descendants inherit: that is how the test
// finds them in /proc.
const markerVar = "BOTTLE_TETHER_TEST"

// newToken returns a fresh TOKEN for t, and kills, when t ends, any process
// still marked with it.
func newToken(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	t.Cleanup(func() {
		for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			procs := marked(token)
			if len(procs) == 0 {
				return
			}
			for pid := range procs {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		t.Errorf("processes marked %s outlived the test: %v", token, marked(token))
	})
	return token
}

// marked returns the command lines, by pid, of the live processes marked
// with token. A zombie has no environment left, so it is not among them.
func marked(token string) map[int]string {
	mark := markerVar + "=" + token
	entries, _ := os.ReadDir("/proc")
	procs := map[int]string{}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + entry.Name() + "/environ")
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), mark) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + entry.Name() + "/cmdline")
		procs[pid] = strings.ReplaceAll(strings.TrimSuffix(string(cmdline), "\x00"), "\x00", " ")
	}
	return procs
}

// waitForProcesses waits until processes marked with token run each of
// cmdlines.
func waitForProcesses(t *testing.T, token string, cmdlines ...string) {
	t.Helper()
	var procs map[int]string
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		procs = marked(token)
		running := slices.Collect(maps.Values(procs))
		if !slices.ContainsFunc(cmdlines, func(c string) bool { return !slices.Contains(running, c) }) {
			return
		}
	}
	t.Fatalf("want processes %q running, have %v", cmdlines, procs)
}

// waitForNone waits until no live process is marked with token.
func waitForNone(t *testing.T, token string) {
	t.Helper()
	var procs map[int]string
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if procs = marked(token); len(procs) == 0 {
			return
		}
	}
	t.Fatalf("processes left: %v", procs)
}

// waitForHold waits until the run for token has accepted its hold: the
// accepted socket bears the name, connected (state 03), in /proc/net/unix.
func waitForHold(t *testing.T, token string) {
	t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		table, err := os.ReadFile("/proc/net/unix")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(table)) {
			if f := strings.Fields(line); len(f) == 8 && f[5] == "03" && f[7] == socketName(token) {
				return
			}
		}
	}
	t.Fatalf("the run for %s accepted no hold in %v", token, patience)
}

// proc is a started process of the test's.
type proc struct {
	cmd    *exec.Cmd
	stdout string // the file its stdout goes to
	stderr string
	exited chan struct{}
}

// tetherCommand is bottle-tether with args, marked with token.
func tetherCommand(token string, args ...string) *exec.Cmd {
	cmd := exec.Command(tether, args...)
	cmd.Env = append(os.Environ(), markerVar+"="+token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// start starts cmd, with its stdout and stderr, unless set, in files
// (which, unlike pipes, leftovers cannot keep open), and kills its process
// group when t ends.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{cmd: cmd, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), exited: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = create(t, p.stdout)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = create(t, p.stderr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	return p
}

// create creates the file name, which t's cleanup closes.
func create(t *testing.T, name string) *os.File {
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// runTether starts bottle-tether run with args, marked with token, stdin
// from stdin (nil: /dev/null).
func runTether(t *testing.T, token string, stdin *os.File, args ...string) *proc {
	t.Helper()
	cmd := tetherCommand(token, append([]string{"run"}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	return start(t, cmd)
}

// holdTether starts bottle-tether hold for token and returns it with the
// write end of its stdin, which t's cleanup closes.
func holdTether(t *testing.T, token string) (*proc, *os.File) {
	t.Helper()
	stdin, stdinWriter := pipe(t)
	cmd := tetherCommand(token, "hold", token)
	cmd.Stdin = stdin
	p := start(t, cmd)
	stdin.Close()
	return p, stdinWriter
}

// pipe returns a pipe whose ends t's cleanup closes.
func pipe(t *testing.T) (r, w *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// exitCode waits for p to exit on its own and returns its status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(patience):
		t.Fatalf("%q still running after %v", p.cmd.Args, patience)
	}
	if status := p.cmd.ProcessState.Sys().(syscall.WaitStatus); status.Signaled() {
		t.Fatalf("%q was killed by %v", p.cmd.Args, status.Signal())
	}
	return p.cmd.ProcessState.ExitCode()
}

// output returns what p wrote to the file named name so far.
func (p *proc) output(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
