package smolmachines

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bottle-dev/bottle/internal/smolvmfake"
	"github.com/bottle-dev/bottle/pkg/agent"
)

// envStandIn makes the test binary the stand-in smolvm; envExecCaller
// makes it a caller of Exec, for a test to kill.
const (
	envStandIn    = "SMOLMACHINES_TEST_SMOLVM"
	envExecCaller = "SMOLMACHINES_TEST_EXEC"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envStandIn) == "1":
		os.Exit(smolvmfake.Main())
	case os.Getenv(envExecCaller) != "":
		os.Exit(execCaller(os.Getenv(envExecCaller)))
	}
	os.Exit(m.Run())
}

// standIn is a backend whose smolvm is the stand-in, with a state of its
// own, and a machine of the toolkit's, running: the agent returned.
type standIn struct {
	b                     *Backend
	state, calls, dataDir string
	a                     agent.Agent
}

func newStandIn(t *testing.T, services ...string) *standIn {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &standIn{state: filepath.Join(dir, "machines.json"), calls: filepath.Join(dir, "calls")}
	env := append(os.Environ(), envStandIn+"=1", "SMOLVM_STATE="+s.state, "SMOLVM_CALLS="+s.calls)
	s.b = New(Config{Program: self, Env: env})
	ctx := context.Background()
	labels := []string{"--label", "dev.bottle.slug=rv-1", "--label", "dev.bottle.agent=reviewer", "--label", "dev.bottle.services=" + strings.Join(services, ",")}
	if _, err := s.b.smolvm(ctx, nil, append([]string{"machine", "create", "--name", "rv-1"}, labels...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.smolvm(ctx, nil, "machine", "start", "--name", "rv-1"); err != nil {
		t.Fatal(err)
	}
	if s.a, err = s.b.Find(ctx, "rv-1", nil); err != nil {
		t.Fatal(err)
	}
	out, err := s.b.smolvm(context.Background(), nil, "machine", "data-dir", "--name", "rv-1")
	if err != nil {
		t.Fatal(err)
	}
	s.dataDir = strings.TrimSpace(string(out))
	os.Remove(s.calls)
	return s
}

// callsLog returns the smolvm commands run, one a line, and clears it.
func (s *standIn) callsLog(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(s.calls)
	os.Remove(s.calls)
	return string(b)
}

// alive says whether the process pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
