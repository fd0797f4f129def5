package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// agentContainer is the name of the agent's container in its pod; no
// sidecar may take it.
const agentContainer = "agent"

// handle is what the backend needs to act on a listed agent: its pod.
type handle struct {
	namespace, pod string
}

// selector is the label selector of a listing: the toolkit's pods that
// carry every one of the user's labels.
func selector(user map[string]string) string {
	terms := []string{labels.Slug}
	for _, k := range slices.Sorted(maps.Keys(user)) {
		terms = append(terms, k+"="+user[k])
	}
	return strings.Join(terms, ",")
}

// Enumerate lists the toolkit's pods in the namespace with one request,
// whatever their number: a label selector on dev.bottle.slug and the
// user's labels.
func (b *Backend) Enumerate(ctx context.Context, q backend.Query) ([]agent.Agent, error) {
	c, err := b.connect()
	if err != nil {
		return nil, err
	}
	// A label no pod can carry selects none, and the API server would
	// refuse the selector.
	if _, _, err := split(q.Labels, q.Labels); err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var pods corev1.PodList
	err = c.rest.Get().Namespace(c.namespace).Resource("pods").
		Param("labelSelector", selector(q.Labels)).Do(ctx).Into(&pods)
	if err != nil {
		return nil, answer(ctx, "listing pods in "+c.namespace, err)
	}
	var agents []agent.Agent
	for i := range pods.Items {
		a, ok := b.agentOf(&pods.Items[i])
		if ok && (q.All || a.State == "running") {
			agents = append(agents, a)
		}
	}
	return agents, nil
}

// agentOf reads the agent back from its pod: the labels and annotations
// bottle put on it, and the agent container's state.
func (b *Backend) agentOf(pod *corev1.Pod) (agent.Agent, bool) {
	marks := maps.Clone(pod.Annotations)
	if marks == nil {
		marks = map[string]string{}
	}
	maps.Copy(marks, pod.Labels)
	a, ok := labels.Decode(marks)
	if !ok || a.Slug != pod.Name {
		return agent.Agent{}, false
	}
	a.Backend = b.Name()
	a.Handle = handle{namespace: pod.Namespace, pod: pod.Name}
	a.StartedAt = pod.CreationTimestamp.Time
	a.State = "created"
	if pod.DeletionTimestamp != nil {
		a.State = "removing"
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name != agentContainer {
			continue
		}
		switch {
		case pod.DeletionTimestamp != nil:
		case s.State.Running != nil:
			a.State, a.StartedAt = "running", s.State.Running.StartedAt.Time
		case s.State.Terminated != nil:
			code := int(s.State.Terminated.ExitCode)
			a.State, a.Exit = "exited", &code
		}
	}
	return a, true
}

// handleOf is the pod of an agent as Enumerate found it.
func handleOf(a agent.Agent) (handle, error) {
	h, ok := a.Handle.(handle)
	if !ok {
		return handle{}, fmt.Errorf("%s was not found by the kubernetes backend", a.Slug)
	}
	return h, nil
}
