package smolmachines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// machine is what the backend reads of one `machine ls --json` entry.
type machine struct {
	Name      string
	State     string
	CreatedAt time.Time
	Labels    map[string]string
}

// machineName is an agent's Handle: the name of the machine that is the
// agent.
type machineName string

// Enumerate lists the agents with one `smolvm machine ls --json`, which is
// also the usability check: a smolvm that cannot be run, or is too old to
// label machines, is not usable here, and one that does not answer within
// listTimeout hangs. A machine whose VM does not answer is listed with
// Query.All, as unreachable.
func (b *Backend) Enumerate(ctx context.Context, q backend.Query) ([]agent.Agent, error) {
	machines, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	var agents []agent.Agent
	for _, m := range machines {
		if m.State != "running" && !q.All || !labels.Carries(m.Labels, q.Labels) {
			continue
		}
		agents = append(agents, b.agent(m))
	}
	return agents, nil
}

// Find looks the agent with the slug up with `smolvm machine status`,
// which asks only that machine's VM whether it answers, where a listing
// asks every one. It is its own usability check, as Enumerate is.
func (b *Backend) Find(ctx context.Context, slug string, user map[string]string) (agent.Agent, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	m, ours, err := b.status(ctx, slug)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return agent.Agent{}, fmt.Errorf("smolvm machine status: %w within %s", backend.ErrNoAnswer, statusTimeout)
	case err != nil:
		return agent.Agent{}, err
	case !ours || m.Name != slug || m.Labels[labels.Slug] != slug || !labels.Carries(m.Labels, user):
		return agent.Agent{}, backend.ErrNotFound
	}
	return b.agent(m), nil
}

// smolvm answers a listing only once it has pinged, one after another,
// every machine it records as running; a ping of a VM that does not answer
// takes pingTimeout. How many there are is known only from the answer, so
// the listing is given time for smolvm itself, answerTimeout, and for as
// many as maxUnanswered such VMs: a few hung VMs do not make smolvm look
// hung, and a smolvm that takes longer still is reported as a hang. One
// machine's status pings that machine alone.
const (
	answerTimeout = 5 * time.Second
	pingTimeout   = 3 * time.Second
	maxUnanswered = 5
	listTimeout   = answerTimeout + maxUnanswered*pingTimeout
	statusTimeout = answerTimeout + pingTimeout
)

func (b *Backend) agent(m machine) agent.Agent {
	a, _ := labels.Decode(m.Labels)
	a.Backend = b.Name()
	a.StartedAt = m.CreatedAt
	a.State = m.State
	a.Handle = machineName(m.Name)
	return a
}

// machineOf returns the name of the agent's machine. A machine is the
// toolkit's to act on only under the name Start gives it, its slug.
func machineOf(a agent.Agent) (string, error) {
	name, ok := a.Handle.(machineName)
	if !ok || string(name) != a.Slug {
		return "", backend.ErrNotFound
	}
	return string(name), nil
}

// list returns the machines that carry the slug label, the toolkit's own,
// from one `machine ls --json` that may take listTimeout.
func (b *Backend) list(ctx context.Context) ([]machine, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	out, err := b.smolvm(ctx, nil, "machine", "ls", "--json")
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("smolvm machine ls: %w within %s", backend.ErrNoAnswer, listTimeout)
	case err != nil:
		return nil, err
	}
	machines, err := parseList(out)
	if err != nil && !errors.Is(err, backend.ErrUnusable) {
		err = fmt.Errorf("smolvm machine ls --json: %w", err)
	}
	return machines, err
}

// status returns the machine name as `machine status --json` shows it,
// and whether it carries the slug label. A machine that is not there is
// backend.ErrNotFound.
func (b *Backend) status(ctx context.Context, name string) (machine, bool, error) {
	out, err := b.smolvm(ctx, nil, "machine", "status", "--name", name, "--json")
	var f *failure
	if errors.As(err, &f) && strings.Contains(f.msg, fmt.Sprintf("machine '%s' not found", name)) {
		return machine{}, false, fmt.Errorf("%w: %s", backend.ErrNotFound, f.msg)
	}
	if err != nil {
		return machine{}, false, err
	}
	m, ours, err := parseStatus(out)
	if err != nil && !errors.Is(err, backend.ErrUnusable) {
		err = fmt.Errorf("smolvm machine status --json: %w", err)
	}
	return m, ours, err
}

// errTooOld is what a machine without "labels" says of its smolvm: only
// those before minVersion print none.
var errTooOld = backend.Absent(fmt.Errorf("smolvm is older than %s, the first to label machines, which bottle needs (its machines have no \"labels\")", minVersion))

// parseList reads `machine ls --json`, checking the type of every field it
// uses, so that a changed or broken smolvm gives a clear error rather than
// wrong agents.
func parseList(out []byte) ([]machine, error) {
	if !gjson.ValidBytes(out) {
		return nil, fmt.Errorf("output is not valid JSON: %s", agent.Escape(shorten(string(out))))
	}
	root := gjson.ParseBytes(out)
	if !root.IsArray() {
		return nil, fmt.Errorf("output is %s, not an array", kind(root))
	}
	var machines []machine
	var err error
	root.ForEach(func(i, entry gjson.Result) bool {
		var m machine
		var ours bool
		if m, ours, err = parseMachine(fmt.Sprintf("machine %d", i.Int()), entry); ours {
			machines = append(machines, m)
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return machines, nil
}

// parseStatus reads `machine status --json`: one machine, and whether it
// is of the toolkit's.
func parseStatus(out []byte) (machine, bool, error) {
	if !gjson.ValidBytes(out) {
		return machine{}, false, fmt.Errorf("output is not valid JSON: %s", agent.Escape(shorten(string(out))))
	}
	return parseMachine("the machine", gjson.ParseBytes(out))
}

// parseMachine reads one machine object; where names it in errors. ours
// is false for a machine without the slug label, whose other fields are
// not read at all.
func parseMachine(where string, entry gjson.Result) (m machine, ours bool, err error) {
	if !entry.IsObject() {
		return machine{}, false, fmt.Errorf("%s is %s, not an object", where, kind(entry))
	}
	l := entry.Get("labels")
	switch {
	case !l.Exists():
		return machine{}, false, errTooOld
	case !l.IsObject():
		return machine{}, false, fmt.Errorf("%s: \"labels\" is %s, not an object", where, kind(l))
	}
	if !l.Get(gjson.Escape(labels.Slug)).Exists() {
		return machine{}, false, nil
	}
	m.Labels = map[string]string{}
	l.ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.String {
			err = fmt.Errorf("%s: label %q is %s, not a string", where, k.String(), kind(v))
			return false
		}
		m.Labels[k.String()] = v.Str
		return true
	})
	if err != nil {
		return machine{}, false, err
	}
	for _, f := range []struct {
		key  string
		want gjson.Type
	}{{"name", gjson.String}, {"state", gjson.String}, {"created_at", gjson.Number}} {
		if v := entry.Get(f.key); v.Type != f.want {
			return machine{}, false, fmt.Errorf("%s: %q is %s, not a %s", where, f.key, kind(v), kindOf(f.want))
		}
	}
	m.Name = entry.Get("name").Str
	m.State = entry.Get("state").Str
	m.CreatedAt = time.Unix(entry.Get("created_at").Int(), 0).UTC()
	return m, true, nil
}

// kind describes what a JSON value is, for messages: "missing", "a string".
func kind(v gjson.Result) string {
	switch {
	case !v.Exists():
		return "missing"
	case v.IsArray():
		return "an array"
	case v.IsObject():
		return "an object"
	case v.Type == gjson.Null:
		return "null"
	}
	return "a " + kindOf(v.Type)
}

func kindOf(t gjson.Type) string {
	switch t {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	case gjson.Null:
		return "null"
	}
	return "value"
}
