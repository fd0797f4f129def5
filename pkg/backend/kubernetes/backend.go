// Package kubernetes runs agents on a Kubernetes cluster: a bottle is one
// Pod, named by the slug, holding the agent's container and its sidecars'.
// Containers in a pod share one network namespace, so no network of the
// bottle's own can keep the agent behind its proxy: an init container of
// bottle's own (bottle-netlock) locks the pod's outbound traffic to
// loopback and the egress proxy's user before any of them starts.
//
// It talks to the API server through client-go's REST client with a scheme
// of the core group alone, made on first use, so that the binaries, which
// link every backend, pay nothing for Kubernetes at start-up.
package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// The environment the command layer reads the Config from.
const (
	EnvContext      = "BOTTLE_KUBE_CONTEXT"   // the kubeconfig context, instead of its current one
	EnvNamespace    = "BOTTLE_KUBE_NAMESPACE" // the namespace, instead of the context's
	EnvNetlockImage = "BOTTLE_NETLOCK_IMAGE"  // the image of the init container that locks the pod's network
)

// DefaultNetlockImage is the image of bottle-netlock that make images makes.
const DefaultNetlockImage = "bottle-netlock:latest"

// probeTimeout bounds the usability check and a listing, as the contract
// asks of every backend.
const probeTimeout = 2 * time.Second

// Config is how the backend reaches the cluster, as kubectl would.
type Config struct {
	// Kubeconfig is the kubeconfig files, in precedence order: KUBECONFIG's
	// list, else ~/.kube/config.
	Kubeconfig []string
	Context    string // "" for the kubeconfig's current context
	Namespace  string // "" for the context's namespace, else "default"
	// NetlockImage is the image of bottle-netlock, the pod's first init
	// container.
	NetlockImage string
}

// ConfigFromEnv reads the Config from the environment, as kubectl does:
// KUBECONFIG (a list joined by the OS's list separator), else
// $HOME/.kube/config; BOTTLE_KUBE_CONTEXT, BOTTLE_KUBE_NAMESPACE and
// BOTTLE_NETLOCK_IMAGE.
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := Config{Context: getenv(EnvContext), Namespace: getenv(EnvNamespace), NetlockImage: getenv(EnvNetlockImage)}
	if list := getenv("KUBECONFIG"); list != "" {
		for _, p := range filepath.SplitList(list) {
			if p != "" {
				cfg.Kubeconfig = append(cfg.Kubeconfig, p)
			}
		}
	} else if home := getenv("HOME"); filepath.IsAbs(home) {
		cfg.Kubeconfig = []string{filepath.Join(home, ".kube", "config")}
	}
	if cfg.NetlockImage == "" {
		cfg.NetlockImage = DefaultNetlockImage
	}
	return cfg
}

// Backend is the kubernetes backend.
type Backend struct {
	cfg Config

	once sync.Once
	conn *conn
	err  error
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Joiner  = (*Backend)(nil)
	_ backend.Logger  = (*Backend)(nil)
)

// New returns the kubernetes backend. It reads nothing yet: the kubeconfig
// is read on first use.
func New(cfg Config) *Backend { return &Backend{cfg: cfg} }

func (b *Backend) Name() string { return "kubernetes" }

// conn is a connection to the cluster: the REST client of the core group
// and what the subresources' streams need.
type conn struct {
	rest      *rest.RESTClient
	config    *rest.Config
	namespace string
	params    runtime.ParameterCodec
}

// connect reads the kubeconfig once. No kubeconfig at all is a backend that
// is not there.
func (b *Backend) connect() (*conn, error) {
	b.once.Do(func() { b.conn, b.err = b.dial() })
	return b.conn, b.err
}

func (b *Backend) dial() (*conn, error) {
	// client-go reports what it handles itself (a stream's input ending
	// when the user detaches, say) through klog, onto stderr: a binary's
	// stderr is its own one line per problem.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	var found []string
	for _, p := range b.cfg.Kubeconfig {
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	switch {
	case len(b.cfg.Kubeconfig) == 0:
		return nil, fmt.Errorf("no kubeconfig: neither KUBECONFIG nor HOME is set: %w", backend.ErrUnusable)
	case len(found) == 0:
		return nil, fmt.Errorf("no kubeconfig (%s): %w", strings.Join(b.cfg.Kubeconfig, ", "), backend.ErrUnusable)
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{Precedence: found},
		&clientcmd.ConfigOverrides{CurrentContext: b.cfg.Context})
	config, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig: %v: %w", err, backend.ErrUnusable)
	}
	namespace := b.cfg.Namespace
	if namespace == "" {
		if namespace, _, err = loader.Namespace(); err != nil {
			return nil, fmt.Errorf("the kubeconfig's namespace: %v: %w", err, backend.ErrUnusable)
		}
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme)
	config = rest.CopyConfig(config)
	config.APIPath = "/api"
	config.GroupVersion = &corev1.SchemeGroupVersion
	config.NegotiatedSerializer = codecs.WithoutConversion()
	config.UserAgent = "bottle"
	client, err := rest.RESTClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig: %v: %w", err, backend.ErrUnusable)
	}
	return &conn{rest: client, config: config, namespace: namespace, params: runtime.NewParameterCodec(scheme)}, nil
}

// answer classifies a request's failure: a cluster that does not answer
// in time, one that is not there (nothing listening, no such host), or
// anything else, as it is.
func answer(ctx context.Context, what string, err error) error {
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%s: %w within %s", what, backend.ErrNoAnswer, probeTimeout)
	case errors.As(err, &urlErr) && !errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %v: %w", what, urlErr.Err, backend.ErrUnusable)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Usable says whether agents can run on the cluster here: the API server
// answers within 2 s, and the user may create pods in the namespace.
func (b *Backend) Usable(ctx context.Context) error {
	c, err := b.connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	allowed, reason, err := c.mayCreatePods(ctx)
	if err != nil {
		return answer(ctx, "asking the API server at "+c.config.Host, err)
	}
	if !allowed {
		return fmt.Errorf("you may not create pods in the namespace %s of %s%s: %w", c.namespace, c.config.Host, reason, backend.ErrUnusable)
	}
	return nil
}

// mayCreatePods asks the API server, with a SelfSubjectAccessReview,
// whether the user may create pods in the namespace.
func (c *conn) mayCreatePods(ctx context.Context) (bool, string, error) {
	body := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":%q,"verb":"create","resource":"pods"}}}`, c.namespace)
	var review struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	res := c.rest.Post().AbsPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").
		SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(ctx)
	raw, err := res.Raw()
	if err != nil {
		return false, "", err
	}
	if err := json.Unmarshal(raw, &review); err != nil {
		return false, "", err
	}
	reason := ""
	if review.Status.Reason != "" {
		reason = " (" + review.Status.Reason + ")"
	}
	return review.Status.Allowed, reason, nil
}
