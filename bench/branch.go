package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The repository bottle-start --branch is measured on (issue 17).
const (
	branchFiles   = 20000
	branchCommits = 5000
)

// branchResult is bottle-start --branch against plain bottle-start, with
// the repository as the workspace of both, and git's own copy of it as the
// yardstick of what a copy costs.
type branchResult struct {
	plain, branch, clone  []time.Duration
	stopPlain, stopBranch []time.Duration
}

// makeRepository writes a repository of branchFiles files and
// branchCommits commits, each after the first changing four files, with
// git fast-import, and checks it out.
func makeRepository(ctx context.Context, dir string) error {
	git := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir, cmd.Env = dir, append(baseEnv(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		return cmd
	}
	if out, err := git("init", "--quiet", "--initial-branch=main").CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	imp := git("fast-import", "--quiet")
	in, err := imp.StdinPipe()
	if err != nil {
		return err
	}
	if err := imp.Start(); err != nil {
		return err
	}
	w := bufio.NewWriter(in)
	file := func(i, rev int) {
		content := strings.Repeat(fmt.Sprintf("file %d revision %d\n", i, rev), 20)
		fmt.Fprintf(w, "M 644 inline dir%03d/f%05d.txt\ndata %d\n%s\n", i%200, i, len(content), content)
	}
	const epoch = 1700000000
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata 5\nfirst\n", epoch)
	for i := range branchFiles {
		file(i, 0)
	}
	for c := 1; c < branchCommits; c++ {
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", epoch+c, len(msg), msg)
		for k := range 4 {
			file((c*7+k*13)%branchFiles, c)
		}
	}
	err = errors.Join(w.Flush(), in.Close(), imp.Wait())
	if err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	if out, err := git("checkout", "--quiet", "main").CombinedOutput(); err != nil {
		return fmt.Errorf("git checkout: %v: %s", err, out)
	}
	return nil
}

// measureBranch times, alternately, bottle-start --branch and plain
// bottle-start of one definition whose workspace is the repository, and
// git clone --no-local of it; then the bottle-stop of each.
func (h *harness) measureBranch(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "bottle-bench-repository")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "repo")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(repo, 0o755); err != nil {
		return err
	}
	if err := makeRepository(ctx, repo); err != nil {
		return err
	}
	def := filepath.Join(dir, "bench-branch.json")
	if err := os.WriteFile(def, fmt.Appendf(nil, `{"image": %q, "command": ["sleep", "infinity"], "workspace": %q}`+"\n", h.def.image, repo), 0o644); err != nil {
		return err
	}
	env := append(h.dockerEnv(h.engineHost()), "XDG_DATA_HOME="+data, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	start := func(round int, branch bool) (time.Duration, string, error) {
		argv := []string{h.binary("bottle-start"), "--name", fmt.Sprintf("benchbr-%s-%d", h.id, round), def}
		if branch {
			argv = append(argv[:1], append([]string{"--branch"}, argv[1:]...)...)
		}
		x, err := runOnce(ctx, cmdSpec{argv: argv, env: env})
		if err != nil {
			return 0, "", err
		}
		return x.wall, strings.Split(string(x.stdout), "\t")[1], nil
	}
	stop := func(slug string) (time.Duration, error) {
		x, err := runOnce(ctx, cmdSpec{argv: []string{h.binary("bottle-stop"), slug}, env: env})
		return x.wall, err
	}
	var r branchResult
	for round := range *flagStartRuns + 1 {
		// Round 0 warms the caches and is not recorded.
		record := func(to *[]time.Duration, d time.Duration) {
			if round > 0 {
				*to = append(*to, d)
			}
		}
		for k := range 3 {
			switch (round + k) % 3 {
			case 0, 1:
				branch := (round+k)%3 == 1
				d, slug, err := start(round*2+k, branch)
				if err != nil {
					return err
				}
				sd, err := stop(slug)
				if err != nil {
					return err
				}
				if branch {
					record(&r.branch, d)
					record(&r.stopBranch, sd)
				} else {
					record(&r.plain, d)
					record(&r.stopPlain, sd)
				}
			case 2:
				copyDir := filepath.Join(dir, "clone")
				x, err := runOnce(ctx, cmdSpec{argv: []string{"git", "clone", "--quiet", "--no-local", "--single-branch", "--no-tags", repo, copyDir},
					env: []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}})
				if err != nil {
					return err
				}
				record(&r.clone, x.wall)
				if err := os.RemoveAll(copyDir); err != nil {
					return err
				}
			}
		}
	}
	h.rep.branch = &r
	return nil
}

// branchTarget bounds what --branch may add to a start beyond git's own
// copy of the repository.
const branchTarget = 1.2

func (r *report) branchRows() []row {
	b := r.branch
	if b == nil || len(b.plain) == 0 {
		return nil
	}
	plain, branch, clone := medianDur(b.plain), medianDur(b.branch), medianDur(b.clone)
	floor := plain + clone
	q := float64(branch) / float64(floor)
	rw := row{
		what: fmt.Sprintf("`bottle-start --branch` vs plain `bottle-start`, the workspace a repository of %d files and %d commits; `git clone --no-local` of it the copy's yardstick", branchFiles, branchCommits),
		measured: fmt.Sprintf("%s vs %s; the clone %s; `bottle-stop` %s vs %s",
			ms(branch), ms(plain), ms(clone), ms(medianDur(b.stopBranch)), ms(medianDur(b.stopPlain))),
		ratio:   fmt.Sprintf("%.2f× (plain + clone)", q),
		target:  fmt.Sprintf("≤ %.1f× plain start + clone", branchTarget),
		met:     q <= branchTarget,
		meaning: "The start on a branch over a plain start plus git's own copy of the same repository: 1 means --branch costs the copy and nothing more. Stop brings the branch back and reads every file of the copy once to find uncommitted work.",
	}
	if !rw.met {
		rw.miss = fmt.Sprintf("Missed by %s over plain start + clone: work beyond the copy (the shadow repository, the branch's checks in the user's repository).", ms(branch-time.Duration(branchTarget*float64(floor))))
	}
	return []row{rw}
}
