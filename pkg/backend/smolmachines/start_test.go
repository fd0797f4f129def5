package smolmachines

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

func TestCreateArgs(t *testing.T) {
	def := &agentdef.Definition{
		Name: "reviewer", Image: "bottle-bundle:latest",
		Command:   []string{"claude", "--dangerously-skip-permissions", "-p", "--", "review"},
		Attach:    []string{"/bin/sh", "-l"},
		Env:       map[string]string{"TERM": "xterm-256color", "A": "-x=y"},
		Workdir:   "/workspace",
		Workspace: "/home/me/site",
		Sidecars:  []agentdef.Sidecar{{Name: "egress"}, {Name: "pipelock"}},
		Egress:    agentdef.Egress{Allow: []string{"api.anthropic.com"}},
	}
	got, err := createArgs("reviewer-3f9a1c", def, map[string]string{"project": "site"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"machine", "create", "--name", "reviewer-3f9a1c", "--image", "bottle-bundle:latest",
		"--label", `dev.bottle.agent=reviewer`,
		"--label", `dev.bottle.attach=["/bin/sh","-l"]`,
		"--label", `dev.bottle.services=egress,pipelock`,
		"--label", `dev.bottle.slug=reviewer-3f9a1c`,
		"--label", `project=site`,
		"-e", "A=-x=y",
		"-e", "BOTTLE_SIDECAR_DAEMONS=egress,pipelock",
		"-e", "TERM=xterm-256color",
		"-w", "/workspace",
		"-v", "/home/me/site:/workspace",
		"--net", "--allow-host", "api.anthropic.com",
		"--", "claude", "--dangerously-skip-permissions", "-p", "--", "review",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("createArgs =\n%q\nwant\n%q", got, want)
	}
	bare, err := createArgs("shell-000000", &agentdef.Definition{Name: "shell", Image: "x", Attach: []string{"/bin/sh"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(bare, " "), "BOTTLE_SIDECAR_DAEMONS") || bare[len(bare)-1] != "--net" {
		t.Errorf("createArgs without sidecars, command or workspace = %q", bare)
	}
}

func TestCreateArgsRefuses(t *testing.T) {
	for _, tc := range []struct {
		def  agentdef.Definition
		want string
	}{
		{agentdef.Definition{Image: "x", Egress: agentdef.Egress{Allow: []string{"*.githubusercontent.com"}}},
			`egress.allow "*.githubusercontent.com": smolvm's --allow-host takes exact hosts only, no wildcard patterns or ports`},
		{agentdef.Definition{Image: "x", Egress: agentdef.Egress{Allow: []string{"registry.npmjs.org:8443"}}},
			`egress.allow "registry.npmjs.org:8443": smolvm's --allow-host takes exact hosts only, no wildcard patterns or ports`},
		{agentdef.Definition{Image: "x", Workspace: "/a:b", Workdir: "/workspace"},
			`workspace "/a:b" or workdir "/workspace" holds a ':'`},
	} {
		if _, err := createArgs("s", &tc.def, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("createArgs(%+v) = %v, want %q", tc.def, err, tc.want)
		}
	}
}
