package smolmachines

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/labels"
	"github.com/bottle-dev/bottle/pkg/progress"
)

// cleanupTimeout bounds the removal of a half-made machine, which runs
// even when the start itself was cancelled.
const cleanupTimeout = 30 * time.Second

// EnvSidecarDaemons tells the bundle image which sidecar daemons to start.
const EnvSidecarDaemons = "BOTTLE_SIDECAR_DAEMONS"

// Start creates the machine, named by the slug, then starts it, and
// reports it as `machine status` then shows it. It asks `smolvm --version`
// first, so that a smolvm that is not there, hangs or is too old fails it
// before anything is made. If the start fails or is cancelled, the machine
// is stopped and deleted again.
func (b *Backend) Start(ctx context.Context, slug string, def *agentdef.Definition, user map[string]string) (agent.Agent, error) {
	if err := agent.CheckSlug(slug); err != nil {
		return agent.Agent{}, err
	}
	if err := labels.CheckUser(user); err != nil {
		return agent.Agent{}, err
	}
	if err := b.Usable(ctx); err != nil {
		return agent.Agent{}, err
	}
	a := agent.Agent{Backend: b.Name(), Slug: slug, Name: def.Name, Services: def.SidecarNames(), Branch: def.Branch}
	args, err := createArgs(a, def, user)
	if err != nil {
		return agent.Agent{}, err
	}
	progress.Say(ctx, "creating the machine %s", slug)
	if _, err := b.smolvm(ctx, hardening, args...); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return agent.Agent{}, fmt.Errorf("the machine name %s is %w: %w", slug, backend.ErrSlugTaken, err)
		}
		// smolvm refuses before it makes anything, but a create that was
		// cancelled may have made the machine.
		if ctx.Err() != nil {
			err = b.cleanUp(ctx, slug, err)
		}
		return agent.Agent{}, err
	}
	progress.Say(ctx, "starting the machine %s", slug)
	_, err = b.smolvm(ctx, hardening, "machine", "start", "--name", slug)
	var m machine
	if err == nil {
		m, _, err = b.status(ctx, slug)
	}
	if err != nil {
		return agent.Agent{}, b.cleanUp(ctx, slug, err)
	}
	// smolvm keeps no start time: the machine's is when it was created,
	// as every listing says too.
	a.StartedAt, a.State = m.CreatedAt, m.State
	_, a.Ports, _ = portArgs(def) // as createArgs checked them
	return a, nil
}

// cleanUp removes the machine of a start that failed with err, even when
// ctx is done, and returns err with whatever went wrong in removing it.
func (b *Backend) cleanUp(ctx context.Context, name string, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if rerr := b.remove(ctx, name); rerr != nil {
		return errors.Join(err, fmt.Errorf("cleaning up after the failed start: %w", rerr))
	}
	return err
}

// hardening is put in the environment of the smolvm processes that create
// and start a machine: smolvm reads these from its caller, and a machine
// started from the CLI has none of them unless they are exported.
//   - SMOLVM_EGRESS_FLOOR=strict: the guest reaches no private, loopback or
//     CGNAT address, even one an allowed name resolves to, as the docker
//     egress proxy refuses them. An explicit floor wins over a
//     SMOLVM_EGRESS_ALLOW_PRIVATE=1 the caller may have set.
//   - SMOLVM_SECCOMP=enforce: the VMM runs under a syscall allowlist, and
//     refuses to boot if it cannot install one.
//   - SMOLVM_LANDLOCK=enforce: the VMM sees only system directories, its
//     own data and the machine's mounts, so an escape from the guest into
//     the VMM does not reach the rest of the host's files.
//
// The process that boots the VM is the one that start spawns; create boots
// nothing, and gets the same environment so that no smolvm process that
// decides about this machine runs without it.
var hardening = []string{"SMOLVM_EGRESS_FLOOR=strict", "SMOLVM_SECCOMP=enforce", "SMOLVM_LANDLOCK=enforce"}

// maxVCPUs is the most vCPUs the hypervisor runs; smolvm caps a larger
// --cpus to it with a warning.
const maxVCPUs = 16

// createArgs builds `smolvm machine create`. Every value is its own argv
// element; none can be read as a flag, because slugs, label keys, env keys,
// image references and absolute paths never start with "-" (agentdef and
// the slug check guarantee it). The definition's command, the agent's
// program, is the machine's workload: last, after "--", where smolvm
// takes every word as the workload's (a machine option there would be
// the workload's, and configure nothing), and which smolvm launches at
// every start of the machine; without one, the image's own ENTRYPOINT and
// CMD run.
func createArgs(a agent.Agent, def *agentdef.Definition, user map[string]string) ([]string, error) {
	image, err := imageOf(def)
	if err != nil {
		return nil, err
	}
	args := []string{"machine", "create", "--name", a.Slug, "--image", image}
	marks := labels.Bottle(a, user)
	publish, ports, err := portArgs(def)
	if err != nil {
		return nil, err
	}
	if len(ports) > 0 {
		marks[labels.Ports] = labels.EncodePorts(ports)
	}
	for _, k := range sortedKeys(marks) {
		args = append(args, "--label", k+"="+marks[k])
	}
	env := maps.Clone(def.Env)
	if env == nil {
		env = map[string]string{}
	}
	if len(a.Services) > 0 {
		env[EnvSidecarDaemons] = strings.Join(a.Services, ",")
	}
	for _, k := range sortedKeys(env) {
		args = append(args, "-e", k+"="+env[k])
	}
	secrets, err := secretArgs(def.Secrets)
	if err != nil {
		return nil, err
	}
	args = append(args, secrets...)
	if def.Workdir != "" {
		args = append(args, "-w", def.Workdir)
	}
	for _, m := range def.Mounts() {
		// smolvm splits HOST:GUEST[:ro|:rw] from the right, so a HOST may
		// hold a ':' but a GUEST may not.
		if strings.Contains(m.Target, ":") {
			return nil, fmt.Errorf("mount target %q holds a ':', which smolvm's -v HOST:GUEST cannot carry", m.Target)
		}
		spec := m.Source + ":" + m.Target
		if m.ReadOnly {
			spec += ":ro"
		}
		args = append(args, "-v", spec)
	}
	cpus, mib := size(def.Limits)
	args = append(args, "--cpus", strconv.Itoa(cpus), "--mem", strconv.FormatInt(mib, 10))
	hosts, err := allowHosts(def.Egress.Allow)
	if err != nil {
		return nil, err
	}
	for _, host := range hosts {
		args = append(args, "--allow-host", host)
	}
	args = append(args, publish...)
	if len(def.Command) > 0 {
		args = append(append(args, "--"), def.Command...)
	}
	return args, nil
}

// secretArgs gives smolvm the definition's secrets by reference: only
// where a value comes from is stored with the machine, never the value,
// which smolvm reads from its own environment (the caller's, Config.Env)
// or the host's file at every start and every exec, and puts into the
// machine as the variable. It does enter the machine: unlike docker's
// proxy, nothing keeps it out. smolvm refuses a file that is a symlink,
// so a file is named by its real path.
func secretArgs(secrets []agentdef.Secret) ([]string, error) {
	var args []string
	for _, s := range secrets {
		if s.FromEnv != "" {
			args = append(args, "--secret-env", s.Name+"="+s.FromEnv)
			continue
		}
		file, err := filepath.EvalSymlinks(s.FromFile)
		if err != nil {
			return nil, fmt.Errorf("secrets.%s.from_file: %w", s.Name, err)
		}
		args = append(args, "--secret-file", s.Name+"="+file)
	}
	return args, nil
}

// size gives the machine's vCPUs and MiB of memory for the agent's limits.
// smolvm takes whole vCPUs, so a fraction of a CPU is rounded up to the
// next whole one (1.5 CPUs' worth of time on docker is 2 vCPUs here), and
// at most maxVCPUs; memory is rounded up to a whole MiB. The sidecars are
// daemons inside this machine and share its size: their own limits are
// docker's.
func size(l agentdef.Limits) (cpus int, mib int64) {
	mib = l.Memory >> 20
	if l.Memory&(1<<20-1) != 0 {
		mib++
	}
	return min(int(math.Ceil(l.CPUs)), maxVCPUs), mib
}

// allowHosts turns egress.allow into smolvm's --allow-host values. With
// none the machine gets no network flag at all, and so no network device:
// every other way of turning networking on opens more than an allowlist
// (--net alone is the whole internet, with no policy). --allow-host H
// admits H and every name below it, on every port, so "*.suffix" is given
// as "suffix" (which admits the bare suffix too, as docker's proxy does
// not), an exact host also admits the names below it (its owner's), and a
// pattern with a port cannot be expressed at all.
func allowHosts(patterns []string) ([]string, error) {
	var hosts []string
	for _, p := range patterns {
		if strings.Contains(p, ":") {
			return nil, fmt.Errorf("egress.allow %q: smolvm cannot limit egress to a port; without the port it allows every port of the host", p)
		}
		if host := strings.TrimPrefix(p, "*."); !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// portArgs turns the published ports into smolvm's -p HOST:GUEST, and the
// ports the Ports label records. smolvm-cli.md §3-4 is all this was
// checked against: -p takes no address (HOST:GUEST or PORT, TCP), says
// nothing of which host address it binds, picks no host port, and on a
// machine without an egress policy gives the guest virtio-net with no
// policy at all, the whole network. So a port is published only
//   - when the machine has an egress allowlist (--allow-host), so that -p
//     adds no way out;
//   - with the explicit address 0.0.0.0 (or ::), the user's own request
//     for every address of the host, since bottle cannot promise less
//     (127.0.0.1, the default, cannot be kept);
//   - with a host port.
func portArgs(def *agentdef.Definition) (args []string, ports []agent.Port, err error) {
	for _, p := range def.Ports {
		ip, _ := netip.ParseAddr(p.IP)
		switch {
		case len(def.Egress.Allow) == 0:
			return nil, nil, fmt.Errorf("port %s: smolvm's -p would give a machine without egress.allow an unrestricted network (virtio-net with no policy); on smolmachines publish ports only with an egress allowlist", p)
		case !ip.IsUnspecified():
			return nil, nil, fmt.Errorf("port %s: smolvm's -p HOST:GUEST takes no address and does not say which it binds, so bottle cannot keep the port to %s; on smolmachines write 0.0.0.0:HOSTPORT:%d (every address of the host)", p, p.IP, p.Port)
		case p.HostPort == 0:
			return nil, nil, fmt.Errorf("port %s: smolvm does not pick a host port; write 0.0.0.0:HOSTPORT:%d", p, p.Port)
		}
		args = append(args, "-p", strconv.Itoa(p.HostPort)+":"+strconv.Itoa(p.Port))
		ports = append(ports, agent.Port{Port: p.Port, Host: net.JoinHostPort(p.IP, strconv.Itoa(p.HostPort))})
	}
	slices.SortFunc(ports, func(a, b agent.Port) int { return a.Port - b.Port })
	return args, ports, nil
}
