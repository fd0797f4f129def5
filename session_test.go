package bottle_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A session as its user lives it, in tmux: the agent's program runs on
// while nobody is joined; terminals join it, leave it with the detach keys
// or by going away, join it again, two at once, resized; and its end is
// the status of the terminals joined to it.
func TestSessionOutlivesTerminals(t *testing.T) {
	k := newToolkit(t)
	slug := "session-" + run
	def := filepath.Join(t.TempDir(), "counter.json")
	// A tick a second with the terminal's size; every line typed is echoed,
	// and "quit" ends the program with status 3. Each tick also prints the
	// detach keys, as a hostile program might to throw its user out: only
	// keys the user types detach. A full-screen program redraws when its
	// window changes: this one says so.
	program := `trap 'echo redraw' WINCH; i=0; while :; do i=$((i+1)); printf '\020\021'; echo "tick $i size $(stty size)"; ` +
		`if read -t 1 k; then echo "key: $k"; [ "$k" = quit ] && exit 3; fi; done`
	writeDefinition(t, def, `{"image": "`+testImage+`", "command": ["sh", "-c", `+strconv.Quote(program)+`]}`)
	k.must("bottle-start", "--name", slug, def)
	t.Cleanup(func() { k.bottle("bottle-stop", slug).Run() })

	mux := newTmux(t, k.env)
	first := mux.open("first", 100, 30, "stty -g > before; bottle-attach "+slug+"; echo EXIT=$?; stty -g > after; cmp -s before after && echo RESTORED; sleep 600")
	first.waitFor(`tick \d+ size 30 100`)
	first.keys("hello", "Enter")
	first.waitFor(`key: hello`)

	first.keys("C-p", "C-q")
	first.waitFor(`detached from ` + slug + ` \(by the detach keys\); its program goes on`)
	first.waitFor(`EXIT=0\s+RESTORED`)
	// Nobody is joined, and the program counts on: its log grows.
	before := lastTick(t, k.must("bottle-logs", slug))
	waitUntil(t, "the log to grow while nobody is joined", func() bool {
		return lastTick(t, k.must("bottle-logs", slug)) > before
	})

	// Two terminals joined at once see the same program; each sees what
	// the other types, and a resize reaches the program.
	second := mux.open("second", 100, 30, "bottle-attach "+slug+"; echo EXIT=$?; sleep 600")
	third := mux.open("third", 100, 30, "bottle-attach "+slug+"; echo EXIT=$?; sleep 600")
	second.waitFor(`tick \d+`)
	third.waitFor(`tick \d+`)
	second.keys("both", "Enter")
	second.waitFor(`key: both`)
	third.waitFor(`key: both`)
	third.resize(120, 40)
	third.waitFor(`tick \d+ size 40 120`)
	second.waitFor(`tick \d+ size 40 120`)

	// The terminals go away with their tmux server: the program does not.
	beforeKill := lastTick(t, k.must("bottle-logs", slug))
	mux.killServer()
	waitUntil(t, "every bottle-attach to end with its terminal", func() bool { return !attachRunning(slug) })
	mux = newTmux(t, k.env)
	// Joined at the size it already has, the program is still asked to
	// redraw: the join resizes it to a line less and back.
	again := mux.open("again", 120, 40, "bottle-attach "+slug+"; echo EXIT=$?; sleep 600")
	again.waitFor(`redraw`)
	again.waitFor(`tick \d+ size 40 120`)
	if tick := lastTick(t, again.screen()); tick <= beforeKill {
		t.Fatalf("after the terminals went away the program is at tick %d, it was at %d", tick, beforeKill)
	}

	// The program's end is the session's, and its status bottle-attach's.
	again.keys("quit", "Enter")
	again.waitFor(`EXIT=3`)
	ls := k.must("bottle-ls", "--all", "--json")
	if !regexp.MustCompile(`"slug":"` + slug + `".*"state":"exited","exit_status":3`).MatchString(ls) {
		t.Fatalf("bottle-ls --all --json after the program ended:\n%s", ls)
	}
}

// A one-off command ends, with every process it started, however its
// client goes: killed, terminated, or its terminal closed.
func TestOneOffEndsWithItsClient(t *testing.T) {
	k := newToolkit(t)
	slug := "oneoff-" + run
	k.must("bottle-start", "--name", slug, "shell")
	t.Cleanup(func() { k.bottle("bottle-stop", slug).Run() })
	mux := newTmux(t, k.env)

	for i, end := range []struct {
		how  string
		kill func(w *window)
	}{
		{"SIGKILL", func(w *window) { syscall.Kill(w.pid(), syscall.SIGKILL) }},
		{"SIGTERM", func(w *window) { syscall.Kill(w.pid(), syscall.SIGTERM) }},
		{"a closed terminal", func(w *window) { w.close() }},
	} {
		// A loop, a child in the background and a daemon that left its
		// session: each must go. Their marks tell them from the rest.
		mark := 4100 + i
		cmd := fmt.Sprintf(`exec bottle-attach %s -- sh -c 'sleep %d & setsid sleep %d & while :; do sleep 0.%d; done'`, slug, mark, mark, mark)
		w := mux.open(fmt.Sprintf("oneoff%d", i), 80, 24, cmd)
		waitUntil(t, "the command to run inside", func() bool {
			return strings.Count(k.must("bottle-attach", slug, "--", "ps", "-o", "args"), strconv.Itoa(mark)) >= 3
		})
		end.kill(w)
		waitUntil(t, "no process of the command left after "+end.how, func() bool {
			ps := k.must("bottle-attach", slug, "--", "ps", "-o", "args")
			return !strings.Contains(ps, strconv.Itoa(mark))
		})
	}
	// Only the agent's own program, its init, and the ps asking (with its
	// tie, which may still be being started) remain.
	ps := k.must("bottle-attach", slug, "--", "ps", "-o", "args")
	known := regexp.MustCompile(`^(COMMAND|/sbin/docker-init -- sleep infinity|sleep infinity|/.bottle/bottle-tether (run [0-9a-f]{32} -- ps -o args|hold [0-9a-f]{32})|ps -o args|\{runc:\[2:INIT\]\} runc init)$`)
	for _, line := range strings.Split(strings.TrimSpace(ps), "\n") {
		if !known.MatchString(strings.TrimSpace(line)) {
			t.Errorf("a process left in the agent: %q; all of them:\n%s", line, ps)
		}
	}
}

// must runs a bottle binary that must succeed and returns its output.
func (k *toolkit) must(args ...string) string {
	k.t.Helper()
	stdout, stderr, status := k.run("", nil, args...)
	if status != 0 {
		k.t.Fatalf("%s: exit status %d: %s", strings.Join(args, " "), status, stderr)
	}
	return stdout
}

// bottle is a bottle binary as a command, in the test's environment.
func (k *toolkit) bottle(args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = k.env
	return cmd
}

func writeDefinition(t *testing.T, path, def string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
}

var tickRE = regexp.MustCompile(`tick (\d+)`)

// lastTick is the highest tick in s, 0 when there is none.
func lastTick(t *testing.T, s string) int {
	t.Helper()
	last := 0
	for _, m := range tickRE.FindAllStringSubmatch(s, -1) {
		if n, _ := strconv.Atoi(m[1]); n > last {
			last = n
		}
	}
	return last
}

// waitUntil polls ok for up to 30 seconds: what the test waits for travels
// through the Engine and a terminal, at their pace.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// attachRunning reports whether a bottle-attach of slug still runs here.
func attachRunning(slug string) bool {
	return exec.Command("pgrep", "-f", "bottle-attach "+slug).Run() == nil
}

// tmux is a tmux server of the test's own, on its own socket, whose windows
// are the user's terminals.
type tmux struct {
	t      *testing.T
	socket string
	env    []string
	dir    string // where the terminals' shells start
}

func newTmux(t *testing.T, env []string) *tmux {
	m := &tmux{t: t, socket: fmt.Sprintf("bottle-test-%s-%d", run, time.Now().UnixNano()), env: env, dir: t.TempDir()}
	t.Cleanup(m.killServer)
	return m
}

func (m *tmux) cmd(args ...string) (string, error) {
	c := exec.Command("tmux", append([]string{"-L", m.socket, "-f", "/dev/null"}, args...)...)
	c.Env = m.env
	out, err := c.CombinedOutput()
	return string(out), err
}

func (m *tmux) must(args ...string) string {
	m.t.Helper()
	out, err := m.cmd(args...)
	if err != nil {
		m.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// open starts a terminal of the given size running the shell command line.
func (m *tmux) open(name string, width, height int, line string) *window {
	m.must("new-session", "-d", "-s", name, "-c", m.dir, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), line)
	return &window{m: m, name: name}
}

func (m *tmux) killServer() { m.cmd("kill-server") }

// window is one terminal.
type window struct {
	m    *tmux
	name string
}

func (w *window) keys(keys ...string) {
	w.m.must(append([]string{"send-keys", "-t", w.name}, keys...)...)
}

func (w *window) screen() string {
	out, _ := w.m.cmd("capture-pane", "-p", "-J", "-S", "-200", "-t", w.name)
	return out
}

func (w *window) waitFor(pattern string) {
	w.m.t.Helper()
	re := regexp.MustCompile(pattern)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if re.MatchString(w.screen()) {
			return
		}
	}
	w.m.t.Fatalf("terminal %s never showed %q; it shows:\n%s", w.name, pattern, w.screen())
}

func (w *window) resize(width, height int) {
	w.m.must("resize-window", "-t", w.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height))
}

// pid is the pid of the program the terminal runs.
func (w *window) pid() int {
	out := w.m.must("list-panes", "-t", w.name, "-F", "#{pane_pid}")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		w.m.t.Fatalf("tmux pane pid %q: %v", out, err)
	}
	return pid
}

func (w *window) close() { w.m.must("kill-session", "-t", w.name) }
