// Package smolmachines runs agents as smolvm microVMs through the smolvm
// CLI. A bottle is one machine: its sidecars are daemons inside the agent's
// bundle image, named to it in BOTTLE_SIDECAR_DAEMONS. It never needs
// Docker.
package smolmachines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// versionTimeout bounds the usability check: a hung smolvm costs seconds.
const versionTimeout = 2 * time.Second

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

// New returns the smolmachines backend.
func New(cfg Config) *Backend { return &Backend{cfg: cfg} }

func (b *Backend) Name() string { return "smolmachines" }

// Usable runs `smolvm --version`.
func (b *Backend) Usable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	if _, err := b.smolvm(ctx, nil, "--version"); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("smolvm --version: %w within %s", backend.ErrNoAnswer, versionTimeout)
		}
		return err
	}
	return nil
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
// configured environment with env on top (a variable in env wins).
func (b *Backend) command(ctx context.Context, env []string, args ...string) (*exec.Cmd, error) {
	path, err := b.program()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	// exec.Cmd uses the last value of a variable given twice.
	cmd.Env = append(slices.Clone(b.cfg.Env), env...)
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	return cmd, nil
}

// smolvm runs smolvm with args and env as command makes it, and returns
// its stdout. A failure says what ran and carries smolvm's own stderr; a
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
	case err == nil:
		return stdout.Bytes(), nil
	case errors.As(err, &pathErr):
		return nil, backend.Absent(fmt.Errorf("cannot run %s: %w", cmd.Path, pathErr.Err))
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("smolvm %s: %s: %s", strings.Join(args[:min(2, len(args))], " "), exitErr, msg)
	default:
		return nil, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
}
