package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
	"github.com/bottle-dev/bottle/pkg/labels"
	"github.com/bottle-dev/bottle/pkg/progress"
)

// EgressSidecar is the sidecar that is the bottle's way out, as on docker:
// its user is the one the network lock lets out.
const EgressSidecar = "egress"

// The users of a pod. The proxy runs as nobody, whatever its image says;
// the agent and the other sidecars as another user, never root, so that
// the lock, which lets the proxy's user out, holds them.
const (
	proxyUID = 65534
	agentUID = 1000
)

// startTimeout bounds how long a start waits for the cluster to run the
// pod: a node that never schedules it, an image that never comes.
const startTimeout = 3 * time.Minute

// Start creates the agent's pod, and the NetworkPolicy that keeps other
// pods away from it (owned by the pod, so that the cluster removes it with
// the pod), and waits until the agent's program runs. Whatever fails, the
// pod is deleted again.
func (b *Backend) Start(ctx context.Context, slug string, def *agentdef.Definition, user map[string]string) (_ agent.Agent, err error) {
	if err := agent.CheckSlug(slug); err != nil {
		return agent.Agent{}, err
	}
	if err := labels.CheckUser(user); err != nil {
		return agent.Agent{}, err
	}
	c, err := b.connect()
	if err != nil {
		return agent.Agent{}, err
	}
	pod, err := podFor(slug, def, user, b.cfg.NetlockImage)
	if err != nil {
		return agent.Agent{}, err
	}
	if err := b.Usable(ctx); err != nil {
		return agent.Agent{}, err
	}
	progress.Say(ctx, "creating the pod %s", slug)
	var made corev1.Pod
	err = c.rest.Post().Namespace(c.namespace).Resource("pods").Body(pod).Do(ctx).Into(&made)
	switch {
	case apierrors.IsAlreadyExists(err):
		return agent.Agent{}, fmt.Errorf("a pod named %s is in %s: %w", slug, c.namespace, backend.ErrSlugTaken)
	case err != nil:
		return agent.Agent{}, fmt.Errorf("creating the pod: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.deletePod(context.WithoutCancel(ctx), handle{namespace: c.namespace, pod: slug}))
		}
	}()
	if err := c.createNetworkPolicy(ctx, &made); err != nil {
		return agent.Agent{}, err
	}
	progress.Say(ctx, "waiting for the cluster to run %s", slug)
	running, err := c.waitRunning(ctx, slug)
	if err != nil {
		return agent.Agent{}, err
	}
	a, _ := b.agentOf(running)
	return a, nil
}

// podFor is the pod of a bottle: the network lock as its init container,
// the agent's container, and a container per sidecar, every one confined.
func podFor(slug string, def *agentdef.Definition, user map[string]string, netlockImage string) (*corev1.Pod, error) {
	switch {
	case def.Workspace != "":
		return nil, errors.New("a workspace is a directory of this host, which a cluster cannot mount: leave workspace out for kubernetes (and --branch, which makes one)")
	case len(def.Ports) > 0:
		return nil, errors.New("ports are not published on kubernetes: reach the agent with kubectl port-forward, or leave ports out")
	case len(def.Secrets) > 0:
		return nil, errors.New("secrets are not carried to kubernetes yet: leave secrets out for it")
	}
	services := def.SidecarNames()
	hasEgress := slices.Contains(services, EgressSidecar)
	if len(def.Egress.Allow) > 0 && !hasEgress {
		return nil, fmt.Errorf("egress.allow needs a sidecar named %q to enforce it (the pod's network lets nothing else out)", EgressSidecar)
	}
	if slices.Contains(services, agentContainer) {
		return nil, fmt.Errorf("a sidecar may not be named %q: the agent's container is", agentContainer)
	}
	uid, gid, err := agentUser(def.User)
	if err != nil {
		return nil, err
	}
	marks := labels.Bottle(agent.Agent{Slug: slug, Name: def.Name, Services: services, Branch: def.Branch}, user)
	podLabels, annotations, err := split(marks, user)
	if err != nil {
		return nil, err
	}

	env := maps.Clone(def.Env)
	if env == nil {
		env = map[string]string{}
	}
	if hasEgress {
		proxy := "http://127.0.0.1:" + strconv.Itoa(rules.Port)
		for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
			env[k] = proxy
		}
		env["NO_PROXY"], env["no_proxy"] = "localhost,127.0.0.1", "localhost,127.0.0.1"
	}
	agentC := corev1.Container{
		Name:            agentContainer,
		Image:           def.Image,
		Command:         def.Command,
		Env:             envVars(env),
		WorkingDir:      def.Workdir,
		TTY:             true,
		Stdin:           true,
		ImagePullPolicy: pullPolicy(def.Pull),
		SecurityContext: confined(uid, gid, def.CapAdd, def.ReadOnly),
		Resources:       limits(def.Limits),
	}
	if def.ReadOnly {
		agentC.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	}
	containers := []corev1.Container{agentC}
	var lockArgs []string
	for _, s := range def.Sidecars {
		sc := corev1.Container{
			Name:            s.Name,
			Image:           s.Image,
			Command:         s.Command,
			Env:             envVars(s.Env),
			ImagePullPolicy: pullPolicy(def.Pull),
			SecurityContext: confined(agentUID, agentUID, s.CapAdd, false),
			Resources:       limits(s.Limits),
		}
		if s.Name == EgressSidecar {
			// The way out: nobody, on a root it cannot change, listening
			// on loopback alone, where only the pod's own containers are.
			e := maps.Clone(s.Env)
			if e == nil {
				e = map[string]string{}
			}
			e[rules.EnvAllow] = strings.Join(def.Egress.Allow, ",")
			e[rules.EnvListen] = "127.0.0.1:" + strconv.Itoa(rules.Port)
			e[rules.EnvStateDir] = "/state"
			sc.Env = envVars(e)
			sc.SecurityContext = confined(proxyUID, proxyUID, s.CapAdd, true)
			sc.VolumeMounts = []corev1.VolumeMount{{Name: "egress-state", MountPath: "/state"}}
			lockArgs = []string{"-allow-uid", strconv.Itoa(proxyUID)}
		}
		containers = append(containers, sc)
	}
	no := false
	root := int64(0)
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: slug, Labels: podLabels, Annotations: annotations},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			Hostname:                     slug,
			InitContainers: []corev1.Container{{
				Name:            "bottle-netlock",
				Image:           netlockImage,
				Args:            lockArgs,
				ImagePullPolicy: corev1.PullIfNotPresent,
				SecurityContext: &corev1.SecurityContext{
					RunAsUser:                &root,
					RunAsNonRoot:             &no,
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   ptr(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_ADMIN"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
			Containers: containers,
			Volumes: []corev1.Volume{
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
				{Name: "egress-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	return pod, nil
}

// agentUser is the uid and gid the agent runs as: the definition's user
// when it is numeric, else agentUID. Root and the proxy's user are refused:
// the network lock lets the proxy's user out, and root could undo it.
func agentUser(user string) (uid, gid int64, err error) {
	if user == "" {
		return agentUID, agentUID, nil
	}
	u, g, _ := strings.Cut(user, ":")
	uid, err = strconv.ParseInt(u, 10, 32)
	if err == nil && g != "" {
		gid, err = strconv.ParseInt(g, 10, 32)
	} else {
		gid = uid
	}
	switch {
	case err != nil:
		return 0, 0, fmt.Errorf("user %q: kubernetes needs a numeric uid[:gid]", user)
	case uid == 0:
		return 0, 0, fmt.Errorf("user %q: the agent may not run as root on kubernetes, where it shares the network lock with the proxy", user)
	case uid == proxyUID:
		return 0, 0, fmt.Errorf("user %q: %d is the egress proxy's user, which the network lock lets out", user, proxyUID)
	}
	return uid, gid, nil
}

// split sorts a bottle's marks into the pod's labels (the slug and the
// agent's name, which a listing selects on, and the user's) and its
// annotations (the rest, whose values no label could hold). Each label
// must be one the API server takes.
func split(marks, user map[string]string) (podLabels, annotations map[string]string, err error) {
	podLabels, annotations = map[string]string{}, map[string]string{}
	for k, v := range marks {
		_, mine := user[k]
		if !mine && k != labels.Slug && k != labels.Agent {
			annotations[k] = v
			continue
		}
		if problems := validation.IsQualifiedName(k); len(problems) > 0 {
			return nil, nil, fmt.Errorf("label key %q cannot be a Kubernetes label: %s", k, problems[0])
		}
		if problems := validation.IsValidLabelValue(v); len(problems) > 0 {
			return nil, nil, fmt.Errorf("label %s=%q cannot be a Kubernetes label: %s", k, v, problems[0])
		}
		podLabels[k] = v
	}
	return podLabels, annotations, nil
}

// confined is a container's security context: every capability dropped
// but the definition's, no privilege gain, the runtime's seccomp profile,
// and never root.
func confined(uid, gid int64, capAdd []string, readOnly bool) *corev1.SecurityContext {
	caps := &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	for _, c := range capAdd {
		caps.Add = append(caps.Add, corev1.Capability(strings.TrimPrefix(c, "CAP_")))
	}
	return &corev1.SecurityContext{
		RunAsUser:                &uid,
		RunAsGroup:               &gid,
		RunAsNonRoot:             ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		ReadOnlyRootFilesystem:   &readOnly,
		Capabilities:             caps,
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// The most a container requests of its node, below its limits: the limits
// bound a runaway agent, as on docker, while a request is what the
// scheduler reserves, and an agent mostly waits.
const (
	requestMemory = 64 << 20
	requestCPUs   = 0.1
)

// limits is a container's memory and CPUs as its limits, and a little of
// each as its requests: without requests, the cluster would reserve the
// limits, and a bottle with sidecars would not fit a small node.
func limits(l agentdef.Limits) corev1.ResourceRequirements {
	limit, request := corev1.ResourceList{}, corev1.ResourceList{}
	if l.Memory > 0 {
		limit[corev1.ResourceMemory] = *resource.NewQuantity(l.Memory, resource.BinarySI)
		request[corev1.ResourceMemory] = *resource.NewQuantity(min(l.Memory, requestMemory), resource.BinarySI)
	}
	if l.CPUs > 0 {
		limit[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Ceil(l.CPUs*1000)), resource.DecimalSI)
		request[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Ceil(min(l.CPUs, requestCPUs)*1000)), resource.DecimalSI)
	}
	return corev1.ResourceRequirements{Limits: limit, Requests: request}
}

// pullPolicy is the definition's pull as a container's image pull policy.
func pullPolicy(p agentdef.Pull) corev1.PullPolicy {
	switch p {
	case agentdef.PullAlways:
		return corev1.PullAlways
	case agentdef.PullNever:
		return corev1.PullNever
	}
	return corev1.PullIfNotPresent
}

func envVars(env map[string]string) []corev1.EnvVar {
	var vars []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, corev1.EnvVar{Name: k, Value: env[k]})
	}
	return vars
}

func ptr[T any](v T) *T { return &v }

// createNetworkPolicy keeps every other pod from reaching the bottle's
// pod, and lets the pod reach only public addresses and the cluster's DNS,
// for clusters whose network plugin enforces policies. The pod owns it.
func (c *conn) createNetworkPolicy(ctx context.Context, pod *corev1.Pod) error {
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, BlockOwnerDeletion: ptr(true)}
	private := []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"}
	policy := map[string]any{
		"apiVersion": "networking.k8s.io/v1",
		"kind":       "NetworkPolicy",
		"metadata": map[string]any{
			"name": pod.Name, "labels": pod.Labels, "ownerReferences": []metav1.OwnerReference{owner},
		},
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]string{labels.Slug: pod.Name}},
			"policyTypes": []string{"Ingress", "Egress"},
			"ingress":     []any{},
			"egress": []any{
				map[string]any{"to": []any{
					map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0", "except": private}},
					map[string]any{"ipBlock": map[string]any{"cidr": "::/0", "except": []string{"fc00::/7", "fe80::/10"}}},
				}},
				map[string]any{"ports": []any{
					map[string]any{"protocol": "UDP", "port": 53}, map[string]any{"protocol": "TCP", "port": 53},
				}},
			},
		},
	}
	body, err := json.Marshal(policy)
	if err != nil {
		return err
	}
	err = c.rest.Post().AbsPath("/apis/networking.k8s.io/v1/namespaces", c.namespace, "networkpolicies").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("creating the pod's NetworkPolicy: %w", err)
	}
	return nil
}

// waitRunning polls the pod until the agent's program runs, and fails on
// what will not get better: a lock that failed, an image that cannot be
// had, a container that cannot be made, a program that ended at once.
func (c *conn) waitRunning(ctx context.Context, name string) (*corev1.Pod, error) {
	var running *corev1.Pod
	phase := corev1.PodPending
	err := c.poll(ctx, handle{namespace: c.namespace, pod: name}, startTimeout, func(pod *corev1.Pod, err error) (bool, error) {
		if err != nil {
			return false, err
		}
		if err := stuck(pod); err != nil {
			return false, err
		}
		phase = pod.Status.Phase
		for _, s := range pod.Status.ContainerStatuses {
			if s.Name == agentContainer && s.State.Running != nil {
				running = pod
				return true, nil
			}
		}
		return false, nil
	})
	if errors.Is(err, errPollBound) {
		return nil, fmt.Errorf("the pod did not run within %s (%s)", startTimeout, phase)
	}
	return running, err
}

// stuck says why a pod will not run, or nil while it may yet.
func stuck(pod *corev1.Pod) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return fmt.Errorf("no node of the cluster can run it: %s", c.Message)
		}
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Errorf("the network lock failed (%s, exit %d): %s; the pod is not started unlocked", t.Reason, t.ExitCode, strings.TrimSpace(t.Message))
		}
		if err := waiting(s); err != nil {
			return err
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		if err := waiting(s); err != nil {
			return err
		}
		if t := s.State.Terminated; t != nil && s.Name == agentContainer {
			return fmt.Errorf("the agent's program ended at once (exit %d, %s)", t.ExitCode, t.Reason)
		}
	}
	return nil
}

func waiting(s corev1.ContainerStatus) error {
	w := s.State.Waiting
	if w == nil {
		return nil
	}
	switch w.Reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return fmt.Errorf("container %s: %s: %s", s.Name, w.Reason, strings.TrimSpace(w.Message))
	}
	return nil
}
