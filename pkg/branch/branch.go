// Package branch gives an agent its own copy of the user's git repository,
// on a branch of its own, and brings the agent's work back into the user's
// repository as that branch.
//
// The agent may rewrite anything in its copy, its .git included: config
// (core.fsmonitor, filters), hooks, refs, the index. So git runs on the
// host only in two places: in the user's repository, which the agent never
// sees, and in a repository of bottle's own beside the copy, the shadow,
// whose config is bottle's and which reads the copy's objects through
// alternates and its files as a work tree. Nothing of the copy is ever run
// or read as configuration; it is read as data, and what comes back into the
// user's repository is checked by git's fsck on the way in.
package branch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// Config is where copies are kept and the environment git runs with, read
// once at the edge.
type Config struct {
	// Root is the directory bottle keeps the copies in, one directory
	// each: $XDG_DATA_HOME/bottle/copies.
	Root string
	// Env is the user's environment; git in the user's repository runs
	// with it, less the variables that would point git at another
	// repository.
	Env []string
}

// InputError is a repository, a commit or a branch name that cannot give an
// agent its branch: the user's to fix. Nothing has been made.
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

func inputf(format string, args ...any) error {
	return &InputError{Reason: fmt.Sprintf(format, args...)}
}

// Spec is what a start asks for.
type Spec struct {
	Dir  string // a directory in the user's repository
	From string // the commit to branch from; "" for HEAD, which must be on a branch
	Name string // the branch; "" for bottle/SLUG
	Slug string // the agent's slug
}

// The parts of a copy's directory.
const (
	workDir   = "work" // the agent's workspace: the copy, its .git inside
	shadowDir = "git"  // bottle's own repository: never mounted
)

// Workspace is the directory of b's copy that the agent works in.
func Workspace(b *agent.Branch) string { return filepath.Join(b.Copy, workDir) }

// Make copies the repository around s.Dir into a new directory under
// cfg.Root, on a new branch from s.From, and creates that branch in the
// user's repository too, at the same commit, so that the name is the
// agent's from now on. On any failure, or when ctx is cancelled, nothing
// of it is left; an error about the input is an *InputError.
func Make(ctx context.Context, cfg Config, s Spec) (_ *agent.Branch, err error) {
	if cfg.Root == "" {
		return nil, errors.New("no place for the agents' copies: set XDG_DATA_HOME or HOME")
	}
	g := &git{env: cfg.Env}
	top, err := g.user(ctx, s.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, inputf("%s is not in a git repository with a work tree", agent.Escape(s.Dir))
	}
	base, err := baseCommit(ctx, g, top, s.From)
	if err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = "bottle/" + s.Slug
	}
	// check-ref-format --branch also expands @{-1} and the like: only a
	// name that comes back as it went in is a name.
	if out, err := g.user(ctx, top, "check-ref-format", "--branch", name); err != nil || out != name {
		return nil, inputf("git refuses %s as a branch name", agent.Escape(name))
	}
	ref := "refs/heads/" + name
	if sub, err := submodule(ctx, g, top, base); err != nil {
		return nil, err
	} else if sub != "" {
		return nil, inputf("%s has a submodule (%s), which an agent's copy cannot hold", agent.Escape(top), agent.Escape(sub))
	}

	// The empty old value makes the creation fail if the branch exists:
	// two starts cannot both take one name.
	if _, err := g.user(ctx, top, "update-ref", "-m", "bottle-start: the branch of "+s.Slug, ref, base, ""); err != nil {
		return nil, inputf("the branch %s already exists in %s", name, agent.Escape(top))
	}
	defer func() {
		if err != nil {
			_, derr := g.user(context.WithoutCancel(ctx), top, "update-ref", "-d", ref, base)
			err = errors.Join(err, derr)
		}
	}()
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.Root, s.Slug+"-")
	if err != nil {
		return nil, err
	}
	b := &agent.Branch{Name: name, Repo: top, Copy: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(dir))
		}
	}()

	// --no-local: objects are copied through git's own protocol, never
	// hard-linked, so that no file of the user's object store is one the
	// agent can write; and only the branch's history comes, not the
	// user's other branches, stashes or unreachable objects. No template:
	// no sample hooks.
	work := filepath.Join(dir, workDir)
	if _, err := g.user(ctx, top, "clone", "--quiet", "--no-local", "--single-branch", "--no-tags", "--template=",
		"--branch", name, "--", top, work); err != nil {
		return nil, fmt.Errorf("copying %s: %w", agent.Escape(top), err)
	}
	// The copy is bottle's until the agent starts in it: git may still
	// run here. The user's path goes, with the remote; the agent commits
	// as itself.
	for _, args := range [][]string{
		{"remote", "remove", "origin"},
		{"config", "user.name", s.Slug},
		{"config", "user.email", s.Slug + "@bottle.invalid"},
	} {
		if _, err := g.user(ctx, work, args...); err != nil {
			return nil, err
		}
	}
	if err := makeShadow(ctx, g, b); err != nil {
		return nil, err
	}
	return b, nil
}

// baseCommit resolves the commit a branch starts from.
func baseCommit(ctx context.Context, g *git, top, from string) (string, error) {
	if from != "" {
		commit, err := g.user(ctx, top, "rev-parse", "--quiet", "--verify", "--end-of-options", from+"^{commit}")
		if err != nil {
			return "", inputf("--from %s: no such commit in %s", agent.Escape(from), agent.Escape(top))
		}
		return commit, nil
	}
	commit, err := g.user(ctx, top, "rev-parse", "--quiet", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", inputf("%s has no commit yet to branch from (its HEAD is unborn)", agent.Escape(top))
	}
	if _, err := g.user(ctx, top, "symbolic-ref", "--quiet", "HEAD"); err != nil {
		return "", inputf("the HEAD of %s is detached: name the commit to branch from with --from", agent.Escape(top))
	}
	return commit, nil
}

// submodule returns the path of a submodule in the commit's tree, or "".
func submodule(ctx context.Context, g *git, top, commit string) (string, error) {
	out, err := g.user(ctx, top, "ls-tree", "-r", "-z", "--full-tree", commit)
	if err != nil {
		return "", err
	}
	for _, entry := range strings.Split(out, "\x00") {
		meta, path, _ := strings.Cut(entry, "\t")
		if strings.HasPrefix(meta, "160000 ") || path == ".gitmodules" {
			return path, nil
		}
	}
	return "", nil
}

// git runs git on the host.
type git struct{ env []string }

// user runs git in the user's repository (or, while it is bottle's alone,
// in the copy), with the user's environment and configuration.
func (g *git) user(ctx context.Context, dir string, args ...string) (string, error) {
	env := withoutGitLocation(g.env)
	return run(ctx, dir, env, args)
}

// shadow runs git in b's shadow repository, with no configuration but the
// shadow's own: no system or global file, whose filters, fsmonitor or
// excludes would act on the agent's files.
func (g *git) shadow(ctx context.Context, b *agent.Branch, extra []string, args ...string) (string, error) {
	var env []string
	for _, kv := range g.env {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	env = append(env, "GIT_DIR="+filepath.Join(b.Copy, shadowDir), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ATTR_NOSYSTEM=1", "GIT_NO_REPLACE_OBJECTS=1", "GIT_OPTIONAL_LOCKS=0")
	return run(ctx, b.Copy, append(env, extra...), args)
}

// withoutGitLocation drops the variables that point git at a repository,
// a work tree, an index or objects other than those of the directory it is
// run in (such as a hook's environment holds).
func withoutGitLocation(environ []string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func run(ctx context.Context, dir string, env, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(env, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("git is not installed: an agent's branch needs it")
		}
		return "", &gitError{args: args, stderr: stderr.String(), err: err}
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// gitError is a git command that failed, with the last line it printed,
// escaped: it may name files the agent named.
type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	lines := strings.Split(strings.TrimSpace(e.stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		last = e.err.Error()
	}
	i := 0
	for i+2 < len(e.args) && e.args[i] == "-c" {
		i += 2
	}
	return "git " + e.args[i] + ": " + agent.Escape(last)
}
