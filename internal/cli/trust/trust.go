// Package trust is bottle-trust: it records which agent definitions from
// the current directory the user has read and lets bottle-start use, and
// lists and revokes them.
package trust

import (
	"fmt"
	"io"
	"os"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

const prog = "bottle-trust"

var command = cli.Command{
	Name:  prog,
	Short: "trust agent definitions found through the current directory",
	Usage: "AGENT|FILE...\n  " + prog + " --revoke AGENT|FILE...\n  " + prog + " --list",
	Description: "A definition is the bottle's security policy: what it mounts, what it may reach, what it may do. " +
		"bottle-start uses one found through the current directory (./.bottle/agents, or any relative directory " +
		"of BOTTLE_AGENT_PATH), which comes with whatever repository you are in, only once you have read it and " +
		"trusted that very file: its real path and the SHA-256 of its contents are in the trust store. " +
		"A changed file must be trusted again. " +
		"bottle-trust loads each AGENT (through the search path) or FILE, checks it as bottle-start does, " +
		"records it and prints its real path; a definition that does not load is not trusted. " +
		"Definitions in your own directory, in an absolute directory of BOTTLE_AGENT_PATH or given by path " +
		"need no trust. " +
		"Exits 0 when every one is trusted (or revoked), 1 when the trust store cannot be read or written " +
		"or a file to revoke was not trusted, 2 on bad usage or a definition that does not load.",
	Epilog: `Environment:
  BOTTLE_AGENT_PATH colon-separated directories holding AGENT.json (default
                    $XDG_CONFIG_HOME/bottle/agents, then ./.bottle/agents)
  XDG_STATE_HOME    holds bottle/trusted.json, the trust store (default
                    ~/.local/state)
  XDG_CONFIG_HOME   holds bottle/agents, your own definitions (default ~/.config)

Examples:
  less .bottle/agents/reviewer.json          # read it first: it is the bottle's policy
  bottle-trust reviewer && bottle-start reviewer
  bottle-trust --list                        # PATH<TAB>SHA256
  bottle-trust --revoke reviewer
`,
	Operands: &cli.Operands[[]cli.AgentDefinition]{},
}

type options struct {
	List   bool `long:"list" description:"print the trusted files, one a line: path TAB SHA-256, sorted"`
	Revoke bool `long:"revoke" description:"remove the named definitions from the trust store instead"`
}

// Main runs bottle-trust as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-trust and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(refs []string) error {
		return run(opts, refs, stdout, stderr)
	})
}

func run(opts options, refs []string, stdout, stderr io.Writer) error {
	cfg := agentdef.ConfigFromEnv(os.Getenv)
	switch {
	case opts.List && opts.Revoke:
		return cli.Usagef("--list and --revoke do not go together")
	case opts.List && len(refs) > 0:
		return cli.Usagef("--list takes no definitions")
	case opts.List:
		return list(cfg, stdout)
	case len(refs) == 0:
		return cli.Usagef("name the definitions to trust, by agent name or path (see %s --help)", prog)
	}
	do := agentdef.Trust
	if opts.Revoke {
		do = agentdef.Revoke
	}
	// Each one is done or said to have failed; the status is the worst.
	worst := cli.StatusOK
	for _, ref := range refs {
		file, err := do(ref, cfg)
		if err != nil {
			worst = max(worst, cli.Status(cli.Exit(prog, stderr, err)))
			continue
		}
		if _, err := fmt.Fprintln(stdout, agent.Escape(file)); err != nil {
			return err
		}
	}
	if worst != cli.StatusOK {
		return cli.Quietly(worst)
	}
	return nil
}

func list(cfg agentdef.Config, stdout io.Writer) error {
	files, err := agentdef.TrustedFiles(cfg)
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, err := fmt.Fprintf(stdout, "%s\t%s\n", agent.Escape(f.File), f.SHA256); err != nil {
			return err
		}
	}
	return nil
}
