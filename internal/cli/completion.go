package cli

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jessevdk/go-flags"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Shell completion. The scripts (completion.bash, completion.zsh; printed
// by the hidden --completion=bash|zsh, installed by make install) know no
// flag, backend or agent themselves: on every Tab they run the binary being
// completed with GO_FLAGS_COMPLETION=1 and the words up to the cursor, and
// it prints what the last word can become, one a line:
//
//   - an option name (--js: --json), as go-flags completes them;
//   - the value of a --backend option: the backend names of the set;
//   - an operand: the slugs of the running agents for bottle-attach and
//     bottle-stop, the backend names for bottle-has-backend, the agent
//     definitions on BOTTLE_AGENT_PATH for bottle-start and bottle-trust.
//
// GO_FLAGS_COMPLETION=verbose adds each option's description, as go-flags
// does.

// envCompletion is go-flags' own switch for completion.
const envCompletion = "GO_FLAGS_COMPLETION"

var (
	//go:embed completion.bash
	bashCompletion string
	//go:embed completion.zsh
	zshCompletion string

	completionScripts = map[string]string{"bash": bashCompletion, "zsh": zshCompletion}
)

// operandCompletion says what the operands of each binary are, for those
// whose operands can be listed.
var operandCompletion = map[string]struct {
	many bool // more than one operand
	list func(position) []string
}{
	"bottle-attach":      {false, runningSlugs},
	"bottle-stop":        {true, runningSlugs},
	"bottle-has-backend": {true, func(position) []string { return Backends(nil).Names() }},
	"bottle-start":       {false, agentNames},
	"bottle-trust":       {true, agentNames},
}

// agentNames lists the definitions on the search path, for the operands
// that name one.
func agentNames(position) []string {
	return agentdef.Names(agentdef.ConfigFromEnv(os.Getenv).SearchPath)
}

// completionTimeout bounds listing the running agents: a Tab must not hang.
var completionTimeout = 5 * time.Second

// complete prints what the last of args can become.
func (c Command) complete(p *flags.Parser, args []string, verbose bool, stdout io.Writer) error {
	pos := locate(p, args)
	var items []string
	switch operands, ok := operandCompletion[c.Name]; {
	case pos.option != nil && pos.option.LongName == "backend":
		items = Backends(nil).Names()
	case pos.option != nil && len(pos.option.Choices) > 0:
		items = pos.option.Choices
	case pos.operand && ok && (operands.many || pos.operands == 0):
		items = operands.list(pos)
	case pos.operand:
	default:
		// Option names, and values whose type completes itself
		// (flags.Completer): go-flags' own completion.
		var err error
		p.CompletionHandler = func(cs []flags.Completion) { err = printCompletions(stdout, cs, verbose) }
		if _, perr := p.ParseArgs(args); perr != nil {
			return perr
		}
		return err
	}
	for _, item := range items {
		if strings.HasPrefix(item, pos.partial) {
			if _, err := fmt.Fprintln(stdout, pos.prefix+item); err != nil {
				return err
			}
		}
	}
	return nil
}

// printCompletions prints as go-flags does, but to stdout, the writer.
func printCompletions(stdout io.Writer, cs []flags.Completion, verbose bool) error {
	width := 0
	for _, c := range cs {
		width = max(width, len(c.Item))
	}
	for _, c := range cs {
		line := c.Item
		if verbose && len(cs) > 1 && c.Description != "" {
			line += strings.Repeat(" ", width-len(c.Item)) + "  # " + c.Description
		}
		if _, err := fmt.Fprintln(stdout, line); err != nil {
			return err
		}
	}
	return nil
}

// A position is what the last word of a command line is.
type position struct {
	option   *flags.Option       // the word is a value of this option,
	prefix   string              // after this much of the word ("--backend=", "-b"),
	partial  string              // and this is what there is of it so far;
	operand  bool                // or the word is an operand,
	operands int                 // after this many;
	values   map[string][]string // the values given so far, by option long name
}

// locate reads args as go-flags parses them (with PassDoubleDash) to say
// what the last of them is.
func locate(p *flags.Parser, args []string) position {
	if len(args) == 0 {
		args = []string{""}
	}
	pos := position{values: map[string][]string{}}
	word := args[len(args)-1]
	var pending *flags.Option
	for i, arg := range args[:len(args)-1] {
		switch {
		case pending != nil:
			pos.values[pending.LongName] = append(pos.values[pending.LongName], arg)
			pending = nil
		case arg == "--":
			pos.operand, pos.operands, pos.partial = true, pos.operands+len(args)-2-i, word
			return pos
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			if o := p.FindOptionByLongName(name); o != nil && takesValue(o) {
				if hasValue {
					pos.values[name] = append(pos.values[name], value)
				} else if !o.OptionalArgument {
					pending = o
				}
			}
		case strings.HasPrefix(arg, "-") && arg != "-":
			// A cluster of short options, the last of which may take
			// the rest of the word or the next one as its value.
			for j, r := range arg[1:] {
				o := p.FindOptionByShortName(r)
				if o == nil {
					break
				}
				if takesValue(o) {
					if rest := arg[1+j+utf8.RuneLen(r):]; rest != "" {
						pos.values[o.LongName] = append(pos.values[o.LongName], strings.TrimPrefix(rest, "="))
					} else if !o.OptionalArgument {
						pending = o
					}
					break
				}
			}
		default:
			pos.operands++
		}
	}
	switch {
	case pending != nil:
		pos.option, pos.partial = pending, word
	case strings.HasPrefix(word, "--"):
		if name, value, ok := strings.Cut(word[2:], "="); ok {
			if o := p.FindOptionByLongName(name); o != nil && takesValue(o) {
				pos.option, pos.prefix, pos.partial = o, "--"+name+"=", value
			}
		}
	case strings.HasPrefix(word, "-") && len(word) > 2:
		r, n := utf8.DecodeRuneInString(word[1:])
		if o := p.FindOptionByShortName(r); o != nil && takesValue(o) {
			pos.option, pos.prefix = o, word[:1+n]
			if strings.HasPrefix(word[1+n:], "=") {
				pos.prefix += "="
			}
			pos.partial = word[len(pos.prefix):]
		}
	case !strings.HasPrefix(word, "-"):
		pos.operand, pos.partial = true, word
	}
	return pos
}

// takesValue says whether an option takes a value, as go-flags decides:
// every type but bool (or a slice of them) and a function without arguments.
func takesValue(o *flags.Option) bool {
	t := o.Field().Type
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return false
	case reflect.Func:
		return t.NumIn() > 0
	}
	return true
}

// runningSlugs lists the slugs of the running agents that the binary would
// see: those carrying the labels given with --label on the line so far,
// else in BOTTLE_LABELS, as bottle-ls lists them.
func runningSlugs(pos position) []string {
	given := pos.values["label"]
	if len(given) == 0 && os.Getenv(EnvLabels) != "" {
		given = strings.Split(os.Getenv(EnvLabels), ",")
	}
	user := map[string]string{}
	for _, kv := range given {
		k, v, _ := strings.Cut(kv, "=")
		user[k] = v
	}
	if CheckLabels(user) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	var slugs []string
	for _, a := range Backends(os.Environ()).List(ctx, backend.Query{Labels: user}).Agents {
		slugs = append(slugs, a.Slug)
	}
	slices.Sort(slugs)
	return slices.Compact(slugs)
}
