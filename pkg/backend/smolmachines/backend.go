// Package smolmachines runs agents as smolvm microVMs through the smolvm
// CLI. A bottle is one machine: its sidecars are daemons inside the agent's
// bundle image, named to it in BOTTLE_SIDECAR_DAEMONS. It never needs
// Docker.
//
// The agent's program, the bottle's session, is the machine's workload,
// which smolvm launches, detached, at every start of the machine. smolvm
// can neither join a workload nor say what it wrote, so that the backend
// is no backend.Joiner: bottle-attach runs one command beside the program
// (Exec), and the only log it reads (backend.Logger) is the machine's
// refused connections, as the egress sidecar's.
package smolmachines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// versionTimeout bounds the usability check: a hung smolvm costs seconds.
const versionTimeout = 2 * time.Second

// interruptGrace is how long a cancelled create or start has, after its
// SIGINT, to exit before it is killed, and how long its output may stay
// open after it exited (held by the VM it started, say).
const interruptGrace = 10 * time.Second

// EnvSmolvm names the smolvm executable to use instead of smolvm on PATH.
const EnvSmolvm = "BOTTLE_SMOLVM"

// Config is how the smolmachines backend runs smolvm.
type Config struct {
	// Program is the smolvm executable: a path, or a name to look up on
	// PATH, as $BOTTLE_SMOLVM, else "smolvm", gives it.
	Program string
	// Env is the whole environment smolvm runs in, KEY=VALUE: the
	// caller's, from which smolvm reads settings of its own
	// (SMOLVM_DATA_DIR, say). A create and a start add the hardening.
	Env []string
}

// Backend is the smolmachines backend.
type Backend struct{ cfg Config }

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.Finder        = (*Backend)(nil)
	_ backend.OrphanRemover = (*Backend)(nil)
	_ backend.Logger        = (*Backend)(nil)
)

// New returns the smolmachines backend.
func New(cfg Config) *Backend { return &Backend{cfg: cfg} }

func (b *Backend) Name() string { return "smolmachines" }

// minVersion is the oldest smolvm the backend drives: 1.8.0 is the first
// that labels machines, which is how the toolkit finds its own, and every
// smolvm since 1.1.3 enforces an egress policy (before, one was silently
// ignored).
var minVersion = version{major: 1, minor: 8}

// Usable runs `smolvm --version` and checks that smolvm is recent enough:
// one that is not is as unusable as one that is not there.
func (b *Backend) Usable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	out, err := b.smolvm(ctx, nil, "--version")
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("smolvm --version: %w within %s", backend.ErrNoAnswer, versionTimeout)
	case err != nil:
		return err
	}
	v, err := parseVersion(out)
	if err != nil {
		return backend.Absent(err)
	}
	if v.before(minVersion) {
		return backend.Absent(fmt.Errorf("smolvm %s is too old: bottle needs %s or later, the first to label machines", v, minVersion))
	}
	return nil
}

// version is a smolvm release: major, minor, patch, and whether it is a
// pre-release of that (1.8.0-rc.1 comes before 1.8.0).
type version struct {
	major, minor, patch int
	pre                 bool
}

func (v version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

func (v version) before(w version) bool {
	switch {
	case v.major != w.major:
		return v.major < w.major
	case v.minor != w.minor:
		return v.minor < w.minor
	case v.patch != w.patch:
		return v.patch < w.patch
	}
	return v.pre && !w.pre
}

// parseVersion reads `smolvm --version`: "smolvm X.Y.Z", build metadata
// ("+...") ignored.
func parseVersion(out []byte) (version, error) {
	fields := strings.Fields(string(out))
	bad := fmt.Errorf("smolvm --version printed %q, not \"smolvm X.Y.Z\"", shorten(strings.TrimSpace(string(out))))
	if len(fields) < 2 || fields[0] != "smolvm" {
		return version{}, bad
	}
	s, _, _ := strings.Cut(fields[1], "+")
	s, pre, _ := strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return version{}, bad
	}
	var n [3]int
	for i, p := range parts {
		var err error
		if n[i], err = strconv.Atoi(p); err != nil || n[i] < 0 {
			return version{}, bad
		}
	}
	return version{major: n[0], minor: n[1], patch: n[2], pre: pre != ""}, nil
}

// program is the smolvm executable's path. One that is not there is
// backend.ErrUnusable.
func (b *Backend) program() (string, error) {
	if strings.Contains(b.cfg.Program, "/") {
		return b.cfg.Program, nil
	}
	p, err := exec.LookPath(b.cfg.Program)
	if err != nil {
		return "", backend.Absent(fmt.Errorf("%s is not on PATH (or set %s)", b.cfg.Program, EnvSmolvm))
	}
	return p, nil
}

// command is smolvm with args, each its own argv element, in the
// configured environment with env on top (a variable in env wins). When
// ctx is done, a create or a start gets SIGINT, not SIGKILL: a `machine
// start` killed leaves its VM running, one interrupted takes its VM down
// with it once the VM's agent answered, and a create interrupted can
// finish or undo its record. It is killed only if it has not exited
// interruptGrace later. Every other command is killed at once: it makes
// nothing, and a hung one must not hold its caller up.
func (b *Backend) command(ctx context.Context, env []string, args ...string) (*exec.Cmd, error) {
	path, err := b.program()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if len(args) > 1 && args[0] == "machine" && (args[1] == "create" || args[1] == "start") {
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = interruptGrace
	}
	// exec.Cmd uses the last value of a variable given twice.
	cmd.Env = append(slices.Clone(b.cfg.Env), env...)
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	return cmd, nil
}

// failure is smolvm exiting with a status other than 0.
type failure struct {
	what   string // "smolvm machine create"
	status int
	msg    string // smolvm's stderr, on one line
}

func (f *failure) Error() string {
	return fmt.Sprintf("%s: exit status %d: %s", f.what, f.status, f.msg)
}

// smolvm runs smolvm with args and env as command makes it, and returns
// its stdout. A failure is a *failure carrying smolvm's own stderr; a
// smolvm that cannot be run at all is backend.ErrUnusable.
func (b *Backend) smolvm(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd, err := b.command(ctx, env, args...)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	var pathErr *fs.PathError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil:
		// ErrWaitDelay alone: smolvm exited 0, and something it started
		// (a VM) kept its output open.
		return stdout.Bytes(), nil
	case errors.As(err, &pathErr):
		return nil, backend.Absent(fmt.Errorf("cannot run %s: %w", cmd.Path, pathErr.Err))
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = "no message"
		}
		return nil, &failure{what: "smolvm " + strings.Join(args[:min(2, len(args))], " "), status: exitErr.ExitCode(), msg: msg}
	default:
		return nil, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
}

func shorten(s string) string {
	const most = 60
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}
