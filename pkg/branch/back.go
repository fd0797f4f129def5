package branch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// makeShadow creates b's shadow: a bare repository of bottle's own whose
// objects include the copy's, by alternates. Its config is git's default
// for a bare repository and nothing else.
func makeShadow(ctx context.Context, g *git, b *agent.Branch) error {
	shadow := filepath.Join(b.Copy, shadowDir)
	if _, err := g.shadow(ctx, b, nil, "init", "--quiet", "--bare", "--template=", shadow); err != nil {
		return err
	}
	// gc.auto=0: a shadow's objects are the snapshots it writes and the
	// copy's, which gc must never try to repack into its own.
	if _, err := g.shadow(ctx, b, nil, "config", "gc.auto", "0"); err != nil {
		return err
	}
	info := filepath.Join(shadow, "objects", "info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		return err
	}
	objects := filepath.Join(Workspace(b), ".git", "objects")
	return os.WriteFile(filepath.Join(info, "alternates"), []byte(objects+"\n"), 0o644)
}

// Tip returns the commit the agent's branch is at in its copy, read as
// data: the copy's refs are the agent's to write, so nothing in them is
// followed out of its .git, and only a commit id is taken from them.
func Tip(b *agent.Branch) (string, error) {
	root, err := os.OpenRoot(filepath.Join(Workspace(b), ".git"))
	if err != nil {
		return "", fmt.Errorf("the agent's copy has no .git any more: %w", err)
	}
	defer root.Close()
	if id, err := readRef(root, "refs/heads/"+b.Name); err == nil {
		return id, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	packed, err := readSmall(root, "packed-refs")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, line := range strings.Split(packed, "\n") {
		if id, ref, ok := strings.Cut(line, " "); ok && ref == "refs/heads/"+b.Name && isObjectID(id) {
			return id, nil
		}
	}
	return "", fmt.Errorf("the agent's copy has no branch %s any more", b.Name)
}

func readRef(root *os.Root, name string) (string, error) {
	s, err := readSmall(root, name)
	if err != nil {
		return "", err
	}
	if id := strings.TrimSpace(s); isObjectID(id) {
		return id, nil
	}
	return "", fmt.Errorf("the agent's copy holds no commit id in %s", name)
}

// readSmall reads at most a few kilobytes of a regular file under root:
// a ref or a packed-refs file, never a device or a pipe the agent put in
// its place.
func readSmall(root *os.Root, name string) (string, error) {
	info, err := root.Lstat(name)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("the agent's copy holds no file at .git/%s", agent.Escape(name))
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b), err
}

// isObjectID reports whether s is a full SHA-1 or SHA-256 object id.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Pending is the work in a copy's files that the branch does not hold.
type Pending struct {
	Tip   string   // the branch's commit in the copy
	Tree  string   // the tree of the copy's files as they are, ignored ones left out
	Paths []string // what differs from the branch's commit, sorted; empty when nothing
}

// Uncommitted compares the copy's files with the branch's last commit in the
// copy: changed, added and deleted files, ignored ones left out, whatever
// the copy's index says (the agent's own to rewrite). The files are read by
// the shadow, into an index of its own.
func Uncommitted(ctx context.Context, cfg Config, b *agent.Branch) (Pending, error) {
	tip, err := Tip(b)
	if err != nil {
		return Pending{}, err
	}
	g := &git{env: cfg.Env}
	index := filepath.Join(b.Copy, shadowDir, "pending.index")
	os.Remove(index)
	defer os.Remove(index)
	files := []string{"GIT_WORK_TREE=" + Workspace(b), "GIT_INDEX_FILE=" + index}
	for _, args := range [][]string{{"read-tree", tip}, {"add", "--all", "--", "."}} {
		if _, err := g.shadow(ctx, b, files, args...); err != nil {
			return Pending{}, err
		}
	}
	tree, err := g.shadow(ctx, b, files, "write-tree")
	if err != nil {
		return Pending{}, err
	}
	out, err := g.shadow(ctx, b, nil, "diff-tree", "-r", "-z", "--name-only", "--no-renames", tip, tree)
	if err != nil {
		return Pending{}, err
	}
	p := Pending{Tip: tip, Tree: tree}
	for _, path := range strings.Split(out, "\x00") {
		if path != "" {
			p.Paths = append(p.Paths, path)
		}
	}
	return p, nil
}

// Commit records p's tree as a commit on top of the branch, made by the
// agent with the message, and returns it. It is written into the shadow's
// objects alone: the copy is left as it is.
func Commit(ctx context.Context, cfg Config, b *agent.Branch, p Pending, slug, message string) (string, error) {
	g := &git{env: cfg.Env}
	who := []string{"GIT_AUTHOR_NAME=" + slug, "GIT_AUTHOR_EMAIL=" + slug + "@bottle.invalid",
		"GIT_COMMITTER_NAME=" + slug, "GIT_COMMITTER_EMAIL=" + slug + "@bottle.invalid"}
	return g.shadow(ctx, b, who, "commit-tree", p.Tree, "-p", p.Tip, "-m", message)
}

// Fetched is what a fetch did to the user's branch.
type Fetched struct {
	Old, New string // the branch's commits before and after; equal when it had nothing new
}

// Fetch brings commit, the agent's branch, into the user's repository as
// that branch. The user's branch must be an ancestor of it unless force:
// commits the user made on it, or that the agent rewrote away, are not
// dropped without being asked. Upload-pack runs in the shadow, never in
// the copy, and every object received is checked by fsck (no tree entry
// such as .git, no malformed object) before the branch moves.
func Fetch(ctx context.Context, cfg Config, b *agent.Branch, commit string, force bool) (Fetched, error) {
	g := &git{env: cfg.Env}
	ref := "refs/heads/" + b.Name
	if _, err := g.shadow(ctx, b, nil, "update-ref", ref, commit); err != nil {
		return Fetched{}, fmt.Errorf("the agent's branch %s: %w", b.Name, err)
	}
	old, err := g.user(ctx, b.Repo, "rev-parse", "--quiet", "--verify", ref)
	if err != nil {
		old = ""
	}
	spec := ref + ":" + ref
	if force {
		spec = "+" + spec
	}
	_, err = g.user(ctx, b.Repo, "-c", "transfer.fsckObjects=true", "fetch", "--no-tags", "--no-write-fetch-head",
		"--no-recurse-submodules", "--no-auto-maintenance", "--", filepath.Join(b.Copy, shadowDir), spec)
	var gerr *gitError
	switch {
	case errors.As(err, &gerr) && strings.Contains(gerr.stderr, "non-fast-forward"):
		return Fetched{}, fmt.Errorf("%s in %s has commits that the agent's branch does not (the agent rewrote it, or you committed on it): bottle-fetch --force replaces it", b.Name, agent.Escape(b.Repo))
	case errors.As(err, &gerr) && strings.Contains(gerr.stderr, "checked out"):
		return Fetched{}, fmt.Errorf("%s is checked out in %s, and git does not move a checked-out branch: switch to another branch there", b.Name, agent.Escape(b.Repo))
	case err != nil:
		return Fetched{}, fmt.Errorf("fetching %s into %s: %w", b.Name, agent.Escape(b.Repo), err)
	}
	return Fetched{Old: old, New: commit}, nil
}

// Discard undoes Make for a start that failed: the copy goes, and the
// user's branch too while it is still where Make put it.
func Discard(ctx context.Context, cfg Config, b *agent.Branch) error {
	tip, err := Tip(b)
	if err == nil {
		_, err = (&git{env: cfg.Env}).user(ctx, b.Repo, "update-ref", "-d", "refs/heads/"+b.Name, tip)
	}
	return errors.Join(err, Remove(cfg, b))
}

// Remove deletes b's copy, shadow included. It removes only a directory
// that lies directly in cfg.Root, whatever the agent's labels say.
func Remove(cfg Config, b *agent.Branch) error {
	dir := filepath.Clean(b.Copy)
	if cfg.Root == "" || filepath.Dir(dir) != filepath.Clean(cfg.Root) {
		return fmt.Errorf("not removing the agent's copy %s: it is not in %s", agent.Escape(b.Copy), agent.Escape(cfg.Root))
	}
	return os.RemoveAll(dir)
}
