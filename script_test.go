package bottle_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bottle-dev/bottle/internal/cli/allow"
	"github.com/bottle-dev/bottle/internal/cli/attach"
	"github.com/bottle-dev/bottle/internal/cli/fetch"
	"github.com/bottle-dev/bottle/internal/cli/hasbackend"
	"github.com/bottle-dev/bottle/internal/cli/logs"
	"github.com/bottle-dev/bottle/internal/cli/ls"
	"github.com/bottle-dev/bottle/internal/cli/port"
	"github.com/bottle-dev/bottle/internal/cli/start"
	"github.com/bottle-dev/bottle/internal/cli/stop"
	"github.com/bottle-dev/bottle/internal/cli/trust"
	"github.com/bottle-dev/bottle/internal/scratchimage"
	"github.com/bottle-dev/bottle/internal/smolvmfake"
	"github.com/bottle-dev/bottle/pkg/labels"
)

var update = flag.Bool("u", false, "update the golden files of testdata/scripts")

// run names this test run: every Docker object it makes carries the label
// runLabel=run, so the run can find (and must not leave) what it made, and
// never counts or touches agents someone started by hand.
var run = newRunID()

const (
	runLabel    = "bottle-test-run"
	scriptLabel = "bottle-test-script"
)

func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The run's images: busybox (with the tests' HTTPS server and client,
// tlsecho) for agents and sidecars, and bottle-egress and bottle-tether
// built from this tree.
var (
	testImage   = "bottle-test-" + run + ":latest"
	egressImage = "bottle-test-egress-" + run + ":latest"
	tetherImage = "bottle-test-tether-" + run + ":latest"
	// gitImage is testImage with the host's git, for agents on a branch.
	gitImage = "bottle-test-git-" + run + ":latest"
	// netlockImage is bottle-netlock, every kubernetes bottle's first
	// container.
	netlockImage = "bottle-test-netlock-" + run + ":latest"
)

func TestMain(m *testing.M) {
	testscript.Main(withEngine{m}, map[string]func(){
		"bottle-allow":       func() { os.Exit(allow.Main()) },
		"bottle-attach":      func() { os.Exit(attach.Main()) },
		"bottle-fetch":       func() { os.Exit(fetch.Main()) },
		"bottle-has-backend": func() { os.Exit(hasbackend.Main()) },
		"bottle-logs":        func() { os.Exit(logs.Main()) },
		"bottle-ls":          func() { os.Exit(ls.Main()) },
		"bottle-port":        func() { os.Exit(port.Main()) },
		"bottle-start":       func() { os.Exit(start.Main()) },
		"bottle-stop":        func() { os.Exit(stop.Main()) },
		"bottle-trust":       func() { os.Exit(trust.Main()) },
		"smolvm":             func() { os.Exit(smolvmfake.Main()) },
	})
}

// withEngine prepares the Docker Engine for a run of the tests and checks
// afterwards that the run left nothing of its own behind.
type withEngine struct{ m *testing.M }

func (w withEngine) Run() int {
	flag.Parse()
	engine, err := engineClient()
	if err != nil {
		fmt.Fprintln(os.Stderr, "docker tests:", err)
		if os.Getenv("CI") == "true" {
			return 1
		}
		return w.m.Run()
	}
	ctx := context.Background()
	// Every bottle the tests start, from scripts or not, takes this run's.
	os.Setenv("BOTTLE_TETHER_IMAGE", tetherImage)
	if err := importImages(ctx, engine); err != nil {
		fmt.Fprintln(os.Stderr, "docker tests:", err)
		leftovers(ctx, engine, true)
		return 1
	}
	status := w.m.Run()
	left := leftovers(ctx, engine, false)
	if _, _, ok := clusterConfig(); ok {
		left = append(left, clusterLeftovers(ctx)...)
		if err := removeClusterImages(ctx, testImage, egressImage, netlockImage); err != nil {
			fmt.Fprintln(os.Stderr, "cluster tests: removing the test images:", err)
			status = 1
		}
	}
	for _, image := range []string{testImage, egressImage, tetherImage, gitImage, netlockImage} {
		if _, err := engine.ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true}); err != nil {
			fmt.Fprintln(os.Stderr, "docker tests: removing a test image:", err)
			status = 1
		}
	}
	if left = append(left, leftovers(ctx, engine, true)...); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "docker tests: the run left behind (now removed):\n  %s\n", strings.Join(left, "\n  "))
		status = 1
	}
	return status
}

func importImages(ctx context.Context, engine *client.Client) error {
	marks := map[string]string{runLabel: run}
	dir, err := os.MkdirTemp("", "bottle-images")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, cmd := range []string{"cmd/bottle-egress", "cmd/bottle-tether", "cmd/bottle-netlock", "internal/tlsecho"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(cmd)), "./"+cmd)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", cmd, err, out)
		}
	}
	if authority, err = newTestAuthority(); err != nil {
		return err
	}
	if err := scratchimage.Busybox(ctx, engine, testImage, marks, authority.pem, filepath.Join(dir, "tlsecho")); err != nil {
		return err
	}
	if err := scratchimage.BusyboxGit(ctx, engine, gitImage, marks, authority.pem); err != nil {
		return err
	}
	if err := scratchimage.Egress(ctx, engine, egressImage, filepath.Join(dir, "bottle-egress"), authority.pem, marks); err != nil {
		return err
	}
	if err := scratchimage.NetLock(ctx, engine, netlockImage, filepath.Join(dir, "bottle-netlock"), marks); err != nil {
		return err
	}
	if err := scratchimage.Tether(ctx, engine, tetherImage, filepath.Join(dir, "bottle-tether"), marks); err != nil {
		return err
	}
	// The cluster's node has its own containerd, which pulls nothing: the
	// images the kubernetes scripts run are put there.
	if _, _, ok := clusterConfig(); ok {
		return importClusterImages(ctx, engine, testImage, egressImage, netlockImage)
	}
	return nil
}

// authority is the run's stand-in for the public authorities: its egress
// image trusts it alone, and its busybox image has it as its roots.
var authority *testAuthority

// engineClient returns a client of the Engine the tests use, or why there is none.
func engineClient() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("no Docker Engine answers at %s: %w", c.DaemonHost(), err)
	}
	return c, nil
}

// leftovers removes and names every container, network and volume, or
// every image, that carries this run's label.
func leftovers(ctx context.Context, c *client.Client, images bool) []string {
	filter := client.Filters{}.Add("label", runLabel+"="+run)
	var left []string
	if images {
		imgs, err := c.ImageList(ctx, client.ImageListOptions{Filters: filter})
		if err != nil {
			return []string{"(images could not be listed: " + err.Error() + ")"}
		}
		for _, img := range imgs.Items {
			left = append(left, "image "+strings.Join(img.RepoTags, ","))
			c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true})
		}
		return left
	}
	if ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter}); err == nil {
		for _, ctr := range ctrs.Items {
			left = append(left, "container "+strings.Join(ctr.Names, ","))
			c.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true})
		}
	} else {
		left = append(left, "(containers could not be listed: "+err.Error()+")")
	}
	if nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter}); err == nil {
		for _, n := range nets.Items {
			left = append(left, "network "+n.Name)
			c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	} else {
		left = append(left, "(networks could not be listed: "+err.Error()+")")
	}
	if vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: filter}); err == nil {
		for _, v := range vols.Items {
			left = append(left, "volume "+v.Name)
			c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
	} else {
		left = append(left, "(volumes could not be listed: "+err.Error()+")")
	}
	return left
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/scripts",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			for _, k := range []string{"DOCKER_HOST", "DOCKER_API_VERSION", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"} {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			// Each script sees only its own agents: scripts run in parallel.
			env.Setenv("BOTTLE_LABELS", runLabel+"="+run+","+scriptLabel+"="+filepath.Base(env.WorkDir))
			env.Setenv("SCRIPT", filepath.Base(env.WorkDir))
			env.Setenv("RUN", run)
			env.Setenv("IMAGE", testImage)
			env.Setenv("EGRESS_IMAGE", egressImage)
			env.Setenv("GIT_IMAGE", gitImage)
			env.Setenv("NETLOCK_IMAGE", netlockImage)
			// The cluster's kubeconfig, for the kubernetes scripts to set
			// as KUBECONFIG: the others see no cluster.
			if kubeconfig, _, ok := clusterConfig(); ok {
				env.Setenv("CLUSTER_KUBECONFIG", kubeconfig)
			}
			env.Setenv("BOTTLE_TETHER_IMAGE", tetherImage)
			if wd, err := os.Getwd(); err == nil {
				env.Setenv("REPO", wd) // the repository's root, for its examples
			}
			if c, err := client.New(client.FromEnv); err == nil {
				env.Setenv("ENGINE_HOST", c.DaemonHost())
			}
			// The stand-in smolvm keeps each script's machines, and the
			// log of every call, in the script's own directory.
			env.Setenv("SMOLVM_STATE", filepath.Join(env.WorkDir, "smolvm-machines.json"))
			env.Setenv("SMOLVM_CALLS", filepath.Join(env.WorkDir, "smolvm-calls.txt"))
			// sh -c $WAIT_VM NAME waits, at most 10s, until the stand-in
			// runs the VM of the machine NAME.
			env.Setenv("WAIT_VM", `for i in $(seq 200); do grep -qx "$0" "$SMOLVM_STATE.vms" 2>/dev/null && exit 0; sleep 0.05; done; echo "no VM of $0" >&2; exit 1`)
			return nil
		},
		Condition: conditions,
		Cmds: commands(map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":              cmdExits,
			"dead-socket":        cmdDeadSocket,
			"hung-socket":        cmdHungSocket,
			"mkfile":             cmdMkfile,
			"smolvm-machines":    cmdSmolvmMachines,
			"envsubst":           cmdEnvsubst,
			"docker-objects":     cmdDockerObjects,
			"docker-shutdown":    cmdDockerShutdown,
			"docker-start":       cmdDockerStart,
			"docker-inspect":     cmdDockerInspect,
			"docker-create":      cmdDockerCreate,
			"docker-rm":          cmdDockerRm,
			"docker-stop":        cmdDockerStop,
			"docker-exec":        cmdDockerExec,
			"docker-network":     cmdDockerNetwork,
			"docker-network-rm":  cmdDockerNetworkRm,
			"docker-logs":        cmdDockerLogs,
			"docker-server":      cmdDockerServer,
			"host-listen":        cmdHostListen,
			"docker-confinement": cmdDockerConfinement,
			"host-addrs":         cmdHostAddrs,
		}, gitCmds, registryCmds, clusterCmds, kubeCmds),
	})
}

// conditions answers [docker] and [kubernetes].
func conditions(cond string) (bool, error) {
	if cond == "kubernetes" {
		return kubernetesAvailable()
	}
	return dockerCondition(cond)
}

// dockerCondition answers [docker]: whether the Engine answers. Under
// CI=true an Engine that does not answer fails the script instead of
// skipping it, so that CI can never pass by testing nothing.
func dockerCondition(cond string) (bool, error) {
	if cond != "docker" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	_, err := engineClient()
	if err != nil && os.Getenv("CI") == "true" {
		return false, fmt.Errorf("CI=true and the Docker Engine does not answer: %w", err)
	}
	return err == nil, nil
}

func mustEngine(ts *testscript.TestScript) *client.Client {
	c, err := engineClient()
	ts.Check(err)
	return c
}

// exits N PROG [ARGS...]: runs PROG like exec and checks that its exit
// status is N; stdout and stderr are then checked as after exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var exitErr *exec.ExitError
	if err := ts.Exec(args[1], args[2:]...); errors.As(err, &exitErr) {
		got = exitErr.ExitCode()
	} else {
		ts.Check(err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// dead-socket PATH: leaves a unix socket file that nothing listens on, as a
// crashed daemon does: connecting to it is refused.
func cmdDeadSocket(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dead-socket PATH")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	ts.Check(err)
	defer syscall.Close(fd)
	ts.Check(syscall.Bind(fd, &syscall.SockaddrUnix{Name: ts.MkAbs(args[0])}))
}

// holdConnections accepts every connection on ln and never answers, as a
// wedged daemon does, until the script ends.
func holdConnections(ts *testscript.TestScript, ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ts.Defer(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

// hung-socket PATH: listens on a unix socket, accepts every connection and
// never answers, as a wedged daemon does, until the script ends.
func cmdHungSocket(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: hung-socket PATH")
	}
	ln, err := net.Listen("unix", ts.MkAbs(args[0]))
	ts.Check(err)
	holdConnections(ts, ln)
}

// mkfile FILE line|binary N: writes N bytes: one line of "a", or the bytes
// 0 to 255 over and over.
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkfile FILE line|binary N")
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	b := make([]byte, n)
	for i := range b {
		switch args[1] {
		case "line":
			b[i] = 'a'
		case "binary":
			b[i] = byte(i)
		default:
			ts.Fatalf("mkfile: line or binary, not %q", args[1])
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// smolvm-machines N: gives the stand-in smolvm N running agents (and as
// many machines of the user's own) in the shape of machine ls --json.
func cmdSmolvmMachines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: smolvm-machines N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"vm-%05d","state":"running","created_at":1795843200,"labels":{"dev.bottle.slug":"vm-%05d","dev.bottle.agent":"vm","dev.bottle.services":"egress"}},`+
			`{"name":"mine-%05d","state":"running","created_at":1795843200,"labels":{}}`, i, i, i)
	}
	b.WriteString("]")
	ts.Check(os.WriteFile(ts.Getenv("SMOLVM_STATE"), []byte(b.String()), 0o644))
}

// envsubst FILE...: replaces $VAR and ${VAR} in the files with the script's
// environment, so that agent definitions can name this run's test image.
func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: envsubst FILE...")
	}
	for _, name := range args {
		ts.Check(os.WriteFile(ts.MkAbs(name), []byte(os.Expand(ts.ReadFile(name), ts.Getenv)), 0o644))
	}
}

// docker-objects SLUG: prints every container (name, image, state),
// network (internal or outbound: its name holds a nonce) and volume (its
// mount point in the agent) that carries the slug's label, one a line with
// its dev.bottle.* labels, sorted.
func cmdDockerObjects(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-objects SLUG")
	}
	c, ctx := mustEngine(ts), context.Background()
	filter := client.Filters{}.Add("label", labels.Slug+"="+args[0])
	var lines []string
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	ts.Check(err)
	for _, ctr := range ctrs.Items {
		lines = append(lines, "container "+strings.TrimPrefix(ctr.Names[0], "/")+" "+ctr.Image+" "+string(ctr.State)+" "+bottleLabels(ctr.Labels))
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	ts.Check(err)
	for _, n := range nets.Items {
		reach := "outbound"
		if n.Internal {
			reach = "internal"
		}
		lines = append(lines, "network "+reach+" "+bottleLabels(n.Labels))
	}
	vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	ts.Check(err)
	for _, v := range vols.Items {
		lines = append(lines, "volume "+bottleLabels(v.Labels))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

func bottleLabels(l map[string]string) string {
	var kv []string
	for k, v := range l {
		if strings.HasPrefix(k, labels.Prefix) || k == runLabel {
			kv = append(kv, k+"="+v)
		}
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// labelArgs is the labels a command's KEY=VALUE arguments give, on top of
// the pairs of base; a VALUE in double quotes is a Go string literal.
func labelArgs(ts *testscript.TestScript, args []string, base ...string) map[string]string {
	marks := map[string]string{}
	for i := 0; i+1 < len(base); i += 2 {
		marks[base[i]] = base[i+1]
	}
	for _, kv := range args {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(v, `"`) {
			var err error
			v, err = strconv.Unquote(v)
			ts.Check(err)
		}
		marks[k] = v
	}
	return marks
}

// docker-create NAME [-net NETWORK] [KEY=VALUE...]: creates and starts a
// container of the test image the way a user would without the toolkit
// (on the Engine's default network, or on NETWORK), with the run's label
// and any labels given; a VALUE in double quotes is a Go string literal,
// for values no script line can hold.
func cmdDockerCreate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: docker-create NAME [-net NETWORK] [KEY=VALUE...]")
	}
	name, args := args[0], args[1:]
	hc := &container.HostConfig{}
	if len(args) >= 2 && args[0] == "-net" {
		hc.NetworkMode = container.NetworkMode(args[1])
		args = args[2:]
	}
	marks := labelArgs(ts, args, runLabel, run, scriptLabel, ts.Getenv("SCRIPT"))
	c, ctx := mustEngine(ts), context.Background()
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     &container.Config{Image: testImage, Cmd: []string{"sleep", "infinity"}, Labels: marks},
		HostConfig: hc,
	})
	ts.Check(err)
	_, err = c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
	ts.Check(err)
}

// docker-stop NAME: stops a container at once, as a crash would.
func cmdDockerStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-stop NAME")
	}
	timeout := 0
	_, err := mustEngine(ts).ContainerStop(context.Background(), args[0], client.ContainerStopOptions{Timeout: &timeout})
	ts.Check(err)
}

// docker-rm NAME...: removes containers by name; it fails when one is not there.
func cmdDockerRm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: docker-rm NAME...")
	}
	c := mustEngine(ts)
	for _, name := range args {
		_, err := c.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true})
		ts.Check(err)
	}
}

// docker-start NAME: starts a stopped container again, as the Engine does
// for one that has a restart policy.
func cmdDockerStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-start NAME")
	}
	_, err := mustEngine(ts).ContainerStart(context.Background(), args[0], client.ContainerStartOptions{})
	ts.Check(err)
}

// docker-inspect CONTAINER: prints what the Engine says of the container,
// as `docker inspect` does (the JSON of its configuration and state).
func cmdDockerInspect(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-inspect CONTAINER")
	}
	info, err := mustEngine(ts).ContainerInspect(context.Background(), args[0], client.ContainerInspectOptions{})
	ts.Check(err)
	out, err := json.MarshalIndent(info.Container, "", "  ")
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), string(out))
}

// docker-shutdown SLUG: stops every container of the bottle as the Engine
// does when it shuts down (SIGTERM, then SIGKILL after a grace period), so
// that a script can see what a bottle is after an Engine restart without
// restarting the Engine every other test shares.
func cmdDockerShutdown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-shutdown SLUG")
	}
	c, ctx := mustEngine(ts), context.Background()
	ctrs, err := c.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", labels.Slug+"="+args[0])})
	ts.Check(err)
	grace := 2
	for _, ctr := range ctrs.Items {
		_, err := c.ContainerStop(ctx, ctr.ID, client.ContainerStopOptions{Timeout: &grace})
		ts.Check(err)
	}
}

// docker-exec CONTAINER CMD...: runs CMD in the container; it fails unless
// CMD exits 0 (with !, unless it exits non-zero). Its output becomes stdout
// and stderr, as after exec.
func cmdDockerExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: docker-exec CONTAINER CMD...")
	}
	c, ctx := mustEngine(ts), context.Background()
	ex, err := c.ExecCreate(ctx, args[0], client.ExecCreateOptions{Cmd: args[1:], AttachStdout: true, AttachStderr: true})
	ts.Check(err)
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	ts.Check(err)
	defer att.Close()
	var stdout, stderr strings.Builder
	_, err = stdcopy.StdCopy(&stdout, &stderr, att.Reader)
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), stdout.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
	res, err := c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	ts.Check(err)
	switch {
	case neg && res.ExitCode == 0:
		ts.Fatalf("%s succeeded unexpectedly", strings.Join(args[1:], " "))
	case !neg && res.ExitCode != 0:
		ts.Fatalf("%s exited with status %d", strings.Join(args[1:], " "), res.ExitCode)
	}
}

// docker-logs CONTAINER: prints what the container wrote, stdout and
// stderr together.
func cmdDockerLogs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-logs CONTAINER")
	}
	logs, err := mustEngine(ts).ContainerLogs(context.Background(), args[0], client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	ts.Check(err)
	defer logs.Close()
	_, err = stdcopy.StdCopy(ts.Stdout(), ts.Stdout(), logs)
	ts.Check(err)
}

// docker-server [-inside] [-tls] NAME SLUG ALIAS...: stands in for the
// internet: a web server of the test image answering "hello from the
// internet" under the aliases (with -tls, tlsecho serving HTTPS on 443 with
// a certificate for them from the run's authority, which the run's egress
// image trusts), on a network of its own in 198.18.0.0/15 (a range that, like
// the internet's, is neither private nor the bottle's) to which the egress
// sidecar of the agent SLUG is connected. With -inside the server sits on
// the bottle's own egress network instead, as a host on the egress side
// that the agent must not reach by name. $SERVER_IP (with -inside,
// $SIDE_IP) is then its address.
func cmdDockerServer(ts *testscript.TestScript, neg bool, args []string) {
	inside := len(args) > 0 && args[0] == "-inside"
	if inside {
		args = args[1:]
	}
	tlsServer := len(args) > 0 && args[0] == "-tls"
	if tlsServer {
		args = args[1:]
	}
	if neg || len(args) < 3 {
		ts.Fatalf("usage: docker-server [-inside] [-tls] NAME SLUG ALIAS...")
	}
	name, slug, aliases := args[0], args[1], args[2:]
	c, ctx := mustEngine(ts), context.Background()
	marks := map[string]string{runLabel: run, scriptLabel: ts.Getenv("SCRIPT")}
	var netID string
	if inside {
		nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.
			Add("label", labels.Slug+"="+slug, labels.Network+"="+labels.NetworkEgress)})
		ts.Check(err)
		if len(nets.Items) != 1 {
			ts.Fatalf("agent %s has %d egress networks, want 1", slug, len(nets.Items))
		}
		netID = nets.Items[0].ID
	} else {
		netID = internetNetwork(ts, c, name, marks)
		_, err := c.NetworkConnect(ctx, netID, client.NetworkConnectOptions{Container: slug + ".egress"})
		ts.Check(err)
	}
	cfg := &container.Config{
		Image:  testImage,
		Cmd:    []string{"sh", "-c", "mkdir /www && echo hello from the internet > /www/index.html && exec httpd -f -p 80 -h /www"},
		Labels: marks,
	}
	if tlsServer {
		cert, key, err := authority.serverPair(aliases)
		ts.Check(err)
		cfg.Cmd, cfg.Env = []string{"tlsecho", "serve"}, []string{"TLSECHO_CERT=" + string(cert), "TLSECHO_KEY=" + string(key)}
	}
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(netID)},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netID: {Aliases: aliases},
		}},
	})
	ts.Check(err)
	ts.Defer(func() { c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}) })
	_, err = c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
	ts.Check(err)
	info, err := c.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	ts.Check(err)
	addr := "SERVER_IP"
	if inside {
		addr = "SIDE_IP"
	}
	for _, ep := range info.Container.NetworkSettings.Networks {
		ts.Setenv(addr, ep.IPAddress.String())
	}
}

// internetNetwork makes the network of a stand-in internet server: a /28
// drawn at random from 198.18.0.0/15, drawn again if another script's
// overlaps it. It is removed when the script ends.
func internetNetwork(ts *testscript.TestScript, c *client.Client, name string, marks map[string]string) string {
	ctx := context.Background()
	for range 16 {
		var b [2]byte
		rand.Read(b[:])
		n := uint32(b[0])<<8 | uint32(b[1])
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(n>>12&1), byte(n >> 4), byte(n << 4)}), 28)
		res, err := c.NetworkCreate(ctx, "internet-"+name, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: marks,
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}},
		})
		if err != nil && strings.Contains(err.Error(), "overlap") {
			continue
		}
		ts.Check(err)
		ts.Defer(func() { c.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}) })
		return res.ID
	}
	ts.Fatalf("no free /28 in 198.18.0.0/15")
	return ""
}

// docker-confinement CONTAINER: prints how the container is confined, as
// the kernel sees its main process (read from the host's /proc, so that it
// works for scratch images with no shell inside) and as the Engine was told:
// one "key value" a line.
func cmdDockerConfinement(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-confinement CONTAINER")
	}
	info, err := mustEngine(ts).ContainerInspect(context.Background(), args[0], client.ContainerInspectOptions{})
	ts.Check(err)
	ctr := info.Container
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ctr.State.Pid))
	ts.Check(err)
	for line := range strings.Lines(string(status)) {
		if k, v, ok := strings.Cut(line, ":"); ok && slices.Contains([]string{"Uid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs"}, k) {
			fmt.Fprintf(ts.Stdout(), "%s %s\n", k, strings.Join(strings.Fields(v), " "))
		}
	}
	hc := ctr.HostConfig
	pids := int64(0)
	if hc.PidsLimit != nil {
		pids = *hc.PidsLimit
	}
	fmt.Fprintf(ts.Stdout(), "User %s\nReadonlyRootfs %t\nPidsLimit %d\nMemory %d\nMemorySwap %d\nNanoCPUs %d\nLog %s max-size=%s max-file=%s\n",
		ctr.Config.User, hc.ReadonlyRootfs, pids, hc.Memory, hc.MemorySwap, hc.NanoCPUs,
		hc.LogConfig.Type, hc.LogConfig.Config["max-size"], hc.LogConfig.Config["max-file"])
}

// host-listen: listens on every address of the host, as a careless
// database or dev server does, until the script ends; $HOST_PORT is its
// port. Whatever connects reads "hello from the host".
func cmdHostListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: host-listen")
	}
	ln, err := net.Listen("tcp", ":0")
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the host\n")
			c.Close()
		}
	}()
	ts.Setenv("HOST_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// host-addrs [SLUG]: sets $HOST_ADDRS to every IPv4 address an agent could
// try to reach the host at: the gateways of the agent's networks and every
// address of the host's own interfaces (docker0's, the bridges', eth0's);
// $HOST_IP is the first of the host's own.
func cmdHostAddrs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: host-addrs [SLUG]")
	}
	var own []string
	ifaddrs, err := net.InterfaceAddrs()
	ts.Check(err)
	for _, a := range ifaddrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() {
			own = append(own, ipnet.IP.String())
		}
	}
	if len(own) == 0 {
		ts.Fatalf("found no address of the host")
	}
	addrs := own
	if len(args) == 1 {
		nets, err := mustEngine(ts).NetworkList(context.Background(), client.NetworkListOptions{Filters: client.Filters{}.Add("label", labels.Slug+"="+args[0])})
		ts.Check(err)
		for _, n := range nets.Items {
			for _, cfg := range n.IPAM.Config {
				if cfg.Gateway.IsValid() {
					addrs = append(addrs, cfg.Gateway.String())
				}
			}
		}
	}
	ts.Setenv("HOST_ADDRS", strings.Join(addrs, " "))
	ts.Setenv("HOST_IP", own[0])
}

// docker-network NAME [internal]: creates a network the way a user would
// without the toolkit, with the run's labels; internal, as --internal.
func cmdDockerNetwork(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 || len(args) == 2 && args[1] != "internal" {
		ts.Fatalf("usage: docker-network NAME [internal]")
	}
	_, err := mustEngine(ts).NetworkCreate(context.Background(), args[0], client.NetworkCreateOptions{
		Internal: len(args) == 2,
		Labels:   map[string]string{runLabel: run, scriptLabel: ts.Getenv("SCRIPT")},
	})
	ts.Check(err)
}

// docker-network-rm NAME: removes a network; it fails when it is not there.
func cmdDockerNetworkRm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-network-rm NAME")
	}
	_, err := mustEngine(ts).NetworkRemove(context.Background(), args[0], client.NetworkRemoveOptions{})
	ts.Check(err)
}

// commands merges the scripts' commands, each set kept in the file of the
// feature it tests.
func commands(sets ...map[string]func(ts *testscript.TestScript, neg bool, args []string)) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	all := map[string]func(ts *testscript.TestScript, neg bool, args []string){}
	for _, set := range sets {
		maps.Copy(all, set)
	}
	return all
}
