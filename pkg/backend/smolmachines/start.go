package smolmachines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/progress"
)

// cleanupTimeout bounds the deletion of a half-made machine, which runs
// even when the start itself was cancelled.
const cleanupTimeout = 30 * time.Second

// EnvSidecarDaemons tells the bundle image which sidecar daemons to start.
const EnvSidecarDaemons = "BOTTLE_SIDECAR_DAEMONS"

// Start creates the machine, named by the slug, then starts it; if the
// start fails the machine is deleted again.
func (b *Backend) Start(ctx context.Context, slug string, def *agentdef.Definition, labels map[string]string) (started agent.Agent, err error) {
	args, err := createArgs(slug, def, labels)
	if err != nil {
		return agent.Agent{}, err
	}
	progress.Say(ctx, "creating the machine %s", slug)
	if _, err := smolvm(ctx, nil, args...); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			err = fmt.Errorf("the machine name %s is %w: %w", slug, agent.ErrSlugTaken, err)
		}
		return agent.Agent{}, err
	}
	progress.Say(ctx, "starting the machine %s", slug)
	if _, err := smolvm(ctx, nil, "machine", "start", "--name", slug); err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, derr := smolvm(cleanup, nil, "machine", "delete", "--name", slug, "-f"); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after the failed start: %w", derr))
		}
		return agent.Agent{}, err
	}
	return def.Running(b.Name(), slug), nil
}

// createArgs builds `smolvm machine create`. Every value is its own argv
// element; none can be read as a flag, because slugs, label keys, env keys,
// image references and absolute paths never start with "-" (agentdef and
// the slug check guarantee it), and the command follows "--".
func createArgs(slug string, def *agentdef.Definition, user map[string]string) ([]string, error) {
	services := def.SidecarNames()
	attach, err := json.Marshal(def.Attach)
	if err != nil {
		return nil, err
	}
	args := []string{"machine", "create", "--name", slug, "--image", def.Image}
	labels := machineLabels(slug, def.Name, services, string(attach), user)
	for _, k := range sortedKeys(labels) {
		args = append(args, "--label", k+"="+labels[k])
	}
	env := map[string]string{}
	for k, v := range def.Env {
		env[k] = v
	}
	if len(services) > 0 {
		env[EnvSidecarDaemons] = strings.Join(services, ",")
	}
	for _, k := range sortedKeys(env) {
		args = append(args, "-e", k+"="+env[k])
	}
	if def.Workdir != "" {
		args = append(args, "-w", def.Workdir)
	}
	if def.Workspace != "" {
		if strings.Contains(def.Workspace, ":") || strings.Contains(def.Workdir, ":") {
			return nil, fmt.Errorf("workspace %q or workdir %q holds a ':', which smolvm's -v HOST:GUEST cannot carry", def.Workspace, def.Workdir)
		}
		args = append(args, "-v", def.Workspace+":"+def.Workdir)
	}
	args = append(args, "--net")
	for _, host := range def.Egress.Allow {
		if strings.HasPrefix(host, "*.") || strings.Contains(host, ":") {
			return nil, fmt.Errorf("egress.allow %q: smolvm's --allow-host takes exact hosts only, no wildcard patterns or ports", host)
		}
		args = append(args, "--allow-host", host)
	}
	if len(def.Command) > 0 {
		args = append(append(args, "--"), def.Command...)
	}
	return args, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
