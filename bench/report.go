package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// level is the listing figures at one number of agents.
type level struct {
	n              int
	lsReqs, psReqs []string
	lsTimeline     string
	lsRaw          []request
	listURI        string
	ls, ps, curl   *series
	min            *series // bench/minls, the yardstick
}

// smolCount is one bottle-ls over a stand-in smolvm listing.
type smolCount struct {
	machines, listed int
	calls            []string // the smolvm invocations, one a line
	ls               *series
}

// startRef is one docker CLI start of the same bottle.
type startRef struct {
	network time.Duration // docker network create
	runs    time.Duration // the three docker run -d
	total   time.Duration // all four, back to back
}

// concResult is bottle-ls with docker only, smolmachines only, and both.
type concResult struct {
	name               string
	docker, smol, both *series
}

type report struct {
	date                       time.Time
	cpus                       int
	engineVersion, engineAPI   string
	dockerCLI, curl            string
	id                         string
	runs, startRuns, slowRuns  int
	real, parallel, machines   int
	slowDelay                  time.Duration
	loadBefore, loadAfter      string
	elapsed                    time.Duration
	startup                    []*series // bottle-ls --help, curl --version, docker --version
	inits                      []pkgInit // bottle-ls's, in init order
	smol                       []smolCount
	hasBackendReqs             []string
	dockerVersionReqs          []string
	hasBackend                 []*series // bottle-has-backend, curl /_ping, docker version
	start                      []sample
	startRef                   []startRef
	previous                   string // the start-up and listing figures of the report this one replaces
	branch                     *branchResult
	startReqs, refReqs         []string
	startTimeline, refTimeline string
	startRaw, refRaw           []request
	sidecarsRunning            bool
	startRSS, refRSS           int64 // KiB: bottle-start's peak, the largest of the CLI's four
	startConcurrent            []time.Duration
	firstSlug                  string
	startedWall                time.Duration
	startedReal                int
	startedWalls               []time.Duration
	replicas                   int
	replicateWall              time.Duration
	levels                     []level
	concurrencyN               int
	conc                       []concResult
	goBench                    string
	leftovers                  []string
}

// pkgInit is the median time of one package's init functions.
type pkgInit struct {
	pkg string
	ms  float64
}

// initNote sums package init time by whose packages they are.
func (r *report) initNote() string {
	var total, ours, docker float64
	var top []pkgInit
	for _, p := range r.inits {
		total += p.ms
		switch {
		case strings.HasPrefix(p.pkg, "github.com/bottle-dev/bottle/"):
			ours += p.ms
		case strings.HasPrefix(p.pkg, "github.com/distribution/"), strings.HasPrefix(p.pkg, "github.com/opencontainers/"),
			strings.HasPrefix(p.pkg, "github.com/moby/"), strings.HasPrefix(p.pkg, "github.com/docker/"),
			strings.HasPrefix(p.pkg, "go.opentelemetry.io/"), strings.HasPrefix(p.pkg, "github.com/containerd/"):
			docker += p.ms
		}
		top = append(top, p)
	}
	slices.SortStableFunc(top, func(a, b pkgInit) int {
		switch {
		case a.ms > b.ms:
			return -1
		case a.ms < b.ms:
			return 1
		}
		return 0
	})
	var names []string
	for _, p := range top[:min(6, len(top))] {
		names = append(names, fmt.Sprintf("%s %.2f ms", strings.TrimPrefix(p.pkg, "github.com/"), p.ms))
	}
	return fmt.Sprintf("package `init` functions run at every start of every binary: %.1f ms over %d packages (medians of 5 runs under `GODEBUG=inittrace=1`), %.1f ms of it in bottle's own packages and %.1f ms in the Docker client's dependencies; the largest: %s",
		total, len(r.inits), ours, docker, strings.Join(names, ", "))
}

// row is one target of issue 7.
type row struct {
	what     string
	measured string
	ratio    string
	target   string
	met      bool
	meaning  string // one sentence: what the ratio says
	miss     string // when missed: by how much, and the likely cause
}

func (r *report) largest() *level {
	if len(r.levels) == 0 {
		return nil
	}
	return &r.levels[len(r.levels)-1]
}

// yardstick compares with bench/minls, the least a Go program does for the
// same lines.
func (lv *level) yardstick() string {
	if lv.min == nil {
		return ""
	}
	m, c := lv.min.median(), lv.curl.median()
	verdict := "so the target is within reach of a Go binary, and the difference is what bottle-ls does beyond that (the ping, the Docker client's full decoding, the start-up of its dependencies)"
	if ratio(m, c) > 1.0 {
		verdict = "so on this machine not even that meets the target: the floor is a C program that only copies bytes, and a Go binary that must decode the answer does not match it here"
	}
	return fmt.Sprintf(" The least a Go program can do for the same lines (bench/minls: the same one request, no ping, no Docker client, decoding only the labels, one buffered write; standard library only) takes %s, %.2f× curl, %.2f× bottle-ls: %s.",
		ms(m), ratio(m, c), ratio(m, lv.ls.median()), verdict)
}

// requestNote says, from the requests bottle-ls made through the proxy,
// what the Engine's part of its time was.
func (lv *level) requestNote() string {
	var ping, list request
	for _, q := range lv.lsRaw {
		if isPing(q.what) {
			ping = q
		} else if strings.Contains(q.what, "/containers/json") {
			list = q
		}
	}
	if ping.what == "" || list.what == "" {
		return "bottle-ls's requests could not be told apart"
	}
	return fmt.Sprintf("the ping before the list, a round trip the floor does not make: through the counting proxy the Engine answered it in %s, and the list went out %s after the ping did",
		ms(ping.took), ms(list.at.Sub(ping.at)))
}

// decodeNote quotes the Go benchmark of decoding a container list of n.
func (r *report) decodeNote(n int) string {
	for _, line := range strings.Split(r.goBench, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[0], fmt.Sprintf("BenchmarkDecodeContainerList/agents=%d-", n)) {
			ns, _ := strconv.ParseFloat(f[2], 64)
			return fmt.Sprintf("decoding the answer into %d `container.Summary` values, every field of every container (networks, mounts, ports) where a line needs the labels: %s in BenchmarkDecodeContainerList (below), on a warm heap", n, ms(time.Duration(ns)))
		}
	}
	return fmt.Sprintf("decoding %d `container.Summary` values and writing the lines (see the Go benchmarks)", n)
}

// rounds says in how many rounds (each runs both commands once, back to
// back) a's time was within target times b's: a paired count, which tells a
// consistent miss from one within the machine's run-to-run noise.
func rounds(a, b *series, target float64) string {
	n := min(len(a.samples), len(b.samples))
	held := 0
	for i := range n {
		if float64(a.samples[i].wall) <= target*float64(b.samples[i].wall) {
			held++
		}
	}
	if n > 0 && float64(held) >= 0.35*float64(n) {
		return fmt.Sprintf(" The target held in %d of %d rounds (each runs both, back to back): a miss this close is within the run-to-run noise of this machine and may not repeat.", held, n)
	}
	return fmt.Sprintf(" The target held in %d of %d rounds (each runs both, back to back): the miss is consistent, not noise.", held, n)
}

// shortReq drops the query and the API version: "GET containers/json".
func shortReq(q string) string {
	method, uri, _ := strings.Cut(q, " ")
	path, _, _ := strings.Cut(uri, "?")
	if strings.HasPrefix(path, "/v1.") {
		if i := strings.Index(path[1:], "/"); i >= 0 {
			path = path[i+2:]
		}
	}
	path = strings.TrimPrefix(path, "/")
	// Container and network IDs say nothing here.
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if len(p) == 64 {
			parts[i] = "{id}"
		}
	}
	return method + " " + strings.Join(parts, "/")
}

func reqSummary(reqs []string) string {
	var parts []string
	for _, q := range reqs {
		parts = append(parts, shortReq(q))
	}
	return strings.Join(parts, ", ")
}

func isPing(q string) bool {
	_, uri, _ := strings.Cut(q, " ")
	return strings.HasSuffix(strings.SplitN(uri, "?", 2)[0], "/_ping")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func (r *report) rows() []row {
	var rows []row
	big := r.largest()

	// Engine API requests per bottle-ls.
	if len(r.levels) > 0 {
		var counts []string
		constant, shape := true, true
		for _, lv := range r.levels {
			counts = append(counts, fmt.Sprintf("%d agents: %d (%s)", lv.n, len(lv.lsReqs), reqSummary(lv.lsReqs)))
			constant = constant && len(lv.lsReqs) == len(r.levels[0].lsReqs)
			pings := 0
			for _, q := range lv.lsReqs {
				if isPing(q) {
					pings++
				}
			}
			shape = shape && len(lv.lsReqs) == 2 && pings == 1
		}
		rw := row{
			what:     "Engine API requests by one `bottle-ls`",
			measured: strings.Join(counts, "; "),
			ratio:    fmt.Sprintf("%d at %d agents / %d at %d", len(big.lsReqs), big.n, len(r.levels[0].lsReqs), r.levels[0].n),
			target:   "constant: ping + one list",
			met:      constant && shape,
			meaning:  "Requests at the most agents over requests at the fewest: 1 with 2 requests means listing costs one ping and one list whatever the number of agents (no per-agent inspect).",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("`bottle-ls` made %s at %d agents; every request beyond one ping and one `GET /containers/json` is work that grows or repeats.", reqSummary(big.lsReqs), big.n)
		}
		rows = append(rows, rw)
	}

	// smolvm processes per bottle-ls.
	if len(r.smol) > 0 {
		var counts []string
		met := true
		for _, s := range r.smol {
			counts = append(counts, fmt.Sprintf("%d machines: %d (`%s`)", s.machines, len(s.calls), strings.Join(s.calls, "`, `")))
			met = met && len(s.calls) == 1
		}
		last := r.smol[len(r.smol)-1]
		rw := row{
			what:     "`smolvm` processes started by one `bottle-ls`",
			measured: strings.Join(counts, "; "),
			ratio:    fmt.Sprintf("%d / 1", len(last.calls)),
			target:   "exactly 1, at 0 and 5,000 machines",
			met:      met,
			meaning:  "Processes started over the one the target allows: each process above 1 costs a fork and exec of smolvm (and its own start-up) on every listing.",
		}
		if !met {
			rw.miss = fmt.Sprintf("Missed by %d process(es) (%.0f%% more than allowed) at %d machines: the processes are those above. "+
				"A backend's `Enumerate` is its own usability check (pkg/backend/backend.go), so one listing needs no process but `smolvm machine ls --json`.",
				len(last.calls)-1, float64(len(last.calls)-1)*100, last.machines)
		}
		rows = append(rows, rw)
	}

	if big != nil {
		lsM, psM, curlM := big.ls.median(), big.ps.median(), big.curl.median()
		rw := row{
			what:     fmt.Sprintf("`bottle-ls` vs `docker ps` (same filter, same rows via `--format`), %d agents", big.n),
			measured: fmt.Sprintf("%s vs %s", ms(lsM), ms(psM)),
			ratio:    fmt.Sprintf("%.2f×", ratio(lsM, psM)),
			target:   "≤ 0.7×",
			met:      ratio(lsM, psM) <= 0.7,
			meaning:  "The share of `docker ps`'s wall time that `bottle-ls` needs to print the same rows: below 1 is faster than the CLI a user would otherwise run.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %.0f%% of the target (%s slower than 0.7× would allow).", (ratio(lsM, psM)/0.7-1)*100, ms(lsM-time.Duration(0.7*float64(psM))))
			rw.miss += rounds(big.ls, big.ps, 0.7)
			rw.miss += fmt.Sprintf(" Both make the same two requests and the Engine's answer alone (curl) takes %s, so what is ours is bottle-ls's fixed cost; see the next row for where it goes.", ms(curlM))
		}
		rows = append(rows, rw)

		rw = row{
			what:     fmt.Sprintf("`bottle-ls` vs the floor: one `curl --unix-socket` of the same list request, %d agents", big.n),
			measured: fmt.Sprintf("%s vs %s", ms(lsM), ms(curlM)),
			ratio:    fmt.Sprintf("%.2f×", ratio(lsM, curlM)),
			target:   "≤ 1.0×",
			met:      ratio(lsM, curlM) <= 1.0,
			meaning:  "`bottle-ls`'s wall time over the Engine's own answer to the one list request it makes (plus curl's start-up): anything above 1 is time of ours, not the Engine's.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %s (%.0f%%).", ms(lsM-curlM), (ratio(lsM, curlM)-1)*100)
			rw.miss += rounds(big.ls, big.curl, 1.0) + big.yardstick()
			rw.miss += fmt.Sprintf(" Where bottle-ls's time goes beyond that: (1) %s; (2) %s; (3) %s. bottle-ls used %s of CPU (user + system, median) where curl used %s; on %d CPUs shared with the dockerd building the answer, CPU of ours is wall time.",
				r.initNote(), big.requestNote(), r.decodeNote(big.n), ms(big.ls.cpuMedian()), ms(big.curl.cpuMedian()), r.cpus)
		}
		rows = append(rows, rw)
	}

	// Concurrency.
	for _, c := range r.conc {
		d, s, b := c.docker.median(), c.smol.median(), c.both.median()
		slower := max(d, s)
		rw := row{
			what:     fmt.Sprintf("`bottle-ls`, docker (%s, %d agents) and a slow smolvm (`SMOLVM_DELAY=1s`, %d machines) together", c.name, r.concurrencyN, r.machines),
			measured: fmt.Sprintf("both %s; docker alone %s, smolmachines alone %s (sum %s)", ms(b), ms(d), ms(s), ms(d+s)),
			ratio:    fmt.Sprintf("%.2f× the slower, %.2f× the sum", ratio(b, slower), ratio(b, d+s)),
			target:   "the slower's time, not the sum (≤ 1.10× the slower)",
			met:      ratio(b, slower) <= 1.10,
			meaning:  "Time with both backends over the slower backend alone: about 1 means they are asked at once; the sum would show as the ratio to the sum reaching 1.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %.0f%%: together took %s more than the slower backend alone, so part of the two backends' work is serialised.", (ratio(b, slower)/1.10-1)*100, ms(b-slower))
		}
		rows = append(rows, rw)
	}

	// has-backend.
	if len(r.hasBackend) >= 2 {
		hb, ping := r.hasBackend[0].median(), r.hasBackend[1].median()
		rw := row{
			what:     "`bottle-has-backend docker` vs one `curl --unix-socket` of `/_ping`, median",
			measured: fmt.Sprintf("%s vs %s; requests: %s", ms(hb), ms(ping), reqSummary(r.hasBackendReqs)),
			ratio:    fmt.Sprintf("%.2f×", ratio(hb, ping)),
			target:   "≤ 1.0×, no work beyond the ping",
			met:      ratio(hb, ping) <= 1.0 && len(r.hasBackendReqs) == 1 && isPing(r.hasBackendReqs[0]),
			meaning:  "The answer to \"is docker usable\" over the cheapest process that asks the Engine the same question: above 1 is start-up and work of ours.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %s (%.0f%%).", ms(hb-ping), (ratio(hb, ping)-1)*100)
			rw.miss += rounds(r.hasBackend[0], r.hasBackend[1], 1.0)
			rw.miss += fmt.Sprintf(" It makes %d request (%s), so the gap is not the Engine's.", len(r.hasBackendReqs), reqSummary(r.hasBackendReqs))
			if len(r.hasBackend) >= 4 {
				m := r.hasBackend[3].median()
				rw.miss += fmt.Sprintf(" The least a Go program can do for the same answer (bench/minls -ping: standard library only, one HEAD /_ping) takes %s, %.2f× curl; bottle-has-backend takes %s more than that, which is about what its start-up costs: %s.", ms(m), ratio(m, ping), ms(hb-m), r.initNote())
			} else {
				rw.miss += " Its start-up: " + r.initNote() + "."
			}
		}
		rows = append(rows, rw)
	}

	// start.
	if len(r.start) > 0 && len(r.startRef) > 0 {
		var bs, refTotal, refRuns []time.Duration
		for _, x := range r.start {
			bs = append(bs, x.wall)
		}
		for _, x := range r.startRef {
			refTotal = append(refTotal, x.total)
			refRuns = append(refRuns, x.runs)
		}
		b, t, runs := medianDur(bs), medianDur(refTotal), medianDur(refRuns)
		rw := row{
			what:     "`bottle-start` (agent + two sidecars) vs the docker CLI making the same bottle: `docker network create` + three sequential `docker run -d`",
			measured: fmt.Sprintf("%s vs %s (the three `docker run -d` alone: %s); the same bottle with everything created at once and started at once over the Engine API: %s", ms(b), ms(t), ms(runs), ms(medianDur(r.startConcurrent))),
			ratio:    fmt.Sprintf("%.2f× (%.2f× the runs alone)", ratio(b, t), ratio(b, runs)),
			target:   "≤ 0.7×",
			met:      ratio(b, t) <= 0.7,
			meaning:  "The share of the CLI's time `bottle-start` needs for the same network and containers: below 1 is the gain from creating and starting the containers concurrently.",
		}
		if !rw.met {
			conc := medianDur(r.startConcurrent)
			verdict := fmt.Sprintf("so a bottle-start that did the same would reach the target here (%.2f×)", ratio(conc, t))
			if ratio(conc, t) > 0.7 {
				verdict = fmt.Sprintf("so not even that reaches the target on this Engine (%.2f×): the rest is the Engine's own, and the target needs an Engine that starts containers in parallel (more CPUs) to be met", ratio(conc, t))
			}
			rw.miss = fmt.Sprintf("Missed by %.0f%% of the target (%s over 0.7×). "+
				"`docker.(*Backend).Start` (pkg/backend/docker/start.go) runs, one after the other: ping, network create, the agent's create, the sidecars' creates (together), the sidecars' starts (together), then the agent's start (\"sidecars first\"); so the agent's create and, above all, its start (about a second here) wait for the others. "+
				"Its container starts took %s (the first two sent together), the CLI's, one at a time, %s: on %d CPUs the Engine overlaps two starts only partly (a start is the Engine's work: the network endpoint, the fuse-overlayfs mount, runc). "+
				"The harness making the same three containers over the Engine API, all created at once and then all started at once, takes %s, %s. "+
				"The request timelines of both are under *Other figures*.",
				(ratio(b, t)/0.7-1)*100, ms(b-time.Duration(0.7*float64(t))), durs(startDurations(r.startRaw)), durs(startDurations(r.refRaw)), r.cpus, ms(conc), verdict)
		}
		rows = append(rows, rw)
	}

	// RSS.
	type pair struct {
		what, mine, theirs string
		a, b               int64
	}
	var pairs []pair
	if big != nil {
		pairs = append(pairs, pair{fmt.Sprintf("listing %d agents", big.n), "bottle-ls", "docker ps", big.ls.peakRSS(), big.ps.peakRSS()})
	}
	if len(r.hasBackend) >= 3 {
		pairs = append(pairs, pair{"is docker usable", "bottle-has-backend docker", "docker version", r.hasBackend[0].peakRSS(), r.hasBackend[2].peakRSS()})
	}
	if len(r.start) > 0 && len(r.startRef) > 0 {
		pairs = append(pairs, pair{"starting the bottle", "bottle-start", "docker network create / docker run -d (largest)", r.startRSS, r.refRSS})
	}
	for _, p := range pairs {
		rw := row{
			what:     fmt.Sprintf("peak RSS, %s: `%s` vs `%s`", p.what, p.mine, p.theirs),
			measured: fmt.Sprintf("%s vs %s", mib(p.a), mib(p.b)),
			ratio:    fmt.Sprintf("%.2f×", float64(p.a)/float64(max(p.b, 1))),
			target:   "≤ 0.6×",
			met:      float64(p.a) <= 0.6*float64(p.b),
			meaning:  "The binary's peak resident memory (GNU time's %M, the largest of 3 runs) over the docker CLI's for the same job: below 1 is memory a script running it in a loop does not pay.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %.0f%%: %s over 0.6× the CLI's.", (float64(p.a)/(0.6*float64(p.b))-1)*100, mib(p.a-int64(0.6*float64(p.b))))
		}
		rows = append(rows, rw)
	}
	rows = append(rows, r.branchRows()...)
	return append(rows, r.egressRows()...)
}

// goBenchValue returns the figure in unit (such as "ns/op") of the Go
// benchmark whose name, without the -GOMAXPROCS suffix, is name.
func (r *report) goBenchValue(name, unit string) (float64, bool) {
	for _, line := range strings.Split(r.goBench, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], name+"-") || strings.Trim(strings.TrimPrefix(f[0], name+"-"), "0123456789") != "" {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == unit {
				v, err := strconv.ParseFloat(f[i], 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// Targets of the egress proxy's secrets: what intercepting a connection to
// swap a secret in costs over a plain tunnel, from pkg/egress's Go
// benchmarks (all on the loopback, against the same local TLS server).
const (
	// On a kept-alive connection a request through a tunnel costs the
	// client's TLS and HTTP, the server's, and the proxy's copying. The
	// swapping path adds, in the proxy, a TLS and HTTP server and a TLS
	// and HTTP client: the same work again as the two ends together, so
	// about 2× is what the design implies; 2.5× leaves room for the
	// header rewrite and the goroutines between the two sides, and more
	// would mean work beyond the design (a handshake or a buffer per
	// request). Off the loopback the host's round trip, tens of
	// milliseconds, dwarfs the difference.
	egressSwapTarget = 2.5
	// A new connection per request costs the handshakes: two for swap
	// (the agent's with the proxy, under a cached leaf, and the proxy's
	// with the host) against one end to end.
	egressNewConnTarget = 2.0
	// The proxy holds at most 256 connections (DefaultLimits); at 128 KiB
	// of heap and stacks each that is 32 MiB of the sidecar's 512 MiB.
	egressStreamTarget = 128 << 10
)

func (r *report) egressRows() []row {
	var rows []row
	for _, c := range []struct {
		bench, what string
		target      float64
	}{
		{"BenchmarkEgressHTTPS", "one HTTPS request through bottle-egress swapping a secret in vs through a plain tunnel, kept-alive connections", egressSwapTarget},
		{"BenchmarkEgressHTTPSNewConn", "the same with a new connection per request", egressNewConnTarget},
	} {
		swap, ok1 := r.goBenchValue(c.bench+"/swap", "ns/op")
		tunnel, ok2 := r.goBenchValue(c.bench+"/tunnel", "ns/op")
		if !ok1 || !ok2 || tunnel == 0 {
			continue
		}
		q := swap / tunnel
		rw := row{
			what:     c.what + " (`" + c.bench + "`)",
			measured: fmt.Sprintf("%s vs %s", time.Duration(swap).Round(time.Microsecond), time.Duration(tunnel).Round(time.Microsecond)),
			ratio:    fmt.Sprintf("%.2f×", q),
			target:   fmt.Sprintf("≤ %.1f×", c.target),
			met:      q <= c.target,
			meaning:  "Time per request when the proxy terminates TLS to swap a secret into the headers and makes its own TLS to the host, over the time through a tunnel it never looks inside, to the same local server.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %.0f%%: %s per request over %.1f× the tunnel's.", (q/c.target-1)*100, time.Duration(swap-c.target*tunnel).Round(time.Microsecond), c.target)
		}
		rows = append(rows, rw)
	}
	heap, ok1 := r.goBenchValue("BenchmarkEgressStreams/swap", "heap-B/stream")
	stack, ok2 := r.goBenchValue("BenchmarkEgressStreams/swap", "stack-B/stream")
	dheap, ok3 := r.goBenchValue("BenchmarkEgressStreams/direct", "heap-B/stream")
	dstack, ok4 := r.goBenchValue("BenchmarkEgressStreams/direct", "stack-B/stream")
	if ok1 && ok2 && ok3 && ok4 {
		per := heap + stack - dheap - dstack
		theirs := "n/a"
		if th, ok := r.goBenchValue("BenchmarkEgressStreams/tunnel", "heap-B/stream"); ok {
			if ts, ok := r.goBenchValue("BenchmarkEgressStreams/tunnel", "stack-B/stream"); ok {
				theirs = fmt.Sprintf("%.0f KiB", (th+ts-dheap-dstack)/1024)
			}
		}
		rw := row{
			what:     "memory the proxy holds per open server-sent-event stream through the swapping path, 100 streams (`BenchmarkEgressStreams`)",
			measured: fmt.Sprintf("%.0f KiB (heap %.0f KiB, stacks %.0f KiB); through a tunnel %s", per/1024, (heap-dheap)/1024, (stack-dstack)/1024, theirs),
			ratio:    fmt.Sprintf("%.2f× the target", per/egressStreamTarget),
			target:   fmt.Sprintf("≤ %d KiB per stream", egressStreamTarget>>10),
			met:      per <= egressStreamTarget,
			meaning:  "Heap and goroutine stacks in use with 100 streams open, each past its first event, less the same streams without the proxy (client and server are in the same process): what each of the 256 connections the proxy serves at most can hold.",
		}
		if !rw.met {
			rw.miss = fmt.Sprintf("Missed by %.0f KiB per stream.", (per-egressStreamTarget)/1024)
		}
		rows = append(rows, rw)
	}
	return rows
}

// startDurations are how long the Engine took for each container start.
func startDurations(reqs []request) []time.Duration {
	var d []time.Duration
	for _, q := range reqs {
		if method, uri, _ := strings.Cut(q.what, " "); method == "POST" && strings.HasSuffix(strings.SplitN(uri, "?", 2)[0], "/start") {
			d = append(d, q.took)
		}
	}
	return d
}

func durs(d []time.Duration) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = ms(x)
	}
	return strings.Join(parts, ", ")
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (r *report) targetsTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| target | measured (medians) | ratio | target | met | what the ratio means |\n|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(rw.what), cell(rw.measured), cell(rw.ratio), cell(rw.target), yes(rw.met), cell(rw.meaning))
	}
	return b.String()
}

func (r *report) missesSection(rows []row) string {
	var b strings.Builder
	n := 0
	for _, rw := range rows {
		if rw.met {
			continue
		}
		n++
		fmt.Fprintf(&b, "- **%s** (%s, target %s): %s\n", rw.what, rw.ratio, rw.target, rw.miss)
	}
	if n == 0 {
		return "Every target is met.\n"
	}
	return b.String()
}

func (r *report) header() string {
	return fmt.Sprintf("Measured by `make bench` (`go run ./bench`) on %s: %d CPUs, Docker Engine %s (API %s), docker CLI %s, curl %s; load average %s before, %s after; the run took %s.\n",
		r.date.UTC().Format("2006-01-02 15:04 MST"), r.cpus, r.engineVersion, r.engineAPI, r.dockerCLI, r.curl, r.loadBefore, r.loadAfter, r.elapsed.Round(time.Second))
}

// text is what the harness prints on stdout: the same table.
func (r *report) text() string {
	rows := r.rows()
	var b strings.Builder
	b.WriteString(r.header() + "\n")
	b.WriteString(r.targetsTable(rows) + "\n")
	b.WriteString("Missed targets:\n" + r.missesSection(rows))
	b.WriteString("\n" + r.levelsTable())
	return b.String()
}

func (r *report) levelsTable() string {
	var b strings.Builder
	b.WriteString("| agents | requests: bottle-ls / docker ps | wall: bottle-ls | wall: docker ps | wall: curl (list) | wall: minimal Go lister | ls / ps | ls / curl | CPU: bottle-ls / docker ps / curl | peak RSS: bottle-ls / docker ps / curl |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, lv := range r.levels {
		fmt.Fprintf(&b, "| %d | %d / %d | %s | %s | %s | %s | %.2f× | %.2f× | %s / %s / %s | %s / %s / %s |\n",
			lv.n, len(lv.lsReqs), len(lv.psReqs), ms(lv.ls.median()), ms(lv.ps.median()), ms(lv.curl.median()), ms(lv.min.median()),
			ratio(lv.ls.median(), lv.ps.median()), ratio(lv.ls.median(), lv.curl.median()),
			ms(lv.ls.cpuMedian()), ms(lv.ps.cpuMedian()), ms(lv.curl.cpuMedian()),
			mib(lv.ls.peakRSS()), mib(lv.ps.peakRSS()), mib(lv.curl.peakRSS()))
	}
	return b.String()
}

func (r *report) markdown() string {
	rows := r.rows()
	var b strings.Builder
	b.WriteString("# Performance\n\n")
	b.WriteString("This file is written by `make bench`; edit `bench/report.go`, not this file.\n\n")
	b.WriteString(r.header() + "\n")
	fmt.Fprintf(&b, "Each comparison runs its commands alternately (%d timed rounds after one untimed warm-up round, each round starting with the next command), and gives medians of wall time from fork to exit, as a user at a shell sees it. Ratios are within this one run, so the machine's speed cancels out; absolute times are this machine's.\n\n", r.runs)
	b.WriteString("## Targets (issue 7)\n\n")
	b.WriteString(r.targetsTable(rows) + "\n")
	b.WriteString("## Missed targets: by how much, and the likely cause\n\n")
	b.WriteString(r.missesSection(rows) + "\n")
	b.WriteString("## Listing at each number of agents\n\n")
	b.WriteString(r.levelsTable() + "\n")
	if big := r.largest(); big != nil {
		fmt.Fprintf(&b, "`bottle-ls`'s requests at %d agents: `%s`. `docker ps`'s: `%s`. The curl floor sends bottle-ls's own list request, captured through the counting proxy: `GET %s`.\n\n",
			big.n, strings.Join(big.lsReqs, "`, `"), strings.Join(big.psReqs, "`, `"), big.listURI)
	}
	b.WriteString("## Other figures\n\n")
	for _, s := range r.startup {
		fmt.Fprintf(&b, "- Start-up without the Engine, `%s`: %s median, %s of CPU, peak RSS %s.\n", s.spec.name, ms(s.median()), ms(s.cpuMedian()), mib(s.peakRSS()))
	}
	fmt.Fprintf(&b, "- `bottle-ls`'s %s.\n", r.initNote())
	if len(r.hasBackend) >= 4 {
		fmt.Fprintf(&b, "- `bench/minls -ping` (the least a Go program does to ask the Engine whether it answers): %s median.\n", ms(r.hasBackend[3].median()))
	}
	if len(r.hasBackend) >= 3 {
		fmt.Fprintf(&b, "- `docker version` (the CLI's way to ask whether the Engine answers): %s median, requests `%s`.\n", ms(r.hasBackend[2].median()), strings.Join(r.dockerVersionReqs, "`, `"))
	}
	for _, s := range r.smol {
		fmt.Fprintf(&b, "- `bottle-ls` over a stand-in smolvm with %d machines (%d listed; Docker at a dead socket): %s median over %d runs, smolvm calls `%s`.\n",
			s.machines, s.listed, ms(s.ls.median()), len(s.ls.samples), strings.Join(s.calls, "`, `"))
	}
	for _, lv := range r.levels {
		fmt.Fprintf(&b, "- `bottle-ls` at %d agents, its requests through the proxy (when each began, and how long the Engine took): %s.\n", lv.n, lv.lsTimeline)
	}
	if r.startTimeline != "" {
		fmt.Fprintf(&b, "- `bottle-start`'s %d requests through the proxy: %s.\n", len(r.startReqs), r.startTimeline)
		fmt.Fprintf(&b, "- The docker CLI's %d requests for the same bottle (four processes): %s.\n", len(r.refReqs), r.refTimeline)
	}
	if r.startedReal > 0 {
		fmt.Fprintf(&b, "- %d agents started through `bin/bottle-start`, %d at a time: %s in all, %s median per start while the others ran.\n",
			r.startedReal, r.parallel, r.startedWall.Round(time.Millisecond), ms(medianDur(r.startedWalls)))
	}
	if r.replicas > 0 {
		fmt.Fprintf(&b, "- %d more agents (each an agent container and two sidecar containers, see below) replicated over the Engine API, %d at a time: %s.\n", r.replicas, r.parallel, r.replicateWall.Round(time.Second))
	}
	for _, c := range r.conc {
		fmt.Fprintf(&b, "- Slow smolvm, %s: docker alone %s, smolmachines alone %s, both %s (%d runs each).\n", c.name, ms(c.docker.median()), ms(c.smol.median()), ms(c.both.median()), len(c.both.samples))
	}
	if r.previous != "" {
		b.WriteString("\n## The run before this one\n\nWhat the report this one replaced measured of start-up and listing, as it said it, for what the change since did to them:\n\n")
		b.WriteString(r.previous)
	}
	b.WriteString("\n## How it is measured\n\n")
	b.WriteString(r.method())
	if r.goBench != "" {
		b.WriteString("\n## Go benchmarks of the pure parts\n\n")
		b.WriteString("`go test -run '^$' -bench . -benchmem " + strings.Join(benchPackages, " ") + "`, in the same run:\n\n```\n" + r.goBench + "```\n")
	}
	b.WriteString("\n## Left behind\n\n")
	if len(r.leftovers) == 0 {
		fmt.Fprintf(&b, "Nothing: no container, network or image labelled `%s=%s` was left after the run.\n", benchLabel, r.id)
	} else {
		fmt.Fprintf(&b, "Still there after the cleanup: %s.\n", strings.Join(r.leftovers, ", "))
	}
	return b.String()
}

func (r *report) replicaSidecarsNote() string {
	if r.sidecarsRunning {
		return "The replicas' sidecars run, as real ones do."
	}
	return "The replicas' agent containers run; their sidecar containers are created but not started (`-replica-sidecars` starts them too): starting 380 more containers takes this Engine about 6 minutes more, and a listing of running agents skips a container that is not running before it looks at its labels, as it skips a running sidecar by its role label, so the Engine's work for the listing is nearly the same."
}

func (r *report) method() string {
	var b strings.Builder
	items := []string{
		fmt.Sprintf("Everything the run creates carries `%s=<run id>` (this run: `%s`) and is removed at the end, also on failure or interruption. The toolkit sees only the run's agents through `BOTTLE_LABELS`, and `docker ps` through the same label filter, so agents started by hand are neither counted nor touched.", benchLabel, r.id),
		"The agent is the `bottle-demo:latest` image (`sleep infinity`, a bind-mounted workspace, `TERM` set) with two sidecars of the same image: `web` (busybox httpd) and `cache` (`sleep infinity`). There is no `egress` sidecar, because that would take a second network per bottle (see the next point).",
		fmt.Sprintf("Agents: up to %d are started through `bin/bottle-start`, %d at a time. The rest of each level are replicas made over the Engine API: the same three containers with the same images, commands, environment, confinement and labels (copied from an agent bottle-start made), but on one shared internal network of the run's. bottle-start gives every bottle a bridge network of its own, and this Engine's default address pools hold only about 30 bridge networks (172.17–31.0.0/16 and 192.168.0.0/16 in /20s), shared with everyone else using the Engine: 200 bottles through bottle-start cannot exist here at once whatever the speed. A listing costs the Engine per container, not per network, so the replicas weigh on `bottle-ls`, `docker ps` and curl as real bottles would. %s", r.real, r.parallel, r.replicaSidecarsNote()),
		"`bottle-ls` and `bottle-has-backend` see the smolmachines backend unusable for the docker figures: `BOTTLE_SMOLVM` names a file that does not exist, so no process is started for it.",
		"Requests are counted by a proxy on a unix socket of its own between the binary and the Engine (the binary only sees `DOCKER_HOST`); timings go straight to the Engine's socket.",
		"`docker ps` prints the same rows through `--format` with bottle-ls's label filter; the rows are checked equal (as sets: docker ps does not sort). The floor is one `curl --unix-socket` of the very list request bottle-ls sends, captured through the proxy. A yardstick runs beside them: `bench/minls`, the least a Go program does for the same lines (that one request, no ping, no Docker client, only the labels decoded, one buffered write), built static like `bin/`; it tells how much of a gap to curl is Go's and how much is bottle-ls's.",
		fmt.Sprintf("smolvm processes are counted by a stand-in (`bench/smolvm`, built from `internal/smolvmfake`) that logs every call, with `DOCKER_HOST` at a dead socket. Its %d-machine listing is made of copies of the three machines of `ls-mixed.json` (8 in 10 running agents, 1 in 10 the user's own, 1 in 10 stopped agents).", r.machines),
		fmt.Sprintf("Slow backends: the stand-in sleeps `SMOLVM_DELAY=1s` before each answer (so `smolvm --version` and `machine ls` cost a second each). With docker answering in tens of milliseconds the slower-vs-sum test cannot tell much apart, so it is run a second time with docker behind a proxy that holds each request %s: then the sum and the slower differ by about a second. The target is read as ≤ 1.10× the slower backend alone.", r.slowDelay),
		fmt.Sprintf("Starting: %d timed rounds, alternating `bin/bottle-start`, the docker CLI making the same bottle (`docker network create --internal`, then `docker run -d` of the two sidecars and the agent, with the same images, commands, environment, confinement, aliases and labels), and the harness making it over the Engine API with everything concurrent (the network, then the three containers created at once, then started at once; copied from a bottle bottle-start made): what a fully concurrent bottle-start could reach on this Engine. Everything is removed between runs (not timed). bottle-start also creates the network, so the CLI's figure includes `docker network create`; the three `docker run -d` alone are given beside it.", r.startRuns),
		"Peak RSS is GNU time's `%M`, the largest of 3 untimed runs of each command under `/usr/bin/time` (wait4's `ru_maxrss` of a child of the harness cannot be used: Go starts children with `CLONE_VM`, and Linux carries the parent's high-water mark into the child's at exec, so every child would show the harness's own RSS). For bottle-start's job the CLI's figure is the largest of its four processes. CPU time is the child's user + system time from wait4, over the timed runs.",
	}
	for _, it := range items {
		b.WriteString("- " + it + "\n")
	}
	return b.String()
}
