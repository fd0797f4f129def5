// Package ls is bottle-ls: one line per active agent, across every usable
// backend.
package ls

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-ls"

var command = cli.Command{
	Name:  prog,
	Short: "list the active agents across every usable backend",
	Usage: "[--json | -q | --format TEMPLATE] [--header] [--all] [--backend NAME]... [--label KEY=VALUE]...",
	Description: "Prints one line per active agent on every usable backend: " +
		"backend, slug, agent and services (comma-separated, or - when none), separated by tabs, " +
		"sorted by backend and slug. On a terminal the columns are aligned under a header and show each agent's age; " +
		"in a pipe the lines are exactly the tab-separated ones. " +
		"Backends that are not usable here are skipped without a word, " +
		"except one that is there but does not answer in time, which gets a line on stderr. " +
		"Exits 1 when a usable backend fails to list (the others are still printed), 2 on bad usage.",
	Epilog: `Template fields (--format, Go text/template, as docker ps --format):
  {{.Backend}} {{.Slug}} {{.Agent}} {{.Services}} {{.State}} {{.StartedAt}} {{.Age}}
  {{json .}} prints the agent as --json does.

Environment:
  BOTTLE_LABELS     KEY=VALUE,... list only agents carrying all these labels
  NO_COLOR          honoured: bottle-ls never colours its output
` + cli.BackendEnvironment + `
Examples:
  bottle-ls
  bottle-ls | fzf | bottle-attach
  bottle-ls --header | fzf --header-lines=1 -m | bottle-stop
  bottle-ls --json | jq -r 'select(.agent=="reviewer") | .slug'
  bottle-ls --format '{{.Slug}} {{.Age}}' --backend docker --all
`,
	LabelHelp: "list only agents carrying this label (repeatable)",
}

type options struct {
	JSON     bool              `long:"json" description:"print one JSON object per line: backend, slug, agent, services, started_at, state, and exit_status once the program has ended"`
	Quiet    bool              `short:"q" long:"quiet" description:"print the slugs only"`
	Format   string            `long:"format" value-name:"TEMPLATE" description:"print each agent through a Go template (see below)"`
	Header   bool              `long:"header" description:"print a header line first (for fzf --header-lines=1)"`
	All      bool              `short:"a" long:"all" description:"include agents that are not running (their state shows on a terminal, in --json and in --format)"`
	Backends []cli.BackendName `long:"backend" value-name:"NAME" description:"list only this backend's agents (repeatable)"`
	cli.LabelScope
}

// Main runs bottle-ls as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-ls and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdout, stderr)
	})
}

func run(opts options, rest []string, stdout, stderr io.Writer) error {
	if len(rest) > 0 {
		return cli.Usagef("unexpected argument %q", agent.Escape(rest[0]))
	}
	backends := cli.Backends(os.Environ())
	only := make([]string, len(opts.Backends))
	for i, name := range opts.Backends {
		if _, err := backends.Lookup(string(name)); err != nil {
			return cli.Usage(fmt.Errorf("--backend: %w", err))
		}
		only[i] = string(name)
	}
	// One write for the whole listing, not one per line.
	buffered := bufio.NewWriter(stdout)
	defer buffered.Flush()
	out, err := newPrinter(opts, buffered, tty.IsTerminal(stdout))
	if err != nil {
		return err
	}
	listing := backends.List(context.Background(), backend.Query{Labels: opts.Labels, All: opts.All}, only...)
	if err := out.print(listing.Agents); err != nil {
		return err
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

// printer writes a listing in the form the options and stdout ask for.
type printer struct {
	w      io.Writer
	header bool
	all    bool
	table  bool // aligned columns with ages, for a person at a terminal
	write  func(io.Writer, agent.Agent) error
}

func newPrinter(opts options, stdout io.Writer, terminal bool) (*printer, error) {
	forms := 0
	for _, set := range []bool{opts.JSON, opts.Quiet, opts.Format != ""} {
		if set {
			forms++
		}
	}
	switch {
	case forms > 1:
		return nil, cli.Usagef("--json, -q and --format do not go together")
	case forms == 1 && opts.Header:
		return nil, cli.Usagef("--header goes with the plain lines only")
	}
	p := &printer{w: stdout, header: opts.Header, all: opts.All, write: agent.WriteLine}
	switch {
	case opts.JSON:
		p.write = agent.WriteJSON
	case opts.Quiet:
		p.write = func(w io.Writer, a agent.Agent) error {
			_, err := fmt.Fprintln(w, agent.Escape(a.Slug))
			return err
		}
	case opts.Format != "":
		tmpl, err := template.New("format").Funcs(template.FuncMap{"json": toJSON}).Parse(opts.Format)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("--format: %w", err))
		}
		p.write = func(w io.Writer, a agent.Agent) error {
			if err := tmpl.Execute(w, view(a)); err != nil {
				return cli.Usage(fmt.Errorf("--format: %w", err))
			}
			_, err := fmt.Fprintln(w)
			return err
		}
	default:
		p.table = terminal
	}
	return p, nil
}

func (p *printer) print(agents []agent.Agent) error {
	if p.table {
		return p.printTable(agents)
	}
	// The header names the line's four fields; a line never has more, so
	// that bottle-stop and bottle-attach read it back (--all's states show
	// on a terminal and in --json and --format).
	if p.header {
		if _, err := fmt.Fprintln(p.w, "BACKEND\tSLUG\tAGENT\tSERVICES"); err != nil {
			return err
		}
	}
	for _, a := range agents {
		if err := p.write(p.w, a); err != nil {
			return err
		}
	}
	return nil
}

// printTable aligns the columns under a header and adds each agent's age
// (and state, with --all), as docker ps does for a person.
func (p *printer) printTable(agents []agent.Agent) error {
	tw := tabwriter.NewWriter(p.w, 0, 8, 2, ' ', 0)
	columns := "BACKEND\tSLUG\tAGENT\tSERVICES\tAGE"
	if p.all {
		columns += "\tSTATE"
	}
	fmt.Fprintln(tw, columns)
	for _, a := range agents {
		v := view(a)
		row := strings.Join([]string{v.Backend, v.Slug, v.Agent, v.Services, v.Age}, "\t")
		if p.all {
			row += "\t" + v.State
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// agentView is what --format and the table see of an agent: every text
// escaped, so no template can put a hostile label on a terminal raw.
type agentView struct {
	Backend, Slug, Agent, Services, State, Age string
	StartedAt                                  time.Time
	agent                                      agent.Agent
}

func view(a agent.Agent) agentView {
	services := agent.NoServices
	if len(a.Services) > 0 {
		escaped := make([]string, len(a.Services))
		for i, s := range a.Services {
			escaped[i] = agent.Escape(s)
		}
		services = strings.Join(escaped, ",")
	}
	return agentView{
		Backend: agent.Escape(a.Backend), Slug: agent.Escape(a.Slug), Agent: agent.Escape(a.Name),
		Services: services, State: agent.Escape(a.State), Age: age(time.Since(a.StartedAt)),
		StartedAt: a.StartedAt, agent: a,
	}
}

func toJSON(v agentView) (string, error) {
	var b strings.Builder
	if err := agent.WriteJSON(&b, v.agent); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// age is a duration the way people say it: 42s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
