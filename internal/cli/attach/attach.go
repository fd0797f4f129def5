// Package attach is bottle-attach: it connects the user's terminal to an
// agent named by a bottle-ls line or a slug, or runs one command in it.
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-attach"

var command = cli.Command{
	Name:  prog,
	Short: "connect your terminal to an agent, or run one command in it",
	Usage: "[--label KEY=VALUE]... [LINE|SLUG] [-- COMMAND [ARG]...]",
	Description: "Connects your terminal to the agent named by the argument or, when there is none, " +
		"by the first non-empty line of stdin: a bottle-ls line, a bottle-ls --json line, or a bare slug, " +
		"which is looked up on every usable backend. It runs the attach command recorded on the agent " +
		"at start, or COMMAND when one follows --. When stdin is a pipe, the session uses the " +
		"controlling terminal (/dev/tty), as fzf does. Without any terminal, or when COMMAND is given " +
		"and stdout is not a terminal, COMMAND runs with plain streams. " +
		"The exit status is the session's own; the tool's own failures (no agent named or found, " +
		"no terminal, backend unreachable) are 125.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only attach to agents carrying all these labels
  TERM              passed to the session when it has a terminal
` + cli.BackendEnvironment + `
Examples:
  bottle-ls | fzf | bottle-attach
  bottle-start --backend=docker reviewer | bottle-attach
  bottle-attach reviewer-3f9a1c
  bottle-attach reviewer-3f9a1c -- cat /workspace/NOTES.md
`,
}

type options struct {
	Labels map[string]string `long:"label" env:"BOTTLE_LABELS" env-delim:"," key-value-delimiter:"=" value-name:"KEY=VALUE" description:"only attach to agents carrying this label (repeatable)"`
}

// Main runs bottle-attach as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-attach and returns the session's exit status, or 125.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// What follows -- is the command, never flags or the agent.
	var cmd []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, cmd = args[:i], args[i+1:]
	}
	var opts options
	rest, err := command.Parse(&opts, args, stdout)
	status := 0
	if err == nil {
		status, err = run(opts, rest, cmd, stdin, stdout, stderr)
	}
	if err != nil {
		return cli.Exit(prog, stderr, cli.WithStatus(cli.StatusCannotAttach, err))
	}
	return status
}

func run(opts options, rest, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := cli.CheckLabels(opts.Labels); err != nil {
		return 0, err
	}
	ref, fromStdin, err := selected(rest, stdin)
	if err != nil {
		return 0, err
	}
	ctx, finish := cli.Interruptible(context.Background())
	status, err := attach(ctx, ref, opts.Labels, session(cmd, fromStdin, stdin, stdout, stderr))
	if interrupted := finish(); interrupted != nil {
		return 0, interrupted
	}
	return status, err
}

// selected reads the agent from the argument or the first line of stdin.
func selected(rest []string, stdin io.Reader) (agent.Ref, bool, error) {
	switch {
	case len(rest) > 1:
		return agent.Ref{}, false, cli.Usagef("name one agent; a command goes after -- (see %s --help)", prog)
	case len(rest) == 1:
		ref, err := agent.ParseRef(rest[0])
		return ref, false, err
	case tty.IsTerminal(stdin):
		return agent.Ref{}, false, cli.Usagef("name an agent, as an argument or on stdin (see %s --help)", prog)
	}
	ref, err := agent.ReadFirstRef(stdin)
	if errors.Is(err, agent.ErrNoRef) {
		return agent.Ref{}, true, errors.New("no agent selected")
	}
	return ref, true, err
}

// session decides how the user's side looks: a terminal when one is there,
// except for a command whose output goes to a pipe or file; plain streams
// otherwise. Stdin feeds a plain command only when it did not name the agent.
func session(cmd []string, stdinNamedAgent bool, stdin io.Reader, stdout, stderr io.Writer) *tty.Session {
	s := &tty.Session{Command: cmd, Stdout: stdout, Stderr: stderr}
	if len(cmd) == 0 || tty.IsTerminal(stdout) {
		s.Terminal = tty.Open(stdin, stdout)
	}
	if s.Terminal != nil {
		if term := os.Getenv("TERM"); term != "" {
			s.Env = []string{"TERM=" + term}
		}
	} else if !stdinNamedAgent {
		s.Stdin = stdin
	}
	return s
}

func attach(ctx context.Context, ref agent.Ref, labels map[string]string, s *tty.Session) (int, error) {
	if s.Terminal == nil && len(s.Command) == 0 {
		return 0, errors.New("no terminal to attach: give a command after -- to run one without")
	}
	if s.Terminal != nil {
		defer s.Terminal.Close()
	}
	backends, errs := backend.Locate(ctx, []agent.Ref{ref}, labels)
	if errs[0] != nil {
		return 0, errs[0]
	}
	status, err := backends[0].Attach(ctx, ref.Slug, labels, s)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", backends[0].Name(), ref.Slug, err)
	}
	return status, nil
}
