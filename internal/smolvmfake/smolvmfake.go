// Package smolvmfake is a stand-in for the smolvm CLI, built to the
// specification the smolmachines backend is written against. Tests register
// Main as the command "smolvm": it keeps its machines in a JSON file and
// records every argv it is called with.
//
// Environment:
//   - SMOLVM_STATE (required): JSON file holding the machines, an array in
//     the shape `smolvm machine ls --json` prints; missing or empty means none.
//   - SMOLVM_CALLS: file to which every invocation appends its arguments as
//     one line.
//   - SMOLVM_FAIL: comma-separated commands (version, ls, status, create,
//     start, exec, stop, delete) that fail with exit status 1 without doing
//     anything.
//   - SMOLVM_DELAY: a Go duration to sleep before doing anything.
//
// There are no VMs: a machine is an entry in the state file, and exec runs
// its command on this host. What a real machine would be made of is kept in
// each entry under "stand_in", a key no smolvm prints, so that `machine ls
// --json` and `machine status --name N --json` show it to tests:
//   - reach: what the guest could reach, by the table of smolvm's launch
//     plan: "none", "tsi-open" (--net alone: everything, no policy),
//     "virtio-net-open" (-p, --network, or virtio-net without a policy:
//     everything but the floor), or the policy itself, "allow-host H...
//     allow-cidr C...".
//   - create_env, boot_env: SMOLVM_EGRESS_FLOOR, SMOLVM_SECCOMP and
//     SMOLVM_LANDLOCK as they were set (unset ones left out) for the create
//     and for the start that booted the machine, whose VM would run with them.
//   - env, workdir, volumes: create's -e, -w and -v as given.
//
// create makes smolvm's refusals: a --allow-host with a port, one that does
// not resolve, a policy or published ports on --net-backend tsi, a -v whose
// HOST is not an existing directory or is a protected system path, a GUEST
// given twice, fewer than 1 vCPU or 64 MiB. Resolution is modelled: IP
// addresses and well-formed host names resolve, but not names under the
// reserved top-level domain "invalid" (RFC 6761), nor "*.x".
package smolvmfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tidwall/gjson"
)

// Main runs the stand-in with os.Args, os.Stdin, os.Stdout, os.Stderr and
// returns the exit status.
func Main() int {
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
	if d := os.Getenv("SMOLVM_DELAY"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintln(stderr, "smolvm stand-in: SMOLVM_DELAY:", err)
			return 2
		}
		time.Sleep(delay)
	}
	name, rest, err := route(args)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	cmd := commands[name]
	c := &call{state: state, stdin: stdin, stdout: stdout, stderr: stderr}
	if c.flags, c.command, err = parse(rest, cmd); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	// Injected after parsing, so that a malformed call is still a usage error.
	for _, f := range strings.Split(os.Getenv("SMOLVM_FAIL"), ",") {
		if strings.TrimSpace(f) == name {
			fmt.Fprintf(stderr, "Error: injected failure of %s\n", name)
			return 1
		}
	}
	return cmd.run(c)
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

// route finds the command args name and returns it with the arguments after it.
func route(args []string) (string, []string, error) {
	switch {
	case len(args) == 0:
		return "", nil, errors.New("'smolvm' requires a subcommand")
	case args[0] == "--version" || args[0] == "-V":
		return "version", args[1:], nil
	case args[0] != "machine":
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
	if _, ok := commands[name]; !ok || name == "version" {
		return "", nil, fmt.Errorf("unrecognized subcommand '%s'", args[1])
	}
	return name, args[2:], nil
}

// opt is an option of a command; long and short names are smolvm's own.
type opt struct {
	long  string
	short byte   // 0 when there is none
	value string // the value's name, "" for a switch
	multi bool   // may be given more than once
}

func (o opt) String() string {
	if o.value == "" {
		return "--" + o.long
	}
	return fmt.Sprintf("--%s <%s>", o.long, o.value)
}

type command struct {
	opts     []opt
	required []string // long names of required options
	command  bool     // whether a COMMAND may follow "--"
	run      func(*call) int
}

var (
	nameOpt    = opt{long: "name", short: 'n', value: "NAME"}
	labelOpt   = opt{long: "label", value: "KEY=VALUE", multi: true}
	envOpt     = opt{long: "env", short: 'e', value: "KEY=VALUE", multi: true}
	workdirOpt = opt{long: "workdir", short: 'w', value: "DIR"}
)

var commands = map[string]command{
	"version": {run: version},
	"ls":      {opts: []opt{{long: "json"}, {long: "verbose", short: 'v'}}, run: list},
	"create": {opts: []opt{
		nameOpt,
		{long: "image", short: 'I', value: "IMAGE"},
		labelOpt,
		envOpt,
		workdirOpt,
		{long: "volume", short: 'v', value: "HOST:GUEST[:ro|:rw]", multi: true},
		{long: "port", short: 'p', value: "HOST:GUEST", multi: true},
		{long: "net"},
		{long: "allow-host", value: "HOSTNAME", multi: true},
		{long: "allow-cidr", value: "CIDR", multi: true},
		{long: "outbound-localhost-only"},
		{long: "net-backend", value: "NET_BACKEND"},
		{long: "dns", value: "IP"},
		{long: "network", value: "NAME"},
		{long: "cpus", value: "N"},
		{long: "mem", value: "MiB"},
	}, required: []string{"name", "image"}, command: true, run: create},
	"start":  {opts: []opt{nameOpt}, required: []string{"name"}, run: start},
	"status": {opts: []opt{nameOpt, {long: "json"}}, run: status},
	// smolvm's exec has --name but no -n.
	"exec": {opts: []opt{
		{long: "name", value: "NAME"},
		{long: "interactive", short: 'i'},
		{long: "tty", short: 't'},
		envOpt,
		workdirOpt,
	}, required: []string{"name"}, command: true, run: execute},
	"stop":   {opts: []opt{nameOpt}, required: []string{"name"}, run: stop},
	"delete": {opts: []opt{nameOpt, {long: "force", short: 'f'}}, required: []string{"name"}, run: remove},
}

// parse reads args the way clap does for cmd: options by long or short name
// (--opt=v, --opt v, -o v, -ov, -o=v, clustered switches), and, where cmd
// takes one, a COMMAND only after "--". It returns each option's values by
// long name (a switch's value is "") and the COMMAND.
func parse(args []string, cmd command) (map[string][]string, []string, error) {
	flags := map[string][]string{}
	set := func(o opt, v string) error {
		if len(flags[o.long]) > 0 && !o.multi {
			return fmt.Errorf("the argument '%s' cannot be used multiple times", o)
		}
		flags[o.long] = append(flags[o.long], v)
		return nil
	}
	var command []string
args:
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if !cmd.command && i+1 < len(args) {
				return nil, nil, fmt.Errorf("unexpected argument '%s' found", args[i+1])
			}
			command = args[i+1:]
			break args
		case strings.HasPrefix(a, "--"):
			long, v, hasValue := strings.Cut(a[2:], "=")
			j := slices.IndexFunc(cmd.opts, func(o opt) bool { return o.long == long })
			if j < 0 {
				return nil, nil, fmt.Errorf("unexpected argument '--%s' found", long)
			}
			o := cmd.opts[j]
			switch {
			case o.value == "" && hasValue:
				return nil, nil, fmt.Errorf("unexpected value '%s' for '%s' found; no more were expected", v, o)
			case o.value != "" && !hasValue:
				if i+1 == len(args) {
					return nil, nil, fmt.Errorf("a value is required for '%s' but none was supplied", o)
				}
				i++
				v = args[i]
			}
			if err := set(o, v); err != nil {
				return nil, nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				j := slices.IndexFunc(cmd.opts, func(o opt) bool { return o.short == a[k] })
				if j < 0 {
					return nil, nil, fmt.Errorf("unexpected argument '-%c' found", a[k])
				}
				o := cmd.opts[j]
				if o.value == "" {
					if err := set(o, ""); err != nil {
						return nil, nil, err
					}
					continue
				}
				v := a[k+1:]
				if v == "" {
					if i+1 == len(args) {
						return nil, nil, fmt.Errorf("a value is required for '%s' but none was supplied", o)
					}
					i++
					v = args[i]
				} else {
					v = strings.TrimPrefix(v, "=")
				}
				if err := set(o, v); err != nil {
					return nil, nil, err
				}
				break
			}
		default:
			return nil, nil, fmt.Errorf("unexpected argument '%s' found", a)
		}
	}
	for _, long := range cmd.required {
		if len(flags[long]) == 0 {
			j := slices.IndexFunc(cmd.opts, func(o opt) bool { return o.long == long })
			return nil, nil, fmt.Errorf("the following required arguments were not provided: %s", cmd.opts[j])
		}
	}
	return flags, command, nil
}

// call is one invocation of a command.
type call struct {
	state          string
	flags          map[string][]string
	command        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// flag returns the value of an option, "" when it was not given.
func (c *call) flag(long string) string {
	if v := c.flags[long]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *call) has(long string) bool { return len(c.flags[long]) > 0 }

// fail reports an error of smolvm itself (not of its usage).
func (c *call) fail(err error) int {
	fmt.Fprintf(c.stderr, "Error: %v\n", err)
	return 1
}

// pairs checks that every value of a KEY=VALUE option has a key and an "=",
// as a clap value parser would (exit status 2).
func (c *call) pairs(o opt) bool {
	for _, v := range c.flags[o.long] {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			fmt.Fprintf(c.stderr, "error: invalid value '%s' for '%s': expected KEY=VALUE\n", v, o)
			return false
		}
	}
	return true
}

func version(c *call) int {
	fmt.Fprintln(c.stdout, "smolvm 0.5.0 (stand-in)")
	return 0
}

// list prints the state file itself, so that whatever a test put there, even
// content that is not JSON, reaches the backend as smolvm's output.
func list(c *call) int {
	b, err := os.ReadFile(c.state)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.fail(err)
	}
	if !c.has("json") {
		ms, err := load(c.state)
		if err != nil {
			return c.fail(err)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATE")
		for _, m := range ms {
			fmt.Fprintf(w, "%s\t%s\n", gjson.GetBytes(m, "name"), gjson.GetBytes(m, "state"))
		}
		w.Flush()
		return 0
	}
	var out bytes.Buffer
	switch trimmed := bytes.TrimSpace(b); {
	case len(trimmed) == 0:
		out.WriteString("[]\n")
	case json.Valid(trimmed):
		json.Indent(&out, trimmed, "", "  ")
		out.WriteByte('\n')
	default:
		out.Write(b)
	}
	c.stdout.Write(out.Bytes())
	return 0
}

// machine is a new machine as `machine ls --json` shows it, fields in
// smolvm's order, plus what the stand-in keeps for tests.
type machine struct {
	Name                   string            `json:"name"`
	State                  string            `json:"state"`
	CPUs                   uint64            `json:"cpus"`
	MemoryMiB              uint64            `json:"memory_mib"`
	PID                    *int              `json:"pid"`
	Mounts                 int               `json:"mounts"`
	Ports                  int               `json:"ports"`
	CreatedAt              int64             `json:"created_at"`
	StorageGB              *int              `json:"storage_gb"`
	OverlayGB              *int              `json:"overlay_gb"`
	Image                  string            `json:"image"`
	Entrypoint             []string          `json:"entrypoint"`
	Cmd                    []string          `json:"cmd"`
	Ephemeral              bool              `json:"ephemeral"`
	GPU                    bool              `json:"gpu"`
	GPUVRAMMiB             *int              `json:"gpu_vram_mib"`
	CUDA                   bool              `json:"cuda"`
	Forkable               bool              `json:"forkable"`
	CUDAForkPoolSize       *int              `json:"cuda_fork_pool_size"`
	CUDAVRAMLimitMiB       *int              `json:"cuda_vram_limit_mib"`
	ForkpointHeld          bool              `json:"forkpoint_held"`
	Labels                 map[string]string `json:"labels"`
	RestartPolicy          string            `json:"restart_policy"`
	RestartMaxRetries      int               `json:"restart_max_retries"`
	RestartCount           int               `json:"restart_count"`
	HealthCmd              *string           `json:"health_cmd"`
	HealthIntervalSecs     *int              `json:"health_interval_secs"`
	HealthTimeoutSecs      *int              `json:"health_timeout_secs"`
	HealthRetries          *int              `json:"health_retries"`
	HealthStartupGraceSecs *int              `json:"health_startup_grace_secs"`
	Network                bool              `json:"network"`
	StandIn                standIn           `json:"stand_in"`
}

// standIn is what the stand-in keeps of a machine that ls has no field
// for, under a key of its own that no smolvm prints (see the package
// documentation).
type standIn struct {
	Env       []string          `json:"env"`
	Workdir   *string           `json:"workdir"`
	Volumes   []string          `json:"volumes"`
	Reach     string            `json:"reach"`
	CreateEnv map[string]string `json:"create_env"`
	BootEnv   map[string]string `json:"boot_env"` // null until the first boot
}

// hardeningVars are the variables of smolvm's caller that decide how
// confined a machine is: the egress floor its network applies, and the
// syscall and file system confinement of its VMM.
var hardeningVars = []string{"SMOLVM_EGRESS_FLOOR", "SMOLVM_SECCOMP", "SMOLVM_LANDLOCK"}

// hardeningEnv returns those of hardeningVars that are set, with their values.
func hardeningEnv() map[string]string {
	env := map[string]string{}
	for _, k := range hardeningVars {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}

func create(c *call) int {
	if !c.pairs(labelOpt) || !c.pairs(envOpt) {
		return 2
	}
	m := machine{
		Name:          c.flag("name"),
		State:         "created",
		CPUs:          4, // smolvm's defaults when no size is given
		MemoryMiB:     8192,
		Mounts:        len(c.flags["volume"]),
		Ports:         len(c.flags["port"]),
		CreatedAt:     time.Now().Unix(),
		Image:         c.flag("image"),
		Labels:        map[string]string{},
		RestartPolicy: "never",
		StandIn: standIn{
			// Non-nil, so that "none" reads [] rather than null.
			Env:       append([]string{}, c.flags["env"]...),
			Volumes:   append([]string{}, c.flags["volume"]...),
			CreateEnv: hardeningEnv(),
		},
	}
	if len(c.command) > 0 {
		m.Cmd = c.command
	}
	if c.has("workdir") {
		w := c.flag("workdir")
		m.StandIn.Workdir = &w
	}
	for _, l := range c.flags["label"] {
		k, v, _ := strings.Cut(l, "=")
		m.Labels[k] = v
	}
	// Sizes as smolvm types them: cpus is a u8, mem a u32.
	for _, n := range []struct {
		long string
		bits int
		dst  *uint64
	}{{"cpus", 8, &m.CPUs}, {"mem", 32, &m.MemoryMiB}} {
		if !c.has(n.long) {
			continue
		}
		v, err := strconv.ParseUint(c.flag(n.long), 10, n.bits)
		if err != nil {
			fmt.Fprintf(c.stderr, "error: invalid value '%s' for '--%s': %v\n", c.flag(n.long), n.long, errors.Unwrap(err))
			return 2
		}
		*n.dst = v
	}
	if !c.networkValues() {
		return 2
	}
	reach, stored, err := c.reach()
	if err != nil {
		return c.fail(err)
	}
	m.StandIn.Reach, m.Network = reach, stored
	if err := checkVolumes(c.flags["volume"]); err != nil {
		return c.fail(err)
	}
	if err := checkSize(m.CPUs, m.MemoryMiB, c.stderr); err != nil {
		return c.fail(err)
	}
	if err := c.checkNetwork(reach); err != nil {
		return c.fail(err)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return c.fail(err)
	}
	err = update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		if find(ms, m.Name) >= 0 {
			return nil, fmt.Errorf("machine '%s' already exists", m.Name)
		}
		return append(ms, raw), nil
	})
	if err != nil {
		return c.fail(err)
	}
	return 0
}

// start boots the machine: it records the hardening variables in force,
// as the VM's would be. A running machine is left as it is, booted as it was.
func start(c *call) int {
	return c.change(func(ms []json.RawMessage, i int) ([]json.RawMessage, error) {
		if gjson.GetBytes(ms[i], "state").String() == "running" {
			fmt.Fprintf(c.stdout, "Machine '%s' already running (PID: %s)\n", c.flag("name"), gjson.GetBytes(ms[i], "pid").Raw)
			return ms, nil
		}
		env, err := json.Marshal(hardeningEnv())
		if err != nil {
			return nil, err
		}
		standIn := "{}"
		if s := gjson.GetBytes(ms[i], "stand_in"); s.IsObject() {
			standIn = s.Raw
		}
		ms[i] = setField(ms[i], "stand_in", string(setField(json.RawMessage(standIn), "boot_env", string(env))))
		// A pid is all a running machine needs here; the stand-in's own will do.
		ms[i] = setField(setField(ms[i], "state", `"running"`), "pid", strconv.Itoa(os.Getpid()))
		return ms, nil
	})
}

// status prints one machine, as one entry of `machine ls --json` or, without
// --json, as a line of its table.
func status(c *call) int {
	name := c.flag("name")
	if name == "" {
		name = "default"
	}
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	i := find(ms, name)
	if i < 0 {
		return c.fail(fmt.Errorf("config operation failed: machine status: machine '%s' not found", name))
	}
	if !c.has("json") {
		fmt.Fprintf(c.stdout, "%s\t%s\n", name, gjson.GetBytes(ms[i], "state"))
		return 0
	}
	var out bytes.Buffer
	json.Indent(&out, ms[i], "", "  ")
	out.WriteByte('\n')
	c.stdout.Write(out.Bytes())
	return 0
}

func stop(c *call) int {
	return c.change(func(ms []json.RawMessage, i int) ([]json.RawMessage, error) {
		ms[i] = setField(setField(ms[i], "state", `"stopped"`), "pid", "null")
		return ms, nil
	})
}

func remove(c *call) int {
	return c.change(func(ms []json.RawMessage, i int) ([]json.RawMessage, error) {
		if !c.has("force") && gjson.GetBytes(ms[i], "state").String() == "running" {
			return nil, fmt.Errorf("machine '%s' is running; stop it first or use -f", c.flag("name"))
		}
		return slices.Delete(ms, i, i+1), nil
	})
}

// change applies fn to the machine named by --name, at index i of ms.
func (c *call) change(fn func(ms []json.RawMessage, i int) ([]json.RawMessage, error)) int {
	name := c.flag("name")
	err := update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		i := find(ms, name)
		if i < 0 {
			return nil, fmt.Errorf("machine '%s' not found", name)
		}
		return fn(ms, i)
	})
	if err != nil {
		return c.fail(err)
	}
	return 0
}

// execute runs the COMMAND on this host in place of the machine.
func execute(c *call) int {
	if len(c.command) == 0 {
		fmt.Fprintln(c.stderr, "error: the following required arguments were not provided: <COMMAND>...")
		return 2
	}
	if !c.pairs(envOpt) {
		return 2
	}
	// No lock: state is replaced by rename, so a read sees a whole version.
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	name := c.flag("name")
	i := find(ms, name)
	switch {
	case i < 0:
		return c.fail(fmt.Errorf("machine '%s' not found", name))
	case gjson.GetBytes(ms[i], "state").String() != "running":
		return c.fail(fmt.Errorf("machine '%s' is not running", name))
	}
	cmd := exec.Command(c.command[0], c.command[1:]...)
	if c.has("interactive") {
		cmd.Stdin = c.stdin
	}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	cmd.Env = append(os.Environ(), c.flags["env"]...)
	if w := c.flag("workdir"); w != "" {
		if fi, err := os.Stat(w); err == nil && fi.IsDir() {
			cmd.Dir = w
		}
	}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		// Killed by a signal: report it the way a shell would.
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	default:
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
		return 127
	}
}

var errBadState = errors.New("state file is not valid JSON")

// load reads the machines of the state file, each kept as it is written so
// that rewriting the file preserves machines the call does not touch.
func load(path string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []json.RawMessage
	if json.Unmarshal(b, &ms) != nil {
		return nil, errBadState
	}
	return ms, nil
}

// update applies fn to the machines under an exclusive lock, and writes the
// result by rename so that readers without the lock never see half a file.
func update(path string, fn func([]json.RawMessage) ([]json.RawMessage, error)) error {
	// A lock file beside the state, as the state file itself is replaced.
	// Each call opens its own, so that the flock also excludes other calls in
	// the same process; closing it releases the lock.
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	ms, err := load(path)
	if err != nil {
		return err
	}
	if ms, err = fn(ms); err != nil {
		return err
	}
	if ms == nil {
		ms = []json.RawMessage{}
	}
	b, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// find returns the index of the machine called name, -1 if there is none.
func find(ms []json.RawMessage, name string) int {
	return slices.IndexFunc(ms, func(m json.RawMessage) bool {
		n := gjson.GetBytes(m, "name")
		return n.Type == gjson.String && n.Str == name
	})
}

// setField returns object m with key set to the JSON value val, in place of
// the old value if there is one, else added at the end; other bytes stay as
// they are.
func setField(m json.RawMessage, key, val string) json.RawMessage {
	if old := gjson.GetBytes(m, key); old.Exists() {
		return slices.Concat(m[:old.Index], []byte(val), m[old.Index+len(old.Raw):])
	}
	end := bytes.LastIndexByte(m, '}')
	field := strconv.Quote(key) + ":" + val
	if len(bytes.TrimSpace(m[bytes.IndexByte(m, '{')+1:end])) > 0 {
		field = "," + field
	}
	return slices.Concat(m[:end], []byte(field), m[end:])
}
