package stop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/branch"
)

// keeper stops agents so that the work of one on its own branch is never
// lost without the user saying so.
type keeper struct {
	cfg     branch.Config
	commit  bool // keep uncommitted work as a commit on the branch
	discard bool // let uncommitted work, or a copy git cannot read, go
}

// stop stops a, and for an agent on its own branch first fetches the
// branch, while it still runs, refusing when work would be lost; then, once
// the agent can write no more, looks again, fetches what came last and
// removes the copy.
func (k keeper) stop(ctx context.Context, b backend.Backend, a agent.Agent) error {
	br := a.Branch
	if br == nil {
		return b.Stop(ctx, a)
	}
	if _, err := os.Stat(br.Copy); errors.Is(err, fs.ErrNotExist) {
		// Removed by hand: nothing is left to bring back.
		return b.Stop(ctx, a)
	}
	if err := k.bringBack(ctx, a, true); err != nil {
		return err
	}
	if err := b.Stop(ctx, a); err != nil {
		return err
	}
	if err := k.bringBack(ctx, a, false); err != nil {
		return fmt.Errorf("%w; the agent is stopped and its copy kept in %s", err, agent.Escape(br.Copy))
	}
	return branch.Remove(k.cfg, br)
}

// bringBack fetches the agent's branch into the user's repository. While
// the agent runs, work it has not committed refuses the stop, once its
// commits are in; after, that work is committed or let go as the user said.
func (k keeper) bringBack(ctx context.Context, a agent.Agent, running bool) error {
	br := a.Branch
	p, err := branch.Uncommitted(ctx, k.cfg, br)
	if err != nil {
		if k.discard {
			return nil
		}
		return fmt.Errorf("its copy cannot be read (%w): bottle-stop --discard stops it all the same, and its work not yet fetched is lost", err)
	}
	tip := p.Tip
	if len(p.Paths) > 0 && !k.discard {
		if running || !k.commit {
			if _, err := branch.Fetch(ctx, k.cfg, br, tip, false); err != nil {
				return err
			}
			if k.commit {
				return nil // committed once the agent has stopped writing
			}
			return fmt.Errorf("%s not committed on %s: commit in the agent, or keep it as a commit on the branch with bottle-stop --commit (--discard loses it)",
				files(p.Paths), br.Name)
		}
		message := fmt.Sprintf("What %s left uncommitted\n\nKept by bottle-stop --commit.", a.Slug)
		if tip, err = branch.Commit(ctx, k.cfg, br, p, a.Slug, message); err != nil {
			return err
		}
	}
	_, err = branch.Fetch(ctx, k.cfg, br, tip, false)
	return err
}

// files names changed files as the subject of a message: how many, and
// the first few.
func files(paths []string) string {
	var shown []string
	for _, p := range paths[:min(3, len(paths))] {
		shown = append(shown, agent.Escape(p))
	}
	list := strings.Join(shown, ", ")
	if len(paths) > len(shown) {
		list += ", ..."
	}
	if len(paths) == 1 {
		return "1 file in its copy (" + list + ") is"
	}
	return fmt.Sprintf("%d files in its copy (%s) are", len(paths), list)
}
