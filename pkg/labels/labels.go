// Package labels is the one codec between an agent and the dev.bottle.*
// labels that every backend puts on what it creates: the keys, how an
// agent's slug, name and services are written into them
// and read back, and which labels a user may add. Labels are how a listing
// finds the toolkit's objects with one query, and how it tells them from
// everything the user made without the toolkit.
package labels

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Prefix begins every label of the toolkit's own, and no label of a user's.
const Prefix = "dev.bottle."

// The labels on every object of a bottle. An object without Slug is never
// the toolkit's.
const (
	Slug     = Prefix + "slug"
	Agent    = Prefix + "agent"    // the definition it was started from
	Services = Prefix + "services" // the sidecar names, comma-separated, in order
	// Ports is the published ports, PORT=HOST:HOSTPORT comma-separated,
	// where the backend itself tells no listing (smolmachines); docker's
	// come from the Engine's bindings instead.
	Ports = Prefix + "ports"
	// The agent's own branch (bottle-start --branch): its name, the
	// user's repository and the copy bottle keeps on the host.
	Branch     = Prefix + "branch"
	BranchRepo = Prefix + "branch.repo"
	BranchCopy = Prefix + "branch.copy"
)

// The labels that tell apart the objects of a bottle that has more than
// one: docker's containers and networks.
const (
	Role    = Prefix + "role"    // RoleAgent, RoleSidecar or RoleForwarder
	Sidecar = Prefix + "sidecar" // a sidecar's service name
	Network = Prefix + "network" // NetworkInternal, NetworkEgress or NetworkPorts

	RoleAgent   = "agent"
	RoleSidecar = "sidecar"
	// RoleForwarder is bottle's own relay of the agent's published ports:
	// not one of the definition's sidecars, and no service of the line.
	RoleForwarder = "forwarder"

	NetworkInternal = "internal" // the bottle's own, with no route out
	NetworkEgress   = "egress"   // the egress sidecar's way out
	NetworkPorts    = "ports"    // the port forwarder's side towards the host's published ports
)

// Bottle returns the labels on every object of a's bottle: the user's own,
// then a's slug, name and services.
func Bottle(a agent.Agent, user map[string]string) map[string]string {
	l := maps.Clone(user)
	if l == nil {
		l = map[string]string{}
	}
	l[Slug] = a.Slug
	l[Agent] = a.Name
	l[Services] = strings.Join(a.Services, ",")
	if b := a.Branch; b != nil {
		l[Branch], l[BranchRepo], l[BranchCopy] = b.Name, b.Repo, b.Copy
	}
	return l
}

// Decode reads an agent back from the labels of its own object: slug, name
// and services. ok is false when the object is not the toolkit's.
func Decode(l map[string]string) (a agent.Agent, ok bool) {
	slug, ok := l[Slug]
	if !ok {
		return agent.Agent{}, false
	}
	a = agent.Agent{Slug: slug, Name: l[Agent]}
	if s := l[Services]; s != "" {
		a.Services = strings.Split(s, ",")
	}
	a.Ports = decodePorts(l[Ports])
	if name, repo, copy := l[Branch], l[BranchRepo], l[BranchCopy]; name != "" && repo != "" && copy != "" {
		a.Branch = &agent.Branch{Name: name, Repo: repo, Copy: copy}
	}
	return a, true
}

// EncodePorts writes ports as the Ports label holds them.
func EncodePorts(ports []agent.Port) string {
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p.Port) + "=" + p.Host
	}
	return strings.Join(list, ",")
}

// decodePorts reads the Ports label, skipping what is not PORT=HOST:PORT.
func decodePorts(s string) []agent.Port {
	var ports []agent.Port
	for _, item := range strings.Split(s, ",") {
		port, host, ok := strings.Cut(item, "=")
		n, err := strconv.Atoi(port)
		if _, _, herr := net.SplitHostPort(host); !ok || err != nil || n < 1 || n > 65535 || herr != nil {
			continue
		}
		ports = append(ports, agent.Port{Port: n, Host: host})
	}
	return ports
}

// Carries reports whether l holds every label of want, with its value.
func Carries(l, want map[string]string) bool {
	for k, v := range want {
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// CheckUser rejects user labels that could not be stored or filtered on
// faithfully by every backend, or that would pass for the toolkit's own.
func CheckUser(user map[string]string) error {
	for k, v := range user {
		switch {
		case !validUserKey(k):
			return fmt.Errorf("label key %q: use letters, digits, '.', '_', '/' and '-'", agent.Escape(k))
		case strings.HasPrefix(k, Prefix):
			return fmt.Errorf("label key %q: the %s prefix is the toolkit's own", k, Prefix)
		case agent.Escape(v) != v:
			return fmt.Errorf("label %s: the value must not hold control characters or backslashes", k)
		}
	}
	return nil
}

// validUserKey reports whether k is 1 to 128 of letters, digits, '.', '_',
// '/' and '-', starting with a letter or digit: a key every backend stores
// and filters on as it is.
func validUserKey(k string) bool {
	if k == "" || len(k) > 128 || !isAlnum(k[0]) {
		return false
	}
	for _, c := range []byte(k) {
		if !isAlnum(c) && c != '.' && c != '_' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
