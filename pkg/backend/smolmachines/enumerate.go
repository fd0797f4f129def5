package smolmachines

import (
	"context"
	"fmt"
	"time"

	"github.com/tidwall/gjson"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// machine is what the backend reads of one `machine ls --json` entry.
type machine struct {
	Name      string
	State     string
	CreatedAt time.Time
	Labels    map[string]string
}

// Enumerate lists the agents with one `smolvm machine ls --json`.
func (b *Backend) Enumerate(ctx context.Context, q agent.Query) ([]agent.Agent, error) {
	machines, err := list(ctx)
	if err != nil {
		return nil, err
	}
	return b.selectAgents(machines, q), nil
}

// EnumerateProbing is Enumerate that is also the usability check, so that a
// listing runs smolvm once: a smolvm that cannot be run is not usable here,
// and one that does not answer within listProbeTimeout hangs.
func (b *Backend) EnumerateProbing(ctx context.Context, q agent.Query) ([]agent.Agent, error) {
	ctx, cancel := context.WithTimeout(ctx, listProbeTimeout)
	defer cancel()
	machines, err := list(ctx)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("smolvm machine ls: %w within %s", agent.ErrNoAnswer, listProbeTimeout)
	case err != nil:
		return nil, err
	}
	return b.selectAgents(machines, q), nil
}

// listProbeTimeout bounds the listing that is also the usability check:
// longer than the --version probe, as a listing has more to say.
const listProbeTimeout = 5 * time.Second

func (b *Backend) selectAgents(machines []machine, q agent.Query) []agent.Agent {
	var agents []agent.Agent
	for _, m := range machines {
		if m.State != "running" && !q.All || !carries(m.Labels, q.Labels) {
			continue
		}
		agents = append(agents, b.agent(m))
	}
	return agents
}

func (b *Backend) agent(m machine) agent.Agent {
	return agent.Agent{
		Backend:   b.Name(),
		Slug:      m.Labels[labelSlug],
		Name:      m.Labels[labelAgent],
		Services:  agent.SplitServices(m.Labels[labelServices]),
		StartedAt: m.CreatedAt,
		State:     m.State,
	}
}

// list returns the machines that carry the slug label: the toolkit's own.
func list(ctx context.Context) ([]machine, error) {
	out, err := smolvm(ctx, nil, "machine", "ls", "--json")
	if err != nil {
		return nil, err
	}
	machines, err := parseList(out)
	if err != nil {
		return nil, fmt.Errorf("smolvm machine ls --json: %w", err)
	}
	return machines, nil
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
		where := fmt.Sprintf("machine %d", i.Int())
		if !entry.IsObject() {
			err = fmt.Errorf("%s is %s, not an object", where, kind(entry))
			return false
		}
		labels := entry.Get("labels")
		if !labels.IsObject() {
			err = fmt.Errorf("%s: \"labels\" is %s, not an object", where, kind(labels))
			return false
		}
		if !labels.Get(gjson.Escape(labelSlug)).Exists() {
			return true
		}
		m := machine{Labels: map[string]string{}}
		labels.ForEach(func(k, v gjson.Result) bool {
			if v.Type != gjson.String {
				err = fmt.Errorf("%s: label %q is %s, not a string", where, k.String(), kind(v))
				return false
			}
			m.Labels[k.String()] = v.Str
			return true
		})
		if err != nil {
			return false
		}
		for _, f := range []struct {
			key  string
			want gjson.Type
		}{{"name", gjson.String}, {"state", gjson.String}, {"created_at", gjson.Number}} {
			if v := entry.Get(f.key); v.Type != f.want {
				err = fmt.Errorf("%s: %q is %s, not a %s", where, f.key, kind(v), kindOf(f.want))
				return false
			}
		}
		m.Name = entry.Get("name").Str
		m.State = entry.Get("state").Str
		m.CreatedAt = time.Unix(entry.Get("created_at").Int(), 0).UTC()
		machines = append(machines, m)
		return true
	})
	if err != nil {
		return nil, err
	}
	return machines, nil
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
