package start_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/cli/start"
	"github.com/bottle-dev/bottle/internal/enginetest"
	"github.com/bottle-dev/bottle/internal/scratchimage"
	"github.com/bottle-dev/bottle/pkg/agent"
)

var containerStart = regexp.MustCompile(`^/v[0-9.]+/containers/[^/]+/start$`)

// Ctrl-C while bottle-start waits on the Engine removes what was made and
// ends with 130. (The backends are made once per process, so one in-process
// run per test binary; SIGTERM's 143 is checked in package cli.)
func TestInterruptedStart(t *testing.T) {
	const sig = syscall.SIGINT
	engine := enginetest.Engine(t)
	slug := agent.NewSlug("sig")
	image := "bottle-test-" + slug + ":latest"
	ctx := context.Background()
	if err := scratchimage.Busybox(ctx, engine, image, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true}) })

	dir := t.TempDir()
	def := fmt.Sprintf(`{"image": %q, "command": ["sleep", "infinity"],
				"sidecars": [{"name": "side", "image": %q, "command": ["sleep", "infinity"]}]}`, image, image)
	if err := os.WriteFile(filepath.Join(dir, "sig.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := enginetest.NewProxy(t, engine, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && containerStart.MatchString(r.URL.Path) {
			syscall.Kill(os.Getpid(), sig)
			<-r.Context().Done()
			return true
		}
		return false
	})
	t.Setenv("DOCKER_HOST", proxy.Host)
	t.Setenv("BOTTLE_AGENT_PATH", dir)
	t.Setenv("BOTTLE_LABELS", "")

	var stdout, stderr bytes.Buffer
	status := start.Run([]string{"--name", slug, "sig"}, strings.NewReader(""), &stdout, &stderr)
	if want := 128 + int(sig); status != want {
		t.Errorf("status %d, want %d; stderr: %s", status, want, stderr.String())
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
	if got, want := stderr.String(), "bottle-start: interrupted by "+sig.String()+"\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	left, err := engine.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "dev.bottle.slug="+slug)})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := engine.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", "dev.bottle.slug="+slug)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items)+len(nets.Items) > 0 {
		t.Errorf("an interrupted start left %d containers and %d networks", len(left.Items), len(nets.Items))
	}
}
