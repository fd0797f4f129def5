// Package stop is bottle-stop: it stops and removes agents, with their
// sidecars, named by bottle-ls lines or slugs.
package stop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/bottle-dev/bottle/internal/cli"
)

const prog = "bottle-stop"

var command = cli.Command{
	Name:  prog,
	Short: "stop and remove agents with their sidecars and network",
	Usage: "[--label KEY=VALUE]... [--commit|--discard] [LINE|SLUG]...\n  " + prog + " --orphans [--older-than DURATION]",
	Description: "Stops and removes each named agent with its sidecars and network. " +
		"Agents are named by arguments or, when there are none, by the lines of stdin: " +
		"a bottle-ls line, a bottle-ls --json line, or a bare slug, which is looked up on every usable backend. " +
		"An agent started with bottle-start --branch has its branch fetched into your repository first, and its copy removed after: " +
		"when its copy holds work not committed on the branch, the agent is left running and stop says so, " +
		"unless --commit keeps that work as a commit on the branch or --discard lets it go. " +
		"With --orphans it instead removes, on every backend, what bottles whose agent is not running left behind, " +
		"such as a start killed with SIGKILL leaves. " +
		"Exits 0 when every named agent is gone, 1 when some could not be stopped (the rest still are), 2 on bad usage.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only stop agents carrying all these labels
` + cli.BackendEnvironment + `
Examples:
  bottle-stop reviewer-3f9a1c
  bottle-ls | fzf -m | bottle-stop
  bottle-ls --json | jq -r 'select(.agent=="reviewer") | .slug' | xargs -r bottle-stop
  bottle-stop --commit reviewer-3f9a1c   # its uncommitted work too, as a commit on its branch
  bottle-stop --orphans
`,
	LabelHelp: "only stop agents carrying this label (repeatable)",
	Operands:  &cli.Operands[[]cli.RunningSlug]{},
}

type options struct {
	cli.LabelScope
	Orphans   bool          `long:"orphans" description:"instead, remove the remains of bottles whose agent is not running (a start killed midway, an agent that exited)"`
	OlderThan time.Duration `long:"older-than" default:"1m" value-name:"DURATION" description:"with --orphans, only remains at least this old, so that starts under way are left alone"`
	Commit    bool          `long:"commit" description:"for an agent on its own branch, keep what it left uncommitted in its copy as one more commit on the branch"`
	Discard   bool          `long:"discard" description:"for an agent on its own branch, stop even though what it left uncommitted, or a copy git cannot read, is lost"`
}

// Main runs bottle-stop as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-stop and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		if opts.Orphans {
			return removeOrphans(opts, rest, stderr)
		}
		return run(opts, rest, stdin)
	})
}

func run(opts options, rest []string, stdin io.Reader) error {
	if opts.Commit && opts.Discard {
		return cli.Usagef("--commit keeps what --discard loses: give one of them")
	}
	refs, err := cli.AgentsFromArgs(prog, "stop", rest, stdin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	environ := os.Environ()
	located, errs := cli.Backends(environ).Locate(ctx, refs, opts.Labels)
	keeper := keeper{cfg: cli.Branches(environ), commit: opts.Commit, discard: opts.Discard}
	var wg sync.WaitGroup
	for i, l := range located {
		if errs[i] != nil {
			continue
		}
		wg.Go(func() {
			if err := keeper.stop(ctx, l.Backend, l.Agent); err != nil {
				errs[i] = fmt.Errorf("%s %s: %w", l.Backend.Name(), l.Agent.Slug, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func removeOrphans(opts options, rest []string, stderr io.Writer) error {
	if len(rest) > 0 {
		return cli.Usagef("--orphans takes no agents: it finds them itself")
	}
	removed, err := cli.Backends(os.Environ()).RemoveOrphans(context.Background(), opts.Labels, opts.OlderThan)
	for _, ref := range removed {
		fmt.Fprintf(stderr, "%s: removed the remains of %s\n", prog, ref)
	}
	return err
}
