package smolmachines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// egressService is the sidecar whose log, on smolvm, is the machine's
// refused connections: smolvm's own egress policy, not a daemon, refuses
// them.
const egressService = "egress"

// allEvents is the --limit that asks smolvm for every refusal it has:
// more than it ever returns, as it reads only the last 256 KiB of a
// machine's denial log, a few thousand refusals.
const allEvents = 1_000_000

// pollInterval is how often a followed log asks smolvm for new refusals.
var pollInterval = time.Second

// noLogs is a service whose output smolvm does not keep.
type noLogs string

func (e noLogs) Error() string { return string(e) }
func (e noLogs) Unwrap() error { return backend.ErrNoLogs }

// Logs writes the refusals of the machine's egress policy, for the egress
// sidecar, one a line, oldest first, in the shape of the docker egress
// proxy's decisions ("deny CONNECT example.org:443 from 10.0.0.3"): the
// verdict, smolvm's operation (connect for TCP, sendto for UDP, resolve
// for a name the policy does not allow), the destination, and when smolvm
// recorded it:
//
//	deny resolve pypi.org at 2026-11-28T05:31:07Z
//	deny connect 151.101.0.223:443 at 2026-11-28T05:31:09Z
//	deny sendto 203.0.113.7:123 at 2026-11-28T05:40:12Z
//
// from `smolvm machine egress-events --json` (see writeDenials). smolvm
// records only refusals: there is no line for what the policy let through.
// o.Tail is smolvm's --limit (negative: allEvents); o.Since keeps the
// refusals from that second on; with o.Follow, smolvm is asked again
// every pollInterval, once each time, and only the refusals not written
// yet are written, until ctx is done (a machine removed meanwhile only has
// no more refusals).
//
// smolvm keeps no log of a machine's program, nor of the daemons in it,
// so that those fail with an error wrapping backend.ErrNoLogs. An agent no
// listing of this backend found is backend.ErrNotFound.
func (b *Backend) Logs(ctx context.Context, a agent.Agent, service string, o backend.LogOptions, out io.Writer) error {
	name, err := machineOf(a)
	if err != nil {
		return err
	}
	switch {
	case service == "":
		return noLogs("smolvm keeps no log of what a machine's program writes: it has no machine logs, and its console log is its own agent's")
	case !slices.Contains(a.Services, service):
		return fmt.Errorf("%s has no sidecar %s", a.Slug, agent.Escape(service))
	case service != egressService:
		return noLogs(fmt.Sprintf("smolvm keeps no log of what the daemons inside a machine write, sidecar %s among them", agent.Escape(service)))
	}
	if !o.Follow {
		limit := o.Tail
		if limit < 0 {
			limit = allEvents
		}
		events, err := b.egressEvents(ctx, name, limit)
		if err != nil {
			return err
		}
		return writeDenials(out, events, o.Since)
	}
	// A followed log asks for all there is each time, so that what is new
	// can be told from what was written.
	seen, err := b.egressEvents(ctx, name, allEvents)
	if err != nil {
		return err
	}
	first := seen
	if o.Tail >= 0 {
		first = seen[max(0, len(seen)-o.Tail):]
	}
	if err := writeDenials(out, first, o.Since); err != nil {
		return err
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now, err := b.egressEvents(ctx, name, allEvents)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := writeDenials(out, fresh(seen, now), o.Since); err != nil {
			return err
		}
		seen = now
	}
}

// fresh returns the refusals of now that were not in before, two answers
// of smolvm for all there is, oldest first. smolvm reads the end of its
// log, which may have moved on past refusals of before, or started anew
// (it is rotated at 8 MiB): the refusals already seen are the longest
// end of before that begins now. Refusals alike in every field (the same
// destination in the same second) cannot be told apart, so that of those
// written again at the edge of a moved window, some may not be reported;
// none is ever reported twice.
func fresh(before, now []denial) []denial {
	for k := min(len(before), len(now)); k > 0; k-- {
		if slices.EqualFunc(before[len(before)-k:], now[:k], denial.same) {
			return now[k:]
		}
	}
	return now
}

// same says whether d and e are alike in every field smolvm prints.
func (d denial) same(e denial) bool {
	return d.timestamp == e.timestamp && d.operation == e.operation && d.dest == e.dest
}

// egressEvents asks smolvm for the newest limit refusals of the machine.
func (b *Backend) egressEvents(ctx context.Context, name string, limit int) ([]denial, error) {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	out, err := b.smolvm(ctx, nil, "machine", "egress-events", "--name", name, "--json", "--limit", strconv.Itoa(limit))
	var f *failure
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("smolvm machine egress-events: %w within %s", backend.ErrNoAnswer, answerTimeout)
	case errors.As(err, &f) && f.status == 2 && strings.Contains(f.msg, "unrecognized subcommand"):
		return nil, noLogs("this smolvm records no refused connections: machine egress-events came with smolvm 1.8.1")
	case err != nil:
		return nil, err
	}
	events, err := parseDenials(out)
	if err != nil {
		return nil, fmt.Errorf("smolvm machine egress-events --json: %w", err)
	}
	return events, nil
}

// denial is one refusal of a machine's egress policy, as smolvm prints
// it. at is zero when smolvm's timestamp cannot be read.
type denial struct {
	timestamp, operation, dest string
	at                         time.Time
}

// parseDenials reads `machine egress-events --json`: an array of objects
// whose timestamp, operation and dest are strings. The timestamp is RFC
// 3339, or "" when smolvm could not read one in its log.
func parseDenials(out []byte) ([]denial, error) {
	if !gjson.ValidBytes(out) {
		return nil, fmt.Errorf("output is not valid JSON: %s", agent.Escape(shorten(string(out))))
	}
	root := gjson.ParseBytes(out)
	if !root.IsArray() {
		return nil, fmt.Errorf("output is %s, not an array", kind(root))
	}
	var events []denial
	var err error
	root.ForEach(func(i, entry gjson.Result) bool {
		if !entry.IsObject() {
			err = fmt.Errorf("event %d is %s, not an object", i.Int(), kind(entry))
			return false
		}
		var fields [3]string
		for j, key := range []string{"timestamp", "operation", "dest"} {
			v := entry.Get(key)
			if v.Type != gjson.String {
				err = fmt.Errorf("event %d: %q is %s, not a string", i.Int(), key, kind(v))
				return false
			}
			fields[j] = v.Str
		}
		d := denial{timestamp: fields[0], operation: fields[1], dest: fields[2]}
		if t, err := time.Parse(time.RFC3339, d.timestamp); err == nil {
			d.at = t.UTC()
		}
		events = append(events, d)
		return true
	})
	return events, err
}

// writeDenials writes the refusals from since on (all when since is zero),
// in one write, each a line: "deny", its operation, its destination and,
// when smolvm could read one, "at" and its time (RFC 3339, UTC, to the
// second). The destination comes from inside the machine, from the agent,
// and the operation and time through the log the machine writes: a field
// that is not printable ASCII without spaces, quotes and backslashes is
// written quoted (see field), so that a line is one line whose fields,
// split at spaces, are these whatever the agent asked for. A refusal
// without a time is left out when since is given: smolvm's times are
// whole seconds, and since is taken to its second.
func writeDenials(out io.Writer, events []denial, since time.Time) error {
	since = since.Truncate(time.Second)
	var b strings.Builder
	for _, d := range events {
		if !since.IsZero() && (d.at.IsZero() || d.at.Before(since)) {
			continue
		}
		b.WriteString("deny " + field(d.operation) + " " + field(d.dest))
		if !d.at.IsZero() {
			b.WriteString(" at " + d.at.Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// field is s as one field of a line: as it is when it is printable ASCII
// with no space, '"' or '\', else as a Go string literal of printable
// ASCII without spaces (a space is \x20), which strconv.Unquote reads back.
func field(s string) string {
	if s == "" {
		return `""`
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return strings.ReplaceAll(strconv.QuoteToASCII(s), " ", `\x20`)
		}
	}
	return s
}
