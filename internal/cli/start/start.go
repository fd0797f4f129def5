// Package start is bottle-start: it starts an agent from its definition on
// the chosen backend and prints the agent's line.
package start

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/go-units"

	"github.com/bottle-dev/bottle/internal/cli"
	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/branch"
	"github.com/bottle-dev/bottle/pkg/progress"
	"github.com/bottle-dev/bottle/pkg/tty"
)

const prog = "bottle-start"

var command = cli.Command{
	Name:  prog,
	Short: "start an agent and print its line",
	Usage: "[--backend NAME] [--name SLUG] [--branch[=NAME] [--from REF]] [--pull WHEN] [--publish [IP:][HOSTPORT:]PORT]... [--label KEY=VALUE]... [--json] AGENT",
	Description: "Starts the agent defined by AGENT.json (found in the directories of BOTTLE_AGENT_PATH) " +
		"or by a path to a .json file, with its sidecars, and prints its line as bottle-ls does. " +
		"A definition found through the current directory (./.bottle/agents) is used only once " +
		"you have read it and trusted that very file with bottle-trust; a changed file must be trusted again. " +
		"The backend is --backend, else BOTTLE_BACKEND, else docker. " +
		fmt.Sprintf("Unless the definition's memory and cpus say otherwise, the agent may take at most %s of memory "+
			"and %g CPUs of the host, and each sidecar %s and %g CPU. ",
			units.BytesSize(agentdef.DefaultMemory), agentdef.DefaultCPUs, units.BytesSize(agentdef.DefaultSidecarMemory), agentdef.DefaultSidecarCPUs) +
		"The definition's secrets are read now, from your environment or a file: on docker the agent sees " +
		"a placeholder and only requests to a secret's hosts carry the value; on smolmachines smolvm puts the value into the machine. " +
		"--publish (or the definition's ports) makes a TCP port of the agent reachable from the host, on 127.0.0.1 " +
		"at a port the backend picks unless you give an address and a host port (docker's spelling: 3000, 8080:3000, " +
		"127.0.0.1::3000, 0.0.0.0:8080:3000); bottle-port prints where. On docker the agent's network stays internal: " +
		"a forwarder of bottle's own relays each port to the agent. On smolmachines a port is published only with " +
		"an egress allowlist, an explicit address 0.0.0.0 and a host port (smolvm binds where it binds, and without an allowlist -p opens the machine's network). " +
		"--branch gives the agent its own copy of the git repository of the definition's workspace, or of the current directory, " +
		"on a new branch bottle/SLUG (or NAME) from HEAD (or --from REF), and mounts the copy as the agent's workspace instead: " +
		"the branch is created in your repository at once, bottle-fetch brings the agent's commits into it while it runs, " +
		"and bottle-stop does so at the end and removes the copy. Nothing of your repository is mounted. " +
		"On docker the images of the agent and its sidecars are pulled first, all at once, before anything is made: " +
		"--pull=missing (the default, else the definition's pull) those the Engine lacks, always every one, never none; " +
		"with the credentials docker login keeps for each image's registry in $DOCKER_CONFIG/config.json (its auths, credsStore or credHelpers). " +
		"A pull that gets no word from its registry for BOTTLE_PULL_TIMEOUT (default 60s) fails. On smolmachines smolvm pulls a registry image itself. " +
		"Exits 1 when the agent could not be started (nothing is left behind), " +
		"2 on bad usage or a bad or untrusted agent definition, 130 or 143 when interrupted (after cleaning up). " +
		"When stderr is a terminal it shows each step while it works.",
	Epilog: `Environment:
  BOTTLE_BACKEND    the backend when --backend is not given (default docker)
  BOTTLE_AGENT_PATH colon-separated directories holding AGENT.json (default
                    $XDG_CONFIG_HOME/bottle/agents, then ./.bottle/agents);
                    what a relative one holds needs bottle-trust
  XDG_CONFIG_HOME   holds bottle/agents, your own definitions (default ~/.config)
  XDG_STATE_HOME    holds bottle/trusted.json, the trust store of bottle-trust
                    (default ~/.local/state)
  BOTTLE_PULL_TIMEOUT  how long a pull may get no word from its registry
                    (default 60s)
` + cli.BranchEnvironment + `  BOTTLE_LABELS     KEY=VALUE,... labels put on everything the agent is made of
` + cli.BackendEnvironment + `
Examples:
  bottle-start reviewer
  bottle-trust reviewer && bottle-start reviewer   # a repository's .bottle/agents/reviewer.json, once read
  bottle-start --backend=docker ./agents/reviewer.json
  bottle-start --name review-pr-42 reviewer | bottle-attach
  bottle-start --publish 3000 --name web-1 reviewer && bottle-port web-1 3000
  bottle-start --branch reviewer                # on branch bottle/reviewer-xxxxxx
  bottle-start --branch=fix-login --from main reviewer
`,
	LabelHelp: "put this label on everything the agent is made of (repeatable)",
	Operands:  &cli.Operands[cli.AgentDefinition]{},
}

type options struct {
	Backend *cli.BackendName `short:"b" long:"backend" value-name:"NAME" description:"the backend to start on (overrides BOTTLE_BACKEND)"`
	Name    string           `long:"name" value-name:"SLUG" description:"the agent's slug, instead of AGENT-xxxxxx"`
	Branch  *string          `long:"branch" optional:"yes" optional-value:"" value-name:"NAME" description:"give the agent its own copy of the repository, on a new branch NAME (default bottle/SLUG); with a name, write --branch=NAME"`
	From    cli.GitCommit    `long:"from" value-name:"REF" description:"with --branch, the commit the branch starts from (default HEAD, which must be on a branch)"`
	Publish []string         `short:"p" long:"publish" value-name:"[IP:][HOSTPORT:]PORT" description:"publish the agent's TCP port PORT on the host (default address 127.0.0.1, host port picked), after the definition's ports (repeatable)"`
	Pull    string           `long:"pull" value-name:"WHEN" choice:"missing" choice:"always" choice:"never" description:"pull the images the Engine lacks (missing, the default), every one (always) or none (never); overrides the definition's pull"`
	cli.LabelScope
	JSON bool `long:"json" description:"print the agent as a JSON line"`
}

// Main runs bottle-start as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-start and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	return command.Run(&opts, args, stdout, stderr, func(rest []string) error {
		return run(opts, rest, stdout, stderr)
	})
}

func run(opts options, rest []string, stdout, stderr io.Writer) error {
	if len(rest) != 1 {
		return cli.Usagef("name one agent definition (see %s --help)", prog)
	}
	backends := cli.Backends(os.Environ())
	flag := ""
	if opts.Backend != nil {
		// Given but empty, as from a picker the user escaped: never a silent default.
		if flag = string(*opts.Backend); flag == "" {
			return cli.Usagef("--backend needs a name: one of %s", strings.Join(backends.Names(), ", "))
		}
	}
	publish, err := publishFlags(opts.Publish)
	if err != nil {
		return err
	}
	b, err := backends.Resolve(flag, os.Getenv(backend.EnvBackend))
	if err != nil {
		return err
	}
	def, err := agentdef.Load(rest[0], agentdef.ConfigFromEnv(os.Getenv))
	if err != nil {
		return err
	}
	if err := def.AddPorts(publish); err != nil {
		return cli.Usage(fmt.Errorf("--publish: %w", err))
	}
	if opts.Pull != "" {
		def.Pull = agentdef.Pull(opts.Pull)
	}
	// The secrets' values are read here, on the host, once: a secret that
	// cannot be read is the definition's fault, before anything is made.
	if err := def.ResolveSecrets(os.Getenv); err != nil {
		return err
	}
	slug := opts.Name
	if slug == "" {
		slug = agent.NewSlug(def.Name)
	} else if err := agent.CheckSlug(slug); err != nil {
		return cli.Usage(fmt.Errorf("--name: %w", err))
	}
	on, err := onBranch(opts, def)
	if err != nil {
		return err
	}

	ctx, finish := cli.Interruptible(context.Background())
	// A person watching sees each step on one line, or each image being
	// pulled on a line of its own, wiped at the end; a pipe or a log sees
	// nothing.
	wipe := func() {}
	if tty.IsTerminal(stderr) {
		screen := progress.NewScreen(stderr)
		ctx = progress.ToLines(progress.To(ctx, screen.Step), screen.Line)
		wipe = screen.Wipe
	}
	started, err := func() (agent.Agent, error) {
		started, err := on.start(ctx, b, slug, def, opts.Labels)
		// A generated slug that happens to be taken is drawn again.
		for retries := 3; opts.Name == "" && errors.Is(err, backend.ErrSlugTaken) && retries > 0; retries-- {
			slug = agent.NewSlug(def.Name)
			started, err = on.start(ctx, b, slug, def, opts.Labels)
		}
		var input *branch.InputError
		switch {
		case errors.As(err, &input):
			return agent.Agent{}, cli.Usage(err)
		case errors.Is(err, backend.ErrUnusable), errors.Is(err, backend.ErrNoAnswer):
			return agent.Agent{}, &backend.UnusableError{Backend: b.Name(), Reason: err}
		case err != nil:
			return agent.Agent{}, fmt.Errorf("%s: starting %s: %w", b.Name(), slug, err)
		}
		return started, nil
	}()
	wipe()
	if interrupted := finish(); interrupted != nil {
		return interrupted
	}
	if err != nil {
		return err
	}
	if opts.JSON {
		return agent.WriteJSON(stdout, started)
	}
	return agent.WriteLine(stdout, started)
}

// branching is how a start makes the agent's workspace: its own copy of
// a repository on a branch, when the user asked for one.
type branching struct {
	cfg  branch.Config
	spec *branch.Spec // nil: the definition's workspace as it is
}

func onBranch(opts options, def *agentdef.Definition) (branching, error) {
	on := branching{cfg: cli.Branches(os.Environ())}
	if opts.Branch == nil {
		if opts.From != "" {
			return on, cli.Usagef("--from needs --branch: it names the commit the agent's branch starts from")
		}
		return on, nil
	}
	dir := def.Workspace
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return on, err
		}
		dir = wd
	}
	on.spec = &branch.Spec{Dir: dir, From: string(opts.From), Name: *opts.Branch}
	return on, nil
}

// start starts the agent, on its own copy when asked: made first, and
// removed again, with its branch, when the start fails.
func (on branching) start(ctx context.Context, b backend.Backend, slug string, def *agentdef.Definition, user map[string]string) (agent.Agent, error) {
	if on.spec == nil {
		return b.Start(ctx, slug, def, user)
	}
	spec := *on.spec
	spec.Slug = slug
	progress.Say(ctx, "copying %s for %s", spec.Dir, slug)
	copied, err := branch.Make(ctx, on.cfg, spec)
	if err != nil {
		return agent.Agent{}, err
	}
	def.Branch, def.Workspace = copied, branch.Workspace(copied)
	if def.Workdir == "" {
		def.Workdir = agentdef.DefaultWorkdir
	}
	started, err := b.Start(ctx, slug, def, user)
	if err != nil {
		err = errors.Join(err, branch.Discard(context.WithoutCancel(ctx), on.cfg, copied))
	}
	return started, err
}

// publishFlags reads every --publish.
func publishFlags(specs []string) ([]agentdef.Publish, error) {
	var ports []agentdef.Publish
	for _, spec := range specs {
		p, err := agentdef.ParsePublish(spec)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("--publish %w", err))
		}
		ports = append(ports, p)
	}
	return ports, nil
}
