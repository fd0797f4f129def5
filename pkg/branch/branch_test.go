package branch_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/branch"
)

// fixture is a user's repository with two commits on main, and the
// Config bottle would run with: a home of the test's own.
type fixture struct {
	t    *testing.T
	repo string
	cfg  branch.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".gitconfig"), "[user]\n\tname = User\n\temail = user@example.com\n[init]\n\tdefaultBranch = main\n")
	f := &fixture{t: t, repo: filepath.Join(t.TempDir(), "site"),
		cfg: branch.Config{Root: filepath.Join(home, ".local", "share", "bottle", "copies"),
			Env: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1"}}}
	f.git("", "init", "--quiet", f.repo)
	writeFile(t, filepath.Join(f.repo, "README"), "site\n")
	writeFile(t, filepath.Join(f.repo, ".gitignore"), "*.log\n")
	f.git(f.repo, "add", ".")
	f.git(f.repo, "commit", "--quiet", "-m", "first")
	writeFile(t, filepath.Join(f.repo, "index.html"), "<p>hello</p>\n")
	f.git(f.repo, "add", ".")
	f.git(f.repo, "commit", "--quiet", "-m", "second")
	return f
}

// git runs git as the user (or, in a copy, as the agent would).
func (f *fixture) git(dir string, args ...string) string {
	f.t.Helper()
	out, err := f.try(dir, args...)
	if err != nil {
		f.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (f *fixture) try(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = f.cfg.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", errors.New(strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func (f *fixture) make(s branch.Spec) *agent.Branch {
	f.t.Helper()
	if s.Dir == "" {
		s.Dir = f.repo
	}
	b, err := branch.Make(context.Background(), f.cfg, s)
	if err != nil {
		f.t.Fatalf("Make: %v", err)
	}
	return b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestMakeCopiesTheRepositoryOntoItsOwnBranch(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "reviewer-3f9a1c"})
	if b.Name != "bottle/reviewer-3f9a1c" || b.Repo != f.repo || filepath.Dir(b.Copy) != f.cfg.Root {
		t.Fatalf("Make: %+v", b)
	}
	work := branch.Workspace(b)
	head := f.git(f.repo, "rev-parse", "HEAD")
	if got := f.git(work, "rev-parse", "HEAD"); got != head {
		t.Errorf("the copy is at %s, want the user's HEAD %s", got, head)
	}
	if got := f.git(work, "symbolic-ref", "HEAD"); got != "refs/heads/bottle/reviewer-3f9a1c" {
		t.Errorf("the copy is on %s", got)
	}
	if got := f.git(f.repo, "rev-parse", "bottle/reviewer-3f9a1c"); got != head {
		t.Errorf("the user's branch is at %s, want %s", got, head)
	}
	if got, err := os.ReadFile(filepath.Join(work, "index.html")); err != nil || string(got) != "<p>hello</p>\n" {
		t.Errorf("the copy's files: %q, %v", got, err)
	}
	// Nothing of the user's repository is reachable from the copy: no
	// remote naming it, no alternates into its objects, no hooks.
	if out, _ := f.try(work, "remote"); out != "" {
		t.Errorf("the copy has remotes: %s", out)
	}
	if _, err := os.Stat(filepath.Join(work, ".git", "objects", "info", "alternates")); err == nil {
		t.Error("the copy borrows objects by alternates")
	}
	if entries, _ := os.ReadDir(filepath.Join(work, ".git", "hooks")); len(entries) > 0 {
		t.Errorf("the copy has hooks: %v", entries)
	}
	if who := f.git(work, "config", "user.email"); who != "reviewer-3f9a1c@bottle.invalid" {
		t.Errorf("the agent commits as %s", who)
	}
	// No file of the copy is a hard link into the user's object store.
	filepath.Walk(filepath.Join(work, ".git", "objects"), func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Sys().(*syscall.Stat_t).Nlink > 1 {
			t.Errorf("%s is hard-linked", path)
		}
		return nil
	})

	named := f.make(branch.Spec{Slug: "reviewer-000001", Name: "fix-login", From: "HEAD~1"})
	if got, want := f.git(f.repo, "rev-parse", "fix-login"), f.git(f.repo, "rev-parse", "HEAD~1"); named.Name != "fix-login" || got != want {
		t.Errorf("--branch=fix-login --from HEAD~1: %+v at %s, want %s", named, got, want)
	}
}

func TestBadInputMakesNothing(t *testing.T) {
	f := newFixture(t)
	plain := t.TempDir()
	unborn := filepath.Join(t.TempDir(), "unborn")
	f.git("", "init", "--quiet", unborn)
	detached := filepath.Join(t.TempDir(), "detached")
	f.git("", "clone", "--quiet", f.repo, detached)
	f.git(detached, "checkout", "--quiet", "--detach")
	sub := filepath.Join(t.TempDir(), "withsub")
	f.git("", "clone", "--quiet", f.repo, sub)
	f.git(sub, "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", f.repo, "vendor/site")
	f.git(sub, "commit", "--quiet", "-m", "a submodule")
	f.git(f.repo, "branch", "taken")

	for _, tc := range []struct {
		name string
		spec branch.Spec
		want string
	}{
		{"not a repository", branch.Spec{Dir: plain}, plain + " is not in a git repository with a work tree"},
		{"a name git refuses", branch.Spec{Dir: f.repo, Name: "no..dots"}, "git refuses no..dots as a branch name"},
		{"a name git expands", branch.Spec{Dir: f.repo, Name: "@{-1}"}, "git refuses @{-1} as a branch name"},
		{"a branch that exists", branch.Spec{Dir: f.repo, Name: "taken"}, "the branch taken already exists in " + f.repo},
		{"an unknown commit", branch.Spec{Dir: f.repo, From: "nope"}, "--from nope: no such commit in " + f.repo},
		{"an unborn HEAD", branch.Spec{Dir: unborn}, unborn + " has no commit yet to branch from (its HEAD is unborn)"},
		{"a detached HEAD", branch.Spec{Dir: detached}, "the HEAD of " + detached + " is detached: name the commit to branch from with --from"},
		{"a submodule", branch.Spec{Dir: sub}, sub + " has a submodule (.gitmodules), which an agent's copy cannot hold"},
	} {
		tc.spec.Slug = "a-000001"
		branches := f.git(f.repo, "branch", "--list")
		_, err := branch.Make(context.Background(), f.cfg, tc.spec)
		var input *branch.InputError
		if !errors.As(err, &input) || err.Error() != tc.want {
			t.Errorf("%s: %v; want the input error %q", tc.name, err, tc.want)
		}
		if entries, _ := os.ReadDir(f.cfg.Root); len(entries) > 0 {
			t.Errorf("%s: a copy was left: %v", tc.name, entries)
		}
		if got := f.git(f.repo, "branch", "--list"); got != branches {
			t.Errorf("%s: the user's branches became %q", tc.name, got)
		}
	}
	// A detached HEAD is fine once the commit is named.
	if _, err := branch.Make(context.Background(), f.cfg, branch.Spec{Dir: detached, From: "HEAD", Slug: "a-000002"}); err != nil {
		t.Errorf("a detached HEAD with --from HEAD: %v", err)
	}
}

func TestTheAgentsCommitsComeBack(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	work := branch.Workspace(b)
	writeFile(t, filepath.Join(work, "fix.txt"), "fixed\n")
	f.git(work, "add", "fix.txt")
	f.git(work, "commit", "--quiet", "-m", "the agent's fix")
	ctx := context.Background()

	p, err := branch.Uncommitted(ctx, f.cfg, b)
	if err != nil || len(p.Paths) != 0 {
		t.Fatalf("Uncommitted after a commit: %+v, %v", p, err)
	}
	tip, err := branch.Tip(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := branch.Fetch(ctx, f.cfg, b, tip, false)
	if err != nil || got.New != tip || got.Old != f.git(f.repo, "rev-parse", "main") {
		t.Fatalf("Fetch: %+v, %v", got, err)
	}
	if log := f.git(f.repo, "log", "--format=%s %ae", "main..bottle/a-000001"); log != "the agent's fix a-000001@bottle.invalid" {
		t.Errorf("the user's branch holds %q", log)
	}

	// Work left uncommitted is found, ignored files aside, and kept as a
	// commit when asked.
	writeFile(t, filepath.Join(work, "fix.txt"), "fixed better\n")
	writeFile(t, filepath.Join(work, "notes.md"), "todo\n")
	writeFile(t, filepath.Join(work, "debug.log"), "noise\n")
	os.Remove(filepath.Join(work, "README"))
	p, err = branch.Uncommitted(ctx, f.cfg, b)
	if want := []string{"README", "fix.txt", "notes.md"}; err != nil || !slices.Equal(p.Paths, want) {
		t.Fatalf("Uncommitted: %+v, %v; want %v", p, err, want)
	}
	commit, err := branch.Commit(ctx, f.cfg, b, p, "a-000001", "what the agent left")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.Fetch(ctx, f.cfg, b, commit, false); err != nil {
		t.Fatal(err)
	}
	if got := f.git(f.repo, "show", "bottle/a-000001:fix.txt"); got != "fixed better" {
		t.Errorf("the kept work: fix.txt is %q", got)
	}
	if out, err := f.try(f.repo, "cat-file", "-e", "bottle/a-000001:debug.log"); err == nil {
		t.Errorf("an ignored file was kept: %s", out)
	}
	// The copy itself is as the agent left it.
	if got := f.git(work, "rev-parse", "HEAD"); got != tip {
		t.Errorf("the copy moved to %s", got)
	}
}

func TestABranchThatMovedApartIsNotOverwritten(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	work := branch.Workspace(b)
	ctx := context.Background()
	f.git(work, "reset", "--quiet", "--hard", "HEAD~1")
	tip, _ := branch.Tip(b)
	before := f.git(f.repo, "rev-parse", "bottle/a-000001")
	_, err := branch.Fetch(ctx, f.cfg, b, tip, false)
	if want := "bottle/a-000001 in " + f.repo + " has commits that the agent's branch does not (the agent rewrote it, or you committed on it): bottle-fetch --force replaces it"; err == nil || err.Error() != want {
		t.Fatalf("Fetch of a rewritten branch: %v; want %q", err, want)
	}
	if got := f.git(f.repo, "rev-parse", "bottle/a-000001"); got != before {
		t.Errorf("the user's branch moved to %s", got)
	}
	if _, err := branch.Fetch(ctx, f.cfg, b, tip, true); err != nil {
		t.Fatalf("Fetch with force: %v", err)
	}
	if got := f.git(f.repo, "rev-parse", "bottle/a-000001"); got != tip {
		t.Errorf("with force the user's branch is at %s, want %s", got, tip)
	}

	f.git(f.repo, "checkout", "--quiet", "bottle/a-000001")
	f.git(work, "commit", "--quiet", "--allow-empty", "-m", "more")
	tip, _ = branch.Tip(b)
	_, err = branch.Fetch(ctx, f.cfg, b, tip, false)
	if want := "bottle/a-000001 is checked out in " + f.repo + ", and git does not move a checked-out branch: switch to another branch there"; err == nil || err.Error() != want {
		t.Errorf("Fetch into the checked-out branch: %v; want %q", err, want)
	}
}

// The agent rewrites its copy's .git to run commands on the host when
// bottle, or the user, next runs git: none of it runs, and the user's own
// repository keeps its config and hooks.
func TestAHostileCopyRunsNothingOnTheHost(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	work := branch.Workspace(b)
	marker := filepath.Join(t.TempDir(), "ran")
	run := "touch " + marker
	config, _ := os.ReadFile(filepath.Join(f.repo, ".git", "config"))
	hooks := listing(t, filepath.Join(f.repo, ".git", "hooks"))

	for _, hook := range []string{"post-checkout", "pre-commit", "post-commit", "reference-transaction", "pre-push", "post-merge"} {
		writeFile(t, filepath.Join(work, ".git", "hooks", hook), "#!/bin/sh\n"+run+"\n")
		writeFile(t, filepath.Join(work, "hooks", hook), "#!/bin/sh\n"+run+"\n")
	}
	writeFile(t, filepath.Join(work, ".gitattributes"), "* filter=x diff=x\n")
	writeFile(t, filepath.Join(work, "change.txt"), "change\n")
	// A commit made by the agent's own git, whose hooks and filters are
	// the agent's business inside its bottle.
	f.git(work, "add", ".gitattributes", "hooks")
	f.git(work, "-c", "core.hooksPath=/dev/null", "commit", "--quiet", "-m", "hooks of its own")
	writeFile(t, filepath.Join(work, ".git", "config"), "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "+run+"\n\thooksPath = hooks\n"+
		"[filter \"x\"]\n\tclean = "+run+"\n\tsmudge = "+run+"\n\tprocess = "+run+"\n[diff \"x\"]\n\ttextconv = "+run+"\n"+
		"[uploadpack]\n\tpackObjectsHook = "+run+"\n[core]\n\talternateRefsCommand = "+run+"\n")

	ctx := context.Background()
	p, err := branch.Uncommitted(ctx, f.cfg, b)
	if err != nil || !slices.Equal(p.Paths, []string{"change.txt"}) {
		t.Fatalf("Uncommitted: %+v, %v", p, err)
	}
	commit, err := branch.Commit(ctx, f.cfg, b, p, "a-000001", "kept")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.Fetch(ctx, f.cfg, b, commit, false); err != nil {
		t.Fatal(err)
	}
	// The user looks at the agent's work with their own git.
	f.git(f.repo, "log", "-p", "main..bottle/a-000001")
	f.git(f.repo, "checkout", "--quiet", "bottle/a-000001")
	f.git(f.repo, "checkout", "--quiet", "main")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command the agent wrote into its copy ran on the host")
	}
	if got, _ := os.ReadFile(filepath.Join(f.repo, ".git", "config")); string(got) != string(config) {
		t.Errorf("the user's config changed:\n%s", got)
	}
	if got := listing(t, filepath.Join(f.repo, ".git", "hooks")); got != hooks {
		t.Errorf("the user's hooks changed:\n%s", got)
	}
}

// listing is every file under dir with its content.
func listing(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			content, _ := os.ReadFile(path)
			fmt.Fprintf(&b, "%s %v %q\n", path, info.Mode(), content)
		}
		return nil
	})
	return b.String()
}

// A tree the agent crafted to write into the user's .git on checkout is
// refused on the way in, and the user's branch stays where it was.
func TestACraftedTreeIsRefused(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	work := branch.Workspace(b)
	hook := f.gitIn(work, "#!/bin/sh\ntouch /tmp/pwned\n", "hash-object", "-w", "--stdin")
	hooks := f.gitIn(work, "100755 blob "+hook+"\tpost-checkout\n", "mktree")
	dotgit := f.gitIn(work, "040000 tree "+hooks+"\thooks\n", "mktree")
	root := f.gitIn(work, "040000 tree "+dotgit+"\t.git\n", "mktree", "--missing")
	commit := f.git(work, "commit-tree", root, "-p", "HEAD", "-m", "a .git of its own")
	f.git(work, "update-ref", "refs/heads/bottle/a-000001", commit)

	before := f.git(f.repo, "rev-parse", "bottle/a-000001")
	tip, _ := branch.Tip(b)
	if _, err := branch.Fetch(context.Background(), f.cfg, b, tip, false); err == nil {
		t.Fatal("a tree holding .git was fetched")
	}
	if got := f.git(f.repo, "rev-parse", "bottle/a-000001"); got != before {
		t.Errorf("the user's branch moved to %s", got)
	}
}

func (f *fixture) gitIn(dir, stdin string, args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, f.cfg.Env, strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		f.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// The agent's refs are read as data: a link out of its .git, a pipe or
// garbage give an error that shows nothing of what they point at, and
// never hang.
func TestTheAgentsRefsAreReadAsData(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	ref := filepath.Join(branch.Workspace(b), ".git", "refs", "heads", "bottle", "a-000001")
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "0123456789abcdef0123456789abcdef01234567\n")
	for name, plant := range map[string]func() error{
		"a link out":        func() error { return os.Symlink(secret, ref) },
		"a pipe":            func() error { return syscall.Mkfifo(ref, 0o644) },
		"garbage":           func() error { return os.WriteFile(ref, []byte("ref: ../../../../etc/passwd\n"), 0o644) },
		"a link to its dir": func() error { return os.Symlink("../..", ref) },
	} {
		os.Remove(ref)
		if err := plant(); err != nil {
			t.Fatal(err)
		}
		id, err := branch.Tip(b)
		if err == nil || strings.Contains(err.Error(), "0123456789") {
			t.Errorf("%s: Tip = %q, %v", name, id, err)
		}
	}
}

func TestRemoveKeepsToItsOwnDirectory(t *testing.T) {
	f := newFixture(t)
	b := f.make(branch.Spec{Slug: "a-000001"})
	other := t.TempDir()
	if err := branch.Remove(f.cfg, &agent.Branch{Copy: other}); err == nil {
		t.Errorf("Remove of %s, outside the copies: no error", other)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("Remove outside the copies removed it: %v", err)
	}
	if err := branch.Remove(f.cfg, b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.Copy); !os.IsNotExist(err) {
		t.Errorf("the copy is still there: %v", err)
	}
}
