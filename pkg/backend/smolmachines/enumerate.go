package smolmachines

import (
	"context"
	"fmt"
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
// also the usability check: a smolvm that cannot be run is not usable
// here, and one that does not answer within listTimeout hangs.
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

// listTimeout bounds the listing, which is also the usability check:
// longer than the --version probe, as a listing has more to say.
const listTimeout = 5 * time.Second

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
	if err != nil {
		return nil, fmt.Errorf("smolvm machine ls --json: %w", err)
	}
	return machines, nil
}

// status returns the machine name as `machine status --json` shows it.
func (b *Backend) status(ctx context.Context, name string) (machine, error) {
	out, err := b.smolvm(ctx, nil, "machine", "status", "--name", name, "--json")
	if err != nil {
		return machine{}, err
	}
	m, err := parseStatus(out)
	if err != nil {
		return machine{}, fmt.Errorf("smolvm machine status --json: %w", err)
	}
	return m, nil
}

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

// parseStatus reads `machine status --json`: one machine, of the toolkit's.
func parseStatus(out []byte) (machine, error) {
	if !gjson.ValidBytes(out) {
		return machine{}, fmt.Errorf("output is not valid JSON: %s", agent.Escape(shorten(string(out))))
	}
	m, ours, err := parseMachine("the machine", gjson.ParseBytes(out))
	if err == nil && !ours {
		err = fmt.Errorf("the machine has no %s label", labels.Slug)
	}
	return m, err
}

// parseMachine reads one machine object; where names it in errors. ours
// is false for a machine without the slug label, whose other fields are
// not read at all.
func parseMachine(where string, entry gjson.Result) (m machine, ours bool, err error) {
	if !entry.IsObject() {
		return machine{}, false, fmt.Errorf("%s is %s, not an object", where, kind(entry))
	}
	l := entry.Get("labels")
	if !l.IsObject() {
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

func shorten(s string) string {
	const most = 60
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}
