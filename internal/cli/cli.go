// Package cli holds what every bottle binary shares: the exit statuses, the
// one place where an error becomes a message and an exit code, the one
// place where the backends are made from the environment, the go-flags
// command line (help, man page, shell completion, the user's labels) that
// writes only to the writers it is given, and interruption by signals.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/jessevdk/go-flags"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

// Status is a process exit status. The contract fixes their meaning per
// binary; these are the numbers.
type Status int

const (
	StatusOK      Status = 0
	StatusFailure Status = 1 // the job could not be done (or not all of it)
	StatusUsage   Status = 2 // bad usage, unknown backend, bad agent definition

	// StatusCannotAttach is every failure of bottle-attach's own, kept apart
	// from the statuses the session passes through, as docker run does.
	StatusCannotAttach Status = 125
)

// Main runs a binary's Run with the process's own arguments and streams.
func Main(run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) int {
	return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

type statusError struct {
	status Status
	err    error // nil: the binary has already said what it had to
}

func (e *statusError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.status)
	}
	return e.err.Error()
}

func (e *statusError) Unwrap() error { return e.err }

// Quietly ends the program with status and no message.
func Quietly(status Status) error { return &statusError{status: status} }

// Usage marks err as a usage error.
func Usage(err error) error { return &statusError{StatusUsage, err} }

// Usagef formats a usage error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// WithStatus makes err end the program with status.
func WithStatus(status Status, err error) error {
	if err == nil {
		return nil
	}
	return &statusError{status, err}
}

// errHelp ends a run that printed what was asked of it instead of doing
// its job (help, version, man page, completion): status 0.
var errHelp = errors.New("help printed")

// InterruptedError ends a run that a signal cut short.
type InterruptedError struct{ Signal syscall.Signal }

func (e *InterruptedError) Error() string { return "interrupted by " + e.Signal.String() }

// Exit prints err as one message on stderr, prefixed with the program's
// name, and returns the exit status it stands for.
func Exit(prog string, stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return int(StatusOK)
	}
	var (
		status      *statusError
		interrupted *InterruptedError
		unknown     *backend.UnknownError
		definition  *agentdef.Error
		flagsErr    *flags.Error
	)
	if !errors.As(err, &status) || status.err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, err)
	}
	switch {
	case errors.As(err, &interrupted):
		return 128 + int(interrupted.Signal)
	case errors.As(err, &status):
		return int(status.status)
	case errors.As(err, &unknown), errors.As(err, &definition), errors.As(err, &flagsErr):
		return int(StatusUsage)
	}
	return int(StatusFailure)
}

// Interruptible returns a context that SIGINT, SIGTERM and SIGHUP cancel, and a
// function to call when the work is done: it stops listening and returns an
// *InterruptedError if a signal arrived.
func Interruptible(ctx context.Context) (context.Context, func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case s := <-signals:
			cancel(&InterruptedError{Signal: s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() error {
		signal.Stop(signals)
		close(done)
		<-exited
		var interrupted *InterruptedError
		if errors.As(context.Cause(ctx), &interrupted) {
			return interrupted
		}
		cancel(nil)
		return nil
	}
}

// AgentFromStdin is the agent named by the first non-empty line of stdin
// (a bottle-ls line, a JSON line or a bare slug), for a binary whose
// arguments name none. A terminal on stdin is bad usage: the user forgot
// the argument. Nothing on it is "no agent selected", as fzf leaves it
// when the user presses Esc.
func AgentFromStdin(prog string, stdin io.Reader) (agent.Ref, error) {
	if tty.IsTerminal(stdin) {
		return agent.Ref{}, Usagef("name an agent, as an argument or on stdin (see %s --help)", prog)
	}
	ref, err := agent.ReadFirstRef(stdin)
	switch {
	case errors.Is(err, agent.ErrNoRef):
		return agent.Ref{}, errors.New("no agent selected")
	case err != nil:
		return agent.Ref{}, Usage(err)
	}
	return ref, nil
}

// AgentsFromArgs are the agents that the arguments name or, when there
// are none, the lines of stdin, for a binary that acts on many: each once,
// in order. A terminal on stdin is bad usage, and so is naming none.
func AgentsFromArgs(prog, verb string, args []string, stdin io.Reader) ([]agent.Ref, error) {
	var refs []agent.Ref
	if len(args) > 0 {
		for _, arg := range args {
			ref, err := agent.ParseRef(arg)
			if err != nil {
				return nil, Usage(err)
			}
			refs = append(refs, ref)
		}
	} else {
		if tty.IsTerminal(stdin) {
			return nil, Usagef("name the agents to %s, as arguments or on stdin (see %s --help)", verb, prog)
		}
		var err error
		if refs, err = agent.ReadRefs(stdin); err != nil {
			return nil, Usage(err)
		}
	}
	if len(refs) == 0 {
		return nil, Usagef("nothing to %s: no agent named on the command line or stdin", verb)
	}
	slices.SortStableFunc(refs, func(a, b agent.Ref) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(refs), nil
}
