// Package attach is bottle-attach: it joins the user's terminal to the
// program of an agent named by a bottle-ls line or a slug (the bottle's
// session, which goes on when the user leaves it), or runs one command
// beside it.
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/moby/term"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-attach"

var command = cli.Command{
	Name:  prog,
	Short: "join an agent's session from your terminal, or run one command in it",
	Usage: "[--detach-keys KEYS] [--label KEY=VALUE]... [LINE|SLUG] [-- COMMAND [ARG]...]",
	Description: "Joins your terminal to the program of the agent named by the argument or, when there is none, " +
		"by the first non-empty line of stdin: a bottle-ls line, a bottle-ls --json line, or a bare slug, " +
		"which is looked up on every usable backend. The program is the bottle's session: it started with " +
		"the agent and runs whether or not anyone is joined; several terminals may join it at once, and on " +
		"joining the program is asked to redraw its screen. The detach keys (ctrl-p,ctrl-q unless " +
		"--detach-keys or BOTTLE_DETACH_KEYS say otherwise), or the terminal going away, leave it running: " +
		"bottle-attach then exits 0 and says how to rejoin. When the program ends while you are joined, " +
		"its exit status is bottle-attach's. " +
		"With COMMAND after --, runs that one command beside the program instead, and ends it, with every " +
		"process it started, when bottle-attach goes away (a closed terminal, a signal, even SIGKILL). " +
		"When stdin is a pipe, the terminal is the controlling one (/dev/tty), as fzf does. Without any " +
		"terminal, or when stdout is not a terminal, COMMAND runs with plain streams. " +
		"The tool's own failures (no agent named or found, an agent whose program has ended, no terminal, " +
		"a backend that cannot join or does not answer) are 125.",
	Epilog: `Detach keys:
  A comma-separated sequence, as docker spells it: a letter, or ctrl-LETTER,
  ctrl-@, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_ (for example ctrl-x,x).

Environment:
  BOTTLE_DETACH_KEYS  the detach keys, when --detach-keys is not given
  BOTTLE_LABELS       KEY=VALUE,... only attach to agents carrying all these labels
  TERM                passed to a command run with a terminal
` + cli.BackendEnvironment + `
Examples:
  bottle-ls | fzf | bottle-attach
  bottle-start --backend=docker reviewer | bottle-attach
  bottle-attach reviewer-3f9a1c
  bottle-attach --detach-keys=ctrl-x,x reviewer-3f9a1c
  bottle-attach reviewer-3f9a1c -- git status
  bottle-attach reviewer-3f9a1c -- /bin/sh
`,
	LabelHelp:     "only attach to agents carrying this label (repeatable)",
	Operands:      &cli.Operands[cli.RunningSlug]{},
	FailureStatus: cli.StatusCannotAttach,
}

type options struct {
	DetachKeys string `long:"detach-keys" env:"BOTTLE_DETACH_KEYS" default:"ctrl-p,ctrl-q" value-name:"KEYS" description:"the keys that leave the session running"`
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
	keys, err := term.ToBytes(opts.DetachKeys)
	if err != nil || len(keys) == 0 {
		return 0, cli.Usagef("--detach-keys %q: not a key sequence such as ctrl-p,ctrl-q (see %s --help)", opts.DetachKeys, prog)
	}
	u := user{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr, stdinNamedAgent: fromStdin, detachKeys: opts.DetachKeys}
	ctx, finish := cli.Interruptible(context.Background())
	status, err := attach(ctx, cli.Backends(os.Environ()), ref, opts.Labels, u)
	interrupted := finish()
	if errors.Is(err, errDetached) {
		// Leaving the session is not a failure, however it came about: the
		// keys, the terminal going away, or a signal to the tool.
		return 0, nil
	}
	if interrupted != nil {
		return 0, interrupted
	}
	return status, err
}

// errDetached is how attach says that the user left a running session,
// after saying how to rejoin it.
var errDetached = errors.New("detached")

// selected reads the agent from the argument or the first line of stdin.
func selected(rest []string, stdin io.Reader) (agent.Ref, bool, error) {
	switch {
	case len(rest) > 1:
		return agent.Ref{}, false, cli.Usagef("name one agent; a command goes after -- (see %s --help)", prog)
	case len(rest) == 1:
		ref, err := agent.ParseRef(rest[0])
		return ref, false, err
	}
	ref, err := cli.AgentFromStdin(prog, stdin)
	return ref, true, err
}

// user is the user's side of a session: the command after --, if any,
// the streams and the detach keys.
type user struct {
	cmd             []string
	stdin           io.Reader
	stdout, stderr  io.Writer
	stdinNamedAgent bool   // stdin held the agent's line, so it is not the command's input
	detachKeys      string // valid, as docker spells them
}

func attach(ctx context.Context, backends *backend.Set, ref agent.Ref, labels map[string]string, u user) (int, error) {
	join := len(u.cmd) == 0
	// A terminal when one is there, except for a command whose output goes
	// to a pipe or file; plain streams otherwise.
	var term *tty.Terminal
	if join || tty.IsTerminal(u.stdout) {
		term = tty.Open(u.stdin, u.stdout)
	}
	if term == nil && join {
		return 0, errors.New("no terminal to join a session from: read its output with bottle-logs, or give a command after -- to run one without a terminal")
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
	if err := running(a); err != nil {
		return fail(err)
	}
	joiner, canJoin := b.(backend.Joiner)
	if join && !canJoin {
		return fail(fmt.Errorf("%s cannot join an agent's program; run a command beside it instead: %s %s -- /bin/sh", b.Name(), prog, a.Slug))
	}
	s := backend.Session{Command: u.cmd, Out: u.stdout, Err: u.stderr, DetachKeys: u.detachKeys}
	var keys *detachWatch
	if term != nil {
		if err := term.MakeRaw(); err != nil {
			return fail(fmt.Errorf("setting the terminal to raw mode: %w", err))
		}
		watch, stop := context.WithCancel(ctx)
		defer stop()
		s.TTY, s.Size, s.Resize = true, backend.Size(term.Size()), resizes(watch, term)
		s.In, s.Out, s.Err = term.Reader(), term.Writer(), term.Writer()
		if join {
			keys = watchDetachKeys(s.In, u.detachKeys)
			s.In = keys
		} else if name := os.Getenv("TERM"); name != "" {
			s.Env = []string{"TERM=" + name}
		}
	} else if !u.stdinNamedAgent {
		s.In = u.stdin
	}
	if !join {
		status, err := b.Exec(ctx, a, s)
		if err != nil {
			return fail(err)
		}
		return status, nil
	}
	status, err := joiner.Join(ctx, a, s)
	if errors.Is(err, backend.ErrDetached) {
		term.Restore()
		how := "the terminal went away"
		switch {
		case keys.seen():
			how = "by the detach keys"
		case err != backend.ErrDetached: // the backend says how
			how = strings.TrimSuffix(err.Error(), ": "+backend.ErrDetached.Error())
		}
		// On a line of its own: the program left the cursor where it was.
		fmt.Fprintf(u.stderr, "\n%s: detached from %s (%s); its program goes on. Rejoin with: %s %s\n", prog, a.Slug, how, prog, a.Slug)
		return 0, errDetached
	}
	if err != nil {
		return fail(err)
	}
	return status, nil
}

// running refuses an agent whose program has ended, pointing at what it
// left.
func running(a agent.Agent) error {
	if a.State == "running" {
		return nil
	}
	status := ""
	if a.Exit != nil {
		status = fmt.Sprintf(", exit status %d", *a.Exit)
	}
	return fmt.Errorf("its program is not running (%s%s): see what it wrote with bottle-logs %s, remove it with bottle-stop %s", agent.Escape(a.State), status, a.Slug, a.Slug)
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
