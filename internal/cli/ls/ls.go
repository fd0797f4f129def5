// Package ls is bottle-ls: one line per active agent, across every usable
// backend.
package ls

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

const prog = "bottle-ls"

var command = cli.Command{
	Name:  prog,
	Usage: "[--json] [--label KEY=VALUE]...",
	Description: "Prints one line per active agent on every usable backend: " +
		"backend, slug, agent and services (comma-separated, or - when none), separated by tabs, " +
		"sorted by backend and slug. Backends that are not usable here are skipped without a word, " +
		"except one that is there but does not answer in time, which gets a line on stderr. " +
		"Exits 1 when a usable backend fails to list (the others are still printed), 2 on bad usage.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... list only agents carrying all these labels
  DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY
                    the Docker Engine of the docker backend
  BOTTLE_SMOLVM     the smolvm executable of the smolmachines backend
                    (default: smolvm on PATH)

Examples:
  bottle-ls
  bottle-ls | fzf | bottle-attach
  bottle-ls | fzf -m | bottle-stop
  bottle-ls --json | jq -r 'select(.agent=="reviewer") | .slug'
`,
}

type options struct {
	JSON   bool              `long:"json" description:"print one JSON object per line: backend, slug, agent, services, started_at, state"`
	Labels map[string]string `long:"label" env:"BOTTLE_LABELS" env-delim:"," key-value-delimiter:"=" value-name:"KEY=VALUE" description:"list only agents carrying this label (repeatable)"`
}

// Main runs bottle-ls as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-ls and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	rest, err := command.Parse(&opts, args, stdout)
	if err == nil {
		err = run(opts, rest, stdout, stderr)
	}
	return cli.Exit(prog, stderr, err)
}

func run(opts options, rest []string, stdout, stderr io.Writer) error {
	if len(rest) > 0 {
		return cli.Usagef("unexpected argument %q", agent.Escape(rest[0]))
	}
	if err := cli.CheckLabels(opts.Labels); err != nil {
		return err
	}
	listing := backend.EnumerateActiveAgents(context.Background(), opts.Labels)
	write := agent.WriteLine
	if opts.JSON {
		write = agent.WriteJSON
	}
	for _, a := range listing.Agents {
		if err := write(stdout, a); err != nil {
			return err
		}
	}
	// A backend that is there but hangs is not usable, so it does not fail
	// the listing; it is still worth a line.
	for _, err := range listing.Hung {
		fmt.Fprintf(stderr, "%s: %s\n", prog, err)
	}
	if len(listing.Failed) > 0 {
		return errors.Join(listing.Failed...)
	}
	return nil
}
