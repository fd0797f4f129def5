package bottle_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// apiCounter is a plain-HTTP way to the cluster's API server, with the
// admin's credentials, that records every request a binary makes.
type apiCounter struct {
	mu       sync.Mutex
	requests []string
	server   *httptest.Server
}

func newAPICounter(t *testing.T, api *kubeAPI) *apiCounter {
	target, err := url.Parse(api.server)
	if err != nil {
		t.Fatal(err)
	}
	c := &apiCounter{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = api.http.Transport
	c.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests = append(c.requests, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(c.server.Close)
	return c
}

// kubeconfig writes a kubeconfig that leads through the counter.
func (c *apiCounter) kubeconfig(t *testing.T, namespace string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	body := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {}\n"+
		"contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: %s}\ncurrent-context: x\n", c.server.URL, namespace)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (c *apiCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.requests
	c.requests = nil
	return r
}

// One bottle-ls lists the cluster's agents with one request, whatever
// their number: at 0, 10 and 50 pods of the toolkit's among pods of
// others'. The pods are made straight through the API with the toolkit's
// labels and a node that does not exist, so that none runs and the node is
// spared fifty starts: bottle-ls --all lists them.
func TestKubernetesListingRequests(t *testing.T) {
	if _, _, ok := clusterConfig(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and no cluster (BOTTLE_TEST_KUBECONFIG)")
		}
		t.Skip("no cluster (BOTTLE_TEST_KUBECONFIG)")
	}
	k := newToolkit(t)
	api, err := clusterClient()
	if err != nil {
		t.Fatal(err)
	}
	counter := newAPICounter(t, api)
	ctx := context.Background()
	pods := podsPath(api.namespace)
	pod := func(name string, marks map[string]string) map[string]any {
		return map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "labels": marks, "annotations": map[string]string{labels.Services: ""}},
			"spec":     map[string]any{"nodeName": "nowhere", "containers": []map[string]any{{"name": "agent", "image": testImage}}},
		}
	}
	var made []string
	agents := 0
	makePods := func(n int) {
		for ; agents < n; agents++ {
			mine := fmt.Sprintf("list-%s-%d", run, agents)
			foreign := fmt.Sprintf("foreign-%s-%d", run, agents)
			for name, marks := range map[string]map[string]string{
				mine:    {labels.Slug: mine, labels.Agent: "lister", runLabel: run, scriptLabel: k.scope},
				foreign: {runLabel: run},
			} {
				if err := api.do(ctx, http.MethodPost, pods, pod(name, marks), nil); err != nil {
					t.Fatal(err)
				}
				made = append(made, name)
			}
		}
	}
	// No kubelet will confirm that a pod of no node has stopped: gone at
	// once.
	t.Cleanup(func() {
		for _, name := range made {
			api.do(ctx, http.MethodDelete, pods+"/"+url.PathEscape(name), map[string]any{"gracePeriodSeconds": 0}, nil)
		}
	})
	env := []string{"KUBECONFIG=" + counter.kubeconfig(t, api.namespace)}
	for _, n := range []int{0, 10, 50} {
		makePods(n)
		counter.take()
		out, errOut, status := k.run("", env, "bottle-ls", "--all", "--backend", "kubernetes")
		if status != 0 {
			t.Fatalf("bottle-ls at %d agents: %d: %s", n, status, errOut)
		}
		got := counter.take()
		if lines := strings.Count(out, "\n"); lines != n {
			t.Errorf("bottle-ls listed %d agents, want %d:\n%s", lines, n, out)
		}
		if want := []string{"GET " + pods}; !slices.Equal(got, want) {
			t.Errorf("bottle-ls at %d agents made %q, want %q", n, got, want)
		}
	}
}

// kubeCmds are the kubernetes scripts' own commands, beside the cluster's.
var kubeCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"cluster-serve": cmdClusterServe,
	"cluster-reach": cmdClusterReach,
}

// cluster-reach ADDR: connects from the node, this host, to ADDR (a pod's
// IP:PORT) within 5 s.
func cmdClusterReach(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: cluster-reach ADDR")
	}
	c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	if err == nil {
		c.Close()
	}
	if neg != (err != nil) {
		ts.Fatalf("cluster-reach %s: %v", args[0], err)
	}
}

// cluster-serve NAME IMAGE VAR: runs a pod of the test's own, no bottle,
// serving "hello from NAME" on port 8080, and sets $VAR to its address,
// IP:8080, once it runs: a neighbour on the cluster for an agent to try to
// reach. It is deleted when the script ends.
func cmdClusterServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: cluster-serve NAME IMAGE VAR")
	}
	api := mustCluster(ts)
	name, image := args[0], args[1]
	serve := "mkdir -p /tmp/www && echo hello from " + name + " > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": name, "labels": map[string]string{runLabel: run, scriptLabel: ts.Getenv("SCRIPT")}},
		"spec": map[string]any{
			"automountServiceAccountToken":  false,
			"terminationGracePeriodSeconds": 1,
			"containers": []map[string]any{{
				"name": "main", "image": image, "imagePullPolicy": "Never",
				"command": []string{"sh", "-c", serve},
			}},
		},
	}
	ctx := context.Background()
	path := podsPath(api.namespace) + "/" + url.PathEscape(name)
	ts.Check(api.do(ctx, http.MethodPost, podsPath(api.namespace), pod, nil))
	ts.Defer(func() {
		if err := deletePod(api, path); err != nil {
			ts.Logf("cluster-serve: %v", err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p struct {
			Status struct {
				Phase string `json:"phase"`
				PodIP string `json:"podIP"`
			} `json:"status"`
		}
		ts.Check(api.do(ctx, http.MethodGet, path, nil, &p))
		if p.Status.Phase == "Running" && p.Status.PodIP != "" {
			ts.Setenv(args[2], net.JoinHostPort(p.Status.PodIP, "8080"))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("pod %s did not run (phase %q)", name, p.Status.Phase)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterLeftovers deletes and names every pod of this run's on the test
// cluster, as leftovers does the Engine's objects.
func clusterLeftovers(ctx context.Context) []string {
	api, err := clusterClient()
	if err != nil {
		return []string{"(the cluster's pods could not be listed: " + err.Error() + ")"}
	}
	var list struct{ Items []podObject }
	if err := api.do(ctx, http.MethodGet, "/api/v1/pods?labelSelector="+url.QueryEscape(runLabel+"="+run), nil, &list); err != nil {
		return []string{"(the cluster's pods could not be listed: " + err.Error() + ")"}
	}
	var left []string
	for _, p := range list.Items {
		left = append(left, "pod "+p.Metadata.Name)
		deletePod(api, podsPath(api.namespace)+"/"+url.PathEscape(p.Metadata.Name))
	}
	return left
}
