// Package smolvmfake is a stand-in for the smolvm CLI, built to the
// specification the smolmachines backend is written against
// (shared/smolvm-cli.md: smolvm at commit a5df5001, tag v1.9.3). Tests
// register Main as the command "smolvm": it keeps its machines in a JSON
// file and records every argv it is called with.
//
// Environment:
//   - SMOLVM_STATE (required): JSON file holding the machines, an array in
//     the shape `smolvm machine ls --json` prints; missing or empty means none.
//   - SMOLVM_CALLS: file to which every invocation appends its arguments as
//     one line.
//   - SMOLVM_FAIL: comma-separated commands (version, ls, status, create,
//     start, exec, stop, delete, egress-events, data-dir) that fail with
//     exit status 1 without doing anything, as smolvm fails: "Error:
//     <kind>: <detail>".
//   - SMOLVM_DELAY: a Go duration to sleep before doing anything.
//   - SMOLVM_VERSION: the version it reports and behaves as, default
//     1.9.3. Before 1.8.0 --label is a usage error and machines are printed
//     without labels, cuda, forkable, cuda_fork_pool_size and
//     cuda_vram_limit_mib; before 1.8.1 there is no egress-events.
//   - SMOLVM_BOOT_DELAY: a Go duration that start waits, its VM running,
//     for the VM's agent to answer. A start interrupted then (SIGINT) or
//     killed (SIGTERM, SIGKILL) leaves its VM running, as smolvm does.
//
// There are no VMs: a machine is an entry in the state file, and nothing
// runs its workload (create's -- COMMAND is kept as its "cmd"; a machine
// option after "--" gets smolvm's note). exec runs its command on this
// host, in a process group of its own, killed as smolvm's guest agent
// kills it on --timeout and when the smolvm client that ran it dies,
// SIGKILL included (a second stand-in process, the guest agent, watches
// the client for that), and, the stand-in's own choice, when the command
// ends. The VMs that would run are the lines of the file STATE.vms, one
// machine name each: start adds its machine's, stop and start remove it,
// and delete removes it only for a machine recorded as running or
// unreachable, so that the VM of a start that was killed outlives a
// delete, as in smolvm. What a real machine would be made of is kept in
// each entry under "stand_in", a key no smolvm prints, so that `ls
// --json` and `status --json` show it to tests:
//   - reach: what the guest could reach, by the table of smolvm's launch
//     plan: "none", "tsi-open" (--net alone: everything, no policy),
//     "virtio-net-open" (-p, --network, or virtio-net without a policy:
//     everything but the floor), or the policy itself, "allow-host H...
//     allow-cidr C...".
//   - create_env, boot_env: SMOLVM_EGRESS_FLOOR, SMOLVM_SECCOMP and
//     SMOLVM_LANDLOCK as they were set (unset ones left out) for the create
//     and for the start that booted the machine, whose VM would run with them.
//   - env, workdir, volumes: create's -e, -w and -v as given.
//   - secrets: create's --secret-env and --secret-file as smolvm stores
//     them, only where each value comes from (see secrets.go).
//   - hung (set by a test): the VM does not answer. ls and status take 3 s
//     for it, as smolvm's ping does, and show it unreachable; exec fails.
//
// Each machine has a data directory, as in smolvm (`machine data-dir`
// prints it): there a test appends to egress-denials.log the lines a VM's
// network writes when it refuses a connection or a name, and
// egress-events reads them back as smolvm does (see egress.go).
//
// Output is smolvm's: JSON keys sorted, entrypoint and cmd always arrays.
// create makes smolvm's refusals: a bad name, a --allow-host with a port
// or that does not resolve, a registry image for a machine without
// network, a local image that is not there, a policy or published ports on
// --net-backend tsi, a -v whose HOST is not an existing directory or is a
// protected system path, a GUEST given twice, fewer than 1 vCPU or 64 MiB.
// Resolution is modelled: IP addresses and well-formed host names resolve,
// but not names under the reserved top-level domain "invalid" (RFC 6761),
// nor "*.x". Where the specification gives no wording, the stand-in's is
// its own. Not modelled: --storage, --overlay, --init, forks.
package smolvmfake

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Main runs the stand-in with os.Args, os.Stdin, os.Stdout, os.Stderr and
// returns the exit status.
func Main() int {
	if _, ok := os.LookupEnv(envGuestAgent); ok {
		return guestAgent()
	}
	return Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run is Main with explicit arguments (without the program name) and streams.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Recorded first, so that a test sees every call, even a rejected one.
	if err := record(args); err != nil {
		fmt.Fprintln(stderr, "smolvm stand-in:", err)
		return 2
	}
	state := os.Getenv("SMOLVM_STATE")
	if state == "" {
		fmt.Fprintln(stderr, "smolvm stand-in: SMOLVM_STATE is not set")
		return 2
	}
	ver := configuredVersion()
	if d := os.Getenv("SMOLVM_DELAY"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintln(stderr, "smolvm stand-in: SMOLVM_DELAY:", err)
			return 2
		}
		time.Sleep(delay)
	}
	name, rest, err := route(args, ver)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	cmd := commands[name]
	c := &call{state: state, version: ver, stdin: stdin, stdout: stdout, stderr: stderr}
	if c.flags, c.command, err = parse(rest, cmd.options(ver)); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	// Injected after parsing, so that a malformed call is still a usage error.
	for _, f := range strings.Split(os.Getenv("SMOLVM_FAIL"), ",") {
		if strings.TrimSpace(f) == name {
			fmt.Fprintf(stderr, "Error: agent operation failed: %s: injected failure\n", name)
			return 1
		}
	}
	return cmd.run(c)
}

var commands = map[string]command{
	"version": {run: printVersion},
	"ls":      {opts: []opt{{long: "json"}, {long: "verbose", short: 'v'}}, run: list},
	"create":  {opts: createOpts, command: true, run: create},
	"start":   {opts: []opt{nameOpt}, run: start},
	"status":  {opts: []opt{nameOpt, {long: "json"}}, run: status},
	// smolvm's exec has --name but no -n.
	"exec": {opts: []opt{
		{long: "name", value: "NAME"},
		{long: "interactive", short: 'i'},
		{long: "tty", short: 't'},
		envOpt,
		workdirOpt,
		{long: "timeout", value: "DURATION"},
		{long: "stream"},
		{long: "detach", short: 'd'},
		secretOpts[0], secretOpts[1],
	}, command: true, run: execute},
	"stop":          {opts: []opt{nameOpt}, run: stop},
	"delete":        {opts: []opt{nameOpt, {long: "force", short: 'f'}, {long: "cascade"}}, required: []string{"name"}, run: remove},
	"egress-events": {opts: []opt{nameOpt, {long: "limit", value: "LIMIT"}, {long: "json"}}, since: version{1, 8, 1}, run: egressEvents},
	"data-dir":      {opts: []opt{nameOpt}, required: []string{"name"}, run: dataDirOf},
}

// route finds the command args name and returns it with the arguments after it.
func route(args []string, ver version) (string, []string, error) {
	switch {
	case len(args) == 0:
		return "", nil, errors.New("'smolvm' requires a subcommand")
	case args[0] == "--version" || args[0] == "-V":
		return "version", args[1:], nil
	case args[0] != "machine" && args[0] != "vm":
		if strings.HasPrefix(args[0], "-") {
			return "", nil, fmt.Errorf("unexpected argument '%s' found", args[0])
		}
		return "", nil, fmt.Errorf("unrecognized subcommand '%s'", args[0])
	case len(args) == 1:
		return "", nil, errors.New("'smolvm machine' requires a subcommand")
	}
	name := args[1]
	switch name {
	case "list":
		name = "ls"
	case "rm":
		name = "delete"
	}
	if cmd, ok := commands[name]; !ok || name == "version" || ver.before(cmd.since) {
		return "", nil, fmt.Errorf("unrecognized subcommand '%s'", args[1])
	}
	return name, args[2:], nil
}

// plain matches the arguments the calls log writes without quotes.
var plain = regexp.MustCompile(`^[A-Za-z0-9_./:=,@%+-]+$`)

// record appends args as one line to $SMOLVM_CALLS. A single write to a file
// opened with O_APPEND keeps lines of concurrent invocations whole.
func record(args []string) error {
	path := os.Getenv("SMOLVM_CALLS")
	if path == "" {
		return nil
	}
	words := make([]string, len(args))
	for i, a := range args {
		if plain.MatchString(a) {
			words[i] = a
		} else {
			words[i] = strconv.Quote(a)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(words, " ") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// version is smolvm's version, major, minor and patch.
type version [3]int

// current is the version the stand-in is when SMOLVM_VERSION does not say.
const current = "1.9.3"

// labelsSince is the first smolvm with --label and the labels of a machine.
var labelsSince = version{1, 8, 0}

func (v version) before(w version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

// configuredVersion is SMOLVM_VERSION as a version. A value that is not
// X.Y.Z is printed by --version as it is, for a test of how smolvm's
// caller reads it, and otherwise behaves as the current version.
func configuredVersion() version {
	if v, ok := parseVersion(os.Getenv("SMOLVM_VERSION")); ok {
		return v
	}
	v, _ := parseVersion(current)
	return v
}

func parseVersion(s string) (version, bool) {
	var v version
	parts := strings.Split(s, ".")
	if len(parts) != len(v) {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func printVersion(c *call) int {
	v := os.Getenv("SMOLVM_VERSION")
	if v == "" {
		v = current
	}
	fmt.Fprintln(c.stdout, "smolvm", v)
	return 0
}
