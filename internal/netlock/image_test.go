package netlock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/enginetest"
	"github.com/bottle-dev/bottle/internal/scratchimage"
)

// The image scratchimage.NetLock makes runs the lock as root with its
// flags as the container's arguments, as a pod's init container gives
// them, and NET_ADMIN alone is enough: with it the container exits 0,
// without it 1, saying why. Each container has a network namespace of its
// own (network "none").
func TestImage(t *testing.T) {
	t.Parallel()
	c := enginetest.Engine(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "bottle-netlock")
	build := exec.Command("go", "build", "-o", bin, "github.com/bottle-dev/bottle/cmd/bottle-netlock")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building bottle-netlock: %v\n%s", err, out)
	}
	b := make([]byte, 3)
	rand.Read(b)
	ref := "bottle-test-netlock-" + hex.EncodeToString(b) + ":latest"
	if err := scratchimage.NetLock(ctx, c, ref, bin, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true}) })
	img, err := c.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if u, ep := img.Config.User, img.Config.Entrypoint; u != "0:0" || !slices.Equal(ep, []string{"/bottle-netlock"}) {
		t.Errorf("image runs %q as %q, want [/bottle-netlock] as 0:0", ep, u)
	}

	for _, capAdd := range [][]string{{"NET_ADMIN"}, nil} {
		res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: ref, Cmd: []string{"-allow-uid", "65534"}},
			HostConfig: &container.HostConfig{
				NetworkMode: "none",
				CapDrop:     []string{"ALL"},
				CapAdd:      capAdd,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}) })
		if _, err := c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		wait := c.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		var code int64
		select {
		case w := <-wait.Result:
			code = w.StatusCode
		case err := <-wait.Error:
			t.Fatal(err)
		}
		logs, err := c.ContainerLogs(ctx, res.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(logs)
		logs.Close()
		if err != nil {
			t.Fatal(err)
		}
		refused := strings.Contains(string(out), "bottle-netlock: not locked: ")
		if capAdd != nil && (code != 0 || len(out) > 0) {
			t.Errorf("with NET_ADMIN: exit %d, %q; want 0 and nothing", code, out)
		}
		if capAdd == nil && (code != 1 || !refused) {
			t.Errorf("without NET_ADMIN: exit %d, %q; want 1 and why", code, out)
		}
	}
}

// bottle-netlock goes alone into its image: it links neither the Docker
// client nor go-flags, nor anything of the bottle binaries'.
func TestCommandLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/bottle-dev/bottle/cmd/bottle-netlock").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/moby/") || strings.HasPrefix(pkg, "github.com/jessevdk/") ||
			strings.HasPrefix(pkg, "github.com/bottle-dev/bottle/pkg/") || strings.HasPrefix(pkg, "github.com/bottle-dev/bottle/internal/cli") {
			t.Errorf("bottle-netlock links %s", pkg)
		}
	}
}
