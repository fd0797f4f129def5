// Package allow is bottle-allow: it shows or changes the egress allowlist
// of a running bottle, named by a bottle-ls line or a slug, without
// restarting anything; the agent's definition is never rewritten.
package allow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-allow"

var command = cli.Command{
	Name:  prog,
	Short: "show or change the egress allowlist of a running bottle",
	Usage: "[--revoke] [--list] [--label KEY=VALUE]... [LINE|SLUG] [PATTERN...]",
	Description: "Adds each PATTERN to the egress allowlist of the agent named by the first argument or, when there are no " +
		"arguments, by the first non-empty line of stdin (a bottle-ls line, a bottle-ls --json line, or a bare slug, " +
		"which is looked up on every usable backend); with --revoke, removes them. The change is in force, for the " +
		"requests that follow, when bottle-allow returns, without restarting the agent or leaving its session; " +
		"connections already open keep going. It lasts for the bottle's life, a restart of its egress proxy included, " +
		"and the agent's definition is not rewritten: the next bottle started from it has the definition's list. " +
		"A PATTERN is HOST, HOST:PORT, or *.SUFFIX[:PORT], as in egress.allow; without a port it allows 80 and 443. " +
		"Every PATTERN is checked first: if one does not parse, nothing changes. Adding a pattern that is there already, " +
		"or revoking one that is not, changes nothing and is not an error (said on stderr when it is a terminal). " +
		"With --list, or with no PATTERN, prints the allowlist in force, one pattern a line, after the change if there is one. " +
		"Whatever the allowlist says, the proxy never leads a name to a loopback, private or link-local address. " +
		"Exits 0 when done, 1 when it could not be done (no such agent, a bottle without an egress proxy, a backend " +
		"whose allowlists are fixed when the bottle is made, a proxy that did not take the change), 2 on bad usage or " +
		"a bad PATTERN.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only change agents carrying all these labels
` + cli.BackendEnvironment + `
Examples:
  bottle-allow reviewer-3f9a1c registry.npmjs.org
  bottle-allow --revoke reviewer-3f9a1c registry.npmjs.org
  bottle-allow --list reviewer-3f9a1c
  bottle-logs --denied reviewer-3f9a1c | sort -u | fzf -m | xargs bottle-allow reviewer-3f9a1c
  bottle-ls | fzf | bottle-allow --list
`,
	LabelHelp: "only change agents carrying this label (repeatable)",
	Operands:  &operands{},
}

// operands complete as the agent's slug; patterns are the user's.
type operands struct {
	Args struct {
		Agent    cli.RunningSlug
		Patterns []string
	} `positional-args:"yes"`
}

type options struct {
	Revoke bool `long:"revoke" description:"remove each PATTERN from the allowlist instead of adding it"`
	List   bool `short:"l" long:"list" description:"print the allowlist in force, one pattern a line (after the change, with PATTERNs)"`
	cli.LabelScope
}

// Main runs bottle-allow as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-allow and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdin, stdout, stderr)
	})
}

func run(opts options, rest []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ref, patterns, err := selected(rest, stdin)
	if err != nil {
		return err
	}
	if opts.Revoke && len(patterns) == 0 {
		return cli.Usagef("--revoke needs the PATTERNs to remove (see %s --help)", prog)
	}
	ctx, finish := cli.Interruptible(context.Background())
	note := func(string) {}
	if tty.IsTerminal(stderr) {
		note = func(s string) { fmt.Fprintf(stderr, "%s: %s\n", prog, s) }
	}
	err = change(ctx, cli.Backends(os.Environ()), ref, patterns, opts, note, stdout)
	if interrupted := finish(); interrupted != nil {
		return interrupted
	}
	return err
}

// selected reads the agent from the first operand, or else from the first
// line of stdin, and the patterns from the others, each checked and
// normalized.
func selected(rest []string, stdin io.Reader) (agent.Ref, []string, error) {
	if len(rest) == 0 {
		ref, err := cli.AgentFromStdin(prog, stdin)
		return ref, nil, err
	}
	ref, err := agent.ParseRef(rest[0])
	if err != nil {
		return agent.Ref{}, nil, cli.Usage(err)
	}
	var patterns []string
	for _, s := range rest[1:] {
		p, err := rules.ParsePattern(s)
		if err != nil {
			return agent.Ref{}, nil, cli.Usagef("pattern %w; nothing changed", err)
		}
		if !slices.Contains(patterns, p.String()) {
			patterns = append(patterns, p.String())
		}
	}
	return ref, patterns, nil
}

// change locates the agent, puts its allowlist with patterns added (or
// revoked) in force, and prints the list if asked to.
func change(ctx context.Context, backends *backend.Set, ref agent.Ref, patterns []string, opts options, note func(string), stdout io.Writer) error {
	located, errs := backends.Locate(ctx, []agent.Ref{ref}, opts.Labels)
	if errs[0] != nil {
		return errs[0]
	}
	a, b := located[0].Agent, located[0].Backend
	slug := agent.Escape(a.Slug)
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", b.Name(), slug, err) }
	lister, ok := b.(backend.Allowlister)
	switch {
	case !ok && b.Name() == "smolmachines":
		return fail(errors.New("its allowlist is fixed when the machine is made (smolvm's --allow-host): change egress.allow in its definition and start it again"))
	case !ok:
		return fail(fmt.Errorf("the %s backend cannot change the allowlist of a running bottle: change egress.allow in its definition and start it again", b.Name()))
	}
	current, err := lister.Allowlist(ctx, a)
	if err != nil {
		return fail(noEgress(err))
	}
	if len(patterns) > 0 {
		next := slices.Clone(current)
		for _, p := range patterns {
			i := slices.Index(next, p)
			switch {
			case opts.Revoke && i < 0:
				note(slug + ": " + p + " was not on the allowlist")
			case opts.Revoke:
				next = slices.DeleteFunc(next, func(q string) bool { return q == p })
			case i >= 0:
				note(slug + ": " + p + " is already on the allowlist")
			default:
				next = append(next, p)
			}
		}
		if !slices.Equal(next, current) {
			if err := lister.SetAllowlist(ctx, a, next); err != nil {
				return fail(noEgress(err))
			}
		}
		if !opts.List {
			return nil
		}
		if current, err = lister.Allowlist(ctx, a); err != nil {
			return fail(noEgress(err))
		}
	}
	for _, p := range current {
		if _, err := fmt.Fprintln(stdout, p); err != nil {
			return err
		}
	}
	return nil
}

// noEgress says a bottle without an egress proxy as the one line the user
// reads.
func noEgress(err error) error {
	if errors.Is(err, backend.ErrNoEgress) {
		return errors.New("it has no egress proxy, so it reaches nothing outside and has no allowlist to change")
	}
	return err
}
