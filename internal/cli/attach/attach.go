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
	LabelHelp:     "only attach to agents carrying this label (repeatable)",
	Operands:      &cli.Operands[cli.RunningSlug]{},
	FailureStatus: cli.StatusCannotAttach,
}

type options struct {
	cli.LabelScope
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
	status := 0
	if failed := command.Run(&opts, args, stdout, stderr, func(rest []string) (err error) {
		status, err = run(opts, rest, cmd, stdin, stdout, stderr)
		return err
	}); failed != 0 {
		return failed
	}
	return status
}

func run(opts options, rest, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ref, fromStdin, err := selected(rest, stdin)
	if err != nil {
		return 0, err
	}
	u := user{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr, stdinNamedAgent: fromStdin}
	ctx, finish := cli.Interruptible(context.Background())
	status, err := attach(ctx, cli.Backends(os.Environ()), ref, opts.Labels, u)
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

// user is the user's side of a session: the command after --, if any,
// and the streams.
type user struct {
	cmd             []string
	stdin           io.Reader
	stdout, stderr  io.Writer
	stdinNamedAgent bool // stdin held the agent's line, so it is not the command's input
}

func attach(ctx context.Context, backends *backend.Set, ref agent.Ref, labels map[string]string, u user) (int, error) {
	// A terminal when one is there, except for a command whose output goes
	// to a pipe or file; plain streams otherwise.
	var term *tty.Terminal
	if len(u.cmd) == 0 || tty.IsTerminal(u.stdout) {
		term = tty.Open(u.stdin, u.stdout)
	}
	if term == nil && len(u.cmd) == 0 {
		return 0, errors.New("no terminal to attach: give a command after -- to run one without")
	}
	if term != nil {
		defer term.Close()
	}
	located, errs := backends.Locate(ctx, []agent.Ref{ref}, labels)
	if errs[0] != nil {
		return 0, errs[0]
	}
	a, b := located[0].Agent, located[0].Backend
	fail := func(err error) (int, error) { return 0, fmt.Errorf("%s %s: %w", b.Name(), a.Slug, err) }
	s := backend.Session{Command: u.cmd, Out: u.stdout, Err: u.stderr}
	if len(s.Command) == 0 {
		if s.Command = a.Attach; len(s.Command) == 0 {
			return fail(errors.New("no attach command is recorded on it: give a command after --"))
		}
	}
	if term != nil {
		if err := term.MakeRaw(); err != nil {
			return fail(fmt.Errorf("setting the terminal to raw mode: %w", err))
		}
		watch, stop := context.WithCancel(ctx)
		defer stop()
		s.TTY, s.Size, s.Resize = true, backend.Size(term.Size()), resizes(watch, term)
		s.In, s.Out, s.Err = term.Reader(), term.Writer(), term.Writer()
		if name := os.Getenv("TERM"); name != "" {
			s.Env = []string{"TERM=" + name}
		}
	} else if !u.stdinNamedAgent {
		s.In = u.stdin
	}
	status, err := b.Attach(ctx, a, s)
	if err != nil {
		return fail(err)
	}
	return status, nil
}

// resizes delivers the terminal's size each time the window changes, until
// ctx is done. A size not yet taken is replaced by a newer one, so the
// watch never waits for the backend.
func resizes(ctx context.Context, term *tty.Terminal) <-chan backend.Size {
	sizes := make(chan backend.Size, 1)
	term.WatchResize(ctx, func(sz tty.Size) {
		for {
			select {
			case sizes <- backend.Size(sz):
				return
			default:
				select {
				case <-sizes:
				default:
				}
			}
		}
	})
	return sizes
}
