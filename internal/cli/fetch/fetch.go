// Package fetch is bottle-fetch: it brings the branches of agents started
// with bottle-start --branch into the user's repositories while they run.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/branch"
)

const prog = "bottle-fetch"

var command = cli.Command{
	Name:  prog,
	Short: "bring the commits of agents on their own branch into your repository",
	Usage: "[--force] [--label KEY=VALUE]... [LINE|SLUG]...",
	Description: "For each named agent started with bottle-start --branch, fetches the branch it works on, " +
		"as its copy holds it now, into your repository as the same branch, and prints the branch's name. " +
		"The agent goes on running; what it has not committed stays in its copy (bottle-stop asks about it). " +
		"Agents are named by arguments or, when there are none, by the lines of stdin, as bottle-stop takes them. " +
		"A branch in your repository that the agent's does not contain (you committed on it, or the agent rewrote its history) " +
		"is left as it is unless --force. " +
		"Exits 0 when every branch was fetched, 1 when some could not be (the rest still were), 2 on bad usage.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only agents carrying all these labels
` + cli.BranchEnvironment + cli.BackendEnvironment + `
Examples:
  bottle-fetch reviewer-3f9a1c && git log main..bottle/reviewer-3f9a1c
  git diff main...$(bottle-fetch reviewer-3f9a1c)
  bottle-ls | fzf -m | bottle-fetch
`,
	LabelHelp: "only agents carrying this label (repeatable)",
	Operands:  &cli.Operands[[]cli.RunningSlug]{},
}

type options struct {
	cli.LabelScope
	Force bool `long:"force" description:"move your branch to the agent's even when that drops commits of yours on it"`
}

// Main runs bottle-fetch as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-fetch and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdin, stdout)
	})
}

func run(opts options, rest []string, stdin io.Reader, stdout io.Writer) error {
	refs, err := cli.AgentsFromArgs(prog, "fetch", rest, stdin)
	if err != nil {
		return err
	}
	ctx, finish := cli.Interruptible(context.Background())
	environ := os.Environ()
	cfg := cli.Branches(environ)
	located, errs := cli.Backends(environ).Locate(ctx, refs, opts.Labels)
	fetched := make([]string, len(located))
	var wg sync.WaitGroup
	for i, l := range located {
		if errs[i] != nil {
			continue
		}
		wg.Go(func() {
			if err := fetch(ctx, cfg, l.Agent, opts.Force); err != nil {
				errs[i] = fmt.Errorf("%s %s: %w", l.Backend.Name(), l.Agent.Slug, err)
				return
			}
			fetched[i] = agent.Escape(l.Agent.Branch.Name)
		})
	}
	wg.Wait()
	if interrupted := finish(); interrupted != nil {
		return interrupted
	}
	for _, name := range fetched {
		if name != "" {
			fmt.Fprintln(stdout, name)
		}
	}
	return errors.Join(errs...)
}

func fetch(ctx context.Context, cfg branch.Config, a agent.Agent, force bool) error {
	if a.Branch == nil {
		return errors.New("it works on no branch of its own (bottle-start --branch gives it one)")
	}
	tip, err := branch.Tip(a.Branch)
	if err != nil {
		return err
	}
	_, err = branch.Fetch(ctx, cfg, a.Branch, tip, force)
	return err
}
