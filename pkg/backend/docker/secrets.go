package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// The egress sidecar's own directory is a volume of the bottle's, writable
// by the proxy alone (egressStateDir), which outlives the proxy's
// container. With secrets the proxy writes its authority's certificate
// there; the agent mounts the volume read-only at agentCADir and trusts
// the bundle made of its image's own roots and that certificate.
const (
	proxyVolumeSuffix = "proxy"
	egressStateDir    = "/state"
	agentCADir        = agentdef.ToolDir + "/ca"
	bundleFile        = "bundle.pem"
)

// caVariables are what common tools read their roots from: each is
// pointed at the bundle, or, for Node, which adds to its own, at the
// authority alone.
var caVariables = []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"}

// imageRoots are where images keep their system roots, in the order
// tried: Debian, Ubuntu and Alpine; Fedora and RHEL; an older Alpine.
var imageRoots = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/cert.pem",
}

// caWait bounds how long Start waits for the egress sidecar's authority.
const caWait = 15 * time.Second

// placeholders gives each secret a placeholder of this bottle's own,
// worth nothing anywhere else, and returns what the proxy is handed.
func placeholders(secrets []agentdef.Secret) []rules.Secret {
	out := make([]rules.Secret, len(secrets))
	for i, s := range secrets {
		b := make([]byte, 16)
		rand.Read(b)
		out[i] = rules.Secret{Name: s.Name, Placeholder: "bottle-placeholder-" + hex.EncodeToString(b), Value: s.Value, Hosts: s.Hosts}
	}
	return out
}

// withSecrets gives the agent each secret's placeholder under its name,
// and the bundle to trust.
func withSecrets(env map[string]string, secrets []rules.Secret) map[string]string {
	for _, s := range secrets {
		env = with(env, s.Name, s.Placeholder)
	}
	for _, v := range caVariables {
		env = with(env, v, agentCADir+"/"+bundleFile)
	}
	return with(env, "NODE_EXTRA_CA_CERTS", agentCADir+"/"+rules.CAFile)
}

// installBundle waits for the egress sidecar to write its authority's
// certificate, reads the roots of the agent's image from its container
// (made, not started), and writes the two together as the bundle the
// agent trusts, through the egress sidecar's writable mount of their
// volume.
func installBundle(ctx context.Context, c *client.Client, egressID, agentID string) error {
	ca, err := waitForFile(ctx, c, egressID, path.Join(egressStateDir, rules.CAFile))
	if err != nil {
		return fmt.Errorf("egress: its certificate authority: %w", err)
	}
	roots, err := imageRootsOf(ctx, c, agentID)
	if err != nil {
		return fmt.Errorf("agent: its image's roots: %w", err)
	}
	if len(roots) > 0 && roots[len(roots)-1] != '\n' {
		roots = append(roots, '\n')
	}
	if err := writeContainerFile(ctx, c, egressID, egressStateDir, bundleFile, append(roots, ca...), 0); err != nil {
		return fmt.Errorf("egress: writing the agent's roots: %w", err)
	}
	return nil
}

// waitForFile returns the content of the regular file at p in the
// container once it is there.
func waitForFile(ctx context.Context, c *client.Client, id, p string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, caWait)
	defer cancel()
	for {
		content, err := readContainerFile(ctx, c, id, p)
		if err == nil {
			return content, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return nil, err
		}
		info, ierr := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if ierr == nil && info.Container.State != nil && !info.Container.State.Running {
			return nil, fmt.Errorf("the sidecar ended (exit status %d) before writing %s: %s", info.Container.State.ExitCode, p, lastLine(ctx, c, id))
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("%s not written within %s", p, caWait)
			}
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// imageRootsOf reads the first of imageRoots the container's image has,
// following a symbolic link once; none is no roots.
func imageRootsOf(ctx context.Context, c *client.Client, id string) ([]byte, error) {
	for _, p := range imageRoots {
		content, err := readContainerFile(ctx, c, id, p)
		var link symlink
		if errors.As(err, &link) {
			target := string(link)
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			content, err = readContainerFile(ctx, c, id, target)
		}
		switch {
		case err == nil:
			return content, nil
		case !cerrdefs.IsNotFound(err) && !errors.As(err, &link):
			return nil, err
		}
	}
	return nil, nil
}

// lastLine is the last line a stopped sidecar wrote, which says why it
// stopped, quoted; the start that made it is about to remove it.
func lastLine(ctx context.Context, c *client.Client, id string) string {
	logs, err := c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "1"})
	if err != nil {
		return "its log cannot be read"
	}
	defer logs.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, io.LimitReader(logs, 4096))
	if last := strings.TrimSpace(out.String()); last != "" {
		return "it said " + strconv.Quote(last)
	}
	return "it said nothing"
}
