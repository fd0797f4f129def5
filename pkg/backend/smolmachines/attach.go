package smolmachines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"

	"github.com/bottle-dev/bottle/pkg/tty"
)

// Attach runs the session's command, or the attach command recorded on the
// machine at start, through `smolvm machine exec`, with the user's terminal
// (in raw mode) as its standard streams when the session has one. smolvm
// is in the terminal's foreground process group, so it sees window
// resizes itself. It returns the command's exit status, which smolvm
// passes through.
func (b *Backend) Attach(ctx context.Context, slug string, labels map[string]string, s *tty.Session) (int, error) {
	m, err := find(ctx, slug, labels)
	if err != nil {
		return 0, err
	}
	if m.State != "running" {
		return 0, fmt.Errorf("machine %s is %s, not running", m.Name, m.State)
	}
	cmd := s.Command
	if len(cmd) == 0 {
		if err := json.Unmarshal([]byte(m.Labels[labelAttach]), &cmd); err != nil || len(cmd) == 0 {
			cmd = []string{"/bin/sh"}
		}
	}
	path, err := program()
	if err != nil {
		return 0, err
	}
	args := []string{"machine", "exec", "--name", m.Name}
	term := s.Terminal
	if term != nil || s.Stdin != nil {
		args = append(args, "-i")
	}
	if term != nil {
		args = append(args, "-t")
	}
	for _, kv := range s.Env {
		args = append(args, "-e", kv)
	}
	run := exec.CommandContext(ctx, path, append(append(args, "--"), cmd...)...)
	if term != nil {
		run.Stdin, run.Stdout, run.Stderr = term.Reader(), term.Writer(), term.Writer()
		if err := term.MakeRaw(); err != nil {
			return 0, fmt.Errorf("setting the terminal to raw mode: %w", err)
		}
		defer term.Restore()
	} else {
		run.Stdin, run.Stdout, run.Stderr = s.Stdin, s.Stdout, s.Stderr
	}
	err = run.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), nil
	case err != nil:
		return 0, fmt.Errorf("running %s: %w", path, err)
	}
	return 0, nil
}
