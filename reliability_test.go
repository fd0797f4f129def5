package bottle_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/enginetest"
	"github.com/bottle-dev/bottle/pkg/labels"
)

// toolkit runs the bottle binaries as a user would, scoped by labels to
// this test's own agents, with the agent definitions "shell" (no sidecars)
// and "pair" (two sidecars).
type toolkit struct {
	t      *testing.T
	engine *client.Client
	env    []string
	scope  string // the label value that marks this test's objects
}

func newToolkit(t *testing.T) *toolkit {
	engine, err := engineClient()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	for name, def := range map[string]string{
		"shell": `{"image": "` + testImage + `", "command": ["sleep", "infinity"]}`,
		"pair": `{"image": "` + testImage + `", "command": ["sleep", "infinity"], "sidecars": [
			{"name": "one", "image": "` + testImage + `", "command": ["sleep", "infinity"]},
			{"name": "two", "image": "` + testImage + `", "command": ["sleep", "infinity"]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scope := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	k := &toolkit{t: t, engine: engine, scope: scope, env: append(os.Environ(),
		"BOTTLE_AGENT_PATH="+dir,
		"BOTTLE_LABELS="+runLabel+"="+run+","+scriptLabel+"="+scope,
		"BOTTLE_SMOLVM="+filepath.Join(dir, "no-smolvm"),
	)}
	t.Cleanup(func() {
		if left := k.objects(""); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	return k
}

// run runs a bottle binary to its end and returns its output and status.
func (k *toolkit) run(stdin string, extraEnv []string, args ...string) (stdout, stderr string, status int) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(k.env, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		status = exitErr.ExitCode()
	case err != nil:
		k.t.Fatal(err)
	}
	return out.String(), errOut.String(), status
}

// objects names the containers, networks and volumes (networks by role:
// their names hold a nonce) of this test, of one slug if one is given.
func (k *toolkit) objects(slug string) []string {
	f := client.Filters{}.Add("label", scriptLabel+"="+k.scope)
	if slug != "" {
		f.Add("label", labels.Slug+"="+slug)
	}
	ctx := context.Background()
	var names []string
	ctrs, err := k.engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		k.t.Fatal(err)
	}
	for _, c := range ctrs.Items {
		names = append(names, "container "+strings.TrimPrefix(c.Names[0], "/"))
	}
	nets, err := k.engine.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		k.t.Fatal(err)
	}
	for _, n := range nets.Items {
		names = append(names, "network "+n.Labels[labels.Network])
	}
	vols, err := k.engine.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		k.t.Fatal(err)
	}
	for range vols.Items {
		names = append(names, "volume")
	}
	slices.Sort(names)
	return names
}

var containerStart = regexp.MustCompile(`^/v[0-9.]+/containers/[^/]+/start$`)

// A signal while bottle-start waits on the Engine: SIGINT and SIGTERM clean
// up and exit 130 and 143; after SIGKILL, which cannot be caught, what is
// left carries the toolkit's labels and bottle-stop --orphans removes it.
func TestStartSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			k := newToolkit(t)
			starting := make(chan struct{}, 8)
			proxy := enginetest.NewProxy(t, k.engine, func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost && containerStart.MatchString(r.URL.Path) {
					starting <- struct{}{}
					<-r.Context().Done()
					return true
				}
				return false
			})
			slug := "sig-" + run
			cmd := exec.Command("bottle-start", "--name", slug, "pair")
			cmd.Env = append(k.env, "DOCKER_HOST="+proxy.Host)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-starting:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("bottle-start never started a container; stderr: %s", stderr.String())
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("bottle-start ended with %v after %s", err, sig)
			}
			if sig == syscall.SIGKILL {
				if left := k.objects(slug); len(left) == 0 {
					t.Fatal("a start killed midway left nothing: the test did not kill it midway")
				}
				_, errOut, status := k.run("", nil, "bottle-stop", "--orphans", "--older-than=0s")
				if want := "bottle-stop: removed the remains of docker " + slug + "\n"; status != 0 || errOut != want {
					t.Errorf("bottle-stop --orphans: status %d, stderr %q; want 0, %q", status, errOut, want)
				}
			} else {
				if want := 128 + int(sig); exitErr.ExitCode() != want {
					t.Errorf("status %d after %s, want %d; stderr: %s", exitErr.ExitCode(), sig, want, stderr.String())
				}
				if want := "bottle-start: interrupted by " + sig.String() + "\n"; stderr.String() != want || stdout.Len() > 0 {
					t.Errorf("stdout %q, stderr %q; want nothing and %q", stdout.String(), stderr.String(), want)
				}
			}
			if left := k.objects(slug); len(left) > 0 {
				t.Errorf("after %s, left behind: %v", sig, left)
			}
		})
	}
}

// Twenty starts of one agent at once: twenty agents, twenty slugs. Ten
// starts of one name at once: one agent, nine clear refusals, nothing else.
func TestConcurrentStarts(t *testing.T) {
	k := newToolkit(t)
	type result struct {
		stdout, stderr string
		status         int
	}
	together := func(n int, args ...string) []result {
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				out, errOut, status := k.run("", nil, args...)
				results[i] = result{out, errOut, status}
			})
		}
		wg.Wait()
		return results
	}

	var started []string
	for _, r := range together(20, "bottle-start", "shell") {
		if r.status != 0 {
			t.Fatalf("a concurrent start failed with %d: %s", r.status, r.stderr)
		}
		started = append(started, r.stdout)
	}
	slices.Sort(started)
	if len(slices.Compact(slices.Clone(started))) != 20 {
		t.Fatalf("20 starts gave these lines, some alike:\n%s", strings.Join(started, ""))
	}
	listed, _, status := k.run("", nil, "bottle-ls")
	if want := strings.Join(started, ""); status != 0 || listed != want {
		t.Fatalf("bottle-ls (status %d) =\n%s\nwant the 20 started:\n%s", status, listed, want)
	}
	if _, errOut, status := k.run(listed, nil, "bottle-stop"); status != 0 {
		t.Fatalf("bottle-stop of the 20: status %d: %s", status, errOut)
	}

	slug := "same-" + run
	wins := 0
	for _, r := range together(10, "bottle-start", "--name", slug, "shell") {
		switch {
		case r.status == 0 && r.stdout == "docker\t"+slug+"\tshell\t-\n":
			wins++
		case r.status == 1 && strings.Contains(r.stderr, "is already in use on the Docker Engine") && strings.Count(r.stderr, "\n") == 1:
		default:
			t.Errorf("a start of a taken name: status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
		}
	}
	if wins != 1 {
		t.Errorf("%d of 10 starts of one name succeeded, want 1", wins)
	}
	if got, want := k.objects(slug), []string{"container " + slug, "network internal", "volume"}; !slices.Equal(got, want) {
		t.Errorf("after 10 starts of one name: %v, want %v", got, want)
	}
	k.run("", nil, "bottle-stop", slug)
}

// bottle-ls while agents start and stop: every listing succeeds and every
// line is a whole agent.
func TestListWhileStartsAndStops(t *testing.T) {
	k := newToolkit(t)
	whole := regexp.MustCompile(`^docker\tpair-[0-9a-f]{6}\tpair\tone,two$`)
	done := make(chan struct{})
	var churn sync.WaitGroup
	for range 4 {
		churn.Go(func() {
			for range 3 {
				line, errOut, status := k.run("", nil, "bottle-start", "pair")
				if status != 0 {
					t.Errorf("bottle-start: %d: %s", status, errOut)
					return
				}
				if _, errOut, status := k.run(line, nil, "bottle-stop"); status != 0 {
					t.Errorf("bottle-stop: %d: %s", status, errOut)
				}
			}
		})
	}
	go func() { churn.Wait(); close(done) }()
	listings := 0
	for {
		select {
		case <-done:
			if listings < 5 {
				t.Errorf("only %d listings ran while agents came and went", listings)
			}
			return
		default:
		}
		out, errOut, status := k.run("", nil, "bottle-ls")
		if status != 0 || errOut != "" {
			t.Fatalf("bottle-ls during starts and stops: status %d, stderr %q", status, errOut)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line != "" && !whole.MatchString(line) {
				t.Fatalf("bottle-ls printed %q, not a whole agent", line)
			}
		}
		listings++
	}
}

// One listing is one ping and one list request, whatever the number of
// agents: no request per agent (the timing side is make bench's). Found
// once, used once: attach and stop make that same one listing, by slug or
// by line, and then only the requests that act.
func TestListingRequests(t *testing.T) {
	k := newToolkit(t)
	proxy := enginetest.NewProxy(t, k.engine, nil)
	id := regexp.MustCompile(`/[0-9a-f]{64}(/|$)`)
	volumeName := regexp.MustCompile(`/volumes/[a-z0-9-]+\.[0-9a-f]{6}\.tether$`)
	via := func(stdin string, args ...string) (string, []string) {
		t.Helper()
		before := len(proxy.Requests())
		out, errOut, status := k.run(stdin, []string{"DOCKER_HOST=" + proxy.Host}, args...)
		if status != 0 {
			t.Fatalf("%s: %d: %s", args, status, errOut)
		}
		var shapes []string
		for _, r := range proxy.Requests()[before:] {
			r = regexp.MustCompile(`/v[0-9.]+/`).ReplaceAllString(r, "/v/")
			r = volumeName.ReplaceAllString(r, "/volumes/NAME")
			shapes = append(shapes, id.ReplaceAllString(r, "/ID$1"))
		}
		t.Logf("%s made %q", args, shapes)
		return out, shapes
	}
	listing := []string{"HEAD /_ping", "GET /v/containers/json"}
	listed := func() []string {
		out, shapes := via("", "bottle-ls")
		t.Logf("%d agents listed", strings.Count(out, "\n"))
		return shapes
	}
	if got := listed(); !slices.Equal(got, listing) {
		t.Fatalf("bottle-ls of no agents made %q, want %q", got, listing)
	}
	var lines []string
	for range 5 {
		out, errOut, status := k.run("", nil, "bottle-start", "pair")
		if status != 0 {
			t.Fatalf("bottle-start: %s", errOut)
		}
		lines = append(lines, out)
	}
	defer func() { k.run(strings.Join(lines, ""), nil, "bottle-stop") }()
	if got := listed(); !slices.Equal(got, listing) {
		t.Fatalf("bottle-ls of 5 agents made %q, want %q", got, listing)
	}

	// acts checks that shapes are the listing, then requests of the given
	// kinds only, as many of each as want says (-1: one or more).
	acts := func(what string, shapes []string, want map[string]int) {
		t.Helper()
		if len(shapes) < 2 || !slices.Equal(shapes[:2], listing) {
			t.Fatalf("%s made %q, want %q first", what, shapes, listing)
		}
		counts := map[string]int{}
		for _, r := range shapes[2:] {
			counts[r]++
		}
		for r, n := range counts {
			if w, ok := want[r]; !ok || w >= 0 && n != w {
				t.Errorf("%s made %d of %q after the listing, want %d (all: %q)", what, n, r, want[r], shapes)
			}
		}
		for r, n := range want {
			if counts[r] == 0 && n != 0 {
				t.Errorf("%s made no %q (all: %q)", what, r, shapes)
			}
		}
	}
	slug := strings.Split(lines[0], "\t")[1]
	// A command is two execs: itself and the tie that ends it with its client.
	_, shapes := via("", "bottle-attach", slug, "--", "true")
	acts("bottle-attach SLUG", shapes, map[string]int{
		"POST /v/containers/ID/exec": 2, "POST /v/exec/ID/start": 2, "GET /v/exec/ID/json": -1,
	})
	removal := map[string]int{"DELETE /v/containers/ID": 3, "DELETE /v/networks/ID": 1, "DELETE /v/volumes/NAME": 1}
	_, shapes = via("", "bottle-stop", slug)
	acts("bottle-stop SLUG", shapes, removal)
	_, shapes = via(lines[1], "bottle-stop")
	acts("bottle-stop LINE", shapes, removal)
	lines = lines[2:]
}
