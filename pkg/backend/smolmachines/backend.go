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
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// versionTimeout bounds the usability check: a hung smolvm costs seconds.
const versionTimeout = 2 * time.Second

// EnvSmolvm names the smolvm executable to use instead of smolvm on PATH.
const EnvSmolvm = "BOTTLE_SMOLVM"

// Backend is the smolmachines backend.
type Backend struct{}

// New returns the smolmachines backend.
func New() *Backend { return &Backend{} }

func (b *Backend) Name() string { return "smolmachines" }

// Usable runs `smolvm --version`.
func (b *Backend) Usable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	if _, err := smolvm(ctx, nil, "--version"); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("smolvm --version: %w within %s", agent.ErrNoAnswer, versionTimeout)
		}
		return err
	}
	return nil
}

// program is the smolvm executable: $BOTTLE_SMOLVM, else smolvm on PATH.
func program() (string, error) {
	if p := os.Getenv(EnvSmolvm); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("smolvm")
	if err != nil {
		return "", notThere{fmt.Errorf("smolvm is not on PATH (or set %s)", EnvSmolvm)}
	}
	return p, nil
}

// smolvm runs smolvm with args, each its own argv element, in the caller's
// environment with env on top (a variable in env wins over the caller's),
// and returns its stdout. A failure says what ran and carries smolvm's own
// stderr.
func smolvm(ctx context.Context, env []string, args ...string) ([]byte, error) {
	path, err := program()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if env != nil {
		// exec.Cmd uses the last value of a variable given twice.
		cmd.Env = append(os.Environ(), env...)
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
		return nil, notThere{fmt.Errorf("cannot run %s: %w", path, pathErr.Err)}
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("smolvm %s: %s: %s", strings.Join(args[:min(2, len(args))], " "), exitErr, msg)
	default:
		return nil, fmt.Errorf("running %s: %w", path, err)
	}
}

// notThere is an error that says smolvm is not there to run at all: it is
// agent.ErrUnusable, with its own words.
type notThere struct{ error }

func (e notThere) Unwrap() []error { return []error{e.error, agent.ErrUnusable} }
