package smolmachines

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// The last line of what smolvm writes on stderr is kept, in whatever
// pieces it comes, and all of it is passed on.
func TestLastLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writes []string
		want   string
	}{
		{nil, ""},
		{[]string{"Error: vm not found: a\n"}, "Error: vm not found: a"},
		{[]string{"first\nError: agent", " operation failed: x\r\n", "\n  \n"}, "Error: agent operation failed: x"},
		{[]string{"a\n", "b"}, "b"},
		{[]string{string(bytes.Repeat([]byte("x"), 3*maxLine)) + "end"}, string(bytes.Repeat([]byte("x"), maxLine-3)) + "end"},
	} {
		var out bytes.Buffer
		l := &lastLine{w: &out}
		var all string
		for _, w := range tc.writes {
			l.Write([]byte(w))
			all += w
		}
		if l.String() != tc.want || out.String() != all {
			t.Errorf("writes %q: last line %q, passed %q; want %q", tc.writes, l.String(), out.String(), tc.want)
		}
	}
}

// execCaller runs Exec of "sh -c SCRIPT" in the stand-in's machine rv-1,
// as bottle-attach would, for a test to kill: env names its state.
func execCaller(script string) int {
	self, _ := os.Executable()
	b := New(Config{Program: self, Env: append(os.Environ(), envStandIn+"=1")})
	a := b.agent(machine{Name: "rv-1", State: "running", Labels: map[string]string{"dev.bottle.slug": "rv-1"}})
	status, err := b.Exec(context.Background(), a, backend.Session{Command: []string{"sh", "-c", script}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	return status
}

// A one-off command does not outlive its caller, not even one killed with
// SIGKILL: the smolvm client dies with it, and smolvm's agent then ends
// the command, with what it started.
func TestExecDiesWithCaller(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("only Linux kills a child with its parent")
	}
	s := newStandIn(t)
	self, _ := os.Executable()
	pidFile := filepath.Join(t.TempDir(), "pids")
	caller := exec.Command(self)
	caller.Env = append(os.Environ(), "SMOLVM_STATE="+s.state, envExecCaller+`=sleep 300 & echo $$ $! > `+pidFile+`; wait`)
	if err := caller.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); len(pids) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command did not start")
		}
		b, _ := os.ReadFile(pidFile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
	}
	caller.Process.Kill()
	caller.Wait()
	for _, pid := range pids {
		for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d of the command outlived its killed caller", pid)
			}
		}
	}
}

// Exec's smolvm command for each kind of session: a terminal (-i -t,
// the guest's stderr on it), input only (-i), neither (--stream).
func TestExecArgs(t *testing.T) {
	t.Parallel()
	s := newStandIn(t)
	for _, tc := range []struct {
		session   backend.Session
		call, out string
	}{
		{backend.Session{TTY: true, In: strings.NewReader("in"), Env: []string{"TERM=dumb"}}, "machine exec --name rv-1 -i -t -e TERM=dumb -- sh -c \"cat; echo err >&2\"", "inerr\n"},
		{backend.Session{In: strings.NewReader("in")}, "machine exec --name rv-1 -i -- sh -c \"cat; echo err >&2\"", "in"},
		{backend.Session{}, "machine exec --name rv-1 --stream -- sh -c \"cat; echo err >&2\"", ""},
	} {
		var out, errOut bytes.Buffer
		tc.session.Command, tc.session.Out, tc.session.Err = []string{"sh", "-c", "cat; echo err >&2"}, &out, &errOut
		if status, err := s.b.Exec(context.Background(), s.a, tc.session); status != 0 || err != nil || out.String() != tc.out {
			t.Errorf("%+v: status %d, %v, out %q; want %q", tc.session, status, err, out.String(), tc.out)
		}
		if got := s.callsLog(t); got != tc.call+"\n" {
			t.Errorf("calls %q, want %q", got, tc.call)
		}
	}
}
