package smolvmfake

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// opt is an option of a command; long and short names are smolvm's own.
type opt struct {
	long  string
	short byte   // 0 when there is none
	value string // the value's name, "" for a switch
	multi bool   // may be given more than once
	since version
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
	since    version  // the first smolvm that has it
	run      func(*call) int
}

// options returns the command as smolvm ver parses it: without the
// options it did not have yet.
func (cmd command) options(ver version) command {
	cmd.opts = slices.DeleteFunc(slices.Clone(cmd.opts), func(o opt) bool { return ver.before(o.since) })
	return cmd
}

var (
	nameOpt    = opt{long: "name", short: 'n', value: "NAME"}
	labelOpt   = opt{long: "label", value: "KEY=VALUE", multi: true, since: labelsSince}
	envOpt     = opt{long: "env", short: 'e', value: "KEY=VALUE", multi: true}
	workdirOpt = opt{long: "workdir", short: 'w', value: "DIR"}
	secretOpts = []opt{
		{long: "secret-env", value: "GUEST=HOSTVAR", multi: true},
		{long: "secret-file", value: "GUEST=/abs/path", multi: true},
	}
	createOpts = append([]opt{
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
	}, secretOpts...)
)

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
	version        version
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

// name is the machine a command acts on: --name, which defaults to
// "default" where smolvm does not require it.
func (c *call) name() string {
	if c.has("name") {
		return c.flag("name")
	}
	return "default"
}

// fail reports an error of smolvm itself (not of its usage).
func (c *call) fail(err error) int {
	fmt.Fprintf(c.stderr, "Error: %v\n", err)
	return 1
}

// usage reports an error of smolvm's usage, as clap does.
func (c *call) usage(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "error: "+format+"\n", args...)
	return 2
}

// envValues reads -e values as smolvm does: KEY=VALUE as it is, KEY alone
// as the caller's value of KEY (left out when it is unset), and a value
// without a key left out.
func envValues(values []string) []string {
	env := []string{}
	for _, kv := range values {
		k, _, hasValue := strings.Cut(kv, "=")
		switch {
		case k == "":
		case hasValue:
			env = append(env, kv)
		default:
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	return env
}

// vmNotFound is what smolvm's start, stop, delete and exec say of a name
// it has no machine for.
func vmNotFound(name string) error { return fmt.Errorf("vm not found: %s", name) }
