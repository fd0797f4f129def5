// Package logs is bottle-logs: it prints what an agent's program (the
// bottle's session) or one of its sidecars wrote, named by a bottle-ls
// line or a slug, with the terminal's control sequences removed unless the
// output is a terminal.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-logs"

// egressService is the sidecar whose log --denied reads: the egress proxy.
const egressService = "egress"

var command = cli.Command{
	Name:  prog,
	Short: "print what an agent's session or one of its sidecars wrote",
	Usage: "[--follow] [--since WHEN] [--tail N] [--raw] [--denied] [--label KEY=VALUE]... [LINE|SLUG] [SERVICE]",
	Description: "Prints what the program of an agent wrote: the agent named by the argument or, when there is none, " +
		"by the first non-empty line of stdin (a bottle-ls line, a bottle-ls --json line, or a bare slug, " +
		"which is looked up on every usable backend). The program is the bottle's session: its log holds what it " +
		"printed whether or not anyone was joined, and stays after it exits, until bottle-stop removes the agent. " +
		"With SERVICE, one of the agent's sidecars (the services of its line), prints what that service wrote instead; " +
		"the egress proxy's log is one line per decision. " +
		"With --denied, prints instead the destinations the egress proxy refused, from its log, each once, one a line, " +
		"the most recently refused last (with --follow, each as it is first refused), each written as the allowlist " +
		"pattern that would let exactly it through (host:port, or a name smolvm would not resolve), so that " +
		"bottle-logs --denied SLUG | sort -u | xargs bottle-allow SLUG allows them; a destination that is not such " +
		"a pattern as it stands (odd bytes, a wildcard, an IPv6 address) is left out. " +
		"On a terminal the output is as it was written. To a pipe or a file, terminal control sequences " +
		"(colours, cursor moves, titles, clipboard writes, ...) and control characters other than newline and tab " +
		"are removed, and a carriage return ends a line, so that nothing a program in the bottle printed acts " +
		"on the terminal of whoever reads it later; --raw keeps every byte. " +
		"Exits 0 when the log was printed, 1 when it could not be (no such agent, a backend that failed or keeps no logs), " +
		"2 on bad usage (an unknown service, a bad --since or --tail, --denied with a service other than egress), " +
		"130 or 143 when interrupted.",
	Epilog: `Environment:
  BOTTLE_LABELS     KEY=VALUE,... only read agents carrying all these labels
` + cli.BackendEnvironment + `
Examples:
  bottle-logs reviewer-3f9a1c | tail
  bottle-logs --follow reviewer-3f9a1c
  bottle-logs --since 10m reviewer-3f9a1c egress | grep '^deny '
  bottle-logs --denied reviewer-3f9a1c | sort -u | fzf -m | xargs bottle-allow reviewer-3f9a1c
  bottle-ls | fzf | bottle-logs --tail 50
  bottle-start reviewer | bottle-logs --follow
  bottle-logs --raw reviewer-3f9a1c > session.raw   # cat it on a terminal to replay
`,
	LabelHelp: "only read agents carrying this label (repeatable)",
	Operands:  &operands{},
}

// operands complete as the agent's slug, then one of its services.
type operands struct {
	Args struct {
		Agent   cli.RunningSlug
		Service cli.AgentService
	} `positional-args:"yes"`
}

type options struct {
	Follow bool   `short:"f" long:"follow" description:"go on printing what is written, until the service ends or you interrupt"`
	Since  string `long:"since" value-name:"WHEN" description:"only what was written since WHEN: a duration ago (10m, 1h30m) or an RFC 3339 time (2026-11-28T09:00:00Z)"`
	Tail   string `short:"n" long:"tail" value-name:"N" default:"all" description:"only the last N lines"`
	Raw    bool   `long:"raw" description:"print every byte as written, terminal control sequences included, also to a pipe or file"`
	Denied bool   `long:"denied" description:"print the destinations the egress proxy refused, each once, as allowlist patterns, the most recent last"`
	cli.LabelScope
}

// Main runs bottle-logs as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-logs and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdin, stdout)
	})
}

func run(opts options, rest []string, stdin io.Reader, stdout io.Writer) error {
	lo, err := logOptions(opts, time.Now())
	if err != nil {
		return err
	}
	ref, service, err := selected(rest, stdin)
	if err != nil {
		return err
	}
	if opts.Denied {
		if service != "" && service != egressService {
			return cli.Usagef("--denied reads the %s service's log; name no other service", egressService)
		}
		service = egressService
	}
	ctx, finish := cli.Interruptible(context.Background())
	err = printLog(ctx, cli.Backends(os.Environ()), ref, service, opts, lo, stdout)
	if interrupted := finish(); interrupted != nil {
		return interrupted
	}
	return err
}

// logOptions reads --follow, --since and --tail.
func logOptions(opts options, now time.Time) (backend.LogOptions, error) {
	lo := backend.LogOptions{Follow: opts.Follow, Tail: -1}
	if opts.Since != "" {
		since, err := parseSince(opts.Since, now)
		if err != nil {
			return lo, cli.Usage(err)
		}
		lo.Since = since
	}
	if opts.Tail != "all" {
		n, err := strconv.Atoi(opts.Tail)
		if err != nil || n < 0 {
			return lo, cli.Usagef("--tail %q: not a number of lines (0 or more)", opts.Tail)
		}
		lo.Tail = n
	}
	return lo, nil
}

// parseSince reads WHEN: a duration before now, or an RFC 3339 time.
func parseSince(when string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(when); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: a negative duration; give how long ago, such as 10m", when)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, when); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: neither a duration such as 10m or 1h30m nor an RFC 3339 time such as 2026-11-28T09:00:00Z", when)
}

// selected reads the agent from the first operand, or else from the first
// line of stdin, and the service from the second.
func selected(rest []string, stdin io.Reader) (agent.Ref, string, error) {
	switch {
	case len(rest) > 2:
		return agent.Ref{}, "", cli.Usagef("name one agent and at most one of its services (see %s --help)", prog)
	case len(rest) > 0:
		ref, err := agent.ParseRef(rest[0])
		if err != nil {
			return agent.Ref{}, "", cli.Usage(err)
		}
		service := ""
		if len(rest) == 2 {
			service = rest[1]
		}
		return ref, service, nil
	}
	ref, err := cli.AgentFromStdin(prog, stdin)
	return ref, "", err
}

// printLog locates the agent and copies the log of its service to stdout.
func printLog(ctx context.Context, backends *backend.Set, ref agent.Ref, service string, opts options, lo backend.LogOptions, stdout io.Writer) (err error) {
	located, errs := backends.Locate(ctx, []agent.Ref{ref}, opts.Labels)
	if errs[0] != nil {
		return errs[0]
	}
	a, b := located[0].Agent, located[0].Backend
	if opts.Denied && !slices.Contains(a.Services, service) {
		return fmt.Errorf("%s %s has no %s proxy, so nothing of it is refused: it reaches nothing outside", b.Name(), agent.Escape(a.Slug), egressService)
	}
	if service != "" && !slices.Contains(a.Services, service) {
		return unknownService(a, service)
	}
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", b.Name(), a.Slug, err) }
	logger, ok := b.(backend.Logger)
	if !ok {
		return fail(fmt.Errorf("the %s backend keeps no logs of its agents", b.Name()))
	}
	out := stdout
	if opts.Denied {
		denied := &deniedWriter{out: stdout, follow: lo.Follow}
		defer func() {
			if cerr := denied.Close(); err == nil && ctx.Err() == nil {
				err = cerr
			}
		}()
		out = denied
	} else if !opts.Raw && !tty.IsTerminal(stdout) {
		text := stripControls(stdout)
		defer text.Close()
		out = text
	}
	if err := logger.Logs(ctx, a, service, lo, out); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted: run says so
		}
		if errors.Is(err, backend.ErrNoLogs) {
			what := "its program's"
			if service != "" {
				what = "its service " + service + "'s"
			}
			return fail(fmt.Errorf("%s output cannot be read: %w", what, err))
		}
		return fail(err)
	}
	return nil
}

// unknownService is the usage error of a service the agent does not have,
// naming those it has.
func unknownService(a agent.Agent, service string) error {
	slug := agent.Escape(a.Slug)
	if len(a.Services) == 0 {
		return cli.Usagef("%s has no service %q; it has no services, only its program (name none)", slug, service)
	}
	names := make([]string, len(a.Services))
	for i, s := range a.Services {
		names[i] = agent.Escape(s)
	}
	return cli.Usagef("%s has no service %q; its services are %s", slug, service, strings.Join(names, ", "))
}
