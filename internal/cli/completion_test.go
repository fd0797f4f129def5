package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/jessevdk/go-flags"
)

// A binary's options of every kind: a value that completes to backend
// names, one that does not, a map, a bool and a short-only one.
type completionOptions struct {
	Backend *string           `short:"b" long:"backend" value-name:"NAME" description:"the backend"`
	Name    string            `long:"name" value-name:"SLUG" description:"the slug"`
	Labels  map[string]string `long:"label" key-value-delimiter:"=" description:"a label"`
	JSON    bool              `short:"j" long:"json" description:"JSON lines"`
	Mode    string            `long:"mode" choice:"fast" choice:"slow" description:"how"`
}

func completions(t *testing.T, name, mode string, args ...string) []string {
	t.Helper()
	t.Setenv(envCompletion, mode)
	var stdout bytes.Buffer
	var opts completionOptions
	rest, err := Command{Name: name}.Parse(&opts, args, &stdout)
	if err != errHelp || rest != nil {
		t.Fatalf("Parse(%q) = %q, %v; want the completion's errHelp", args, rest, err)
	}
	return strings.Fields(stdout.String())
}

func TestComplete(t *testing.T) {
	t.Setenv("BOTTLE_AGENT_PATH", t.TempDir())
	os.WriteFile(os.Getenv("BOTTLE_AGENT_PATH")+"/reviewer.json", []byte("{}"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bottle-ls", []string{"--js"}, "--json"},
		{"bottle-ls", []string{"--"}, "--backend --help --json --label --mode --name --version"}, // not the hidden ones
		{"bottle-ls", []string{"--ver"}, "--version"},
		{"bottle-ls", []string{"--man"}, ""},
		{"bottle-start", []string{"--backend", ""}, "docker smolmachines"},
		{"bottle-start", []string{"--backend", "d"}, "docker"},
		{"bottle-start", []string{"--backend=sm"}, "--backend=smolmachines"},
		{"bottle-start", []string{"-b", ""}, "docker smolmachines"},
		{"bottle-start", []string{"-bd"}, "-bdocker"},
		{"bottle-start", []string{"-jb", "s"}, "smolmachines"},
		{"bottle-start", []string{"-b=s"}, "-b=smolmachines"},
		{"bottle-start", []string{"--mode", ""}, "fast slow"},
		{"bottle-start", []string{"--name", ""}, ""},
		{"bottle-start", []string{"--label", "a=b", ""}, "reviewer"},
		{"bottle-start", []string{"--name", "x", "r"}, "reviewer"},
		{"bottle-start", []string{"--json", "x", ""}, ""}, // one AGENT only
		{"bottle-start", []string{"--", "-x"}, ""},        // an operand, after --
		{"bottle-trust", []string{"r"}, "reviewer"},
		{"bottle-trust", []string{"reviewer", ""}, "reviewer"}, // AGENT...
		{"bottle-has-backend", []string{"-v", ""}, "docker smolmachines"},
		{"bottle-has-backend", []string{"docker", "s"}, "smolmachines"},
		{"bottle-ls", []string{""}, ""},
	} {
		if got := strings.Join(completions(t, tc.name, "1", tc.args...), " "); got != tc.want {
			t.Errorf("%s %q: completions %q, want %q", tc.name, tc.args, got, tc.want)
		}
	}
}

func TestCompleteVerbose(t *testing.T) {
	t.Setenv(envCompletion, "verbose")
	var stdout bytes.Buffer
	var opts completionOptions
	Command{Name: "bottle-ls"}.Parse(&opts, []string{"--j"}, &stdout)
	if got := stdout.String(); got != "--json\n" {
		t.Errorf("one completion: %q, want it without its description", got)
	}
	stdout.Reset()
	Command{Name: "bottle-ls"}.Parse(&opts, []string{"--"}, &stdout)
	if got := stdout.String(); !strings.Contains(got, "\n--json     # JSON lines\n") {
		t.Errorf("completions with descriptions:\n%s", got)
	}
}

func TestLocate(t *testing.T) {
	p := flags.NewParser(&completionOptions{}, flags.PassDoubleDash)
	pos := locate(p, []string{"--label", "a=1", "--label=b=2", "op", "-jbdocker", "x", ""})
	if pos.option != nil || !pos.operand || pos.operands != 2 {
		t.Errorf("after two operands: %+v", pos)
	}
	if got := strings.Join(pos.values["label"], ","); got != "a=1,b=2" {
		t.Errorf("labels given: %q", got)
	}
	if got := strings.Join(pos.values["backend"], ","); got != "docker" {
		t.Errorf("backend given: %q", got)
	}
}

func TestCompletionScripts(t *testing.T) {
	var stdout bytes.Buffer
	for shell, script := range completionScripts {
		stdout.Reset()
		var opts completionOptions
		if _, err := (Command{Name: "bottle-ls"}).Parse(&opts, []string{"--completion=" + shell}, &stdout); err != errHelp {
			t.Fatalf("--completion=%s: %v", shell, err)
		}
		if stdout.String() != script || !strings.Contains(script, "GO_FLAGS_COMPLETION") {
			t.Errorf("--completion=%s printed %.80q…", shell, stdout.String())
		}
	}
	var opts completionOptions
	_, err := Command{Name: "bottle-ls"}.Parse(&opts, []string{"--completion=fish"}, &stdout)
	var stderr bytes.Buffer
	if Exit("bottle-ls", &stderr, err) != 2 || !strings.Contains(stderr.String(), "use bash or zsh") {
		t.Errorf("--completion=fish: %v", err)
	}
}
