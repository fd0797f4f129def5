package agentdef

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// loadWorkspace loads a definition in dir whose workspace is ws, with cfg.
func loadWorkspace(t *testing.T, dir, ws string, cfg Config) (*Definition, string, error) {
	t.Helper()
	file := writeFile(t, dir, "a.json", `{"image": "x", "workspace": `+strconv.Quote(ws)+`}`)
	def, err := Load(file, cfg)
	return def, file, err
}

const mountReason = ", which no bottle may mount"

// The host's own directories: the whole file system, its configuration,
// the kernel's and devices' interfaces, the runtime sockets and Docker's
// data, as themselves, below them, above them and through a symlink.
func TestWorkspaceSystemDirectories(t *testing.T) {
	dir := tempDir(t)
	link := func(target string) string {
		name := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	tests := []struct {
		workspace, reason string
	}{
		{"/", `"/" is the host's whole file system` + mountReason},
		{link("/"), `"/" is the host's whole file system` + mountReason},
		{"/etc", `"/etc" is /etc` + mountReason},
		{"/etc/../etc/.", `"/etc" is /etc` + mountReason},
		{link("/etc"), `"/etc" is /etc` + mountReason},
		{"/proc", `"/proc" is /proc` + mountReason},
		{"/sys", `"/sys" is /sys` + mountReason},
		{"/sys/kernel", `"/sys/kernel" lies inside /sys` + mountReason},
		{"/dev", `"/dev" is /dev` + mountReason},
		{link("/dev"), `"/dev" is /dev` + mountReason},
		{"/run", `"/run" is /run` + mountReason},
		{"/var", `"/var" contains /var/run` + mountReason},
		{"/usr", `"/usr" is /usr` + mountReason},
		{"/usr/local/bin", `"/usr/local/bin" lies inside /usr` + mountReason},
	}
	// /proc/self is a link to the process's own directory: inside /proc.
	if self, err := filepath.EvalSymlinks("/proc/self"); err == nil {
		tests = append(tests, struct{ workspace, reason string }{"/proc/self", strconv.Quote(self) + " lies inside /proc" + mountReason})
	}
	if real, err := filepath.EvalSymlinks("/var/run"); err == nil {
		reason := `"/var/run" is /var/run` + mountReason
		if real == "/run" {
			reason = `"/run" is /run` + mountReason
		}
		tests = append(tests, struct{ workspace, reason string }{"/var/run", reason})
	}
	for _, d := range []string{"/etc/ssl", "/dev/shm", "/var/lib/docker", "/var/lib/docker/volumes"} {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		real, _ := filepath.EvalSymlinks(d)
		reason := strconv.Quote(real) + " lies inside " + filepath.Dir(d) + mountReason
		if d == "/var/lib/docker" {
			reason = `"/var/lib/docker" is /var/lib/docker` + mountReason
		}
		tests = append(tests, struct{ workspace, reason string }{d, reason}, struct{ workspace, reason string }{link(d), reason})
	}
	for _, tt := range tests {
		t.Run(tt.workspace, func(t *testing.T) {
			def, file, err := loadWorkspace(t, dir, tt.workspace, Config{})
			if def != nil {
				t.Fatalf("loaded with the workspace %s", def.Workspace)
			}
			checkError(t, err, file, "workspace", tt.reason)
		})
	}
	// The host's programs, which are links to one another on some systems
	// and not on others: refused, whatever the message names.
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64", "/boot", "/usr/lib", "/usr/local"} {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		var e *Error
		if _, _, err := loadWorkspace(t, dir, d, Config{}); !errors.As(err, &e) || e.Key != "workspace" || !strings.HasSuffix(e.Reason, mountReason) {
			t.Errorf("workspace %s: %v", d, err)
		}
	}
}

// The user's home directory and every directory above it; a project inside
// it is what a workspace is for.
func TestWorkspaceHome(t *testing.T) {
	root := tempDir(t)
	home := mkdir(t, root, "home/me")
	project := mkdir(t, home, "src/project")
	linked := filepath.Join(root, "home-link")
	if err := os.Symlink(home, linked); err != nil {
		t.Fatal(err)
	}
	defs := mkdir(t, root, "defs")
	for _, cfg := range []Config{{Home: home}, {Home: linked}} {
		for _, tt := range []struct {
			workspace, reason string
		}{
			{home, strconv.Quote(home) + " is your home directory, which no bottle may mount; use a project directory inside it"},
			{linked, strconv.Quote(home) + " is your home directory, which no bottle may mount; use a project directory inside it"},
			{filepath.Dir(home), strconv.Quote(filepath.Dir(home)) + " contains your home directory, which no bottle may mount; use a project directory inside it"},
			{root, strconv.Quote(root) + " contains your home directory, which no bottle may mount; use a project directory inside it"},
			{filepath.Dir(root), strconv.Quote(filepath.Dir(root)) + " contains your home directory, which no bottle may mount; use a project directory inside it"},
		} {
			_, file, err := loadWorkspace(t, defs, tt.workspace, cfg)
			checkError(t, err, file, "workspace", tt.reason)
		}
		def, _, err := loadWorkspace(t, defs, filepath.Join(linked, "src/project"), cfg)
		if err != nil || def.Workspace != project {
			t.Errorf("a project in the home directory (HOME=%s): %v", cfg.Home, err)
		}
	}
}

// bottle's own configuration, trust store and data: a bottle that could
// write them could add definitions that need no trust, trust its own, or
// rewrite another agent's copy of a repository.
func TestWorkspaceBottleDirectories(t *testing.T) {
	root := tempDir(t)
	cfg := Config{ConfigDir: mkdir(t, root, "config/bottle"), StateDir: mkdir(t, root, "state/bottle"), DataDir: mkdir(t, root, "data/bottle")}
	copies := mkdir(t, cfg.DataDir, "copies")
	agents := mkdir(t, cfg.ConfigDir, "agents")
	defs := mkdir(t, root, "defs")
	for _, tt := range []struct {
		workspace, reason string
	}{
		{cfg.ConfigDir, strconv.Quote(cfg.ConfigDir) + " is " + cfg.ConfigDir + " (bottle's configuration)" + mountReason},
		{filepath.Dir(cfg.ConfigDir), strconv.Quote(filepath.Dir(cfg.ConfigDir)) + " contains " + cfg.ConfigDir + " (bottle's configuration)" + mountReason},
		{agents, strconv.Quote(agents) + " lies inside " + cfg.ConfigDir + " (bottle's configuration)" + mountReason},
		{cfg.StateDir, strconv.Quote(cfg.StateDir) + " is " + cfg.StateDir + " (bottle's trust store)" + mountReason},
		{filepath.Dir(cfg.StateDir), strconv.Quote(filepath.Dir(cfg.StateDir)) + " contains " + cfg.StateDir + " (bottle's trust store)" + mountReason},
		{copies, strconv.Quote(copies) + " lies inside " + cfg.DataDir + " (the agents' copies of repositories)" + mountReason},
		{filepath.Dir(cfg.DataDir), strconv.Quote(filepath.Dir(cfg.DataDir)) + " contains " + cfg.DataDir + " (the agents' copies of repositories)" + mountReason},
		{root, strconv.Quote(root) + " contains " + cfg.ConfigDir + " (bottle's configuration)" + mountReason},
	} {
		_, file, err := loadWorkspace(t, defs, tt.workspace, cfg)
		checkError(t, err, file, "workspace", tt.reason)
	}
	// Not there yet: refused all the same, by name.
	unmade := Config{StateDir: filepath.Join(root, "nothing/bottle")}
	_, file, err := loadWorkspace(t, defs, root, unmade)
	checkError(t, err, file, "workspace", strconv.Quote(root)+" contains "+unmade.StateDir+" (bottle's trust store)"+mountReason)
}

// The definition's own directory as the workspace would let the agent
// rewrite its own policy; below the workspace, Mounts makes it read-only.
func TestWorkspaceDefinitionDirectory(t *testing.T) {
	repo := tempDir(t)
	defs := mkdir(t, repo, ".bottle/agents")
	reason := strconv.Quote(defs) + " is the directory of the definition itself, which the agent could then rewrite; " +
		"move the definition into a subdirectory of the workspace or out of it"
	for _, ws := range []string{".", defs, "../agents/", "../../.bottle/agents"} {
		_, file, err := loadWorkspace(t, defs, ws, Config{})
		checkError(t, err, file, "workspace", reason)
	}
	// Through a link to the definition's directory, from the workspace's side or the definition's.
	if err := os.Symlink(defs, filepath.Join(repo, "defs-link")); err != nil {
		t.Fatal(err)
	}
	_, file, err := loadWorkspace(t, defs, filepath.Join(repo, "defs-link"), Config{})
	checkError(t, err, file, "workspace", reason)
	elsewhere := tempDir(t)
	target := writeFile(t, defs, "b.json", `{"image": "x", "workspace": "."}`)
	linkedDef := filepath.Join(elsewhere, "b.json")
	if err := os.Symlink(target, linkedDef); err != nil {
		t.Fatal(err)
	}
	_, err = Load(filepath.Join(elsewhere, "b.json"), Config{}) // "." is elsewhere: allowed
	if err != nil {
		t.Errorf("a link to a definition whose workspace is the link's directory: %v", err)
	}
	if err := os.WriteFile(target, []byte(`{"image": "x", "workspace": "`+defs+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(linkedDef, Config{})
	checkError(t, err, linkedDef, "workspace", reason)

	def, _, err := loadWorkspace(t, defs, "../..", Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Source: repo, Target: "/workspace"},
		{Source: filepath.Join(repo, ".bottle"), Target: "/workspace/.bottle"},
		{Source: defs, Target: "/workspace/.bottle/agents", ReadOnly: true},
	}
	if got := def.Mounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %+v, want %+v", got, want)
	}
}

func TestCheckWorkspace(t *testing.T) {
	root := tempDir(t)
	data := mkdir(t, root, "engine/data")
	link := filepath.Join(root, "data-link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir, reason string
	}{
		{data, strconv.Quote(data) + " is " + data + mountReason},
		{filepath.Join(root, "engine"), strconv.Quote(filepath.Join(root, "engine")) + " contains " + data + mountReason},
		{mkdir(t, data, "volumes"), strconv.Quote(filepath.Join(data, "volumes")) + " lies inside " + data + mountReason},
		{"/etc", `"/etc" is /etc` + mountReason},
	} {
		for _, forbidden := range []string{data, link} {
			err := CheckWorkspace(tt.dir, "/nonexistent/socket-dir", forbidden)
			if err == nil || err.Error() != tt.reason {
				t.Errorf("CheckWorkspace(%s, %s): %v, want %s", tt.dir, forbidden, err, tt.reason)
			}
		}
	}
	if err := CheckWorkspace(mkdir(t, root, "project"), data); err != nil {
		t.Errorf("a project beside the forbidden directory: %v", err)
	}
}
