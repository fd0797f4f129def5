package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// A binary's options of every kind: a value that completes to backend
// names, one that does not, the labels, a bool.
type completionOptions struct {
	Backend *BackendName `short:"b" long:"backend" value-name:"NAME" description:"the backend"`
	Name    string       `long:"name" value-name:"SLUG" description:"the slug"`
	LabelScope
	JSON bool `short:"j" long:"json" description:"JSON lines"`
}

// Commands of each kind of operand: none, one, many.
var (
	noOperands   = Command{Name: "bottle-ls"}
	oneAgent     = Command{Name: "bottle-start", Operands: &Operands[AgentDefinition]{}}
	manyAgents   = Command{Name: "bottle-trust", Operands: &Operands[[]AgentDefinition]{}}
	manyBackends = Command{Name: "bottle-has-backend", Operands: &Operands[[]BackendName]{}}
)

func complete(t *testing.T, c Command, mode string, args ...string) []string {
	t.Helper()
	t.Setenv(envCompletion, mode)
	var stdout bytes.Buffer
	var opts completionOptions
	rest, err := c.parse(&opts, args, &stdout)
	if err != errHelp || rest != nil {
		t.Fatalf("parse(%q) = %q, %v; want the completion's errHelp", args, rest, err)
	}
	if got := os.Getenv(envCompletion); got != mode {
		t.Fatalf("GO_FLAGS_COMPLETION is %q after completing, want %q", got, mode)
	}
	return strings.Fields(stdout.String())
}

func TestComplete(t *testing.T) {
	t.Setenv("BOTTLE_AGENT_PATH", t.TempDir())
	os.WriteFile(os.Getenv("BOTTLE_AGENT_PATH")+"/reviewer.json", []byte("{}"), 0o644)
	for _, tc := range []struct {
		c    Command
		args []string
		want string
	}{
		{noOperands, []string{"--js"}, "--json"},
		{noOperands, []string{"--"}, "--backend --help --json --label --name --version"}, // not the hidden ones
		{noOperands, []string{"--ver"}, "--version"},
		{noOperands, []string{"--man"}, ""},
		{oneAgent, []string{"--backend", ""}, "docker kubernetes smolmachines"},
		{oneAgent, []string{"--backend", "d"}, "docker"},
		{oneAgent, []string{"--backend=sm"}, "--backend=smolmachines"},
		{oneAgent, []string{"-b", ""}, "docker kubernetes smolmachines"},
		{oneAgent, []string{"-bd"}, "-bdocker"},
		{oneAgent, []string{"-jb", "s"}, "smolmachines"},
		{oneAgent, []string{"-b=s"}, "-b=smolmachines"},
		{oneAgent, []string{"--name", ""}, ""},
		{oneAgent, []string{"--label", "a=b", ""}, "reviewer"},
		{oneAgent, []string{"--name", "x", "r"}, "reviewer"},
		{oneAgent, []string{"--json", "x", ""}, ""}, // one AGENT only
		{oneAgent, []string{"--", "r"}, "reviewer"}, // an operand, after --
		{oneAgent, []string{"--", "x", ""}, ""},
		{manyAgents, []string{"r"}, "reviewer"},
		{manyAgents, []string{"reviewer", ""}, "reviewer"}, // AGENT...
		{manyBackends, []string{"-v", ""}, "docker kubernetes smolmachines"},
		{manyBackends, []string{"docker", "s"}, "smolmachines"},
		{noOperands, []string{""}, ""},
	} {
		if got := strings.Join(complete(t, tc.c, "1", tc.args...), " "); got != tc.want {
			t.Errorf("%s %q: completions %q, want %q", tc.c.Name, tc.args, got, tc.want)
		}
	}
}

// The labels on the line so far scope the running agents, as they would
// scope the command: parsed by go-flags, BOTTLE_LABELS their default.
func TestCompletingScope(t *testing.T) {
	t.Setenv("BOTTLE_LABELS", "team=env")
	complete(t, noOperands, "1", "--label", "team=x", "--label=b=2", "")
	if got := completingScope.Labels; len(got) != 2 || got["team"] != "x" || got["b"] != "2" {
		t.Errorf("labels given on the line: %q", got)
	}
	complete(t, noOperands, "1", "--json", "")
	if got := completingScope.Labels; len(got) != 1 || got["team"] != "env" {
		t.Errorf("labels from BOTTLE_LABELS: %q", got)
	}
	var withoutLabels struct{}
	Command{Name: "bottle-x"}.parse(&withoutLabels, []string{""}, &bytes.Buffer{})
	if completingScope != nil {
		t.Errorf("a binary without labels completes in the scope %v", completingScope.Labels)
	}
}

func TestCompleteVerbose(t *testing.T) {
	t.Setenv(envCompletion, "verbose")
	var stdout bytes.Buffer
	var opts completionOptions
	noOperands.parse(&opts, []string{"--j"}, &stdout)
	if got := stdout.String(); got != "--json\n" {
		t.Errorf("one completion: %q, want it without its description", got)
	}
	stdout.Reset()
	noOperands.parse(&opts, []string{"--"}, &stdout)
	if got := stdout.String(); !strings.Contains(got, "\n--json     # JSON lines\n") {
		t.Errorf("completions with descriptions:\n%s", got)
	}
}

func TestCompletionScripts(t *testing.T) {
	var stdout bytes.Buffer
	for shell, script := range completionScripts {
		stdout.Reset()
		var opts completionOptions
		if _, err := noOperands.parse(&opts, []string{"--completion=" + shell}, &stdout); err != errHelp {
			t.Fatalf("--completion=%s: %v", shell, err)
		}
		if stdout.String() != script || !strings.Contains(script, "GO_FLAGS_COMPLETION") {
			t.Errorf("--completion=%s printed %.80q…", shell, stdout.String())
		}
	}
	var opts completionOptions
	_, err := noOperands.parse(&opts, []string{"--completion=fish"}, &stdout)
	var stderr bytes.Buffer
	if Exit("bottle-ls", &stderr, err) != 2 || !strings.Contains(stderr.String(), "use bash or zsh") {
		t.Errorf("--completion=fish: %v", err)
	}
}
