package smolmachines

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// agentOf is the agent Start makes of def before it creates its machine.
func agentOf(slug string, def *agentdef.Definition) agent.Agent {
	return agent.Agent{Backend: "smolmachines", Slug: slug, Name: def.Name, Services: def.SidecarNames()}
}

func TestCreateArgs(t *testing.T) {
	t.Parallel()
	def := &agentdef.Definition{
		Name: "reviewer", Image: "bottle-bundle:latest",
		Command:   []string{"claude", "--dangerously-skip-permissions", "-p", "--", "review"},
		Env:       map[string]string{"TERM": "xterm-256color", "A": "-x=y"},
		Workdir:   "/workspace",
		Workspace: "/home/me/site",
		Dir:       "/home/me/agents",
		Sidecars:  []agentdef.Sidecar{{Name: "egress"}, {Name: "pipelock"}},
		Egress:    agentdef.Egress{Allow: []string{"api.anthropic.com", "*.githubusercontent.com", "githubusercontent.com", "192.0.2.7"}},
		Limits:    agentdef.Limits{Memory: 3 << 30, CPUs: 1.5},
	}
	got, err := createArgs(agentOf("reviewer-3f9a1c", def), def, map[string]string{"project": "site"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"machine", "create", "--name", "reviewer-3f9a1c", "--image", "bottle-bundle:latest",
		"--label", `dev.bottle.agent=reviewer`,
		"--label", `dev.bottle.services=egress,pipelock`,
		"--label", `dev.bottle.slug=reviewer-3f9a1c`,
		"--label", `project=site`,
		"-e", "A=-x=y",
		"-e", "BOTTLE_SIDECAR_DAEMONS=egress,pipelock",
		"-e", "TERM=xterm-256color",
		"-w", "/workspace",
		"-v", "/home/me/site:/workspace",
		"--cpus", "2", "--mem", "3072",
		// Only --allow-host: the wildcard as its suffix, given once.
		"--allow-host", "api.anthropic.com",
		"--allow-host", "githubusercontent.com",
		"--allow-host", "192.0.2.7",
		"--", "claude", "--dangerously-skip-permissions", "-p", "--", "review",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("createArgs =\n%q\nwant\n%q", got, want)
	}
}

// Without an allowlist the machine gets no network at all: no flag that
// turns networking on, least of all --net, which is the whole internet.
func TestCreateArgsNoNetwork(t *testing.T) {
	t.Parallel()
	def := &agentdef.Definition{Name: "shell", Image: "x",
		Limits:       agentdef.Limits{Memory: agentdef.DefaultMemory, CPUs: agentdef.DefaultCPUs},
		Smolmachines: agentdef.Smolmachines{Image: "/images/shell"}}
	got, err := createArgs(agentOf("shell-000000", def), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"machine", "create", "--name", "shell-000000", "--image", "/images/shell",
		"--label", "dev.bottle.agent=shell",
		"--label", "dev.bottle.services=",
		"--label", "dev.bottle.slug=shell-000000",
		"--cpus", "2", "--mem", "4096",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("createArgs =\n%q\nwant\n%q", got, want)
	}
	for _, flag := range []string{"--net", "-p", "--port", "--allow-host", "--allow-cidr", "--outbound-localhost-only", "--dns", "--network", "--net-backend"} {
		if slices.Contains(got, flag) {
			t.Errorf("createArgs without an allowlist passes %s", flag)
		}
	}
}

func TestCreateArgsSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limits    agentdef.Limits
		cpus, mem string
	}{
		{agentdef.Limits{Memory: agentdef.DefaultMemory, CPUs: agentdef.DefaultCPUs}, "2", "4096"},
		{agentdef.Limits{Memory: 512 << 20, CPUs: 1}, "1", "512"},
		{agentdef.Limits{Memory: 512<<20 + 1, CPUs: 0.25}, "1", "513"},
		{agentdef.Limits{Memory: 8 << 30, CPUs: 2.01}, "3", "8192"},
		{agentdef.Limits{Memory: 1 << 40, CPUs: 64}, "16", "1048576"}, // the hypervisor runs at most 16
	} {
		def := &agentdef.Definition{Image: "x", Limits: tc.limits, Smolmachines: agentdef.Smolmachines{Image: "/x"}}
		args, err := createArgs(agentOf("s", def), def, nil)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(args, "--cpus")
		if got := args[i : i+4]; !reflect.DeepEqual(got, []string{"--cpus", tc.cpus, "--mem", tc.mem}) {
			t.Errorf("limits %+v: %q, want --cpus %s --mem %s", tc.limits, got, tc.cpus, tc.mem)
		}
	}
}

func TestCreateArgsMounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		def  agentdef.Definition
		want []string
	}{
		// The definition's directory inside the workspace is read-only, and
		// each directory between them a mount of its own.
		{agentdef.Definition{Workspace: "/home/me/site", Workdir: "/workspace", Dir: "/home/me/site/.bottle/agents"},
			[]string{"-v", "/home/me/site:/workspace", "-v", "/home/me/site/.bottle:/workspace/.bottle", "-v", "/home/me/site/.bottle/agents:/workspace/.bottle/agents:ro"}},
		// The definition lies outside the workspace: the workspace alone.
		{agentdef.Definition{Workspace: "/home/me/site", Workdir: "/src", Dir: "/home/me"},
			[]string{"-v", "/home/me/site:/src"}},
		// smolvm splits from the right: a HOST may hold a ':'.
		{agentdef.Definition{Workspace: "/home/me/a:b", Workdir: "/workspace", Dir: "/elsewhere"},
			[]string{"-v", "/home/me/a:b:/workspace"}},
		{agentdef.Definition{}, nil},
	} {
		tc.def.Image, tc.def.Smolmachines.Image = "x", "/x"
		args, err := createArgs(agentOf("s", &tc.def), &tc.def, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, a := range args {
			if a == "-v" {
				got = append(got, a, args[i+1])
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("workspace %s, dir %s: %q, want %q", tc.def.Workspace, tc.def.Dir, got, tc.want)
		}
	}
}

func TestCreateArgsRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		def  agentdef.Definition
		want string
	}{
		{agentdef.Definition{Image: "x", Egress: agentdef.Egress{Allow: []string{"api.anthropic.com", "registry.npmjs.org:8443"}}},
			`egress.allow "registry.npmjs.org:8443": smolvm cannot limit egress to a port; without the port it allows every port of the host`},
		{agentdef.Definition{Image: "x", Egress: agentdef.Egress{Allow: []string{"*.githubusercontent.com:443"}}},
			`egress.allow "*.githubusercontent.com:443": smolvm cannot limit egress to a port`},
		{agentdef.Definition{Image: "x", Workspace: "/a", Workdir: "/work:space", Dir: "/b", Egress: agentdef.Egress{Allow: []string{"a.example"}}},
			`mount target "/work:space" holds a ':', which smolvm's -v HOST:GUEST cannot carry`},
		{agentdef.Definition{Image: "x", Workspace: "/a", Workdir: "/workspace", Dir: "/a/x:y/agents", Egress: agentdef.Egress{Allow: []string{"a.example"}}},
			`mount target "/workspace/x:y" holds a ':'`},
	} {
		if _, err := createArgs(agentOf("s", &tc.def), &tc.def, nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("createArgs(%+v) = %v, want %q", tc.def, err, tc.want)
		}
	}
}

// The --image of each kind of definition: smolvm reads a bare name:tag as a
// registry reference, which a machine without network cannot pull.
func TestImageOf(t *testing.T) {
	t.Parallel()
	allow := agentdef.Egress{Allow: []string{"api.anthropic.com"}}
	for _, tc := range []struct {
		def        agentdef.Definition
		image, err string
	}{
		{agentdef.Definition{Image: "bottle-demo:latest", Smolmachines: agentdef.Smolmachines{Image: "/repo/bin/images/bottle-demo"}}, "/repo/bin/images/bottle-demo", ""},
		{agentdef.Definition{Image: "bottle-demo:latest", Egress: allow, Smolmachines: agentdef.Smolmachines{Image: "/i/busybox.tar"}}, "/i/busybox.tar", ""},
		{agentdef.Definition{Image: "ghcr.io/bottle-dev/bundle:1", Egress: allow}, "ghcr.io/bottle-dev/bundle:1", ""},
		{agentdef.Definition{Image: "bottle-demo:latest"}, "",
			`image "bottle-demo:latest" is a registry reference to smolvm, and a machine without network (no egress.allow) cannot pull it: give a local image as "smolmachines": {"image": "PATH"}, an archive (.tar, .tar.gz, .tgz) or a root file system directory`},
		{agentdef.Definition{Image: "ghcr.io/bottle-dev/bundle:1", Egress: allow, Pull: agentdef.PullNever}, "",
			`image "ghcr.io/bottle-dev/bundle:1" is a registry reference, which smolvm pulls itself, and pull is "never": give a local image as "smolmachines": {"image": "PATH"}`},
		{agentdef.Definition{Image: "bottle-demo:latest", Pull: agentdef.PullNever, Smolmachines: agentdef.Smolmachines{Image: "/i/rootfs"}}, "/i/rootfs", ""},
		{agentdef.Definition{Image: "./rootfs", Egress: allow}, "", `image "./rootfs" is a path to smolvm, which it would read from where it runs: give it as "smolmachines": {"image": "PATH"}, relative to the definition`},
		{agentdef.Definition{Image: "busybox.tgz", Egress: allow}, "", `image "busybox.tgz" is a path to smolvm`},
		{agentdef.Definition{Image: "/abs/rootfs"}, "", `image "/abs/rootfs" is a path to smolvm`},
	} {
		image, err := imageOf(&tc.def)
		if tc.err == "" && (err != nil || image != tc.image) || tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("imageOf(%+v) = %q, %v; want %q, %q", tc.def, image, err, tc.image, tc.err)
		}
	}
}

// Secrets go to smolvm by reference, before "--", never by value; a file
// by its real path, as smolvm refuses a symlink.
func TestCreateArgsSecrets(t *testing.T) {
	t.Parallel()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("sk-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(token, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	def := &agentdef.Definition{Name: "shell", Image: "x", Command: []string{"sleep", "infinity"},
		Limits: agentdef.Limits{Memory: agentdef.DefaultMemory, CPUs: agentdef.DefaultCPUs},
		Egress: agentdef.Egress{Allow: []string{"api.anthropic.com"}},
		Secrets: []agentdef.Secret{
			{Name: "ANTHROPIC_API_KEY", FromEnv: "MY_KEY", Hosts: []string{"api.anthropic.com"}, Value: "sk-env"},
			{Name: "GH_TOKEN", FromFile: filepath.Join(dir, "link"), Hosts: []string{"api.anthropic.com"}, Value: "sk-file"},
		}}
	got, err := createArgs(agentOf("shell-000000", def), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"machine", "create", "--name", "shell-000000", "--image", "x",
		"--label", "dev.bottle.agent=shell",
		"--label", "dev.bottle.services=",
		"--label", "dev.bottle.slug=shell-000000",
		"--secret-env", "ANTHROPIC_API_KEY=MY_KEY",
		"--secret-file", "GH_TOKEN=" + token,
		"--cpus", "2", "--mem", "4096",
		"--allow-host", "api.anthropic.com",
		"--", "sleep", "infinity",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("createArgs =\n%q\nwant\n%q", got, want)
	}
	for _, a := range got {
		if strings.Contains(a, "sk-") {
			t.Errorf("a secret's value is in the arguments: %q", a)
		}
	}

	def.Secrets = []agentdef.Secret{{Name: "GH_TOKEN", FromFile: filepath.Join(dir, "missing"), Hosts: []string{"a.com"}}}
	if _, err := createArgs(agentOf("shell-000000", def), def, nil); err == nil || !strings.Contains(err.Error(), "secrets.GH_TOKEN.from_file: ") {
		t.Errorf("a file gone since it was read: %v", err)
	}
}
