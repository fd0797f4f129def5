package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// tree is a command whose descendants try to get away: one in a session of
// its own, one double-forked (an orphan), one its plain child.
var tree = []string{"sh", "-c", "setsid sleep 300 & (sleep 301 &); sleep 302"}

// treeRunning waits until every process of tree runs.
func treeRunning(t *testing.T, token string) {
	t.Helper()
	waitForProcesses(t, token, "sleep 300", "sleep 301", "sleep 302")
}

// TestClientGone: when the client is gone, its hold's stdin ending or the
// hold being killed with it, run ends the command and every process it
// started, and exits 129. The hold starts first, as it may in a container.
func TestClientGone(t *testing.T) {
	for _, how := range []string{"stdin ends", "hold killed"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			token := newToken(t)
			hold, holdStdin := holdTether(t, token)
			run := runTether(t, token, nil, append([]string{token, "--"}, tree...)...)
			treeRunning(t, token)
			waitForHold(t, token)
			if how == "stdin ends" {
				holdStdin.Close()
			} else {
				hold.cmd.Process.Kill()
			}
			if code := run.exitCode(t); code != 129 {
				t.Errorf("run = %d; want 129", code)
			}
			if how == "stdin ends" {
				if code := hold.exitCode(t); code != 0 {
					t.Errorf("hold = %d; want 0", code)
				}
			}
			waitForNone(t, token)
		})
	}
}

// TestNoHold: with no hold within -within, the client is taken to be gone.
func TestNoHold(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	run := runTether(t, token, nil, append([]string{"-within=300ms", token, "--"}, tree...)...)
	if code := run.exitCode(t); code != 129 {
		t.Errorf("run = %d; want 129", code)
	}
	waitForNone(t, token)
}

// TestSignalled: SIGHUP or SIGTERM to run means the client is gone; the
// hold then ends by itself.
func TestSignalled(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			token := newToken(t)
			run := runTether(t, token, nil, append([]string{token, "--"}, tree...)...)
			hold, _ := holdTether(t, token)
			treeRunning(t, token)
			waitForHold(t, token)
			run.cmd.Process.Signal(sig)
			if code := run.exitCode(t); code != 129 {
				t.Errorf("run = %d; want 129", code)
			}
			if code := hold.exitCode(t); code != 0 {
				t.Errorf("hold = %d; want 0", code)
			}
			waitForNone(t, token)
		})
	}
}

// TestTerminalSignals: the signals a terminal sends its foreground group
// neither end nor stop run itself: it still ends the command when the hold
// ends.
func TestTerminalSignals(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	run := runTether(t, token, nil, token, "--", "sleep", "300")
	hold, holdStdin := holdTether(t, token)
	waitForProcesses(t, token, "sleep 300")
	waitForHold(t, token)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP} {
		run.cmd.Process.Signal(sig)
	}
	holdStdin.Close()
	if code := run.exitCode(t); code != 129 {
		t.Errorf("run = %d; want 129", code)
	}
	if code := hold.exitCode(t); code != 0 {
		t.Errorf("hold = %d; want 0", code)
	}
	waitForNone(t, token)
}

// TestGrace: processes that shrug off SIGHUP and SIGTERM get the grace
// period, then SIGKILL.
func TestGrace(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	run := runTether(t, token, nil, token, "--", "sh", "-c", `trap "" HUP TERM; sleep 300`)
	_, holdStdin := holdTether(t, token)
	waitForProcesses(t, token, "sleep 300")
	waitForHold(t, token)
	gone := time.Now()
	holdStdin.Close()
	if code := run.exitCode(t); code != 129 {
		t.Errorf("run = %d; want 129", code)
	}
	if took := time.Since(gone); took < grace {
		t.Errorf("run ended the tree in %v, before the grace period of %v", took, grace)
	}
	waitForNone(t, token)
}

// TestExitStatus: when the command ends on its own, run exits with its
// status, and the hold then ends by itself.
func TestExitStatus(t *testing.T) {
	for _, c := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -TERM $$", 128 + int(syscall.SIGTERM)},
		{"kill -KILL $$", 128 + int(syscall.SIGKILL)},
	} {
		t.Run(c.script, func(t *testing.T) {
			t.Parallel()
			token := newToken(t)
			stdin, stdinWriter := pipe(t)
			// It reads stdin so that it ends only once the hold is in.
			run := runTether(t, token, stdin, token, "--", "sh", "-c", "read line; "+c.script)
			hold, _ := holdTether(t, token)
			waitForHold(t, token)
			stdinWriter.Close()
			if code := run.exitCode(t); code != c.code {
				t.Errorf("run = %d; want %d", code, c.code)
			}
			if code := hold.exitCode(t); code != 0 {
				t.Errorf("hold = %d; want 0", code)
			}
		})
	}
}

// TestLeftovers: what the command leaves behind when it ends on its own
// goes on running, as it would after docker exec.
func TestLeftovers(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	stdin, stdinWriter := pipe(t)
	run := runTether(t, token, stdin, token, "--", "sh", "-c", "sleep 303 & read line; exit 3")
	hold, _ := holdTether(t, token)
	waitForProcesses(t, token, "sleep 303")
	waitForHold(t, token)
	stdinWriter.Close()
	if code := run.exitCode(t); code != 3 {
		t.Errorf("run = %d; want 3", code)
	}
	if code := hold.exitCode(t); code != 0 {
		t.Errorf("hold = %d; want 0", code)
	}
	waitForProcesses(t, token, "sleep 303")
}

// TestStdio: the command reads run's stdin and writes its stdout.
func TestStdio(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	stdin, stdinWriter := pipe(t)
	run := runTether(t, token, stdin, token, "--", "cat")
	holdTether(t, token)
	waitForHold(t, token)
	stdinWriter.WriteString("hi\n")
	stdinWriter.Close()
	if code := run.exitCode(t); code != 0 {
		t.Errorf("run = %d; want 0", code)
	}
	if out := run.output(t, run.stdout); out != "hi\n" {
		t.Errorf("stdout %q; want %q", out, "hi\n")
	}
}

// TestCannotStart: a command that is not there is 127, one that cannot be
// run 126, as with docker exec, with a line on stderr.
func TestCannotStart(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		command string
		code    int
		stderr  string
	}{
		{"no-such-command-here", 127, `^bottle-tether: run: exec: "no-such-command-here": executable file not found in \$PATH\n$`},
		{"/no/such/command", 127, `^bottle-tether: run: fork/exec /no/such/command: no such file or directory\n$`},
		{notExecutable, 126, `^bottle-tether: run: fork/exec .*/script: permission denied\n$`},
	} {
		t.Run(c.command, func(t *testing.T) {
			token := newToken(t)
			run := runTether(t, token, nil, token, "--", c.command)
			if code, stderr := run.exitCode(t), run.output(t, run.stderr); code != c.code || !regexp.MustCompile(c.stderr).MatchString(stderr) {
				t.Errorf("run = %d, stderr %q; want %d, stderr matching %s", code, stderr, c.code, c.stderr)
			}
		})
	}
}

// TestSquatted: when another process listens on the tether's name, run
// refuses, and does not start the command, whose life that process would
// decide.
func TestSquatted(t *testing.T) {
	token := newToken(t)
	squatter, err := net.Listen("unix", socketName(token))
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	ran := filepath.Join(t.TempDir(), "ran")
	run := runTether(t, token, nil, token, "--", "touch", ran)
	want := `^bottle-tether: run: @bottle-tether-` + token + ` is taken by another process; not starting touch\n$`
	if code, stderr := run.exitCode(t), run.output(t, run.stderr); code != 125 || !regexp.MustCompile(want).MatchString(stderr) {
		t.Errorf("run = %d, stderr %q; want 125, stderr matching %s", code, stderr, want)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("the command ran")
	}
}

// TestTerminal: on a terminal, run leaves Ctrl-C and Ctrl-\ to the command,
// which they end as they would without it.
func TestTerminal(t *testing.T) {
	for _, c := range []struct {
		key  string
		code int
	}{
		{"\x03", 128 + int(syscall.SIGINT)},
		{"\x1c", 128 + int(syscall.SIGQUIT)},
	} {
		t.Run(strconv.Quote(c.key), func(t *testing.T) {
			t.Parallel()
			token := newToken(t)
			terminal, tty := openPTY(t)
			cmd := tetherCommand(token, "run", token, "--", "sleep", "300")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			run := start(t, cmd)
			tty.Close()
			holdTether(t, token)
			waitForProcesses(t, token, "sleep 300")
			waitForHold(t, token)
			if _, err := terminal.WriteString(c.key); err != nil {
				t.Fatal(err)
			}
			if code := run.exitCode(t); code != c.code {
				t.Errorf("run = %d; want %d", code, c.code)
			}
		})
	}
}

// openPTY opens a pseudo-terminal, which t's cleanup closes, and returns
// its controlling side and the terminal.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	var unlock int32
	var n uint32
	if err := ioctl(control, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatal(err)
	}
	if err := ioctl(control, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return control, tty
}

func ioctl(f *os.File, request uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), request, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
