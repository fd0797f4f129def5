package bottle_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// A window resized during a one-off command on a terminal is resized inside
// the agent too (session_test.go resizes a joined session, in tmux):
// testscript's ttyin cannot resize, so this drives a pseudo-terminal itself.
func TestAttachFollowsResize(t *testing.T) {
	if _, err := engineClient(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	def := filepath.Join(dir, "resize.json")
	if err := os.WriteFile(def, []byte(`{"image": "`+testImage+`", "command": ["sleep", "infinity"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BOTTLE_LABELS="+runLabel+"="+run)
	slug := "resize-" + run
	bottle := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		return cmd
	}
	if out, err := bottle("bottle-start", "--name", slug, def).CombinedOutput(); err != nil {
		t.Fatalf("bottle-start: %v: %s", err, out)
	}
	t.Cleanup(func() { bottle("bottle-stop", slug).Run() })

	attach := bottle("bottle-attach", slug, "--", "/bin/sh")
	term, err := pty.StartWithSize(attach, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := term.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// Asks until the answer shows: the resize travels to the Engine
	// asynchronously, after SIGWINCH.
	waitFor := func(ask, answer string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			term.WriteString(ask)
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			seen := strings.Contains(screen.String(), answer)
			mu.Unlock()
			if seen {
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%q never showed; the screen:\n%s", answer, screen.String())
	}

	waitFor("stty size\n", "\n24 80")
	if err := pty.Setsize(term, &pty.Winsize{Rows: 33, Cols: 101}); err != nil {
		t.Fatal(err)
	}
	waitFor("stty size\n", "\n33 101")
	term.WriteString("exit 6\n")
	var exitErr *exec.ExitError
	if err := attach.Wait(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 6 {
		t.Fatalf("bottle-attach ended with %v, want exit status 6", err)
	}
}
