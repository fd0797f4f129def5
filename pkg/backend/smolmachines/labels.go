package smolmachines

import (
	"maps"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// The labels that mark the machines this backend creates; smolvm keeps them
// without interpreting them and shows them in `machine ls --json`. Only
// machines carrying labelSlug are agents.
const (
	labelSlug     = "dev.bottle.slug"
	labelAgent    = "dev.bottle.agent"
	labelServices = "dev.bottle.services"
	labelAttach   = "dev.bottle.attach" // the agent's attach command, as a JSON array
)

// carries reports whether a machine's labels hold every user label.
func carries(labels, user map[string]string) bool {
	for k, v := range user {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func machineLabels(slug, name string, services []string, attach string, user map[string]string) map[string]string {
	labels := maps.Clone(user)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelSlug] = slug
	labels[labelAgent] = name
	labels[labelServices] = agent.JoinServices(services)
	labels[labelAttach] = attach
	return labels
}
