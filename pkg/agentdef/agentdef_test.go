package agentdef

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// mkdir makes dir/name and returns its path with symlinks resolved, as Load
// returns workspaces.
func mkdir(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

// tempDir is t.TempDir with symlinks resolved (on some systems /tmp is a link).
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkError fails unless err is an *Error with exactly these fields.
func checkError(t *testing.T, err error, file, key, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *Error", err, err)
	}
	if e.File != file || e.Key != key || e.Reason != reason {
		t.Errorf("got\n  File %q\n  Key %q\n  Reason %q\nwant\n  File %q\n  Key %q\n  Reason %q", e.File, e.Key, e.Reason, file, key, reason)
	}
}

const fullDefinition = `{
  "image": "bottle-demo:latest",
  "command": ["sleep", "infinity"],
  "env": {"TERM": "xterm-256color", "_X1": "a\nb"},
  "workdir": "/work/",
  "workspace": "./ws",
  "sidecars": [
    {"name": "egress", "image": "bottle-egress:latest", "command": [], "env": {}},
    {"name": "dlp-2", "image": "bottle-dlp", "command": ["dlp", "--strict"], "env": {"LEVEL": "high"},
     "cap_add": ["CAP_SETUID"], "pids_limit": 64, "memory": "64m", "cpus": 0.25}
  ],
  "egress": {"allow": ["API.Anthropic.com.", "*.githubusercontent.com", "10.0.0.1"]},
  "user": "agent",
  "read_only": true,
  "pids_limit": 256,
  "cap_add": ["NET_BIND_SERVICE"],
  "memory": "1.5g",
  "cpus": 0.5
}`

func TestLoadFullDefinition(t *testing.T) {
	dir := tempDir(t)
	mkdir(t, dir, "ws")
	file := writeFile(t, dir, "reviewer.json", fullDefinition)
	got, err := Load(file, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Definition{
		Name:      "reviewer",
		File:      file,
		Dir:       dir,
		Image:     "bottle-demo:latest",
		Command:   []string{"sleep", "infinity"},
		Env:       map[string]string{"TERM": "xterm-256color", "_X1": "a\nb"},
		Workdir:   "/work",
		Workspace: filepath.Join(dir, "ws"),
		Sidecars: []Sidecar{
			{Name: "egress", Image: "bottle-egress:latest", Env: map[string]string{},
				PidsLimit: DefaultPidsLimit, Limits: Limits{Memory: DefaultSidecarMemory, CPUs: DefaultSidecarCPUs}},
			{Name: "dlp-2", Image: "bottle-dlp", Command: []string{"dlp", "--strict"}, Env: map[string]string{"LEVEL": "high"},
				CapAdd: []string{"SETUID"}, PidsLimit: 64, Limits: Limits{Memory: 64 << 20, CPUs: 0.25}},
		},
		Egress:    Egress{Allow: []string{"api.anthropic.com", "*.githubusercontent.com", "10.0.0.1"}},
		User:      "agent",
		ReadOnly:  true,
		PidsLimit: 256,
		CapAdd:    []string{"NET_BIND_SERVICE"},
		Limits:    Limits{Memory: 3 << 29, CPUs: 0.5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		name, json string
		want       Definition
	}{
		{"minimal", `{"image": "x"}`, Definition{}},
		{"nulls are absent", `{"image": "x", "command": null, "env": null, "workdir": null,
			"workspace": null, "sidecars": null, "egress": null}`, Definition{}},
		{"empty command is the image's own", `{"image": "x", "command": [], "sidecars": [], "egress": {"allow": []}}`, Definition{}},
		{"workspace implies workdir", `{"image": "x", "workspace": "ws"}`, Definition{Workspace: "DIR/ws", Workdir: "/workspace"}},
		{"workdir without workspace", `{"image": "x", "workdir": "/src"}`, Definition{Workdir: "/src"}},
		{"absolute workspace", `{"image": "x", "workspace": "DIR/ws/./", "workdir": "/w"}`, Definition{Workspace: "DIR/ws", Workdir: "/w"}},
		{"workspace through a link", `{"image": "x", "workspace": "link"}`, Definition{Workspace: "DIR/ws", Workdir: "/workspace"}},
		{"workspace above the definition", `{"image": "x", "workspace": ".."}`, Definition{Workspace: "PARENT", Workdir: "/workspace"}},
		{"confinement", `{"image": "x", "user": "1000:1000", "read_only": true, "pids_limit": 64, "cap_add": ["cap_net_bind_service", "CHOWN"]}`,
			Definition{User: "1000:1000", ReadOnly: true, PidsLimit: 64, CapAdd: []string{"NET_BIND_SERVICE", "CHOWN"}}},
		{"sidecar nulls", `{"image": "x", "sidecars": [{"name": "s", "image": "y", "command": null, "env": null,
			"cap_add": null, "pids_limit": null, "memory": null, "cpus": null}], "egress": {"allow": null},
			"memory": null, "cpus": null}`,
			Definition{Sidecars: []Sidecar{{Name: "s", Image: "y", Env: map[string]string{},
				PidsLimit: DefaultPidsLimit, Limits: Limits{Memory: DefaultSidecarMemory, CPUs: DefaultSidecarCPUs}}}}},
		{"limits", `{"image": "x", "memory": "512m", "cpus": 2.5, "sidecars": [{"name": "s", "image": "y", "memory": "6m", "cpus": 0.01}]}`,
			Definition{Limits: Limits{Memory: 512 << 20, CPUs: 2.5}, Sidecars: []Sidecar{{Name: "s", Image: "y", Env: map[string]string{},
				PidsLimit: DefaultPidsLimit, Limits: Limits{Memory: 6 << 20, CPUs: 0.01}}}}},
		{"egress sidecar with an empty command and other env", `{"image": "x", "sidecars": [{"name": "egress", "image": "y", "command": [], "env": {"TZ": "UTC"}}]}`,
			Definition{Sidecars: []Sidecar{{Name: "egress", Image: "y", Env: map[string]string{"TZ": "UTC"},
				PidsLimit: DefaultPidsLimit, Limits: Limits{Memory: DefaultSidecarMemory, CPUs: DefaultSidecarCPUs}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := tempDir(t)
			dir := mkdir(t, parent, "defs")
			mkdir(t, dir, "ws")
			if err := os.Symlink("ws", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			file := writeFile(t, dir, "a.json", strings.ReplaceAll(tt.json, "DIR", dir))
			got, err := Load(file, Config{})
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Name, want.File, want.Dir, want.Image = "a", file, dir, "x"
			want.Env = map[string]string{}
			if want.PidsLimit == 0 {
				want.PidsLimit = DefaultPidsLimit
			}
			if want.Limits == (Limits{}) {
				want.Limits = Limits{Memory: DefaultMemory, CPUs: DefaultCPUs}
			}
			want.Workspace = strings.NewReplacer("DIR", dir, "PARENT", parent).Replace(want.Workspace)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %#v\nwant %#v", *got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	const valid = `"image": "x"`
	manySidecars := `{"image": "x", "sidecars": [` + strings.Repeat(`{"name": "s", "image": "x"},`, 16) + `{"name": "s", "image": "x"}]}`
	deep := `{"image": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	tests := []struct {
		name, json, key, reason string
	}{
		// the file as a whole
		{"empty", " \n", "", "is empty; it must hold a JSON object"},
		{"syntax", `{"image": "x",}`, "", `invalid JSON at line 1, column 15: invalid character '}' looking for beginning of object key string`},
		{"syntax on line 2", "{\n  \"image\": x}", "", `invalid JSON at line 2, column 12: invalid character 'x' looking for beginning of value`},
		{"syntax after non-ASCII", "{\"é\": x}", "", `invalid JSON at line 1, column 7: invalid character 'x' looking for beginning of value`},
		{"truncated", `{"image": "x"`, "", `invalid JSON at line 1, column 14: unexpected end of JSON input`},
		{"trailing data", `{"image": "x"} {}`, "", `invalid JSON at line 1, column 16: invalid character '{' after top-level value`},
		{"top level array", `[{"image": "x"}]`, "", "must hold a JSON object at the top level, not an array"},
		{"top level null", `null`, "", "must hold a JSON object at the top level, not null"},
		{"too deep", deep, "image" + strings.Repeat("[0]", 31), "nested more than 32 levels deep"},

		// strict keys
		{"unknown key near", `{"imag": "x"}`, "imag", `unknown key; did you mean "image"?`},
		{"unknown key case", `{"Image": "x"}`, "Image", `unknown key; did you mean "image"?`},
		{"unknown key far", `{` + valid + `, "volumes": []}`, "volumes", "unknown key; the keys here are image, pull, command, env, workdir, workspace, sidecars, egress, secrets, ports, user, read_only, pids_limit, cap_add, memory, cpus, smolmachines"},
		{"unknown key odd", `{"a b\t": 1}`, `["a b\t"]`, "unknown key; the keys here are image, pull, command, env, workdir, workspace, sidecars, egress, secrets, ports, user, read_only, pids_limit, cap_add, memory, cpus, smolmachines"},
		{"unknown key NUL", `{"\u0000": 1}`, `["\x00"]`, "unknown key; the keys here are image, pull, command, env, workdir, workspace, sidecars, egress, secrets, ports, user, read_only, pids_limit, cap_add, memory, cpus, smolmachines"},
		{"unknown sidecar key", `{` + valid + `, "sidecars": [{"name": "a", "imgae": "x"}]}`, "sidecars[0].imgae", `unknown key; did you mean "image"?`},
		{"unknown sidecar key far", `{` + valid + `, "sidecars": [{"name": "a", "privileged": true}]}`, "sidecars[0].privileged", `unknown key; the keys here are name, image, command, env, cap_add, pids_limit, memory, cpus`},
		{"unknown egress key", `{` + valid + `, "egress": {"alow": []}}`, "egress.alow", `unknown key; did you mean "allow"?`},
		{"unknown egress key far", `{` + valid + `, "egress": {"deny": []}}`, "egress.deny", `unknown key; the keys here are allow`},
		{"first problem in file order", `{"bogus": 1, "image": 2}`, "bogus", "unknown key; the keys here are image, pull, command, env, workdir, workspace, sidecars, egress, secrets, ports, user, read_only, pids_limit, cap_add, memory, cpus, smolmachines"},
		{"duplicate key", "{\"image\": \"a\",\n\"image\": \"b\"}", "image", "duplicate key (first given at line 1)"},
		{"duplicate env key", "{" + valid + ",\n\"env\": {\n\"A\": \"1\",\n\"A\": \"2\"}}", "env.A", "duplicate key (first given at line 3)"},
		{"duplicate unknown key", `{"x": 1, "x": 2}`, "x", "duplicate key (first given at line 1)"},

		// types
		{"image type", `{"image": 1}`, "image", "must be a string, not a number"},
		{"command type", `{` + valid + `, "command": "sleep infinity"}`, "command", "must be an array of strings, not a string"},
		{"command item type", `{` + valid + `, "command": ["a", 1]}`, "command[1]", "must be a string, not a number"},
		{"command item null", `{` + valid + `, "command": [null]}`, "command[0]", "must be a string, not null"},
		{"env type", `{` + valid + `, "env": ["A=1"]}`, "env", "must be an object of strings, not an array"},
		{"env value type", `{` + valid + `, "env": {"FOO": true}}`, "env.FOO", "must be a string, not a boolean"},
		{"env value null", `{` + valid + `, "env": {"FOO": null}}`, "env.FOO", "must be a string, not null"},
		{"workdir type", `{` + valid + `, "workdir": ["/"]}`, "workdir", "must be a string, not an array"},
		{"workdir bottle's", `{` + valid + `, "workdir": "/.bottle/../.bottle/x"}`, "workdir", `"/.bottle/../.bottle/x" is where bottle keeps its own tools inside the agent; choose another directory`},
		{"workspace type", `{` + valid + `, "workspace": 1e999}`, "workspace", "must be a string, not a number"},
		{"sidecars type", `{` + valid + `, "sidecars": {}}`, "sidecars", "must be an array of objects, not an object"},
		{"sidecar type", `{` + valid + `, "sidecars": ["egress"]}`, "sidecars[0]", "must be an object, not a string"},
		{"sidecar null", `{` + valid + `, "sidecars": [null]}`, "sidecars[0]", "must be an object, not null"},
		{"sidecar name type", `{` + valid + `, "sidecars": [{"name": 1}]}`, "sidecars[0].name", "must be a string, not a number"},
		{"sidecar image type", `{` + valid + `, "sidecars": [{"name": "a", "image": false}]}`, "sidecars[0].image", "must be a string, not a boolean"},
		{"sidecar command type", `{` + valid + `, "sidecars": [{"name": "a", "image": "x", "command": "run"}]}`, "sidecars[0].command", "must be an array of strings, not a string"},
		{"sidecar env type", `{` + valid + `, "sidecars": [{"name": "a", "image": "x", "env": "A=1"}]}`, "sidecars[0].env", "must be an object of strings, not a string"},
		{"egress type", `{` + valid + `, "egress": ["x.com"]}`, "egress", "must be an object, not an array"},
		{"egress allow type", `{` + valid + `, "egress": {"allow": "x.com"}}`, "egress.allow", "must be an array of strings, not a string"},
		{"egress allow item type", `{` + valid + `, "egress": {"allow": [1]}}`, "egress.allow[0]", "must be a string, not a number"},

		// image
		{"image missing", `{}`, "image", "required"},
		{"image null", `{"image": null}`, "image", "required"},
		{"image empty", `{"image": ""}`, "image", "must not be empty"},
		{"image space", `{"image": "a b"}`, "image", `"a b" must not contain whitespace or control characters`},
		{"image control", `{"image": "a\u001bb"}`, "image", `"a\x1bb" must not contain whitespace or control characters`},
		{"image flag", `{"image": "--privileged"}`, "image", `"--privileged" must not start with "-"`},
		{"user bad", `{"image": "x", "user": "root; rm"}`, "user", `"root; rm" is not a user or user:group (names or numeric ids)`},
		{"user type", `{"image": "x", "user": 0}`, "user", `must be a string, not a number`},
		{"read_only type", `{"image": "x", "read_only": "yes"}`, "read_only", `must be a boolean, not a string`},
		{"pids_limit fraction", `{"image": "x", "pids_limit": 1.5}`, "pids_limit", `1.5 must be a whole number from 16 to 4194304`},
		{"pids_limit small", `{"image": "x", "pids_limit": 1}`, "pids_limit", `1 must be a whole number from 16 to 4194304`},
		{"pids_limit type", `{"image": "x", "pids_limit": "many"}`, "pids_limit", `must be a whole number, not a string`},
		{"cap_add all", `{"image": "x", "cap_add": ["ALL"]}`, "cap_add[0]", capReason("ALL")},
		{"cap_add bad", `{"image": "x", "cap_add": ["CHOWN", "net admin"]}`, "cap_add[1]", capReason("net admin")},
		{"cap_add type", `{"image": "x", "cap_add": "CHOWN"}`, "cap_add", "must be an array of strings, not a string"},
		{"image too long", `{"image": "` + strings.Repeat("a", 256) + `"}`, "image", "must be at most 255 characters long"},

		// NUL anywhere
		{"NUL in image", `{"image": "a\u0000"}`, "image", "must not contain a NUL character"},
		{"NUL in command", `{` + valid + `, "command": ["a", "b\u0000"]}`, "command[1]", "must not contain a NUL character"},
		{"NUL in env value", `{` + valid + `, "env": {"A": "\u0000"}}`, "env.A", "must not contain a NUL character"},
		{"NUL in workspace", `{` + valid + `, "workspace": "a\u0000"}`, "workspace", "must not contain a NUL character"},

		// other values
		{"env key digit", `{` + valid + `, "env": {"1A": "x"}}`, `env["1A"]`, `not a valid variable name: use letters, digits and "_", not starting with a digit`},
		{"env key hyphen", `{` + valid + `, "env": {"A-B": "x"}}`, `env.A-B`, `not a valid variable name: use letters, digits and "_", not starting with a digit`},
		{"env key equals", `{` + valid + `, "env": {"A=B": "x"}}`, `env["A=B"]`, `not a valid variable name: use letters, digits and "_", not starting with a digit`},
		{"env key empty", `{` + valid + `, "env": {"": "x"}}`, `env[""]`, `not a valid variable name: use letters, digits and "_", not starting with a digit`},
		{"workdir relative", `{` + valid + `, "workdir": "work"}`, "workdir", `"work" must be an absolute path (starting with "/")`},
		{"workdir empty", `{` + valid + `, "workdir": ""}`, "workdir", `"" must be an absolute path (starting with "/")`},
		{"workdir control", `{` + valid + `, "workdir": "/a\nb"}`, "workdir", `"/a\nb" must not contain control characters`},
		{"workspace missing", `{` + valid + `, "workspace": "../DIRNAME/nope"}`, "workspace", `directory "DIR/nope" does not exist`},
		{"workspace file", `{` + valid + `, "workspace": "a.json"}`, "workspace", `"DIR/a.json" is not a directory`},
		{"workspace empty", `{` + valid + `, "workspace": ""}`, "workspace", "must not be empty; leave it out for no workspace"},

		// sidecars
		{"sidecar name missing", `{` + valid + `, "sidecars": [{"image": "x"}]}`, "sidecars[0].name", "required"},
		{"sidecar image missing", `{` + valid + `, "sidecars": [{"name": "a", "image": null}]}`, "sidecars[0].image", "required"},
		{"sidecar image bad", `{` + valid + `, "sidecars": [{"name": "a", "image": "x y"}]}`, "sidecars[0].image", `"x y" must not contain whitespace or control characters`},
		{"sidecar name upper", `{` + valid + `, "sidecars": [{"name": "Egress", "image": "x"}]}`, "sidecars[0].name", `"Egress" is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`},
		{"sidecar name digit", `{` + valid + `, "sidecars": [{"name": "1a", "image": "x"}]}`, "sidecars[0].name", `"1a" is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`},
		{"sidecar name empty", `{` + valid + `, "sidecars": [{"name": "", "image": "x"}]}`, "sidecars[0].name", `"" is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`},
		{"sidecar name control", `{` + valid + `, "sidecars": [{"name": "a\tb", "image": "x"}]}`, "sidecars[0].name", `"a\tb" is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`},
		{"sidecar name long", `{` + valid + `, "sidecars": [{"name": "` + strings.Repeat("a", 33) + `", "image": "x"}]}`, "sidecars[0].name", `"` + strings.Repeat("a", 33) + `" is not a valid sidecar name: use 1 to 32 characters of a-z, 0-9 and "-", starting with a letter`},
		{"sidecar name duplicate", `{` + valid + `, "sidecars": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}, {"name": "a", "image": "y"}]}`, "sidecars[2].name", `"a" is already the name of sidecars[0]; sidecar names must be unique`},
		{"too many sidecars", manySidecars, "sidecars", "at most 16 sidecars are allowed, not 17"},

		// egress
		// The grammar is pkg/egress/rules's (tested there); the definition names the entry.
		{"egress URL", `{` + valid + `, "egress": {"allow": ["a.com", "https://x.com"]}}`, "egress.allow[1]", egressReason("https://x.com")},
		{"egress bare star", `{` + valid + `, "egress": {"allow": ["*"]}}`, "egress.allow[0]", egressReason("*")},
		{"egress control", `{` + valid + `, "egress": {"allow": ["a.com\n"]}}`, "egress.allow[0]", egressReason("a.com\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			file := writeFile(t, dir, "a.json", strings.ReplaceAll(tt.json, "DIRNAME", filepath.Base(dir)))
			def, err := Load(file, Config{})
			if def != nil {
				t.Errorf("got a definition %+v", def)
			}
			checkError(t, err, file, tt.key, strings.ReplaceAll(tt.reason, "DIR", dir))
		})
	}
}

func TestLoadLimits(t *testing.T) {
	dir := t.TempDir()
	ok := writeFile(t, dir, "ok.json", `{"image": "`+strings.Repeat("a", 255)+`", "egress": {"allow": ["*.`+strings.Repeat("a", 63)+`", "`+strings.Repeat("a.", 127)+`"]}}`)
	if _, err := Load(ok, Config{}); err != nil {
		t.Errorf("longest image, label and host: %v", err)
	}
	sixteen := writeFile(t, dir, "sixteen.json", `{"image": "x", "sidecars": [`+strings.TrimSuffix(strings.Repeat(`{"name": "s", "image": "x"},`, 16), ",")+`]}`)
	if _, err := Load(sixteen, Config{}); err == nil || !strings.Contains(err.Error(), "sidecars[1].name") {
		t.Errorf("16 sidecars should pass the count check and fail on the duplicate name: %v", err)
	}
	padded := `{"image": "x"}` + strings.Repeat(" ", 1<<20-len(`{"image": "x"}`))
	if _, err := Load(writeFile(t, dir, "max.json", padded), Config{}); err != nil {
		t.Errorf("1 MiB file: %v", err)
	}
	big := writeFile(t, dir, "big.json", padded+" ")
	_, err := Load(big, Config{})
	checkError(t, err, big, "", "is larger than 1 MiB")
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	_, err := Load(missing, Config{})
	checkError(t, err, missing, "", "no such file")

	isDir := filepath.Join(dir, "d.json")
	if err := os.Mkdir(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Load(isDir, Config{})
	checkError(t, err, isDir, "", "is a directory, not a definition file")

	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	_, err = Load(fifo, Config{})
	checkError(t, err, fifo, "", "is not a regular file")
}

func TestLoadRelativePath(t *testing.T) {
	dir := tempDir(t)
	if err := os.Mkdir(filepath.Join(dir, "defs"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "defs/my-agent.json", `{"image": "x", "workspace": ".."}`)
	t.Chdir(dir)
	def, err := Load("defs/my-agent.json", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "my-agent" || def.File != filepath.Join(dir, "defs", "my-agent.json") || def.Workspace != dir {
		t.Errorf("got Name %q, File %q, Workspace %q", def.Name, def.File, def.Workspace)
	}
}

func TestLoadNames(t *testing.T) {
	dir := t.TempDir()
	const rule = `agent names are 1 to 56 characters: a-z and 0-9 in groups joined by single "-" (no leading, trailing or doubled "-")`
	for _, ref := range []string{"", "Reviewer", "-a", "a-", "a--b", "a\tb", "a\nb", "a_b", strings.Repeat("a", 57)} {
		_, err := Load(ref, Config{SearchPath: []string{dir}})
		checkError(t, err, ref, "", "not a valid agent name: "+rule)
	}
	for _, ref := range []string{"a/b", "..", "../x", "x.JSON"} {
		_, err := Load(ref, Config{SearchPath: []string{dir}})
		checkError(t, err, ref, "", "not a valid agent name: "+rule+`; to load a file, give a path ending in ".json"`)
	}
	for _, ref := range []string{"My Agent.json", dir + "/-x.json", dir + "/x-.json", dir + "/.json", dir + "/a_b.json"} {
		name := strings.TrimSuffix(filepath.Base(ref), ".json")
		_, err := Load(ref, Config{SearchPath: []string{dir}})
		checkError(t, err, ref, "", `the file name gives the agent name "`+name+`", which is not allowed: `+rule)
	}
	longest := strings.Repeat("a", 56)
	writeFile(t, dir, longest+".json", `{"image": "x"}`)
	if def, err := Load(longest, Config{SearchPath: []string{dir}}); err != nil || def.Name != longest {
		t.Errorf("56-character name: %v", err)
	}
	if def, err := Load(filepath.Join(dir, longest+".json"), Config{}); err != nil || def.Name != longest {
		t.Errorf("56-character file name: %v", err)
	}
}

func TestLoadSearch(t *testing.T) {
	first, second, empty := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, first, "a.json", `{"image": "first"}`)
	writeFile(t, second, "a.json", `{"image": "second"}`)
	writeFile(t, second, "b.json", `{"image": "b"}`)
	writeFile(t, second, "bad.json", `{"image": 1}`)
	notDir := writeFile(t, first, "plain", "")
	path := []string{notDir, empty, first, second}

	for name, image := range map[string]string{"a": "first", "b": "b"} {
		def, err := Load(name, Config{SearchPath: path})
		if err != nil {
			t.Fatal(err)
		}
		if def.Image != image || def.Name != name {
			t.Errorf("Load(%q) = %q from %s, want image %q", name, def.Image, def.File, image)
		}
	}

	_, err := Load("bad", Config{SearchPath: path})
	checkError(t, err, filepath.Join(second, "bad.json"), "image", "must be a string, not a number")

	_, err = Load("nope", Config{SearchPath: path})
	checkError(t, err, "nope", "", "no definition nope.json in "+strings.Join(path, ", ")+"; available agents: a, b, bad")

	_, err = Load("nope", Config{SearchPath: []string{empty}})
	checkError(t, err, "nope", "", "no definition nope.json in "+empty)

	_, err = Load("nope", Config{})
	checkError(t, err, "nope", "", "no definition nope.json: the search path is empty (set BOTTLE_AGENT_PATH)")
}

func TestNames(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for _, name := range []string{"zed.json", "a.json", "Upper.json", "-x.json", "notes.txt", "x.json.bak"} {
		writeFile(t, first, name, "{}")
	}
	writeFile(t, second, "a.json", "{}")
	writeFile(t, second, "m-1.json", "{}")
	if err := os.Mkdir(filepath.Join(second, "dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(first, "zed.json"), filepath.Join(second, "link.json")); err != nil {
		t.Fatal(err)
	}
	got := Names([]string{first, filepath.Join(first, "missing"), second})
	want := []string{"a", "link", "m-1", "zed"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Names(nil); len(got) != 0 {
		t.Errorf("Names(nil) = %q", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"agent path", map[string]string{"BOTTLE_AGENT_PATH": "/a::b:", "XDG_CONFIG_HOME": "/x", "XDG_STATE_HOME": "/s", "XDG_DATA_HOME": "/d", "HOME": "/h"},
			Config{SearchPath: []string{"/a", "b"}, Home: "/h", ConfigDir: "/x/bottle", StateDir: "/s/bottle", DataDir: "/d/bottle"}},
		{"agent path of empty entries", map[string]string{"BOTTLE_AGENT_PATH": "::", "HOME": "/h"},
			Config{Home: "/h", ConfigDir: "/h/.config/bottle", StateDir: "/h/.local/state/bottle", DataDir: "/h/.local/share/bottle"}},
		{"XDG", map[string]string{"XDG_CONFIG_HOME": "/x", "XDG_STATE_HOME": "/s/", "XDG_DATA_HOME": "/d/", "HOME": "/h"},
			Config{SearchPath: []string{"/x/bottle/agents", "./.bottle/agents"}, Home: "/h", ConfigDir: "/x/bottle", StateDir: "/s/bottle", DataDir: "/d/bottle"}},
		{"HOME", map[string]string{"HOME": "/h/"},
			Config{SearchPath: []string{"/h/.config/bottle/agents", "./.bottle/agents"}, Home: "/h", ConfigDir: "/h/.config/bottle", StateDir: "/h/.local/state/bottle", DataDir: "/h/.local/share/bottle"}},
		{"relative XDG is ignored", map[string]string{"XDG_CONFIG_HOME": "x", "XDG_STATE_HOME": "s", "XDG_DATA_HOME": "d", "HOME": "/h"},
			Config{SearchPath: []string{"/h/.config/bottle/agents", "./.bottle/agents"}, Home: "/h", ConfigDir: "/h/.config/bottle", StateDir: "/h/.local/state/bottle", DataDir: "/h/.local/share/bottle"}},
		{"relative HOME is ignored", map[string]string{"HOME": "h"}, Config{SearchPath: []string{"./.bottle/agents"}}},
		{"neither", map[string]string{}, Config{SearchPath: []string{"./.bottle/agents"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConfigFromEnv(func(key string) string { return tt.env[key] })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.json", Key: "sidecars[1].image", Reason: "required"}, "a.json: sidecars[1].image: required"},
		{Error{File: "a.json", Reason: "no such file"}, "a.json: no such file"},
		{Error{File: "a\nb", Reason: "not a valid agent name"}, `"a\nb": not a valid agent name`},
		{Error{File: "a\xffb.json", Reason: "no such file"}, `"a\xffb.json": no such file`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		fullDefinition,
		`{"image": "x", "workspace": "ws"}`,
		`{"image": "x", "memory": "1.5g", "cpus": 0.5, "sidecars": [{"name": "egress", "image": "y", "cap_add": ["KILL"]}]}`,
		`{"image": "x", "sidecars": [{"name": "a", "image": "y", "env": {"A": "1"}}], "egress": {"allow": ["*.A.com."]}}`,
		`{"image": "x", "image": "y"}`,
		`{"image": "x", "env": {"A": "1"}, "secrets": {"B": {"from_env": "B", "hosts": ["API.x.com."]}, "A_1": {"from_file": "/t", "hosts": ["*.x.com", "api.x.com"]}}}`,
		`{"image": [[[[]]]]}`,
		"{\"image\": \"a\u0000\"}",
		`{"env": {"": null}, "command": []}`,
		`[1, "two", null, true, {"k": 1e400}]`,
		`{"image": "x"`,
		"",
	} {
		f.Add([]byte(seed))
	}
	dir := tempDir(f)
	mkdir(f, dir, "ws")
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "fuzz.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		def, err := Load(file, Config{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || def != nil {
				t.Fatalf("got %v (%T) and %v", err, err, def)
			}
			if e.File != file || hasControl(e.Error()) {
				t.Fatalf("error %q names the wrong file or holds control characters", e.Error())
			}
			return
		}
		if def.Image == "" || def.Env == nil || def.Name != "fuzz" || def.Memory < minMemory || def.CPUs < minCPUs {
			t.Fatalf("defaults not applied: %+v", def)
		}
		if def.Workspace == dir {
			t.Fatalf("the definition's own directory became the workspace")
		}
		labels := []string{def.Image, def.Workdir}
		for _, s := range def.Sidecars {
			if s.Env == nil || s.Image == "" || !validSidecarName(s.Name) || s.PidsLimit == 0 || s.Memory == 0 || s.CPUs == 0 {
				t.Fatalf("bad sidecar %+v", s)
			}
			labels = append(labels, s.Name, s.Image)
		}
		labels = append(labels, def.Egress.Allow...)
		if !slices.IsSortedFunc(def.Secrets, func(a, b Secret) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("secrets not sorted: %+v", def.Secrets)
		}
		for _, s := range def.Secrets {
			_, inEnv := def.Env[s.Name]
			if !validSecretName(s.Name) || inEnv || (s.FromEnv == "") == (s.FromFile == "") || len(s.Hosts) == 0 || s.Value != "" ||
				s.FromFile != "" && !filepath.IsAbs(s.FromFile) {
				t.Fatalf("bad secret %+v", s)
			}
			for _, h := range s.Hosts {
				if !slices.Contains(def.Egress.Allow, h) {
					t.Fatalf("secret %s's host %q is not in egress.allow %q", s.Name, h, def.Egress.Allow)
				}
			}
		}
		for _, c := range append(def.CapAdd, capsOfSidecars(def)...) {
			if !slices.Contains(SafeCapabilities, c) {
				t.Fatalf("capability %q let through", c)
			}
		}
		for _, label := range labels {
			if hasControl(label) {
				t.Fatalf("control character in %q", label)
			}
		}
	})
}

func egressReason(entry string) string {
	_, err := rules.ParsePattern(entry)
	if err == nil {
		panic(entry + " is a valid pattern")
	}
	return err.Error()
}

func capsOfSidecars(def *Definition) []string {
	var caps []string
	for _, s := range def.Sidecars {
		caps = append(caps, s.CapAdd...)
	}
	return caps
}

func capReason(given string) string {
	return `"` + given + `" is not allowed: a bottle may be given back only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETGID, SETPCAP, SETUID, SYS_CHROOT, which cannot break out of a container`
}
