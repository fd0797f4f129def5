package docker_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/enginetest"
	"github.com/bottle-dev/bottle/internal/scratchimage"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend/docker"
)

// setup imports a busybox image for the test, and a tether image (busybox
// stands in for bottle-tether: these tests run no command), and returns
// the Engine, a definition with two sidecars that uses it, the tether
// image and labels that mark the test's objects; everything is removed
// when the test ends.
func setup(t *testing.T) (*client.Client, *agentdef.Definition, string, map[string]string) {
	engine := enginetest.Engine(t)
	slug := agent.NewSlug("t")
	labels := map[string]string{"bottle-test": slug}
	image := "bottle-test-" + slug + ":latest"
	tether := "bottle-test-tether-" + slug + ":latest"
	if err := scratchimage.Busybox(context.Background(), engine, image, labels, nil); err != nil {
		t.Fatal(err)
	}
	if err := scratchimage.Tether(context.Background(), engine, tether, "/bin/busybox", labels); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, f := context.Background(), client.Filters{}.Add("label", "bottle-test="+slug)
		if ctrs, err := engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
			for _, c := range ctrs.Items {
				engine.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
			}
		}
		if nets, err := engine.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
			for _, n := range nets.Items {
				engine.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			}
		}
		if vols, err := engine.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
			for _, v := range vols.Items {
				engine.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
			}
		}
		engine.ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true})
		engine.ImageRemove(ctx, tether, client.ImageRemoveOptions{Force: true})
	})
	sleep := []string{"sleep", "infinity"}
	return engine, &agentdef.Definition{
		Name: "t", Image: image, Command: sleep, Env: map[string]string{},
		Sidecars: []agentdef.Sidecar{
			{Name: "one", Image: image, Command: sleep, Env: map[string]string{}},
			{Name: "two", Image: image, Command: sleep, Env: map[string]string{}},
		},
	}, tether, labels
}

// objects lists what carries the labels on the Engine, as "container
// NAME", "network NAME" and "volume NAME".
func objects(t *testing.T, engine *client.Client, labels map[string]string) []string {
	t.Helper()
	f := client.Filters{}
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	ctx := context.Background()
	ctrs, err := engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := engine.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vols, err := engine.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vols.Items {
		names = append(names, "volume "+v.Name)
	}
	for _, c := range ctrs.Items {
		names = append(names, "container "+strings.TrimPrefix(c.Names[0], "/"))
	}
	for _, n := range nets.Items {
		names = append(names, "network "+n.Name)
	}
	return names
}

// viaProxy returns the docker backend, with the tether image, talking to
// the Engine through a proxy with the given hook.
func viaProxy(t *testing.T, engine *client.Client, tether string, hook enginetest.Hook) (*docker.Backend, *enginetest.Proxy) {
	proxy := enginetest.NewProxy(t, engine, hook)
	return docker.New(docker.Config{Host: proxy.Host, TetherImage: tether}), proxy
}

var containerStart = regexp.MustCompile(`^/v[0-9.]+/containers/[^/]+/start$`)

func TestStartInterruptedLeavesNothing(t *testing.T) {
	t.Parallel()
	engine, def, tether, labels := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The user interrupts once the containers exist and the first is starting.
	b, _ := viaProxy(t, engine, tether, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && containerStart.MatchString(r.URL.Path) {
			cancel()
			<-r.Context().Done()
			return true
		}
		return false
	})
	_, err := b.Start(ctx, agent.NewSlug("t"), def, labels)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	if left := objects(t, engine, labels); len(left) > 0 {
		t.Fatalf("an interrupted start left %v", left)
	}
}

func TestStartEngineErrorLeavesNothing(t *testing.T) {
	t.Parallel()
	engine, def, tether, labels := setup(t)
	slug := agent.NewSlug("t")
	// The Engine fails to start the agent container, the third to start
	// after both sidecars.
	var starts atomic.Int32
	b, _ := viaProxy(t, engine, tether, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && containerStart.MatchString(r.URL.Path) && starts.Add(1) == 3 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"message":"injected failure"}`))
			return true
		}
		return false
	})
	_, err := b.Start(context.Background(), slug, def, labels)
	if err == nil || !strings.Contains(err.Error(), "agent: starting container: ") || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Start = %v, want the agent's start failure", err)
	}
	if left := objects(t, engine, labels); len(left) > 0 {
		t.Fatalf("a failed start left %v", left)
	}
}
