// Package cli holds what every bottle binary shares: the exit statuses, the
// one place where an error becomes a message and an exit code, the one
// place where the backends are made from the environment, flag parsing
// that writes only to the writers it is given, and interruption by signals.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/jessevdk/go-flags"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
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

// Command describes a binary for its flags, its help, its man page and
// shell completion.
type Command struct {
	Name        string
	Short       string // what it does, a few words for the man page's NAME line
	Usage       string // after the name on the usage line(s)
	Description string // what it does, a paragraph
	Epilog      string // printed verbatim after the options: environment, examples
}

// builtin are the options every binary has besides its own, in a group of
// their own after the binary's: help and version, and the hidden ones the
// Makefile uses to write man pages and completion files.
type builtin struct {
	Help       func() error       `short:"h" long:"help" description:"show this help message"`
	Version    func() error       `long:"version" description:"print the version and exit"`
	Man        func() error       `long:"man" hidden:"yes" description:"print the man page (roff) and exit"`
	Completion func(string) error `long:"completion" hidden:"yes" value-name:"SHELL" description:"print the completion script for bash or zsh and exit"`
}

// Parse parses args into opts. On -h or --help it prints the help to
// stdout, on --version the version, and returns an error that Exit turns
// into status 0; likewise for the hidden --man and --completion=SHELL, and
// when GO_FLAGS_COMPLETION is set, for the completions of the last of args
// (see completion.go).
func (c Command) Parse(opts any, args []string, stdout io.Writer) ([]string, error) {
	p := flags.NewNamedParser(c.Name, flags.PassDoubleDash)
	p.Usage = c.Usage
	p.ShortDescription = c.Short
	p.LongDescription = c.Description
	if _, err := p.AddGroup("Options", "", opts); err != nil {
		return nil, err
	}
	// Each builtin stops the parse where it stands, as go-flags' own help
	// option does, and says what to print instead of running.
	var do func() error
	stop := func(f func() error) error {
		do = f
		return &flags.Error{Type: flags.ErrHelp, Message: "stop"}
	}
	b := &builtin{
		Help: func() error {
			return stop(func() error {
				p.WriteHelp(stdout)
				_, err := fmt.Fprint(stdout, "\n"+c.Epilog)
				return err
			})
		},
		Version: func() error {
			return stop(func() error {
				_, err := fmt.Fprintln(stdout, c.Name, Version())
				return err
			})
		},
		Man: func() error { return stop(func() error { return c.writeMan(p, stdout) }) },
		Completion: func(shell string) error {
			script, ok := completionScripts[shell]
			if !ok {
				return errors.New("use bash or zsh")
			}
			return stop(func() error {
				_, err := io.WriteString(stdout, script)
				return err
			})
		},
	}
	if _, err := p.AddGroup("Help Options", "", b); err != nil {
		return nil, err
	}
	if mode := os.Getenv(envCompletion); mode != "" {
		if err := c.complete(p, args, mode == "verbose", stdout); err != nil {
			return nil, err
		}
		return nil, errHelp
	}
	rest, err := p.ParseArgs(args)
	if do != nil {
		if err := do(); err != nil {
			return nil, err
		}
		return nil, errHelp
	}
	if err != nil {
		return nil, Usage(fmt.Errorf("%w (see %s --help)", err, c.Name))
	}
	return rest, nil
}

// EnvLabels is the environment variable with the user's own labels.
const EnvLabels = "BOTTLE_LABELS"

// CheckLabels rejects user labels as labels.CheckUser does, with a usage
// error. An empty item, as an empty or trailing-comma BOTTLE_LABELS gives,
// is dropped first.
func CheckLabels(user map[string]string) error {
	if v, ok := user[""]; ok && v == "" {
		delete(user, "")
	}
	if err := labels.CheckUser(user); err != nil {
		return Usage(err)
	}
	return nil
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
