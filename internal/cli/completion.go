package cli

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/jessevdk/go-flags"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Shell completion is go-flags' own. The scripts (completion.bash,
// completion.zsh; printed by the hidden --completion=bash|zsh, installed by
// make install) know no flag, backend or agent themselves: on every Tab they
// run the binary being completed with GO_FLAGS_COMPLETION=1 and the words up
// to the cursor, and go-flags prints what the last word can become, one a
// line: an option name, or a value of an option or operand whose type
// completes itself (a flags.Completer: BackendName, AgentDefinition,
// RunningSlug, AgentService). GO_FLAGS_COMPLETION=verbose adds each
// option's description.

// envCompletion is go-flags' own switch for completion.
const envCompletion = "GO_FLAGS_COMPLETION"

var (
	//go:embed completion.bash
	bashCompletion string
	//go:embed completion.zsh
	zshCompletion string

	completionScripts = map[string]string{"bash": bashCompletion, "zsh": zshCompletion}
)

// Operands say what a binary's operands complete to, as go-flags'
// positional arguments: T is the type of its one operand (a
// flags.Completer), or a slice of them for a binary that takes many.
// go-flags completes with them only. Parsed, the operands are the words
// left over, which each binary checks with messages of its own; and as
// positional arguments of the parse, go-flags would name them on the
// usage line a second time, after Command.Usage.
type Operands[T any] struct {
	Args struct{ Operands T } `positional-args:"yes"`
}

// complete prints what the last of args can become.
func (c Command) complete(p *flags.Parser, opts any, args []string, mode string, stdout io.Writer) error {
	// A completer may depend on the options before the word: RunningSlug
	// lists the agents carrying the labels the command would use, given
	// with --label or else in BOTTLE_LABELS. go-flags fills the options
	// only when it parses, and parses only while GO_FLAGS_COMPLETION is
	// unset. A line being typed need not parse.
	os.Unsetenv(envCompletion)
	completingOperands, _ = p.ParseArgs(args[:max(len(args)-1, 0)])
	os.Setenv(envCompletion, mode)
	completingScope = nil
	if scoped, ok := opts.(labelScoped); ok {
		completingScope = scoped.labelScope()
	}
	if c.Operands != nil {
		if _, err := p.AddGroup("Operands", "", c.Operands); err != nil {
			return err
		}
	}
	var err error
	p.CompletionHandler = func(items []flags.Completion) { err = printCompletions(stdout, items, mode == "verbose") }
	if _, perr := p.ParseArgs(args); perr != nil {
		return perr
	}
	return err
}

// printCompletions prints as go-flags does, but to stdout, the writer.
func printCompletions(stdout io.Writer, items []flags.Completion, verbose bool) error {
	width := 0
	for _, c := range items {
		width = max(width, len(c.Item))
	}
	for _, c := range items {
		line := c.Item
		if verbose && len(items) > 1 && c.Description != "" {
			line += strings.Repeat(" ", width-len(c.Item)) + "  # " + c.Description
		}
		if _, err := fmt.Fprintln(stdout, line); err != nil {
			return err
		}
	}
	return nil
}

// BackendName is a value that names a backend: it completes to the names
// of the backends the toolkit knows. Its completion, like the others',
// needs no value: go-flags calls it on a nil *BackendName for an option
// not given yet.
type BackendName string

func (*BackendName) Complete(match string) []flags.Completion {
	return completions(Backends(nil).Names(), match)
}

// GitCommit names a commit of the repository in the current directory: it
// completes to its branches and tags.
type GitCommit string

func (*GitCommit) Complete(match string) []flags.Completion {
	out, err := exec.Command("git", "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags").Output()
	if err != nil {
		return nil
	}
	return completions(strings.Fields(string(out)), match)
}

// AgentDefinition names an agent definition: it completes to the names of
// the definitions on the search path (BOTTLE_AGENT_PATH).
type AgentDefinition string

func (*AgentDefinition) Complete(match string) []flags.Completion {
	return completions(agentdef.Names(agentdef.ConfigFromEnv(os.Getenv).SearchPath), match)
}

// RunningSlug names a running agent: it completes to the slugs of the
// running agents the binary would see, those carrying the labels of the
// command line being completed.
type RunningSlug string

// completingScope are the labels of the command line being completed, set
// by complete: go-flags hands a Completer the word alone, and for an
// operand of many, hands it to a new zero value.
var completingScope *LabelScope

// completionTimeout bounds listing the running agents: a Tab must not hang.
const completionTimeout = 5 * time.Second

// completingAgents lists the agents the binary would see: those carrying
// the labels of the command line, running ones only unless all; none when
// those labels are bad.
func completingAgents(all bool) []agent.Agent {
	var user map[string]string
	if completingScope != nil {
		if completingScope.check() != nil {
			return nil
		}
		user = completingScope.Labels
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	return Backends(os.Environ()).List(ctx, backend.Query{Labels: user, All: all}).Agents
}

func (*RunningSlug) Complete(match string) []flags.Completion {
	var slugs []string
	for _, a := range completingAgents(false) {
		slugs = append(slugs, a.Slug)
	}
	slices.Sort(slugs)
	return completions(slices.Compact(slugs), match)
}

// AgentService names one of an agent's services: it completes to the
// services of the agent that the operand before it names, among the
// agents the binary would see (those carrying the labels of the command
// line), whether its program runs or not.
type AgentService string

// completingOperands are the operands of the command line being
// completed before the word, set by complete.
var completingOperands []string

func (*AgentService) Complete(match string) []flags.Completion {
	if len(completingOperands) == 0 {
		return nil
	}
	ref, err := agent.ParseRef(completingOperands[len(completingOperands)-1])
	if err != nil {
		return nil
	}
	var services []string
	for _, a := range completingAgents(true) {
		if a.Slug != ref.Slug || ref.Backend != "" && ref.Backend != a.Backend {
			continue
		}
		for _, s := range a.Services {
			if agent.Escape(s) == s { // a hostile label's name never reaches the shell
				services = append(services, s)
			}
		}
	}
	slices.Sort(services)
	return completions(slices.Compact(services), match)
}

// completions are the items that start with match.
func completions(items []string, match string) []flags.Completion {
	var cs []flags.Completion
	for _, item := range items {
		if strings.HasPrefix(item, match) {
			cs = append(cs, flags.Completion{Item: item})
		}
	}
	return cs
}
