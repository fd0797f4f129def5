package smolvmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/tidwall/gjson"
	"golang.org/x/term"
)

// execute runs the COMMAND on this host in place of the machine, with
// smolvm's streams: with -i or -t stdin is passed and output is live (with
// -t stderr joins stdout, as a guest PTY does), with --stream output is
// live and stdin is not read, and otherwise stdin is nothing and output
// comes at the end, all stdout, then all stderr. A machine that is no
// longer running when the command ends lost its VM under the session,
// which is smolvm's failure, not the command's.
//
// The command runs in a process group of its own, as a guest's command is
// apart from the host's, and smolvm's agent kills that group (SIGKILL)
// when --timeout expires (status 124) and when the smolvm client goes
// away, however it died (SIGKILL included): here a guest agent process
// (see guestAgent), started first and the leader of that group, watches a
// pipe that only this client holds open, so that no moment passes in which
// the command runs unwatched. What
// the command left running in the background when it exits is killed too,
// and its output read to the end then: the specification does not say
// what smolvm does with it, and a stand-in leaves nothing behind. Only -d
// leaves its command running without a client, as smolvm does.
func execute(c *call) int {
	interactive, tty, stream, detach := c.has("interactive"), c.has("tty"), c.has("stream"), c.has("detach")
	switch {
	case len(c.command) == 0:
		return c.usage("the following required arguments were not provided: <COMMAND>...")
	case detach && (interactive || tty || stream):
		return c.usage("the argument '--detach' cannot be used with '--interactive', '--tty' or '--stream'")
	}
	var timeout time.Duration
	if c.has("timeout") {
		var err error
		if timeout, err = time.ParseDuration(c.flag("timeout")); err != nil || timeout <= 0 {
			return c.usage("invalid value '%s' for '--timeout <DURATION>': expected a duration above zero, such as 30s or 5m", c.flag("timeout"))
		}
	}
	own, code := c.secretRefs("exec")
	if code != 0 {
		return code
	}
	name := c.name()
	if code := c.checkRunning(name); code != 0 {
		return code
	}
	guestEnv, code := c.guestEnv(name, own)
	if code != 0 {
		return code
	}
	ctx := context.Background()
	if timeout > 0 && !detach {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.command[0], c.command[1:]...)
	var group int // the guest agent's, which the command joins
	cmd.Cancel = func() error { return killGroup(group) }
	var stdout, stderr bytes.Buffer
	var outTo, errTo io.Writer
	switch {
	case interactive || tty:
		cmd.Stdin, outTo, errTo = c.stdin, c.stdout, c.stderr
		if tty {
			errTo = nil // the guest's terminal, stdout
		}
		if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			// A process group of its own may not read the terminal (it
			// would be stopped, SIGTTIN): smolvm reads it and forwards
			// what it reads, and so does the stand-in, which leaves off
			// shortly after the command ended.
			cmd.Stdin = struct{ io.Reader }{f}
			cmd.WaitDelay = 100 * time.Millisecond
		}
	case stream:
		outTo, errTo = c.stdout, c.stderr
	default:
		outTo, errTo = &stdout, &stderr
	}
	cmd.Env = append(os.Environ(), guestEnv...)
	if w := c.flag("workdir"); w != "" {
		if fi, err := os.Stat(w); err == nil && fi.IsDir() {
			cmd.Dir = w
		}
	}
	if detach {
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			return c.fail(fmt.Errorf("agent operation failed: exec: %v", err))
		}
		fmt.Fprintln(c.stdout, cmd.Process.Pid)
		cmd.Process.Release()
		return 0
	}
	// The output comes through pipes of the stand-in's own, read to their
	// end once the command's group is killed: a process it left running
	// would hold pipes that exec.Cmd made open, and Wait with them.
	var out outputs
	var err error
	if cmd.Stdout, err = out.pipe(outTo); err == nil {
		cmd.Stderr = cmd.Stdout
		if errTo != nil {
			cmd.Stderr, err = out.pipe(errTo)
		}
	}
	if err != nil {
		out.close()
		return c.fail(fmt.Errorf("agent operation failed: exec: %v", err))
	}
	agent, err := watchClient()
	if err != nil {
		out.close()
		out.wait()
		return c.fail(fmt.Errorf("agent operation failed: exec: %v", err))
	}
	group = agent.agent.Process.Pid
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: group}
	err = cmd.Start()
	out.close()
	if err != nil {
		agent.stop()
		out.wait()
		fmt.Fprintf(c.stderr, "Error: agent operation failed: exec: %v\n", err)
		return 127
	}
	err = cmd.Wait()
	killGroup(group)
	agent.stop()
	out.wait()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command exited 0; its input was still being read
	}
	c.stdout.Write(stdout.Bytes())
	c.stderr.Write(stderr.Bytes())
	if code := c.checkStillRunning(name, interactive || tty); code != 0 {
		return code
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case ctx.Err() == context.DeadlineExceeded:
		return 124
	case errors.As(err, &exit):
		// Killed by a signal: 128 + the signal, as smolvm's agent reports it.
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode() & 0xff
	default:
		fmt.Fprintf(c.stderr, "Error: agent operation failed: exec: %v\n", err)
		return 127
	}
}

// outputs are the pipes an exec's command writes to, each copied to its
// writer until every process that holds it open has closed it.
type outputs struct {
	ends   []*os.File // the command's ends
	copies sync.WaitGroup
}

// pipe returns the end of a new pipe for the command to write to.
func (o *outputs) pipe(to io.Writer) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	o.ends = append(o.ends, w)
	o.copies.Go(func() {
		io.Copy(to, r)
		r.Close()
	})
	return w, nil
}

// close closes the stand-in's copies of the command's ends, once the
// command has them.
func (o *outputs) close() {
	for _, w := range o.ends {
		w.Close()
	}
}

// wait waits until all output is copied.
func (o *outputs) wait() { o.copies.Wait() }

// killGroup kills the process group pgid: the guest agent, the command
// and everything it started. A group that is gone already is no error.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}

// envGuestAgent, in the environment of the stand-in, makes it the guest
// agent of one exec (see guestAgent) rather than smolvm. Main reads it, so
// that whatever runs Main as smolvm (a test binary, the bench's stand-in)
// runs the guest agent too.
const envGuestAgent = "SMOLVM_STAND_IN_GUEST_AGENT"

// client is the guest agent that watches one exec's client.
type client struct {
	agent *exec.Cmd
	pipe  *os.File // the end that only the client holds
}

// watchClient starts the guest agent of a command, in a process group of
// its own that the command is then to join: the stand-in itself, run again
// with envGuestAgent set and the read end of a pipe as its stdin. The
// write end stays in this process alone (Go opens every file
// close-on-exec), so that the agent reads the end of its input exactly
// when the client is gone.
func watchClient() (*client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	agent := &exec.Cmd{
		Path:  self,
		Args:  []string{os.Args[0]}, // as it was run, for a binary that tells its commands apart by name
		Env:   append(os.Environ(), envGuestAgent+"=1"),
		Stdin: r, // and no stdout or stderr, so that it holds none of the client's open
		// Apart from the client's group, so that a signal to that group
		// (the terminal's ^C) does not reach it before the client is gone;
		// the leader of the command's.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := agent.Start(); err != nil {
		w.Close()
		return nil, err
	}
	return &client{agent: agent, pipe: w}, nil
}

// stop ends the guest agent, its command having ended.
func (c *client) stop() {
	c.agent.Process.Kill()
	c.agent.Wait()
	c.pipe.Close()
}

// guestAgent is what smolvm's agent in the guest does for an exec whose
// client goes away: it kills the command's process group, which is its
// own. It waits for the end of stdin, which comes when the client has
// exited or died.
func guestAgent() int {
	io.Copy(io.Discard, os.Stdin)
	if err := killGroup(os.Getpid()); err != nil {
		fmt.Fprintln(os.Stderr, "smolvm stand-in: guest agent:", err)
		return 1
	}
	return 0
}

// checkRunning refuses an exec in a machine that is not there or not
// running; exec never starts one. A machine whose VM does not answer is
// recorded as unreachable after a ping's timeout.
func (c *call) checkRunning(name string) int {
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	i := find(ms, name)
	switch {
	case i < 0:
		return c.fail(vmNotFound(name))
	case gjson.GetBytes(ms[i], "state").Str != "running":
		return c.fail(fmt.Errorf("agent operation failed: connect: machine '%s' is not running. Use 'smolvm machine start --name %s' first.", name, name))
	case gjson.GetBytes(ms[i], "stand_in.hung").Bool():
		time.Sleep(pingTimeout)
		err := update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
			if i := find(ms, name); i >= 0 {
				ms[i] = setField(ms[i], "state", `"unreachable"`)
			}
			return ms, nil
		})
		if err != nil {
			return c.fail(err)
		}
		return c.fail(fmt.Errorf("agent operation failed: connect: machine '%s' does not answer", name))
	}
	return 0
}

// guestEnv is the environment smolvm gives an exec's command, on top of
// the image's: the machine's create -e, then its secrets, read now, then
// the exec's own secrets, then its -e, each winning over those before.
// A secret that cannot be read fails the exec, as in smolvm.
func (c *call) guestEnv(name string, own []secretRef) ([]string, int) {
	ms, err := load(c.state)
	if err != nil {
		return nil, c.fail(err)
	}
	var env []string
	var stored []secretRef
	if i := find(ms, name); i >= 0 {
		for _, kv := range gjson.GetBytes(ms[i], "stand_in.env").Array() {
			env = append(env, kv.String())
		}
		if stored, err = storedSecrets(ms[i]); err != nil {
			return nil, c.fail(err)
		}
	}
	secrets, err := resolveSecrets(append(stored, own...))
	if err != nil {
		return nil, c.fail(err)
	}
	return append(append(env, secrets...), envValues(c.flags["env"])...), 0
}

// checkStillRunning fails an exec whose machine stopped, or went, while
// the command ran: its VM went with the connection to it.
func (c *call) checkStillRunning(name string, interactive bool) int {
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	if i := find(ms, name); i >= 0 && gjson.GetBytes(ms[i], "state").Str == "running" {
		return 0
	}
	op := "exec"
	if interactive {
		op = "run interactive"
	}
	return c.fail(fmt.Errorf("agent operation failed: %s: connection to VM lost", op))
}
