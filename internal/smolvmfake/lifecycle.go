package smolvmfake

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// start boots the machine. It kills a VM of the machine's left running
// first (the orphan of a start that was killed, or a VM that no longer
// answers), then spawns the VM, recording the hardening variables in force
// as the VM's, waits SMOLVM_BOOT_DELAY for the VM's agent, and only then
// records the machine as running. Interrupted (SIGINT) while it waits, it
// exits 130 and leaves the VM running, as does a start killed then: smolvm
// keeps the VM of a start interrupted before its agent answers, the
// record still "created". A running machine is left as it is.
func start(c *call) int {
	boot := time.Duration(0)
	if d := os.Getenv("SMOLVM_BOOT_DELAY"); d != "" {
		var err error
		if boot, err = time.ParseDuration(d); err != nil {
			fmt.Fprintln(c.stderr, "smolvm stand-in: SMOLVM_BOOT_DELAY:", err)
			return 2
		}
	}
	name := c.name()
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	defer signal.Stop(interrupted)
	running := false
	err := update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		i := find(ms, name)
		if i < 0 {
			return nil, vmNotFound(name)
		}
		if running = gjson.GetBytes(ms[i], "state").Str == "running" && !gjson.GetBytes(ms[i], "stand_in.hung").Bool(); running {
			fmt.Fprintf(c.stdout, "Machine '%s' already running (PID: %s)\n", name, gjson.GetBytes(ms[i], "pid").Raw)
			return ms, nil
		}
		// A host port is published by one running machine at a time.
		if err := portClash(ms, i); err != nil {
			return nil, err
		}
		// The VM gets its secrets' values now, and a start that cannot read
		// one fails, its VM not booted.
		refs, err := storedSecrets(ms[i])
		if err != nil {
			return nil, err
		}
		if _, err := resolveSecrets(refs); err != nil {
			return nil, err
		}
		env, err := json.Marshal(hardeningEnv())
		if err != nil {
			return nil, err
		}
		ms[i] = setStandIn(setStandIn(ms[i], "boot_env", string(env)), "hung", "false")
		if err := makeDataDir(c.state, name); err != nil {
			return nil, err
		}
		return ms, setVM(c.state, name, true)
	})
	if err != nil {
		return c.fail(err)
	}
	if running {
		return 0
	}
	fmt.Fprintf(c.stderr, "Starting machine '%s'...\n", name)
	select {
	case <-time.After(boot):
	case <-interrupted:
		return 130
	}
	pid := os.Getpid() // a pid is all a running machine needs here; the stand-in's own will do
	err = update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		if i := find(ms, name); i >= 0 {
			ms[i] = setField(setField(ms[i], "state", `"running"`), "pid", strconv.Itoa(pid))
		}
		return ms, nil
	})
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Machine '%s' running (PID: %d)\n", name, pid)
	return 0
}

// stop stops the machine and kills its VM, the orphan of a killed start
// among them, whatever the record says.
func stop(c *call) int {
	name := c.name()
	var was string
	err := update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		i := find(ms, name)
		if i < 0 {
			return nil, vmNotFound(name)
		}
		if was = gjson.GetBytes(ms[i], "state").Str; isRunning(was) {
			ms[i] = setField(setField(ms[i], "state", `"stopped"`), "pid", "null")
		}
		return ms, setVM(c.state, name, false)
	})
	switch {
	case err != nil:
		return c.fail(err)
	case !isRunning(was):
		fmt.Fprintf(c.stdout, "Machine '%s' is not running (state: %s)\n", name, was)
	default:
		fmt.Fprintf(c.stdout, "Machine '%s' stopped\n", name)
	}
	return 0
}

// isRunning says whether smolvm's delete stops a machine in this state
// itself: it stops only those recorded as running, and reaps unreachable
// ones.
func isRunning(state string) bool { return state == "running" || state == "unreachable" }

// remove deletes the machine. It stops a machine recorded as running (or
// unreachable) first, then, without -f or --cascade, asks on stderr and
// reads the answer from stdin: anything but y or yes, the end of input
// included, cancels (exit 0, nothing deleted). The VM of a machine not
// recorded as running, the orphan of a killed start, is left running.
func remove(c *call) int {
	name := c.name()
	err := update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		i := find(ms, name)
		if i < 0 {
			return nil, vmNotFound(name)
		}
		if !isRunning(gjson.GetBytes(ms[i], "state").Str) {
			return ms, nil
		}
		ms[i] = setField(setField(ms[i], "state", `"stopped"`), "pid", "null")
		return ms, setVM(c.state, name, false)
	})
	if err != nil {
		return c.fail(err)
	}
	if !c.has("force") && !c.has("cascade") {
		fmt.Fprintf(c.stderr, "Delete machine '%s'? [y/N] ", name)
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(c.stdout, "Cancelled")
			return 0
		}
	}
	err = update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		i := find(ms, name)
		if i < 0 {
			return nil, vmNotFound(name)
		}
		// The machine's storage goes first, its data directory with it.
		if err := os.RemoveAll(dataDir(c.state, name)); err != nil {
			return nil, err
		}
		return slices.Delete(ms, i, i+1), nil
	})
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Deleted machine: %s\n", name)
	return 0
}

// portClash refuses to start machine i when a running machine publishes
// one of its host ports, as smolvm checks at start (the wording is the
// stand-in's own: smolvm-cli.md does not give smolvm's).
func portClash(ms []json.RawMessage, i int) error {
	for _, p := range gjson.GetBytes(ms[i], "stand_in.published").Array() {
		host, err := parsePort(p.Str)
		if err != nil {
			continue
		}
		for j, other := range ms {
			if j == i || gjson.GetBytes(other, "state").Str != "running" {
				continue
			}
			for _, q := range gjson.GetBytes(other, "stand_in.published").Array() {
				if h, err := parsePort(q.Str); err == nil && h == host {
					return fmt.Errorf("config operation failed: start machine: host port %d is already published by machine '%s'", host, gjson.GetBytes(other, "name").Str)
				}
			}
		}
	}
	return nil
}
