package docker

import (
	"maps"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// The labels that mark everything this backend creates. Listing, stopping
// and attaching only ever look at objects carrying labelSlug.
const (
	labelSlug     = "dev.bottle.slug"
	labelAgent    = "dev.bottle.agent"
	labelServices = "dev.bottle.services"
	labelRole     = "dev.bottle.role"    // roleAgent or roleSidecar
	labelSidecar  = "dev.bottle.sidecar" // a sidecar container's service name
	labelAttach   = "dev.bottle.attach"  // the agent's attach command, as a JSON array
	labelNetwork  = "dev.bottle.network" // networkInternal or networkEgress
)

const (
	networkInternal = "internal" // the bottle's own, with no route out
	networkEgress   = "egress"   // the egress sidecar's way out
)

const (
	roleAgent   = "agent"
	roleSidecar = "sidecar"
)

// objectLabels are the labels every object of one agent carries.
func objectLabels(slug, name string, services []string, user map[string]string) map[string]string {
	labels := maps.Clone(user)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelSlug] = slug
	labels[labelAgent] = name
	labels[labelServices] = agent.JoinServices(services)
	return labels
}

// labelFilter selects objects carrying every given label, plus the user's.
func labelFilter(user map[string]string, labels ...string) client.Filters {
	f := client.Filters{}
	for _, l := range labels {
		f.Add("label", l)
	}
	for k, v := range user {
		f.Add("label", k+"="+v)
	}
	return f
}
