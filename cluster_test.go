package bottle_test

// The tests' side of the single-node Kubernetes that `make test` brings up
// with cluster/up.sh: where it is, whether it answers, its images, and the
// scripts' commands that look at its pods the way a user's kubectl would.
// Plain REST over net/http, so that the tests need no Kubernetes client
// library of their own and check the backend against the API itself.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"
)

// clusterCmds are the scripts' commands for the kubernetes backend's cluster.
var clusterCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"cluster-pods": cmdClusterPods,
	"cluster-run":  cmdClusterRun,
}

// clusterConfig returns what `make test` exports for the cluster it
// brought up: the admin kubeconfig, and the socket of the node's
// containerd, through which the tests give the node their images (it
// pulls nothing). ok is false when either is missing.
func clusterConfig() (kubeconfig, containerdSock string, ok bool) {
	kubeconfig, containerdSock = os.Getenv("BOTTLE_TEST_KUBECONFIG"), os.Getenv("BOTTLE_TEST_CONTAINERD")
	return kubeconfig, containerdSock, kubeconfig != "" && containerdSock != ""
}

// kubernetesAvailable answers [kubernetes]: whether the test cluster is
// there and its API server ready, asked once per run with a 5 s bound, so
// that a cluster that hangs costs the run 5 s and not each script. Under
// CI=true a cluster that is missing or does not answer fails the script
// instead of skipping it, as dockerCondition does for the Engine.
func kubernetesAvailable() (bool, error) {
	err := clusterReady()
	if err != nil && os.Getenv("CI") == "true" {
		return false, fmt.Errorf("CI=true and the test cluster is not there: %w", err)
	}
	return err == nil, nil
}

var clusterReady = sync.OnceValue(func() error {
	if _, _, ok := clusterConfig(); !ok {
		return errors.New("BOTTLE_TEST_KUBECONFIG and BOTTLE_TEST_CONTAINERD are not both set (make test sets them)")
	}
	api, err := clusterClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := api.do(ctx, http.MethodGet, "/readyz", nil, nil); err != nil {
		return fmt.Errorf("the API server at %s is not ready: %w", api.server, err)
	}
	return nil
})

// importClusterImages gives the node's containerd the Engine's images refs,
// in one `docker save` archive piped into `ctr images import`, in the
// namespace the kubelet's CRI uses. A reference keeps its normalized name
// (busybox:latest is docker.io/library/busybox:latest), which is also how
// the kubelet looks a pod's image up.
func importClusterImages(ctx context.Context, engine *client.Client, refs ...string) error {
	_, sock, ok := clusterConfig()
	if !ok {
		return errors.New("no test cluster to import images into")
	}
	archive, err := engine.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("saving %s: %w", strings.Join(refs, ", "), err)
	}
	defer archive.Close()
	var stderr bytes.Buffer
	ctr := exec.CommandContext(ctx, "ctr", "-a", sock, "-n", "k8s.io", "images", "import", "-")
	ctr.Stdin, ctr.Stderr = archive, &stderr
	if err := ctr.Run(); err != nil {
		return fmt.Errorf("importing %s into the cluster: %v: %s", strings.Join(refs, ", "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// removeClusterImages removes the images refs from the node, as they were
// named when imported.
func removeClusterImages(ctx context.Context, refs ...string) error {
	_, sock, ok := clusterConfig()
	if !ok {
		return errors.New("no test cluster to remove images from")
	}
	args := []string{"-a", sock, "-n", "k8s.io", "images", "rm"}
	for _, ref := range refs {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return fmt.Errorf("image %q: %w", ref, err)
		}
		args = append(args, reference.TagNameOnly(named).String())
	}
	if out, err := exec.CommandContext(ctx, "ctr", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("removing %s from the cluster: %v: %s", strings.Join(refs, ", "), err, bytes.TrimSpace(out))
	}
	return nil
}

// kubeAPI is a client of the test cluster's API server, authenticated by
// the admin kubeconfig's client certificate.
type kubeAPI struct {
	server    string
	namespace string // the current context's, "default" when it names none
	http      *http.Client
}

// The kubeconfig's fields that a client-certificate user of one cluster
// needs. cluster/pki.sh writes its kubeconfigs in JSON (which kubectl
// reads as YAML), so encoding/json reads them; []byte fields are base64.
type kubeconfigFile struct {
	CurrentContext string `json:"current-context"`
	Contexts       []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster   string `json:"cluster"`
			User      string `json:"user"`
			Namespace string `json:"namespace"`
		} `json:"context"`
	} `json:"contexts"`
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server string `json:"server"`
			CAData []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			CertData []byte `json:"client-certificate-data"`
			KeyData  []byte `json:"client-key-data"`
		} `json:"user"`
	} `json:"users"`
}

var clusterClient = sync.OnceValues(func() (*kubeAPI, error) {
	path, _, _ := clusterConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfigFile
	if err := json.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("%s: a JSON kubeconfig, as cluster/pki.sh writes, is needed: %w", path, err)
	}
	api := &kubeAPI{namespace: "default"}
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName = c.Context.Cluster, c.Context.User
			if c.Context.Namespace != "" {
				api.namespace = c.Context.Namespace
			}
		}
	}
	roots := x509.NewCertPool()
	for _, c := range kc.Clusters {
		if c.Name == clusterName {
			api.server = strings.TrimSuffix(c.Cluster.Server, "/")
			roots.AppendCertsFromPEM(c.Cluster.CAData)
		}
	}
	var certs []tls.Certificate
	for _, u := range kc.Users {
		if u.Name == userName {
			cert, err := tls.X509KeyPair(u.User.CertData, u.User.KeyData)
			if err != nil {
				return nil, fmt.Errorf("%s: user %s: %w", path, userName, err)
			}
			certs = append(certs, cert)
		}
	}
	if api.server == "" || len(certs) == 0 {
		return nil, fmt.Errorf("%s: its current context %q names no cluster with a server, or no user with a client certificate", path, kc.CurrentContext)
	}
	api.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs},
	}}
	return api, nil
})

// do sends in (when not nil) as JSON and decodes the answer into out (when
// not nil); an answer other than 2xx is an error with the API's message.
func (a *kubeAPI) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var status struct{ Message string }
		if json.Unmarshal(b, &status) != nil || status.Message == "" {
			status.Message = strings.TrimSpace(string(b))
		}
		return &apiError{code: res.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, path, res.Status, status.Message)}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func isNotFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.code == http.StatusNotFound
}

// The parts of a pod the commands read.
type podObject struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase             string `json:"phase"`
		ContainerStatuses []struct {
			State struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func mustCluster(ts *testscript.TestScript) *kubeAPI {
	if _, _, ok := clusterConfig(); !ok {
		ts.Fatalf("no test cluster: BOTTLE_TEST_KUBECONFIG and BOTTLE_TEST_CONTAINERD are not set")
	}
	api, err := clusterClient()
	ts.Check(err)
	return api
}

func podsPath(namespace string) string {
	return "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
}

// cluster-pods NAMESPACE: prints every pod in NAMESPACE, one a line and
// sorted: its name, "terminating" when it is being deleted, and all its
// labels, sorted, as key=value.
func cmdClusterPods(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cluster-pods NAMESPACE")
	}
	var list struct{ Items []podObject }
	ts.Check(mustCluster(ts).do(context.Background(), http.MethodGet, podsPath(args[0]), nil, &list))
	var lines []string
	for _, p := range list.Items {
		fields := []string{p.Metadata.Name}
		if p.Metadata.DeletionTimestamp != nil {
			fields = append(fields, "terminating")
		}
		var kv []string
		for k, v := range p.Metadata.Labels {
			kv = append(kv, k+"="+v)
		}
		slices.Sort(kv)
		lines = append(lines, strings.Join(append(fields, kv...), " "))
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// cluster-run NAME IMAGE [KEY=VALUE...]: runs a pod the way a user would
// without the toolkit (`kubectl run`): one container of IMAGE, already on
// the node, sleeping, in the namespace the kubernetes backend uses
// (BOTTLE_KUBE_NAMESPACE, else the kubeconfig's), with the run's and the
// script's labels and any given, but no dev.bottle.* ones. It waits until
// the pod runs, and deletes it when the script ends. A VALUE in double
// quotes is a Go string literal.
func cmdClusterRun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: cluster-run NAME IMAGE [KEY=VALUE...]")
	}
	api := mustCluster(ts)
	name, image := args[0], args[1]
	namespace := ts.Getenv("BOTTLE_KUBE_NAMESPACE")
	if namespace == "" {
		namespace = api.namespace
	}
	marks := labelArgs(ts, args[2:], runLabel, run, scriptLabel, ts.Getenv("SCRIPT"), "run", name)
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": name, "labels": marks},
		"spec": map[string]any{
			"automountServiceAccountToken":  false,
			"terminationGracePeriodSeconds": 1,
			"containers": []map[string]any{{
				"name":            "main",
				"image":           image,
				"imagePullPolicy": "Never",
				"command":         []string{"sleep", "infinity"},
			}},
		},
	}
	ctx := context.Background()
	ts.Check(api.do(ctx, http.MethodPost, podsPath(namespace), pod, nil))
	path := podsPath(namespace) + "/" + url.PathEscape(name)
	ts.Defer(func() {
		if err := deletePod(api, path); err != nil {
			ts.Logf("cluster-run: %v", err)
		}
	})
	created := time.Now()
	for {
		var p podObject
		ts.Check(api.do(ctx, http.MethodGet, path, nil, &p))
		if p.Status.Phase == "Running" {
			return
		}
		for _, c := range p.Status.ContainerStatuses {
			// The image is not on the node, and after a few seconds (the
			// node's containerd takes in an import asynchronously) it will
			// not be: waiting the kubelet's back-off out cannot help.
			if w := c.State.Waiting; w != nil && w.Reason == "ErrImageNeverPull" && time.Since(created) > 5*time.Second {
				ts.Fatalf("pod %s: %s: %s", name, w.Reason, w.Message)
			}
		}
		if p.Status.Phase == "Failed" || time.Since(created) > time.Minute {
			ts.Fatalf("pod %s did not run (phase %q)", name, p.Status.Phase)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deletePod deletes the pod at path and waits, at most 30 s, until the
// kubelet has stopped it and it is gone.
func deletePod(api *kubeAPI, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := api.do(ctx, http.MethodDelete, path, map[string]any{"gracePeriodSeconds": 1}, nil)
	for err == nil {
		time.Sleep(100 * time.Millisecond)
		err = api.do(ctx, http.MethodGet, path, nil, nil)
	}
	if isNotFound(err) {
		return nil
	}
	return fmt.Errorf("deleting %s: %w", path, err)
}
