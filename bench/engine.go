package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// engine is the Docker Engine the harness measures, on a unix socket.
type engine struct {
	c       *client.Client
	sock    string // path of the Engine's unix socket
	version string // the Engine's version
	api     string // the Engine's API version
}

func dialEngine(ctx context.Context) (*engine, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("no Docker Engine answers at %s: %w", c.DaemonHost(), err)
	}
	u, err := url.Parse(c.DaemonHost())
	if err != nil || u.Scheme != "unix" {
		return nil, fmt.Errorf("the harness needs an Engine on a unix socket (for curl --unix-socket and the counting proxy), not %s", c.DaemonHost())
	}
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, err
	}
	return &engine{c: c, sock: u.Path, version: v.Version, api: v.APIVersion}, nil
}

// proxy is a unix socket in front of the Engine that records every request
// ("METHOD URI") and can delay each one, so that a binary which only sees
// DOCKER_HOST can be counted, or made slow.
type proxy struct {
	host  string // DOCKER_HOST for the program under test
	delay time.Duration
	srv   *http.Server

	mu       sync.Mutex
	requests []request
}

// request is one request the proxy forwarded: "METHOD URI", when it came
// and how long the Engine took to answer it.
type request struct {
	what string
	at   time.Time
	took time.Duration
}

func newProxy(sock, engineSock string, delay time.Duration) (*proxy, error) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	p := &proxy{host: "unix://" + sock, delay: delay}
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "engine"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", engineSock)
		}},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		forward.ServeHTTP(w, r)
		p.mu.Lock()
		p.requests = append(p.requests, request{r.Method + " " + r.URL.RequestURI(), at, time.Since(at)})
		p.mu.Unlock()
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// take returns the requests answered since the last take, in the order
// they came.
func (p *proxy) take() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := p.requests
	p.requests = nil
	slices.SortStableFunc(reqs, func(a, b request) int { return a.at.Compare(b.at) })
	return reqs
}

func whats(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.what
	}
	return out
}

// timeline shows each request with when it began, relative to the first,
// and how long the Engine took: "POST networks/create @3 ms 110 ms".
func timeline(reqs []request) string {
	if len(reqs) == 0 {
		return ""
	}
	var parts []string
	for _, r := range reqs {
		parts = append(parts, fmt.Sprintf("%s @%s %s", shortReq(r.what), ms(r.at.Sub(reqs[0].at)), ms(r.took)))
	}
	return strings.Join(parts, "; ")
}

func (p *proxy) close() { p.srv.Close() }

// deadSocket leaves a unix socket file that nothing listens on, as a crashed
// daemon does: connecting to it is refused at once.
func deadSocket(path string) error {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrUnix{Name: path})
}

// shape is one container of a bottle as bottle-start made it: its
// configuration, with the network left to whoever makes a copy.
type shape struct {
	suffix string // container name after the slug: "" for the agent, ".NAME" for a sidecar
	alias  string // the sidecar's name on the bottle's network
	cfg    container.Config
	hc     container.HostConfig
}

// captureShapes reads the agent slug and its sidecars back from the Engine.
func (h *harness) captureShapes(ctx context.Context, slug string) ([]shape, error) {
	c := h.engine.c
	info, err := c.ContainerInspect(ctx, slug, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting the agent %s: %w", slug, err)
	}
	a := info.Container
	agentShape := shape{cfg: *a.Config, hc: container.HostConfig{
		CapDrop:        a.HostConfig.CapDrop,
		CapAdd:         a.HostConfig.CapAdd,
		SecurityOpt:    a.HostConfig.SecurityOpt,
		ReadonlyRootfs: a.HostConfig.ReadonlyRootfs,
		Tmpfs:          a.HostConfig.Tmpfs,
		Mounts:         mountsOf(a.HostConfig.Mounts),
	}}
	agentShape.hc.PidsLimit = a.HostConfig.PidsLimit
	shapes := []shape{agentShape}
	for _, name := range h.def.sidecars {
		info, err := c.ContainerInspect(ctx, slug+"."+name, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspecting sidecar %s of %s: %w", name, slug, err)
		}
		shapes = append(shapes, shape{suffix: "." + name, alias: name, cfg: *info.Container.Config})
	}
	return shapes, nil
}

// create makes the container of shape s for the bottle slug on networkID.
func (h *harness) create(ctx context.Context, s shape, slug, networkID string) (string, error) {
	cfg := s.cfg
	cfg.Labels = withValue(s.cfg.Labels, labels.Slug, slug)
	cfg.Hostname = ""
	if s.suffix == "" {
		cfg.Hostname = slug
	}
	hc := s.hc
	hc.NetworkMode = container.NetworkMode(networkID)
	var aliases []string
	if s.alias != "" {
		aliases = []string{s.alias}
	}
	res, err := h.engine.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: slug + s.suffix, Config: &cfg, HostConfig: &hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			networkID: {Aliases: aliases},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("creating %s%s: %w", slug, s.suffix, err)
	}
	return res.ID, nil
}

func (h *harness) start(ctx context.Context, id string) error {
	_, err := h.engine.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return err
}

// concurrentStart makes the bottle slug as a fully concurrent bottle-start
// would, over the Engine API: its internal network, then every container
// created at once, then every container started at once.
func (h *harness) concurrentStart(ctx context.Context, slug string, shapes []shape) error {
	marks := labels.Bottle(agent.Agent{Slug: slug, Name: h.def.name, Services: h.def.sidecars}, map[string]string{benchLabel: h.id})
	net, err := h.engine.c.NetworkCreate(ctx, slug, client.NetworkCreateOptions{Driver: "bridge", Internal: true, Labels: marks})
	if err != nil {
		return fmt.Errorf("creating network %s: %w", slug, err)
	}
	ids := make([]string, len(shapes))
	if err := parallelDo(ctx, len(shapes), len(shapes), func(i int) (err error) {
		ids[i], err = h.create(ctx, shapes[i], slug, net.ID)
		return err
	}); err != nil {
		return err
	}
	return parallelDo(ctx, len(shapes), len(shapes), func(i int) error { return h.start(ctx, ids[i]) })
}

// replicate makes count more agents shaped exactly like the one bottle-start
// made as slug (same images, commands, environment, confinement, labels but
// the slug), straight over the Engine API, on one shared internal network:
// bottle-start gives each bottle a network of its own, and the Engine's
// default address pools hold about 30 networks, far fewer than 200.
func (h *harness) replicate(ctx context.Context, slug string, count int) error {
	shapes, err := h.captureShapes(ctx, slug)
	if err != nil {
		return fmt.Errorf("replicating: %w", err)
	}
	if h.replicaNet == "" {
		net, err := h.engine.c.NetworkCreate(ctx, "bench-"+h.id+"-replicas", client.NetworkCreateOptions{
			Driver: "bridge", Internal: true, Labels: map[string]string{benchLabel: h.id},
		})
		if err != nil {
			return fmt.Errorf("creating the replicas' network: %w", err)
		}
		h.replicaNet = net.ID
	}
	first := h.rep.replicas
	return parallelDo(ctx, h.parallel, count, func(i int) error {
		rslug := fmt.Sprintf("%s-r%04d", h.def.name, first+i)
		for _, s := range shapes {
			id, err := h.create(ctx, s, rslug, h.replicaNet)
			if err != nil {
				return err
			}
			if s.suffix != "" && !h.rep.sidecarsRunning {
				continue
			}
			if err := h.start(ctx, id); err != nil {
				return fmt.Errorf("starting %s%s: %w", rslug, s.suffix, err)
			}
		}
		return nil
	})
}

func mountsOf(ms []mount.Mount) []mount.Mount {
	return append([]mount.Mount(nil), ms...)
}

func withValue(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	out[k] = v
	return out
}

// parallelDo runs f for 0..n-1, at most width at a time, and returns the
// first error; after an error no new call begins.
func parallelDo(ctx context.Context, width, n int, f func(i int) error) error {
	sem := make(chan struct{}, max(width, 1))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range n {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// removeBySlug removes the containers and networks of one agent of this
// run, to the end even when ctx is cancelled.
func (h *harness) removeBySlug(ctx context.Context, slug string) error {
	return h.removeMatching(context.WithoutCancel(ctx), client.Filters{}.Add("label", benchLabel+"="+h.id).Add("label", labels.Slug+"="+slug))
}

// removeMatching removes every container, then every network, the filter
// matches, and says what it could not remove.
func (h *harness) removeMatching(ctx context.Context, filter client.Filters) error {
	c := h.engine.c
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return fmt.Errorf("listing containers to remove: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	parallelDo(context.WithoutCancel(ctx), h.parallel, len(ctrs.Items), func(i int) error {
		_, err := c.ContainerRemove(ctx, ctrs.Items[i].ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("removing container %s: %w", strings.Join(ctrs.Items[i].Names, ","), err))
			mu.Unlock()
		}
		return nil
	})
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing networks to remove: %w", err))...)
	}
	for _, n := range nets.Items {
		if _, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// cleanup removes everything that carries this run's label: containers,
// networks and images. It runs however the harness ends, and tries again
// while something is left: a removal the harness gave up waiting for when
// it was interrupted may still be under way in the Engine.
func (h *harness) cleanup() error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(2 * time.Second)
		}
		if err = h.cleanupOnce(); err == nil || len(h.leftovers()) == 0 {
			return nil
		}
	}
	return err
}

func (h *harness) cleanupOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	filter := client.Filters{}.Add("label", benchLabel+"="+h.id)
	err := h.removeMatching(ctx, filter)
	imgs, lerr := h.engine.c.ImageList(ctx, client.ImageListOptions{Filters: filter})
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	for _, img := range imgs.Items {
		if _, rerr := h.engine.c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true}); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// leftovers names whatever still carries this run's label.
func (h *harness) leftovers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := h.engine.c
	filter := client.Filters{}.Add("label", benchLabel+"="+h.id)
	var left []string
	if ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter}); err != nil {
		left = append(left, "(containers could not be listed: "+err.Error()+")")
	} else {
		for _, x := range ctrs.Items {
			left = append(left, "container "+strings.Join(x.Names, ","))
		}
	}
	if nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter}); err != nil {
		left = append(left, "(networks could not be listed: "+err.Error()+")")
	} else {
		for _, n := range nets.Items {
			left = append(left, "network "+n.Name)
		}
	}
	if imgs, err := c.ImageList(ctx, client.ImageListOptions{Filters: filter}); err != nil {
		left = append(left, "(images could not be listed: "+err.Error()+")")
	} else {
		for _, img := range imgs.Items {
			left = append(left, "image "+img.ID)
		}
	}
	return left
}
