// Package hasbackend is bottle-has-backend: it answers, by its exit status,
// whether backends are usable on this host.
package hasbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

const prog = "bottle-has-backend"

var command = cli.Command{
	Name:  prog,
	Short: "tell whether backends are usable on this host",
	Usage: "[-v] NAME...\n  " + prog + " --list | --usable",
	Description: "Exits 0 when every named backend is usable on this host, 1 when a named backend " +
		"is known but not usable here, and 2 for an unknown name or bad usage. " +
		"Backends are asked at once, each within a few seconds.",
	Epilog: "Backends: " + strings.Join(cli.Backends(nil).Names(), ", ") + `
  docker is usable when a Docker Engine answers a ping, within 2 seconds, at
  the address DOCKER_HOST names, else the Docker context's (DOCKER_CONTEXT,
  else currentContext in $DOCKER_CONFIG/config.json); no docker CLI is
  needed. smolmachines is usable when
  smolvm ($BOTTLE_SMOLVM, else smolvm on PATH) answers --version within 2
  seconds. kubernetes is usable when the API server of the kubeconfig's
  context (KUBECONFIG, else ~/.kube/config; BOTTLE_KUBE_CONTEXT) answers
  within 2 seconds and says you may create pods in the namespace
  (BOTTLE_KUBE_NAMESPACE, else the context's).

Examples:
  if bottle-has-backend docker; then bottle-start reviewer; fi
  bottle-has-backend -v docker          # says why not, on stderr
  bottle-has-backend --list             # docker<TAB>usable
  bottle-start --backend="$(bottle-has-backend --usable | fzf)" reviewer
`,
	Operands: &cli.Operands[[]cli.BackendName]{},
}

type options struct {
	Verbose bool `short:"v" long:"verbose" description:"say on stderr why a backend is not usable"`
	List    bool `long:"list" description:"print every known backend and whether it is usable here"`
	Usable  bool `long:"usable" description:"print the names of the usable backends, one a line"`
}

// Main runs bottle-has-backend as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-has-backend and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(names []string) error {
		return run(opts, names, stdout, stderr)
	})
}

func run(opts options, names []string, stdout, stderr io.Writer) error {
	backends := cli.Backends(os.Environ())
	switch {
	case opts.List && opts.Usable:
		return cli.Usagef("--list and --usable do not go together")
	case (opts.List || opts.Usable) && len(names) > 0:
		return cli.Usagef("--list and --usable take no backend names")
	case opts.List || opts.Usable:
		return list(backends, opts.Usable, stdout)
	case len(names) == 0:
		return cli.Usagef("name a backend (one of %s), or use --list", strings.Join(backends.Names(), ", "))
	}
	for _, name := range names {
		if _, err := backends.Lookup(name); err != nil {
			return err
		}
	}
	unusable := 0
	for _, err := range backends.Probe(context.Background(), names) {
		if err == nil {
			continue
		}
		unusable++
		if opts.Verbose {
			fmt.Fprintln(stderr, agent.Escape(err.Error()))
		}
	}
	if unusable > 0 {
		return cli.Quietly(cli.StatusFailure)
	}
	return nil
}

func list(backends *backend.Set, onlyUsable bool, stdout io.Writer) error {
	names := backends.Names()
	for i, err := range backends.Probe(context.Background(), names) {
		var unusable *backend.UnusableError
		switch {
		case err == nil && onlyUsable:
			fmt.Fprintln(stdout, names[i])
		case err == nil:
			fmt.Fprintf(stdout, "%s\tusable\n", names[i])
		case onlyUsable:
		case errors.As(err, &unusable):
			fmt.Fprintf(stdout, "%s\tunusable\t%s\n", names[i], agent.Escape(unusable.Reason.Error()))
		default:
			return err
		}
	}
	return nil
}
