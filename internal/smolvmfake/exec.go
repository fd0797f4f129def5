package smolvmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/tidwall/gjson"
)

// execute runs the COMMAND on this host in place of the machine, with
// smolvm's streams: with -i or -t stdin is passed and output is live (with
// -t stderr joins stdout, as a guest PTY does), with --stream output is
// live and stdin is not read, and otherwise stdin is nothing and output
// comes at the end, all stdout, then all stderr. A machine that is no
// longer running when the command ends lost its VM under the session,
// which is smolvm's failure, not the command's.
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
	name := c.name()
	if code := c.checkRunning(name); code != 0 {
		return code
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.command[0], c.command[1:]...)
	var stdout, stderr bytes.Buffer
	switch {
	case interactive || tty:
		cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, c.stdout, c.stderr
		if tty {
			cmd.Stderr = c.stdout
		}
	case stream:
		cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	default:
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
	}
	cmd.Env = append(os.Environ(), envValues(c.flags["env"])...)
	if w := c.flag("workdir"); w != "" {
		if fi, err := os.Stat(w); err == nil && fi.IsDir() {
			cmd.Dir = w
		}
	}
	if detach {
		if err := cmd.Start(); err != nil {
			return c.fail(fmt.Errorf("agent operation failed: exec: %v", err))
		}
		fmt.Fprintln(c.stdout, cmd.Process.Pid)
		return 0
	}
	err := cmd.Run()
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
