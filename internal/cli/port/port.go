// Package port is bottle-port: it prints the host address of an agent's
// published port, or every published port of the agent, named by a
// bottle-ls line or a slug.
package port

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
)

const prog = "bottle-port"

var command = cli.Command{
	Name:  prog,
	Short: "print the host address of an agent's published port",
	Usage: "[--label KEY=VALUE]... [LINE|SLUG] [PORT]",
	Description: "Prints where on the host a published port of an agent answers, as HOST:PORT (127.0.0.1:49213), " +
		"for the agent named by the argument or, when there is none, by the first non-empty line of stdin " +
		"(a bottle-ls line, a bottle-ls --json line, or a bare slug, which is looked up on every usable backend). " +
		"Without PORT, prints one line per published port, PORT -> HOST:PORT, as docker port does. " +
		"Ports are published at start, with bottle-start --publish or the definition's ports. " +
		"Exits 0 when printed, 1 when the agent is not found, a backend failed, or the agent does not publish PORT " +
		"(the message names the ports it does publish), 2 on bad usage.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only read agents carrying all these labels
` + cli.BackendEnvironment + `
Examples:
  bottle-port reviewer-3f9a1c 3000
  xdg-open "http://$(bottle-port reviewer-3f9a1c 3000)/"
  bottle-port reviewer-3f9a1c
  bottle-start --publish 3000 reviewer | bottle-port - 3000
`,
	LabelHelp: "only read agents carrying this label (repeatable)",
	Operands:  &operands{},
}

// operands complete as the agent's slug; the port is a number.
type operands struct {
	Args struct {
		Agent cli.RunningSlug
		Port  string
	} `positional-args:"yes"`
}

type options struct {
	cli.LabelScope
}

// Main runs bottle-port as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-port and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdin, stdout)
	})
}

func run(opts options, rest []string, stdin io.Reader, stdout io.Writer) error {
	ref, port, err := selected(rest, stdin)
	if err != nil {
		return err
	}
	backends := cli.Backends(os.Environ())
	located, errs := backends.Locate(context.Background(), []agent.Ref{ref}, opts.Labels)
	if errs[0] != nil {
		return errs[0]
	}
	a := located[0].Agent
	out, err := addresses(a, port)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// selected reads the agent from the first operand ("-" or none: the first
// line of stdin) and the port from the second.
func selected(rest []string, stdin io.Reader) (agent.Ref, int, error) {
	if len(rest) > 2 {
		return agent.Ref{}, 0, cli.Usagef("name one agent and at most one of its ports (see %s --help)", prog)
	}
	port := 0
	if len(rest) == 2 {
		n, err := strconv.Atoi(rest[1])
		if err != nil || n < 1 || n > 65535 || strings.Trim(rest[1], "0123456789") != "" {
			return agent.Ref{}, 0, cli.Usagef("PORT %q: not a port (1-65535)", agent.Escape(rest[1]))
		}
		port = n
	}
	if len(rest) > 0 && rest[0] != "-" {
		ref, err := agent.ParseRef(rest[0])
		if err != nil {
			return agent.Ref{}, 0, cli.Usage(err)
		}
		return ref, port, nil
	}
	ref, err := cli.AgentFromStdin(prog, stdin)
	return ref, port, err
}

// addresses is what bottle-port prints of a's ports: the address of port,
// or with port 0 a line per port; a port a does not publish is an error
// naming those it does.
func addresses(a agent.Agent, port int) (string, error) {
	var b strings.Builder
	for _, p := range a.Ports {
		switch {
		case port == 0:
			fmt.Fprintf(&b, "%d -> %s\n", p.Port, agent.Escape(p.Host))
		case p.Port == port:
			return agent.Escape(p.Host) + "\n", nil
		}
	}
	if port == 0 && len(a.Ports) > 0 {
		return b.String(), nil
	}
	slug := agent.Escape(a.Slug)
	if len(a.Ports) == 0 {
		if port == 0 {
			return "", fmt.Errorf("%s %s publishes no ports (publish them at start: bottle-start --publish PORT)", a.Backend, slug)
		}
		return "", fmt.Errorf("%s %s does not publish port %d; it publishes no ports", a.Backend, slug, port)
	}
	published := make([]string, len(a.Ports))
	for i, p := range a.Ports {
		published[i] = strconv.Itoa(p.Port)
	}
	return "", fmt.Errorf("%s %s does not publish port %d; it publishes %s", a.Backend, slug, port, strings.Join(published, ", "))
}
