package smolmachines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Exec runs s.Command beside the machine's workload (the agent's
// program, which smolvm started and which no smolvm command joins, so
// that this backend is no backend.Joiner) through `smolvm machine exec`,
// with the session's streams as its own: with a terminal (-i -t), smolvm
// is in the terminal's foreground process group and sees window resizes
// itself; with input only, -i; with neither, --stream, so that output
// arrives as the command writes it rather than when it ends. It returns
// the command's exit status, which smolvm passes through, unless that
// status is smolvm's own failure (see execFailure).
//
// The command does not outlive its caller: smolvm's agent kills it, and
// all it started, when the smolvm client goes away, and the client goes
// with the caller, killed when ctx is done and, on Linux, when the caller
// dies (see dieWithCaller).
func (b *Backend) Exec(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	name, err := machineOf(a)
	if err != nil {
		return 0, err
	}
	if a.State != "running" {
		return 0, fmt.Errorf("machine %s is %s, not running", name, a.State)
	}
	args := []string{"machine", "exec", "--name", name}
	switch {
	case s.TTY:
		args = append(args, "-i", "-t")
	case s.In != nil:
		args = append(args, "-i")
	default:
		args = append(args, "--stream")
	}
	for _, kv := range s.Env {
		args = append(args, "-e", kv)
	}
	run, err := b.command(ctx, nil, append(append(args, "--"), s.Command...)...)
	if err != nil {
		return 0, err
	}
	stderr := &lastLine{w: s.Err}
	run.Stdin, run.Stdout, run.Stderr = s.In, s.Out, stderr
	err = dieWithCaller(run)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case errors.As(err, &exitErr):
		status := exitErr.ExitCode()
		if status == 1 || status == 2 {
			if err := b.execFailure(ctx, name, status, stderr.String()); err != nil {
				return 0, err
			}
		}
		return status, nil
	case err != nil:
		return 0, fmt.Errorf("running %s: %w", run.Path, err)
	}
	return 0, nil
}

// smolvmErrors begin the messages of smolvm's own failures that an exec
// may end with: its error kinds, after the "Error: " it prints them with.
var smolvmErrors = []string{"Error: vm not found: ", "Error: agent operation failed: ", "Error: config operation failed: "}

// execFailure says whether an exec that exited 1 or 2, as both smolvm's
// own failures and the command's may, failed for smolvm's reasons: when
// the machine is gone or no longer running, which `machine status` tells,
// or when smolvm's last line on stderr is one of its own errors. A command
// may print "Error: ..." too, but seldom in smolvm's own kinds, so that a
// command's "Error: no such file" is its own status.
func (b *Backend) execFailure(ctx context.Context, name string, status int, last string) error {
	if last == "" {
		last = "no message"
	}
	failed := fmt.Sprintf("smolvm machine exec: exit status %d: %s", status, last)
	m, _, err := b.status(ctx, name)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return fmt.Errorf("%s (the machine is gone)", failed)
	case err != nil:
		return fmt.Errorf("%s, and the machine cannot be looked up: %w", failed, err)
	case m.State != "running":
		return fmt.Errorf("%s (the machine is %s)", failed, m.State)
	}
	for _, prefix := range smolvmErrors {
		if strings.HasPrefix(last, prefix) {
			if strings.Contains(last, secretFailure) {
				failed += "; smolvm reads the agent's secrets again for every command: set the variable, or make the file readable, where you run this"
			}
			return errors.New(failed)
		}
	}
	return nil
}

// secretFailure is in smolvm's message when it cannot read a secret
// (--secret-env, --secret-file) of the machine's.
const secretFailure = "resolve secret '"

// lastLine passes what is written to w on and keeps the last line of it
// that is not empty, at most maxLine bytes of its end.
type lastLine struct {
	w          io.Writer // nil: nothing is passed on
	line, prev []byte
}

const maxLine = 4096

func (l *lastLine) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		chunk, after, newline := bytes.Cut(rest, []byte("\n"))
		l.line = append(l.line, chunk...)
		if len(l.line) > maxLine {
			l.line = l.line[len(l.line)-maxLine:]
		}
		if newline && len(bytes.TrimSpace(l.line)) > 0 {
			l.prev, l.line = l.line, nil
		} else if newline {
			l.line = l.line[:0]
		}
		rest = after
	}
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}

// String returns the last line, without the space around it.
func (l *lastLine) String() string {
	if s := strings.TrimSpace(string(l.line)); s != "" {
		return s
	}
	return strings.TrimSpace(string(l.prev))
}
