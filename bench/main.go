// Command bench measures the bottle binaries against the docker CLI and
// curl on the local Docker Engine, as issue 7 asks, and writes
// docs/PERFORMANCE.md. `make bench` runs it from the module's root after
// building bin/ and importing the example images:
//
//	go run ./bench [-runs 15] [-n 0,10,200] [-real 10] [-parallel 8]
//
// Everything it creates carries the label bottle-bench-run=<run id> and is
// removed at the end, also when it fails or is interrupted. It sees only
// its own agents: the toolkit is scoped with BOTTLE_LABELS and docker ps
// with the same label filter, so agents someone started by hand are
// neither counted nor touched.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// benchLabel marks everything a run creates: benchLabel=<run id>.
const benchLabel = "bottle-bench-run"

var (
	flagRuns      = flag.Int("runs", 31, "timed runs of each command in a comparison")
	flagStartRuns = flag.Int("start-runs", 7, "timed starts of each kind (bottle-start, docker run)")
	flagSlowRuns  = flag.Int("slow-runs", 5, "timed runs of each command with a slow backend")
	flagLevels    = flag.String("n", "0,10,200", "numbers of agents to list, ascending")
	flagReal      = flag.Int("real", 10, "how many agents bottle-start starts; the rest of a level are replicas made over the Engine API")
	flagParallel  = flag.Int("parallel", 8, "agents started (and containers removed) at once")
	flagMachines  = flag.Int("machines", 5000, "machines in the large smolvm listing")
	flagBin       = flag.String("bin", "bin", "directory of the built bottle binaries")
	flagOut       = flag.String("out", "docs/PERFORMANCE.md", "where to write the report")
	flagSideRun   = flag.Bool("replica-sidecars", false, "start the replicas' sidecar containers too (by default they are created only: two container starts fewer per replica, minutes on a small machine)")
	flagSettle    = flag.Duration("settle", 10*time.Second, "pause after making agents, before measuring, for the Engine to settle")
	flagGoBench   = flag.Bool("gobench", true, "also run the Go benchmarks of the pure parts and put them in the report")
)

func main() {
	flag.Parse()
	os.Exit(benchMain())
}

func benchMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	h, err := setup(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if h != nil {
			h.close()
		}
		return 1
	}
	runErr := h.runAll(ctx)
	fmt.Fprintln(os.Stderr, "bench: removing everything labelled", benchLabel+"="+h.id)
	cleanErr := h.cleanup()
	h.rep.leftovers = h.leftovers()
	h.close()
	status := 0
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "bench:", runErr)
		status = 1
	}
	if cleanErr != nil {
		fmt.Fprintln(os.Stderr, "bench: cleaning up:", cleanErr)
		status = 1
	}
	if len(h.rep.leftovers) > 0 {
		fmt.Fprintf(os.Stderr, "bench: left behind:\n  %s\n", strings.Join(h.rep.leftovers, "\n  "))
		status = 1
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "bench: no report written: the run did not finish")
		return status
	}
	h.rep.previous = previousFigures(*flagOut)
	doc := h.rep.markdown()
	if err := os.WriteFile(*flagOut, []byte(doc), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Print(h.rep.text())
	fmt.Fprintln(os.Stderr, "bench: wrote", *flagOut)
	return status
}

// agentDef is the definition the harness starts: the bottle-demo image with
// two sidecars, written into the run's directory.
type agentDef struct {
	name      string   // the agent's name, from the file name
	path      string   // the definition file
	dir       string   // its directory
	workspace string   // outside the run's directory, which holds the Engine's socket the bench talks to
	image     string   // of the agent and both sidecars
	command   []string // the agent's
	sidecars  []string // names, in order
	sideCmds  [][]string
	env       map[string]string
	workdir   string
}

type harness struct {
	id         string
	dir        string // the run's temporary directory
	bin        string // absolute directory of the bottle binaries
	engine     *engine
	counter    *proxy // counts requests
	slow       *proxy // delays each request by slowDelay
	dead       string // DOCKER_HOST of a socket nobody answers on
	noSmolvm   string // a BOTTLE_SMOLVM that does not exist: the backend is unusable
	smolvm     string // the stand-in smolvm
	minls      string // the yardstick: the least a Go program does for a listing
	replicaNet string // the replicas' shared network, once made
	parallel   int
	def        agentDef
	started    time.Time
	rep        report
}

// slowDelay is what the slow proxy adds to each Engine request.
const slowDelay = 500 * time.Millisecond

func setup(ctx context.Context) (*harness, error) {
	if b, err := os.ReadFile("go.mod"); err != nil || !bytes.Contains(b, []byte("module github.com/bottle-dev/bottle\n")) {
		return nil, errors.New("run me from the root of the bottle module (make bench does)")
	}
	for _, tool := range []string{"curl", "docker", "go", timeBin} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not there (make bench installs curl and GNU time; the docker CLI is the reference being measured)", tool)
		}
	}
	bin, err := filepath.Abs(*flagBin)
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"bottle-ls", "bottle-start", "bottle-has-backend", "bottle-stop"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%w (run make build first)", err)
		}
	}
	e, err := dialEngine(ctx)
	if err != nil {
		return nil, err
	}
	idb := make([]byte, 3)
	rand.Read(idb)
	h := &harness{id: hex.EncodeToString(idb), bin: bin, engine: e, parallel: *flagParallel, started: time.Now()}
	if h.dir, err = os.MkdirTemp("", "bottle-bench-"); err != nil {
		return h, err
	}
	if _, err := e.c.ImageInspect(ctx, "bottle-demo:latest"); err != nil {
		return h, fmt.Errorf("bottle-demo:latest is not on the Engine (run make images): %w", err)
	}
	if h.counter, err = newProxy(filepath.Join(h.dir, "counting.sock"), e.sock, 0); err != nil {
		return h, err
	}
	if h.slow, err = newProxy(filepath.Join(h.dir, "slow.sock"), e.sock, slowDelay); err != nil {
		return h, err
	}
	dead := filepath.Join(h.dir, "dead.sock")
	if err := deadSocket(dead); err != nil {
		return h, err
	}
	h.dead = "unix://" + dead
	h.noSmolvm = filepath.Join(h.dir, "no-such-smolvm")
	h.smolvm = filepath.Join(h.dir, "smolvm")
	h.minls = filepath.Join(h.dir, "minls")
	for _, b := range []struct{ out, pkg string }{{h.smolvm, "./bench/smolvm"}, {h.minls, "./bench/minls"}} {
		build := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		build.Env = append(baseEnv(), "CGO_ENABLED=0") // static, as make build makes bin/
		if out, err := build.CombinedOutput(); err != nil {
			return h, fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
		}
	}
	if err := h.writeDefinition(); err != nil {
		return h, err
	}
	h.rep = report{
		date: h.started, cpus: runtime.NumCPU(), engineVersion: e.version, engineAPI: e.api,
		id: h.id, runs: *flagRuns, startRuns: *flagStartRuns, slowRuns: *flagSlowRuns,
		real: *flagReal, parallel: h.parallel, sidecarsRunning: *flagSideRun, machines: *flagMachines, slowDelay: slowDelay,
		loadBefore: loadavg(),
	}
	h.rep.dockerCLI, _ = cliVersion(ctx)
	h.rep.curl = curlVersion(ctx)
	fmt.Fprintf(os.Stderr, "bench: run %s, Engine %s (API %s), %d CPUs, work in %s\n", h.id, e.version, e.api, runtime.NumCPU(), h.dir)
	return h, nil
}

func (h *harness) close() {
	if h.counter != nil {
		h.counter.close()
	}
	if h.slow != nil {
		h.slow.close()
	}
	if h.dir != "" {
		os.RemoveAll(h.dir)
	}
	if h.def.workspace != "" {
		os.RemoveAll(h.def.workspace)
	}
}

func (h *harness) writeDefinition() error {
	web := []string{"sh", "-c", "mkdir -p /www && echo hello from the web sidecar > /www/index.html && exec httpd -f -p 8080 -h /www"}
	h.def = agentDef{
		name: "bench", dir: h.dir, image: "bottle-demo:latest",
		command:  []string{"sleep", "infinity"},
		sidecars: []string{"web", "cache"},
		sideCmds: [][]string{web, {"sleep", "infinity"}},
		env:      map[string]string{"TERM": "xterm-256color"},
		workdir:  "/workspace",
	}
	h.def.path = filepath.Join(h.dir, h.def.name+".json")
	type sidecar struct {
		Name    string   `json:"name"`
		Image   string   `json:"image"`
		Command []string `json:"command"`
	}
	def := struct {
		Image     string            `json:"image"`
		Command   []string          `json:"command"`
		Env       map[string]string `json:"env"`
		Workdir   string            `json:"workdir"`
		Workspace string            `json:"workspace"`
		Sidecars  []sidecar         `json:"sidecars"`
	}{
		Image: h.def.image, Command: h.def.command, Env: h.def.env,
		Workdir: h.def.workdir,
	}
	// Not the run's directory: bottle refuses a workspace that holds the
	// Engine's socket, and the bench's counting proxy listens there.
	workspace, err := os.MkdirTemp("", "bottle-bench-workspace")
	if err != nil {
		return err
	}
	h.def.workspace, def.Workspace = workspace, workspace
	for i, name := range h.def.sidecars {
		def.Sidecars = append(def.Sidecars, sidecar{Name: name, Image: h.def.image, Command: h.def.sideCmds[i]})
	}
	b, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(h.def.path, append(b, '\n'), 0o644)
}

func (h *harness) binary(name string) string { return filepath.Join(h.bin, name) }

// labelsEnv scopes the toolkit to this run's agents.
func (h *harness) labelsEnv() string { return "BOTTLE_LABELS=" + benchLabel + "=" + h.id }

// dockerEnv: the docker backend at host, the smolmachines backend unusable
// (its executable does not exist, so no process is started for it).
func (h *harness) dockerEnv(host string) []string {
	return []string{"DOCKER_HOST=" + host, h.labelsEnv(), "BOTTLE_SMOLVM=" + h.noSmolvm}
}

func (h *harness) engineHost() string { return "unix://" + h.engine.sock }

// runAll measures every target, in an order that needs the fewest agents
// running at any time: what needs none first, then 10, then 200.
func (h *harness) runAll(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	levels, err := parseLevels(*flagLevels)
	if err != nil {
		return err
	}
	step := func(what string, f func(context.Context) error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(os.Stderr, "bench: %s (%s so far)\n", what, time.Since(h.started).Round(time.Second))
		if err := f(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if *flagGoBench {
		if err := step("Go benchmarks of the pure parts", h.goBenchmarks); err != nil {
			return err
		}
	}
	if err := step("start-up and package init", h.measureStartup); err != nil {
		return err
	}
	if err := step("smolvm processes per listing", h.measureSmolvmCount); err != nil {
		return err
	}
	if err := step("bottle-has-backend docker vs curl /_ping", h.measureHasBackend); err != nil {
		return err
	}
	if err := step("bottle-start vs docker run", h.measureStart); err != nil {
		return err
	}
	if err := step("bottle-start --branch vs bottle-start", h.measureBranch); err != nil {
		return err
	}
	running := 0
	for _, n := range levels {
		if n > running {
			realWanted := min(n, *flagReal)
			if realWanted > running {
				k := realWanted - running
				if err := step(fmt.Sprintf("starting %d agents through bottle-start, %d at a time", k, h.parallel), func(ctx context.Context) error {
					if err := h.startAgents(ctx, k); err != nil {
						return err
					}
					return sleep(ctx, *flagSettle)
				}); err != nil {
					return err
				}
				running = realWanted
			}
			if n > running {
				k := n - running
				if err := step(fmt.Sprintf("replicating %d more agents over the Engine API", k), func(ctx context.Context) error {
					began := time.Now()
					if err := h.replicate(ctx, h.rep.firstSlug, k); err != nil {
						return err
					}
					h.rep.replicas += k
					h.rep.replicateWall = time.Since(began)
					return sleep(ctx, *flagSettle)
				}); err != nil {
					return err
				}
				running = n
			}
		}
		if err := step(fmt.Sprintf("listing %d agents", n), func(ctx context.Context) error { return h.measureListing(ctx, n) }); err != nil {
			return err
		}
	}
	h.rep.concurrencyN = running
	if err := step(fmt.Sprintf("a slow smolvm next to docker (%d agents)", running), h.measureConcurrency); err != nil {
		return err
	}
	h.rep.loadAfter = loadavg()
	h.rep.elapsed = time.Since(h.started)
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func parseLevels(s string) ([]int, error) {
	var levels []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-n: bad number %q", f)
		}
		levels = append(levels, n)
	}
	if !slices.IsSorted(levels) {
		return nil, errors.New("-n: numbers must be ascending")
	}
	return levels, nil
}

// --- Go benchmarks ----------------------------------------------------------

// benchPackages hold the Go benchmarks of the hot pure parts.
var benchPackages = []string{"./pkg/agent", "./pkg/backend/docker", "./pkg/backend/smolmachines", "./pkg/egress"}

// goBenchmarks runs them and keeps their result lines. A failure (the tree
// is being edited, say) goes into the report instead of ending the run.
func (h *harness) goBenchmarks(ctx context.Context) error {
	args := append([]string{"test", "-count=1", "-run", "^$", "-bench", ".", "-benchmem"}, benchPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "---") {
			keep = append(keep, line)
		}
	}
	if err != nil {
		keep = append(keep, fmt.Sprintf("(go test failed: %v)", err))
		fmt.Fprintf(os.Stderr, "bench: the Go benchmarks failed (%v); going on:\n%s\n", err, firstLines(string(out), 20))
	}
	h.rep.goBench = strings.Join(keep, "\n") + "\n"
	return nil
}

// --- start-up ---------------------------------------------------------------

var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, ([0-9.]+) ms clock, (\d+) bytes, (\d+) allocs`)

func (h *harness) measureStartup(ctx context.Context) error {
	ss, err := compare(ctx, *flagRuns,
		cmdSpec{name: "bottle-ls --help", argv: []string{h.binary("bottle-ls"), "--help"}},
		cmdSpec{name: "curl --version", argv: []string{"curl", "--version"}},
		cmdSpec{name: "docker --version", argv: []string{"docker", "--version"}},
	)
	if err != nil {
		return err
	}
	h.rep.startup = ss
	if err := measureRSS(ctx, ss...); err != nil {
		return err
	}
	// Package init, median per package over initRuns runs.
	const initRuns = 5
	perPkg := map[string][]float64{}
	var order []string
	for range initRuns {
		x, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-ls"), "--help"}, env: []string{"GODEBUG=inittrace=1"}})
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(x.stderr))
		for sc.Scan() {
			m := initLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			clock, _ := strconv.ParseFloat(m[2], 64)
			if _, seen := perPkg[m[1]]; !seen {
				order = append(order, m[1])
			}
			perPkg[m[1]] = append(perPkg[m[1]], clock)
		}
	}
	var inits []pkgInit
	for _, pkg := range order {
		v := perPkg[pkg]
		slices.Sort(v)
		inits = append(inits, pkgInit{pkg, v[len(v)/2]})
	}
	h.rep.inits = inits
	return nil
}

// --- smolvm -----------------------------------------------------------------

func (h *harness) smolEnv(state, calls, delay string) []string {
	env := []string{"DOCKER_HOST=" + h.dead, h.labelsEnv(), "BOTTLE_SMOLVM=" + h.smolvm, "SMOLVM_STATE=" + state, "SMOLVM_CALLS=" + calls}
	if delay != "" {
		env = append(env, "SMOLVM_DELAY="+delay)
	}
	return env
}

func (h *harness) smolState(n int) (path string, running int, err error) {
	path = filepath.Join(h.dir, fmt.Sprintf("smolvm-%d.json", n))
	listing := []byte("[]\n")
	if n > 0 {
		if listing, running, err = smolListing(n, map[string]string{benchLabel: h.id}); err != nil {
			return "", 0, err
		}
	}
	return path, running, os.WriteFile(path, listing, 0o644)
}

func (h *harness) measureSmolvmCount(ctx context.Context) error {
	calls := filepath.Join(h.dir, "smolvm-calls.txt")
	for _, n := range []int{0, *flagMachines} {
		state, running, err := h.smolState(n)
		if err != nil {
			return err
		}
		os.Remove(calls)
		spec := cmdSpec{name: "bottle-ls", argv: []string{h.binary("bottle-ls")}, env: h.smolEnv(state, calls, "")}
		x, err := runOnce(ctx, spec)
		if err != nil {
			return err
		}
		log, err := os.ReadFile(calls)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		if len(log) == 0 {
			lines = nil
		}
		if got := countLines(x.stdout); got != running {
			return fmt.Errorf("bottle-ls over %d machines printed %d lines, want %d", n, got, running)
		}
		r := smolCount{machines: n, listed: running, calls: lines}
		// Its wall time too: the stand-in's own work included.
		ss, err := compare(ctx, *flagSlowRuns, spec)
		if err != nil {
			return err
		}
		r.ls = ss[0]
		h.rep.smol = append(h.rep.smol, r)
	}
	return nil
}

func countLines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// --- has-backend ------------------------------------------------------------

func (h *harness) measureHasBackend(ctx context.Context) error {
	h.counter.take()
	if _, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-has-backend"), "docker"}, env: h.dockerEnv(h.counter.host)}); err != nil {
		return err
	}
	h.rep.hasBackendReqs = whats(h.counter.take())
	if _, err := runOnce(ctx, cmdSpec{argv: []string{"docker", "version", "--format", "{{.Server.Version}}"}, env: []string{"DOCKER_HOST=" + h.counter.host}}); err != nil {
		return err
	}
	h.rep.dockerVersionReqs = whats(h.counter.take())
	ss, err := compare(ctx, *flagRuns,
		cmdSpec{name: "bottle-has-backend docker", argv: []string{h.binary("bottle-has-backend"), "docker"}, env: h.dockerEnv(h.engineHost())},
		cmdSpec{name: "curl /_ping", argv: []string{"curl", "-sS", "--fail", "--unix-socket", h.engine.sock, "http://localhost/_ping"},
			check: func(out []byte) error {
				if string(out) != "OK" {
					return fmt.Errorf("/_ping answered %q", out)
				}
				return nil
			}},
		cmdSpec{name: "docker version", argv: []string{"docker", "version", "--format", "{{.Server.Version}}"}, env: []string{"DOCKER_HOST=" + h.engineHost()}},
		cmdSpec{name: "minimal Go ping", argv: []string{h.minls, "-ping", h.engine.sock}},
	)
	if err != nil {
		return err
	}
	h.rep.hasBackend = ss
	return measureRSS(ctx, ss...)
}

// --- start ------------------------------------------------------------------

// startAgents starts k agents through bin/bottle-start, h.parallel at a time.
func (h *harness) startAgents(ctx context.Context, k int) error {
	walls := make([]time.Duration, k)
	slugs := make([]string, k)
	began := time.Now()
	err := parallelDo(ctx, h.parallel, k, func(i int) error {
		x, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-start"), h.def.path}, env: h.dockerEnv(h.engineHost())})
		if err != nil {
			return err
		}
		fields := strings.Split(strings.TrimSpace(string(x.stdout)), "\t")
		if len(fields) != 4 || fields[0] != "docker" {
			return fmt.Errorf("bottle-start printed %q, not a line", x.stdout)
		}
		walls[i], slugs[i] = x.wall, fields[1]
		return nil
	})
	h.rep.startedWall += time.Since(began)
	h.rep.startedReal += k
	h.rep.startedWalls = append(h.rep.startedWalls, walls...)
	if h.rep.firstSlug == "" && k > 0 {
		h.rep.firstSlug = slugs[0]
	}
	return err
}

// dockerRunRef is the same bottle made with the docker CLI: the network
// and three sequential docker run -d of the same containers (same images,
// commands, environment, confinement, labels).
func (h *harness) dockerRunRef(slug, host string) (network cmdSpec, runs []cmdSpec) {
	env := []string{"DOCKER_HOST=" + host}
	a := agent.Agent{Slug: slug, Name: h.def.name, Services: h.def.sidecars}
	user := map[string]string{benchLabel: h.id}
	common := labels.Bottle(a, user)
	network = cmdSpec{name: "docker network create", env: env,
		argv: slices.Concat([]string{"docker", "network", "create", "--internal"}, labelArgs(common), []string{slug})}
	for i, name := range h.def.sidecars {
		sidecar := withValue(withValue(common, labels.Role, labels.RoleSidecar), labels.Sidecar, name)
		runs = append(runs, cmdSpec{name: "docker run -d (" + name + ")", env: env, argv: slices.Concat(
			[]string{"docker", "run", "-d", "--name", slug + "." + name, "--network", slug, "--network-alias", name},
			labelArgs(sidecar), []string{h.def.image}, h.def.sideCmds[i])})
	}
	run := []string{"docker", "run", "-d", "--name", slug, "--hostname", slug, "--network", slug,
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pids-limit", "1024",
		"--mount", "type=bind,source=" + h.def.workspace + ",target=" + h.def.workdir, "-w", h.def.workdir}
	for k, v := range h.def.env {
		run = append(run, "-e", k+"="+v)
	}
	runs = append(runs, cmdSpec{name: "docker run -d (agent)", env: env, argv: slices.Concat(run,
		labelArgs(withValue(labels.Bottle(a, user), labels.Role, labels.RoleAgent)), []string{h.def.image}, h.def.command)})
	return network, runs
}

// labelArgs gives each label as the docker CLI takes it, in key order.
func labelArgs(l map[string]string) []string {
	var args []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		args = append(args, "--label", k+"="+l[k])
	}
	return args
}

// The ways measureStart makes the bottle.
const (
	viaBottleStart   = iota // bin/bottle-start
	viaDockerCLI            // docker network create + three docker run -d
	viaConcurrentAPI        // the harness over the Engine API, everything at once
	startWays
)

func (h *harness) measureStart(ctx context.Context) error {
	var shapes []shape
	// one makes the bottle once, the given way, through the Engine at
	// host, and removes it again (not timed). Round -1 is not recorded.
	one := func(round, way int, host string, rss bool) error {
		switch way {
		case viaBottleStart:
			x, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-start"), h.def.path}, env: h.dockerEnv(host), rss: rss})
			if err != nil {
				return err
			}
			fields := strings.Split(strings.TrimSpace(string(x.stdout)), "\t")
			if len(fields) != 4 {
				return fmt.Errorf("bottle-start printed %q, not a line", x.stdout)
			}
			if round >= 0 {
				h.rep.start = append(h.rep.start, x)
			}
			h.rep.startRSS = max(h.rep.startRSS, x.rssKiB)
			if shapes == nil {
				var err error
				if shapes, err = h.captureShapes(ctx, fields[1]); err != nil {
					return errors.Join(err, h.removeBySlug(ctx, fields[1]))
				}
			}
			return h.removeBySlug(ctx, fields[1])
		case viaConcurrentAPI:
			slug := fmt.Sprintf("benchapi-%s-%d", h.id, round+2)
			began := time.Now()
			if err := h.concurrentStart(ctx, slug, shapes); err != nil {
				return errors.Join(err, h.removeBySlug(ctx, slug))
			}
			if round >= 0 {
				h.rep.startConcurrent = append(h.rep.startConcurrent, time.Since(began))
			}
			return h.removeBySlug(ctx, slug)
		}
		slug := fmt.Sprintf("benchref-%s-%d", h.id, round+2)
		network, runs := h.dockerRunRef(slug, host)
		var (
			rs    startRef
			began = time.Now()
		)
		for i, spec := range append([]cmdSpec{network}, runs...) {
			spec.rss = rss
			x, err := runOnce(ctx, spec)
			if err != nil {
				return errors.Join(err, h.removeBySlug(ctx, slug))
			}
			if i == 0 {
				rs.network = x.wall
			} else {
				rs.runs += x.wall
			}
			h.rep.refRSS = max(h.rep.refRSS, x.rssKiB)
		}
		rs.total = time.Since(began)
		if round >= 0 {
			h.rep.startRef = append(h.rep.startRef, rs)
		}
		return h.removeBySlug(ctx, slug)
	}
	// One untimed round of each (bottle-start first: the concurrent start
	// copies its containers), then alternate.
	for way := range startWays {
		if err := one(-1, way, h.engineHost(), false); err != nil {
			return err
		}
	}
	for r := range *flagStartRuns {
		for k := range startWays {
			if err := one(r, (r+k)%startWays, h.engineHost(), false); err != nil {
				return err
			}
		}
	}
	// Untimed rounds under /usr/bin/time, for the peak RSS.
	for range rssRuns {
		for _, way := range []int{viaBottleStart, viaDockerCLI} {
			if err := one(-1, way, h.engineHost(), true); err != nil {
				return err
			}
		}
	}
	// Then one untimed round of each through the counting proxy: which
	// requests, and which of them wait for which.
	h.counter.take()
	if err := one(-1, viaBottleStart, h.counter.host, false); err != nil {
		return err
	}
	reqs := h.counter.take()
	h.rep.startReqs, h.rep.startTimeline, h.rep.startRaw = whats(reqs), timeline(reqs), reqs
	if err := one(-1, viaDockerCLI, h.counter.host, false); err != nil {
		return err
	}
	reqs = h.counter.take()
	h.rep.refReqs, h.rep.refTimeline, h.rep.refRaw = whats(reqs), timeline(reqs), reqs
	return nil
}

// --- listing ----------------------------------------------------------------

func (h *harness) measureListing(ctx context.Context, n int) error {
	lv := level{n: n}
	// The request count, and the exact list request, through the proxy.
	h.counter.take()
	x, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-ls")}, env: h.dockerEnv(h.counter.host)})
	if err != nil {
		return err
	}
	reqs := h.counter.take()
	lv.lsReqs, lv.lsTimeline, lv.lsRaw = whats(reqs), timeline(reqs), reqs
	want := sortedLines(x.stdout)
	if len(want) != n {
		return fmt.Errorf("bottle-ls listed %d agents, want %d", len(want), n)
	}
	var listURI string
	for _, r := range lv.lsReqs {
		if method, uri, _ := strings.Cut(r, " "); method == "GET" && strings.Contains(uri, "/containers/json") {
			listURI = uri
		}
	}
	if listURI == "" {
		return fmt.Errorf("bottle-ls made no container-list request: %q", lv.lsReqs)
	}
	lv.listURI = listURI
	psArgs := []string{"docker", "ps",
		"--filter", "label=" + labels.Slug, "--filter", "label=" + labels.Role + "=" + labels.RoleAgent, "--filter", "label=" + benchLabel + "=" + h.id,
		"--format", fmt.Sprintf("docker\t{{.Label %q}}\t{{.Label %q}}\t{{.Label %q}}", labels.Slug, labels.Agent, labels.Services)}
	if _, err := runOnce(ctx, cmdSpec{argv: psArgs, env: []string{"DOCKER_HOST=" + h.counter.host}}); err != nil {
		return err
	}
	lv.psReqs = whats(h.counter.take())

	ss, err := compare(ctx, *flagRuns,
		cmdSpec{name: "bottle-ls", argv: []string{h.binary("bottle-ls")}, env: h.dockerEnv(h.engineHost()),
			check: func(out []byte) error { return sameLines(out, want) }},
		cmdSpec{name: "docker ps", argv: psArgs, env: []string{"DOCKER_HOST=" + h.engineHost()},
			check: func(out []byte) error { return sameLines(out, want) }},
		cmdSpec{name: "curl (list)", argv: []string{"curl", "-sS", "--fail", "--unix-socket", h.engine.sock, "http://localhost" + listURI},
			check: func(out []byte) error {
				// The answer holds every running container of the bottles,
				// sidecars and forwarders too, whose ports the listing reads
				// from the same answer: one agent container per agent.
				var items []struct{ Labels map[string]string }
				if err := json.Unmarshal(out, &items); err != nil {
					return err
				}
				agents := 0
				for _, item := range items {
					if item.Labels[labels.Role] == labels.RoleAgent {
						agents++
					}
				}
				if agents != n {
					return fmt.Errorf("the list request returned %d agent containers, want %d", agents, n)
				}
				return nil
			}},
		cmdSpec{name: "minimal Go lister", argv: []string{h.minls, h.engine.sock, listURI},
			check: func(out []byte) error { return sameLines(out, want) }},
	)
	if err != nil {
		return err
	}
	lv.ls, lv.ps, lv.curl, lv.min = ss[0], ss[1], ss[2], ss[3]
	if err := measureRSS(ctx, ss[:3]...); err != nil {
		return err
	}
	h.rep.levels = append(h.rep.levels, lv)
	return nil
}

func sortedLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return lines
}

func sameLines(out []byte, want []string) error {
	got := sortedLines(out)
	if !slices.Equal(got, want) {
		return fmt.Errorf("printed %d rows that differ from bottle-ls's %d (first: %q)", len(got), len(want), got[:min(1, len(got))])
	}
	return nil
}

// --- concurrency ------------------------------------------------------------

func (h *harness) measureConcurrency(ctx context.Context) error {
	state, running, err := h.smolState(*flagMachines)
	if err != nil {
		return err
	}
	calls := filepath.Join(h.dir, "smolvm-calls-slow.txt")
	for _, variant := range []struct {
		name, dockerHost string
	}{
		{"docker direct", h.engineHost()},
		{fmt.Sprintf("docker behind a proxy adding %s per request", slowDelay), h.slow.host},
	} {
		both := append(h.dockerEnv(variant.dockerHost)[:1:1], h.smolEnv(state, calls, "1s")[1:]...)
		wantRows := running + h.rep.concurrencyN
		ss, err := compare(ctx, *flagSlowRuns,
			cmdSpec{name: "docker only", argv: []string{h.binary("bottle-ls")}, env: h.dockerEnv(variant.dockerHost)},
			cmdSpec{name: "smolmachines only", argv: []string{h.binary("bottle-ls")}, env: h.smolEnv(state, calls, "1s")},
			cmdSpec{name: "both", argv: []string{h.binary("bottle-ls")}, env: both,
				check: func(out []byte) error {
					if got := countLines(out); got != wantRows {
						return fmt.Errorf("listed %d agents, want %d", got, wantRows)
					}
					return nil
				}},
		)
		if err != nil {
			return err
		}
		h.rep.conc = append(h.rep.conc, concResult{name: variant.name, docker: ss[0], smol: ss[1], both: ss[2]})
	}
	return nil
}

// --- environment ------------------------------------------------------------

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cliVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Client.Version}}").Output()
	return strings.TrimSpace(string(out)), err
}

func curlVersion(ctx context.Context) string {
	out, _ := exec.CommandContext(ctx, "curl", "--version").Output()
	f := strings.Fields(string(out))
	if len(f) >= 2 {
		return f[1]
	}
	return "?"
}
