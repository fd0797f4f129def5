package kubernetes

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
)

func definition() *agentdef.Definition {
	return &agentdef.Definition{
		Name: "reviewer", Image: "busybox:1", Command: []string{"sh"}, Env: map[string]string{"TERM": "xterm"},
		Workdir: "/src", Pull: agentdef.PullNever,
		Limits: agentdef.Limits{Memory: 1 << 30, CPUs: 1.5},
		Sidecars: []agentdef.Sidecar{
			{Name: "egress", Image: "bottle-egress:1", Env: map[string]string{}},
			{Name: "web", Image: "busybox:1", Command: []string{"httpd", "-f"}, Env: map[string]string{}},
		},
		Egress: agentdef.Egress{Allow: []string{"api.anthropic.com"}},
	}
}

// The pod of a bottle: the lock first, then the agent and its sidecars,
// each confined, none with a service account token; the proxy as nobody on
// loopback, the agent as another user pointed at it.
func TestPodFor(t *testing.T) {
	pod, err := podFor("rev-1", definition(), map[string]string{"team": "site"}, "bottle-netlock:1")
	if err != nil {
		t.Fatal(err)
	}
	spec := pod.Spec
	if *spec.AutomountServiceAccountToken || *spec.EnableServiceLinks || spec.RestartPolicy != corev1.RestartPolicyNever || spec.HostNetwork {
		t.Errorf("pod spec: %+v", spec)
	}
	if len(spec.InitContainers) != 1 {
		t.Fatalf("init containers: %+v", spec.InitContainers)
	}
	lock := spec.InitContainers[0]
	if lock.Image != "bottle-netlock:1" || strings.Join(lock.Args, " ") != "-allow-uid 65534" ||
		len(lock.SecurityContext.Capabilities.Add) != 1 || lock.SecurityContext.Capabilities.Add[0] != "NET_ADMIN" ||
		lock.SecurityContext.Capabilities.Drop[0] != "ALL" || *lock.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("the lock: %+v", lock)
	}
	names := []string{}
	for _, c := range spec.Containers {
		names = append(names, c.Name)
		sc := c.SecurityContext
		if *sc.RunAsUser == 0 || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 ||
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("container %s is not confined: %+v", c.Name, sc)
		}
	}
	if strings.Join(names, ",") != "agent,egress,web" {
		t.Errorf("containers: %v", names)
	}
	agentC, egress := spec.Containers[0], spec.Containers[1]
	if !agentC.TTY || !agentC.Stdin || agentC.WorkingDir != "/src" || *agentC.SecurityContext.RunAsUser != agentUID {
		t.Errorf("the agent: %+v", agentC)
	}
	env := map[string]string{}
	for _, e := range agentC.Env {
		env[e.Name] = e.Value
	}
	if env["HTTPS_PROXY"] != "http://127.0.0.1:3128" || env["TERM"] != "xterm" {
		t.Errorf("the agent's environment: %v", env)
	}
	if got := agentC.Resources.Limits.Memory().Value(); got != 1<<30 {
		t.Errorf("the agent's memory: %d", got)
	}
	if got := agentC.Resources.Limits.Cpu().MilliValue(); got != 1500 {
		t.Errorf("the agent's CPUs: %dm", got)
	}
	eenv := map[string]string{}
	for _, e := range egress.Env {
		eenv[e.Name] = e.Value
	}
	if *egress.SecurityContext.RunAsUser != proxyUID || !*egress.SecurityContext.ReadOnlyRootFilesystem ||
		eenv["BOTTLE_EGRESS_LISTEN"] != "127.0.0.1:3128" || eenv["BOTTLE_EGRESS_ALLOW"] != "api.anthropic.com" {
		t.Errorf("the proxy: %+v %v", egress.SecurityContext, eenv)
	}
	if want := map[string]string{"dev.bottle.slug": "rev-1", "dev.bottle.agent": "reviewer", "team": "site"}; !maps.Equal(pod.Labels, want) {
		t.Errorf("labels %v, want %v", pod.Labels, want)
	}
	if pod.Annotations["dev.bottle.services"] != "egress,web" {
		t.Errorf("annotations %v", pod.Annotations)
	}

	// What a listing reads back from such a pod.
	pod.Namespace = "ns"
	pod.CreationTimestamp = metav1.Now()
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}
	a, ok := New(Config{}).agentOf(pod)
	if !ok || a.Slug != "rev-1" || a.Name != "reviewer" || strings.Join(a.Services, ",") != "egress,web" || a.State != "exited" || *a.Exit != 3 || a.Handle != (handle{"ns", "rev-1"}) {
		t.Errorf("agentOf = %+v, %v", a, ok)
	}
	pod.Labels["dev.bottle.slug"] = "other"
	if _, ok := New(Config{}).agentOf(pod); ok {
		t.Error("a pod whose slug label is not its name is taken for an agent")
	}
}

func TestPodForRefuses(t *testing.T) {
	for _, tc := range []struct {
		change func(*agentdef.Definition)
		user   map[string]string
		want   string
	}{
		{func(d *agentdef.Definition) { d.Workspace = "/src/site" }, nil, "a workspace is a directory of this host"},
		{func(d *agentdef.Definition) { d.Ports = []agentdef.Publish{{Port: 3000}} }, nil, "ports are not published on kubernetes"},
		{func(d *agentdef.Definition) { d.Secrets = []agentdef.Secret{{Name: "K"}} }, nil, "secrets are not carried to kubernetes"},
		{func(d *agentdef.Definition) { d.Sidecars = d.Sidecars[1:] }, nil, `egress.allow needs a sidecar named "egress"`},
		{func(d *agentdef.Definition) { d.Sidecars[1].Name = "agent" }, nil, `a sidecar may not be named "agent"`},
		{func(d *agentdef.Definition) { d.User = "0" }, nil, "may not run as root"},
		{func(d *agentdef.Definition) { d.User = "65534:65534" }, nil, "the egress proxy's user"},
		{func(d *agentdef.Definition) { d.User = "node" }, nil, "needs a numeric uid"},
		{func(d *agentdef.Definition) {}, map[string]string{"team": "a b"}, `label team="a b" cannot be a Kubernetes label`},
	} {
		def := definition()
		tc.change(def)
		if _, err := podFor("rev-1", def, tc.user, "n"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("podFor: %v, want %q", err, tc.want)
		}
	}
	def := definition()
	def.User = "1001:1002"
	pod, err := podFor("rev-1", def, nil, "n")
	if err != nil || *pod.Spec.Containers[0].SecurityContext.RunAsUser != 1001 || *pod.Spec.Containers[0].SecurityContext.RunAsGroup != 1002 {
		t.Errorf("user 1001:1002: %v", err)
	}
}

// A user's label that no pod can carry selects no pod, without asking.
func TestEnumerateUnfitLabel(t *testing.T) {
	b := New(Config{Kubeconfig: []string{writeKubeconfig(t, "https://127.0.0.1:1")}})
	agents, err := b.Enumerate(t.Context(), backend.Query{Labels: map[string]string{"team": "a b"}})
	if err != nil || agents != nil {
		t.Errorf("Enumerate = %v, %v; want nothing, without asking", agents, err)
	}
}

func writeKubeconfig(t *testing.T, server string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	body := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\"}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSelector(t *testing.T) {
	if got := selector(map[string]string{"team": "site", "a": "b"}); got != "dev.bottle.slug,a=b,team=site" {
		t.Errorf("selector = %q", got)
	}
}
