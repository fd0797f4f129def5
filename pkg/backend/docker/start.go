package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
	"github.com/bottle-dev/bottle/pkg/labels"
	"github.com/bottle-dev/bottle/pkg/progress"
)

// cleanupTimeout bounds the removal of a half-made agent, which runs even
// when the start itself was cancelled.
const cleanupTimeout = 30 * time.Second

// Start has every image of the bottle on the Engine first, pulling as
// def.Pull says (pull.go). Then it creates the bottle's internal network,
// its volume of bottle-tether, the agent container (whose name claims the
// slug), one container per sidecar, for an egress sidecar a second network that
// leads out, and for published ports a forwarder on a network of its own
// (ports.go); then it starts the sidecars and the agent, and reports the
// agent as the Engine then sees it. Whatever fails, what this call created
// is removed again.
//
// The agent's program is the container's main process, on a terminal with
// its input open, so that it runs whether or not anyone is joined to it,
// under the Engine's init (docker-init), which reaps what it leaves and
// passes signals on.
func (b *Backend) Start(ctx context.Context, slug string, def *agentdef.Definition, user map[string]string) (_ agent.Agent, err error) {
	if err := agent.CheckSlug(slug); err != nil {
		return agent.Agent{}, err
	}
	if err := labels.CheckUser(user); err != nil {
		return agent.Agent{}, err
	}
	c, err := b.ping(ctx)
	if err != nil {
		return agent.Agent{}, err
	}
	services := def.SidecarNames()
	hasEgress := slices.Contains(services, EgressSidecar)
	if len(def.Egress.Allow) > 0 && !hasEgress {
		return agent.Agent{}, fmt.Errorf("egress.allow needs a sidecar named %q to enforce it (the agent's network has no other way out)", EgressSidecar)
	}
	if len(def.Secrets) > 0 && !hasEgress {
		return agent.Agent{}, fmt.Errorf("secrets need a sidecar named %q: it is what puts them into the agent's requests", EgressSidecar)
	}
	// Refused before anything is made: an Engine that would leave the
	// host reachable, a workspace that holds the Engine itself.
	isolation, err := hostIsolation(ctx, c)
	if err != nil {
		return agent.Agent{}, err
	}
	if err := checkWorkspace(ctx, c, def); err != nil {
		return agent.Agent{}, err
	}
	// Every image is on the Engine before anything is made (pull.go).
	if err := b.images(ctx, c, def); err != nil {
		return agent.Agent{}, err
	}
	deny := hostAddresses(c.DaemonHost())
	a := agent.Agent{Backend: b.Name(), Slug: slug, Name: def.Name, Services: services, Branch: def.Branch}
	common := labels.Bottle(a, user)
	made := &created{c: c, pool: b.cfg.Pool}
	defer func() {
		if err != nil {
			err = errors.Join(err, made.remove(context.WithoutCancel(ctx)))
		}
	}()

	// The bottle's own network has no route out: the agent and its
	// sidecars reach each other, and nothing else.
	name := networkName(slug, nonce())
	progress.Say(ctx, "creating the network of %s", slug)
	inside, err := made.network(ctx, name, true, isolation, with(common, labels.Network, labels.NetworkInternal))
	if err != nil {
		return agent.Agent{}, err
	}
	outside := ""
	if hasEgress {
		if outside, err = made.network(ctx, name+"."+EgressSidecar, false, nil, with(common, labels.Network, labels.NetworkEgress)); err != nil {
			return agent.Agent{}, err
		}
	}

	progress.Say(ctx, "creating the containers of %s", slug)
	tether, err := made.tetherVolume(ctx, name+"."+tetherVolumeSuffix, b.cfg.TetherImage, common)
	if err != nil {
		return agent.Agent{}, err
	}
	volumes := []mount.Mount{{Type: mount.TypeVolume, Source: tether, Target: tetherDir, ReadOnly: true}}
	// The proxy's own directory; with secrets the agent holds
	// placeholders, the egress sidecar the values, and that directory the
	// bottle's authority.
	secrets := placeholders(def.Secrets)
	var proxyVolume string
	if hasEgress {
		if proxyVolume, err = made.volume(ctx, name+"."+proxyVolumeSuffix, common); err != nil {
			return agent.Agent{}, err
		}
	}
	if len(secrets) > 0 {
		volumes = append(volumes, mount.Mount{Type: mount.TypeVolume, Source: proxyVolume, Target: agentCADir, ReadOnly: true})
	}
	env := def.Env
	if hasEgress {
		env = withProxy(env, services)
	}
	if len(secrets) > 0 {
		env = withSecrets(env, secrets)
	}
	agentID, err := made.container(ctx, "agent", slug, inside, nil, &container.Config{
		Hostname:   slug,
		Image:      def.Image,
		Cmd:        def.Command,
		Env:        envList(env),
		WorkingDir: def.Workdir,
		User:       def.User,
		Tty:        true,
		OpenStdin:  true,
		Labels:     with(common, labels.Role, labels.RoleAgent),
	}, agentHostConfig(def, volumes))
	if err != nil {
		return agent.Agent{}, err
	}

	// The published ports: a forwarder of bottle's own, never a way into
	// the agent's own network from anywhere but the host's bindings.
	forwarderID := ""
	if len(def.Ports) > 0 {
		if forwarderID, err = made.forwarder(ctx, slug, name, b.cfg.TetherImage, inside, def.Ports, common); err != nil {
			return agent.Agent{}, err
		}
	}

	sidecarIDs := make([]string, len(def.Sidecars))
	err = each(len(def.Sidecars), func(i int) (err error) {
		s := def.Sidecars[i]
		env := s.Env
		if s.Name == EgressSidecar {
			env = with(env, rules.EnvAllow, strings.Join(def.Egress.Allow, ","), rules.EnvDeny, strings.Join(deny, ","),
				rules.EnvStateDir, egressStateDir)
			if len(secrets) > 0 {
				env = with(env, rules.EnvSecrets, rules.EncodeSecrets(secrets))
			}
		}
		what := "sidecar " + s.Name
		cfg := &container.Config{
			Image:  s.Image,
			Cmd:    s.Command,
			Env:    envList(env),
			Labels: with(common, labels.Role, labels.RoleSidecar, labels.Sidecar, s.Name),
		}
		hc := confined(s.CapAdd, s.PidsLimit, s.Limits)
		if s.Name == EgressSidecar {
			// The way out is the one sidecar with a route to the world:
			// whatever its image says, it runs as nobody on a root it
			// cannot change.
			cfg.User, hc.ReadonlyRootfs = egressUser, true
			hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: proxyVolume, Target: egressStateDir}}
		}
		sidecarIDs[i], err = made.container(ctx, what, slug+"."+s.Name, inside, []string{s.Name}, cfg, hc)
		if err == nil && s.Name == EgressSidecar {
			_, err = c.NetworkConnect(ctx, outside, client.NetworkConnectOptions{Container: sidecarIDs[i]})
			if err != nil {
				err = fmt.Errorf("%s: connecting it to the outbound network: %w", what, err)
			}
		}
		return err
	})
	if err != nil {
		return agent.Agent{}, err
	}
	// Sidecars first, so that the agent finds its services up when it starts.
	if len(services) > 0 {
		progress.Say(ctx, "starting the sidecars of %s: %s", slug, strings.Join(services, ", "))
	}
	err = each(len(sidecarIDs), func(i int) error {
		return startContainer(ctx, c, "sidecar "+def.Sidecars[i].Name, sidecarIDs[i])
	})
	if err != nil {
		return agent.Agent{}, err
	}
	if len(secrets) > 0 {
		progress.Say(ctx, "giving %s its certificate authority", slug)
		if err := installBundle(ctx, c, sidecarIDs[slices.Index(services, EgressSidecar)], agentID); err != nil {
			return agent.Agent{}, err
		}
	}
	if forwarderID != "" {
		progress.Say(ctx, "publishing the ports of %s", slug)
		if err := startForwarder(ctx, c, forwarderID, def.Ports); err != nil {
			return agent.Agent{}, err
		}
	}
	progress.Say(ctx, "starting the agent %s", slug)
	if err := startContainer(ctx, c, "agent", agentID); err != nil {
		return agent.Agent{}, err
	}
	info, err := c.ContainerInspect(ctx, agentID, client.ContainerInspectOptions{})
	if err != nil {
		return agent.Agent{}, fmt.Errorf("agent: inspecting container: %w", err)
	}
	state := info.Container.State
	if state == nil {
		return agent.Agent{}, errors.New("agent: the Engine reports no state of its container")
	}
	if a.StartedAt, err = time.Parse(time.RFC3339Nano, state.StartedAt); err != nil {
		return agent.Agent{}, fmt.Errorf("agent: the Engine's start time: %w", err)
	}
	a.StartedAt, a.State = a.StartedAt.UTC(), string(state.Status)
	if forwarderID != "" {
		if a.Ports, err = forwarderPorts(ctx, c, forwarderID); err != nil {
			return agent.Agent{}, err
		}
	}
	return a, nil
}

// EgressSidecar is the sidecar that is the bottle's way out: the one
// attached to the outbound network, handed the allowlist, and set as the
// agent's HTTP and HTTPS proxy.
const EgressSidecar = "egress"

// withProxy points the agent's HTTP clients at the egress sidecar, except
// for the bottle's own services, reached directly on its network.
func withProxy(env map[string]string, services []string) map[string]string {
	egressProxy := "http://" + net.JoinHostPort(EgressSidecar, strconv.Itoa(rules.Port))
	noProxy := strings.Join(append([]string{"localhost", "127.0.0.1"}, services...), ",")
	return with(env,
		"HTTP_PROXY", egressProxy, "http_proxy", egressProxy,
		"HTTPS_PROXY", egressProxy, "https_proxy", egressProxy,
		"NO_PROXY", noProxy, "no_proxy", noProxy)
}

// The log the Engine keeps of each container's output: the last 48 to 64
// MiB of it, which bottle-logs reads across the files.
const (
	logFileSize = "16m"
	logFiles    = 4
)

// egressUser is who the egress sidecar runs as: nobody, whose files it
// cannot have.
const egressUser = "65534:65534"

// confined is the host configuration every container of a bottle starts
// from: no capabilities but those given back, no privilege gain through
// set-uid files, and bounds on processes, memory (swap included), CPU and
// the log the Engine keeps of its output (the Engine's default keeps all
// of it, so a program that prints without end would fill the host's disk).
func confined(capAdd []string, pidsLimit int, limits agentdef.Limits) *container.HostConfig {
	pids := int64(pidsLimit)
	hc := &container.HostConfig{
		CapDrop:     []string{"ALL"},
		CapAdd:      capAdd,
		SecurityOpt: []string{"no-new-privileges"},
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": logFileSize, "max-file": strconv.Itoa(logFiles)}},
	}
	hc.PidsLimit = &pids
	hc.Memory = limits.Memory
	hc.MemorySwap = limits.Memory
	hc.NanoCPUs = int64(limits.CPUs * 1e9)
	return hc
}

// agentHostConfig confines the agent: as every container of the bottle, with
// no host paths but its mounts, and optionally a read-only root. Its
// program runs under the Engine's init, and it has the bottle's own
// volumes: bottle-tether's, and the authority's when it has secrets.
func agentHostConfig(def *agentdef.Definition, volumes []mount.Mount) *container.HostConfig {
	hc := confined(def.CapAdd, def.PidsLimit, def.Limits)
	hc.ReadonlyRootfs = def.ReadOnly
	hc.Init = new(true)
	hc.Mounts = append(mounts(def), volumes...)
	if def.ReadOnly {
		hc.Tmpfs = map[string]string{"/tmp": "rw,nosuid,nodev"}
	}
	return hc
}

// created remembers what one Start made, so that a failed start removes
// exactly that and never another agent's objects of the same name.
type created struct {
	c          *client.Client
	pool       string // BOTTLE_DOCKER_POOL's value
	mu         sync.Mutex
	containers []string
	networks   []string
	volumes    []string
}

// tetherDir is where an agent container has bottle-tether.
const tetherDir = agentdef.ToolDir

// tetherVolumeSuffix ends the name of a bottle's volume of bottle-tether,
// after its network's name.
const tetherVolumeSuffix = "tether"

// tetherVolume creates the volume name and fills it with what the image
// has at tetherDir, bottle-tether: the Engine copies an image's content
// into an empty volume when a container of the image is created with the
// volume there, so a container is created, never started, and removed.
// That works whatever the agent's image, its root file system read-only
// or not, and on an Engine that is not on this host.
func (m *created) tetherVolume(ctx context.Context, name, image string, marks map[string]string) (string, error) {
	vol, err := m.volume(ctx, name, marks)
	if err != nil {
		return "", err
	}
	res, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Labels: marks},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: tetherDir}},
		},
	})
	switch {
	case cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("bottle-tether: image %q not found on the Docker Engine (bottle never pulls: build it with make images, or name another with %s)", image, EnvTetherImage)
	case err != nil:
		return "", fmt.Errorf("bottle-tether: filling volume %s: %w", name, err)
	}
	if err := removeContainer(ctx, m.c, res.ID); err != nil {
		m.containers = append(m.containers, res.ID)
		return "", fmt.Errorf("bottle-tether: %w", err)
	}
	return vol, nil
}

// volume creates the volume name with the bottle's marks.
func (m *created) volume(ctx context.Context, name string, marks map[string]string) (string, error) {
	vol, err := m.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: marks})
	if err != nil {
		return "", fmt.Errorf("creating volume %s: %w", name, err)
	}
	m.volumes = append(m.volumes, vol.Volume.Name)
	return vol.Volume.Name, nil
}

func (m *created) network(ctx context.Context, name string, internal bool, options, marks map[string]string) (string, error) {
	res, err := createNetwork(ctx, m.c, m.pool, name, client.NetworkCreateOptions{Driver: "bridge", Internal: internal, EnableIPv6: new(false), Options: options, Labels: marks})
	if err != nil {
		return "", fmt.Errorf("creating network %s: %w", name, err)
	}
	m.networks = append(m.networks, res.ID)
	return res.ID, nil
}

// nonceLen is the length of a network name's nonce, in hex digits.
const nonceLen = 6

func nonce() string {
	b := make([]byte, nonceLen/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *created) container(ctx context.Context, what, name, networkID string, aliases []string, cfg *container.Config, hc *container.HostConfig) (string, error) {
	hc.NetworkMode = container.NetworkMode(networkID)
	res, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			networkID: {Aliases: aliases},
		}},
	})
	switch {
	case cerrdefs.IsNotFound(err):
		// It was there a moment ago, when the images were pulled.
		return "", fmt.Errorf("%s: image %q is no longer on the Docker Engine", what, cfg.Image)
	case cerrdefs.IsConflict(err):
		return "", fmt.Errorf("%s: the name %s is %w on the Docker Engine", what, name, backend.ErrSlugTaken)
	case err != nil:
		return "", fmt.Errorf("%s: creating container: %w", what, err)
	}
	m.mu.Lock()
	m.containers = append(m.containers, res.ID)
	m.mu.Unlock()
	return res.ID, nil
}

func (m *created) remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	if err := remove(ctx, m.c, m.containers, m.networks, m.volumes); err != nil {
		return fmt.Errorf("cleaning up after the failed start: %w", err)
	}
	return nil
}

func startContainer(ctx context.Context, c *client.Client, what, id string) error {
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("%s: starting container: %w", what, err)
	}
	return nil
}

func mounts(def *agentdef.Definition) []mount.Mount {
	var list []mount.Mount
	for _, m := range def.Mounts() {
		list = append(list, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return list
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// each runs f for 0..n-1 at once and returns the first error in index order.
func each(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
