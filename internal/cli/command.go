package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jessevdk/go-flags"
)

// Command describes a binary for its flags, its help, its man page and
// shell completion.
type Command struct {
	Name        string
	Short       string // what it does, a few words for the man page's NAME line
	Usage       string // after the name on the usage line(s), operands included
	Description string // what it does, a paragraph
	Epilog      string // printed verbatim after the options: environment, examples

	// LabelHelp is what --label does for a binary whose options embed a
	// LabelScope, as its help says it.
	LabelHelp string
	// Operands, an *Operands[T], say what the operands complete to.
	Operands any
	// FailureStatus, when set, is the exit status of every failure of the
	// binary's own, bad usage included, which its contract keeps apart from
	// the statuses it passes through (bottle-attach's 125, as docker run's).
	FailureStatus Status
}

// Run is the shape of every binary: it parses args into opts (a pointer to
// the binary's options), calls run with the operands left over, and
// returns the exit status that Exit makes of the error.
func (c Command) Run(opts any, args []string, stdout, stderr io.Writer, run func(operands []string) error) int {
	operands, err := c.parse(opts, args, stdout)
	if err == nil {
		err = run(operands)
	}
	if err != nil && c.FailureStatus != StatusOK {
		err = WithStatus(c.FailureStatus, err)
	}
	return Exit(c.Name, stderr, err)
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

// parse parses args into opts and checks the labels of a LabelScope among
// them. On -h or --help it prints the help to stdout, on --version the
// version, and returns an error that Exit turns into status 0; likewise for
// the hidden --man and --completion=SHELL, and when GO_FLAGS_COMPLETION is
// set, for the completions of the last of args (see completion.go).
func (c Command) parse(opts any, args []string, stdout io.Writer) ([]string, error) {
	p := flags.NewNamedParser(c.Name, flags.PassDoubleDash)
	p.Usage = c.Usage
	p.ShortDescription = c.Short
	p.LongDescription = c.Description
	if _, err := p.AddGroup("Options", "", opts); err != nil {
		return nil, err
	}
	scoped, hasLabels := opts.(labelScoped)
	if hasLabels {
		// A tag cannot say it: what the labels do depends on the binary.
		p.FindOptionByLongName(labelOption).Description = c.LabelHelp
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
		if err := c.complete(p, opts, args, mode, stdout); err != nil {
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
	if hasLabels {
		if err := scoped.labelScope().check(); err != nil {
			return nil, err
		}
	}
	return rest, nil
}
