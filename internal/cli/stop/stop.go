// Package stop is bottle-stop: it stops and removes agents, with their
// sidecars, named by bottle-ls lines or slugs.
package stop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-stop"

var command = cli.Command{
	Name:  prog,
	Usage: "[--label KEY=VALUE]... [LINE|SLUG]...",
	Description: "Stops and removes each named agent with its sidecars and network. " +
		"Agents are named by arguments or, when there are none, by the lines of stdin: " +
		"a bottle-ls line, a bottle-ls --json line, or a bare slug, which is looked up on every usable backend. " +
		"Exits 0 when every named agent is gone, 1 when some could not be stopped (the rest still are), 2 on bad usage.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only stop agents carrying all these labels
  DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY
                    the Docker Engine of the docker backend
  BOTTLE_SMOLVM     the smolvm executable of the smolmachines backend
                    (default: smolvm on PATH)

Examples:
  bottle-stop reviewer-3f9a1c
  bottle-ls | fzf -m | bottle-stop
  bottle-ls --json | jq -r 'select(.agent=="reviewer") | .slug' | xargs -r bottle-stop
`,
}

type options struct {
	Labels map[string]string `long:"label" env:"BOTTLE_LABELS" env-delim:"," key-value-delimiter:"=" value-name:"KEY=VALUE" description:"only stop agents carrying this label (repeatable)"`
}

// Main runs bottle-stop as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-stop and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	rest, err := command.Parse(&opts, args, stdout)
	if err == nil {
		err = run(opts, rest, stdin)
	}
	return cli.Exit(prog, stderr, err)
}

func run(opts options, rest []string, stdin io.Reader) error {
	if err := cli.CheckLabels(opts.Labels); err != nil {
		return err
	}
	refs, err := readRefs(rest, stdin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	backends, errs := backend.Locate(ctx, refs, opts.Labels)
	var wg sync.WaitGroup
	for i, b := range backends {
		if b == nil {
			continue
		}
		wg.Go(func() {
			if err := b.Stop(ctx, refs[i].Slug, opts.Labels); err != nil {
				errs[i] = fmt.Errorf("%s %s: %w", b.Name(), refs[i].Slug, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func readRefs(args []string, stdin io.Reader) ([]agent.Ref, error) {
	var refs []agent.Ref
	if len(args) > 0 {
		for _, arg := range args {
			ref, err := agent.ParseRef(arg)
			if err != nil {
				return nil, cli.Usage(err)
			}
			refs = append(refs, ref)
		}
	} else {
		if tty.IsTerminal(stdin) {
			return nil, cli.Usagef("name the agents to stop, as arguments or on stdin (see %s --help)", prog)
		}
		var err error
		if refs, err = agent.ReadRefs(stdin); err != nil {
			return nil, cli.Usage(err)
		}
	}
	if len(refs) == 0 {
		return nil, cli.Usagef("nothing to stop: no agent named on the command line or stdin")
	}
	slices.SortStableFunc(refs, func(a, b agent.Ref) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(refs), nil
}
