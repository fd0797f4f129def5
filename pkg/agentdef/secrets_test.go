package agentdef

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestLoadSecrets(t *testing.T) {
	dir := tempDir(t)
	file := writeFile(t, dir, "a.json", `{
  "image": "x",
  "secrets": {
    "GH_TOKEN": {"from_file": "~/.config/gh/../gh/token", "hosts": ["API.github.com.", "*.githubusercontent.com", "api.github.com"]},
    "ANTHROPIC_API_KEY": {"from_env": "ANTHROPIC_API_KEY", "hosts": ["api.anthropic.com"]},
    "_other": {"from_file": "/etc//token", "hosts": ["api.anthropic.com"], "from_env": null}
  },
  "egress": {"allow": ["api.anthropic.com", "pypi.org"]},
  "env": {"TERM": "dumb"}
}`)
	def, err := Load(file, Config{Home: "/home/u"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Secret{
		{Name: "ANTHROPIC_API_KEY", FromEnv: "ANTHROPIC_API_KEY", Hosts: []string{"api.anthropic.com"}},
		{Name: "GH_TOKEN", FromFile: "/home/u/.config/gh/token", Hosts: []string{"api.github.com", "*.githubusercontent.com"}},
		{Name: "_other", FromFile: "/etc/token", Hosts: []string{"api.anthropic.com"}},
	}
	if !reflect.DeepEqual(def.Secrets, want) {
		t.Errorf("got  %+v\nwant %+v", def.Secrets, want)
	}
	allow := []string{"api.anthropic.com", "pypi.org", "api.github.com", "*.githubusercontent.com"}
	if !reflect.DeepEqual(def.Egress.Allow, allow) {
		t.Errorf("egress.allow is %q, want %q", def.Egress.Allow, allow)
	}

	// Hosts alone make the allowlist, and an empty secrets object is none.
	def, err = Load(writeFile(t, dir, "b.json", `{"image": "x", "secrets": {"K": {"hosts": ["a.com"], "from_env": "K"}}}`), Config{})
	if err != nil || !reflect.DeepEqual(def.Egress.Allow, []string{"a.com"}) {
		t.Errorf("got %v, %+v", err, def)
	}
	def, err = Load(writeFile(t, dir, "c.json", `{"image": "x", "secrets": {}}`), Config{})
	if err != nil || def.Secrets != nil || def.Egress.Allow != nil {
		t.Errorf("got %v, %+v", err, def)
	}
	def, err = Load(writeFile(t, dir, "d.json", `{"image": "x", "secrets": null}`), Config{})
	if err != nil || def.Secrets != nil {
		t.Errorf("got %v, %+v", err, def)
	}
}

func TestLoadSecretsErrors(t *testing.T) {
	const env = `{"from_env": "V", "hosts": ["a.com"]}`
	long := strings.Repeat("A", 65)
	nameRule := `not a valid variable name: use 1 to 64 letters, digits and "_", not starting with a digit`
	tests := []struct {
		name, json, key, reason string
	}{
		{"type", `{"image": "x", "secrets": ["A"]}`, "secrets", "must be an object, not an array"},
		{"value type", `{"image": "x", "secrets": {"A": "B"}}`, "secrets.A", "must be an object, not a string"},
		{"value null", `{"image": "x", "secrets": {"A": null}}`, "secrets.A", "must be an object, not null"},
		{"name digit", `{"image": "x", "secrets": {"1A": ` + env + `}}`, `secrets["1A"]`, nameRule},
		{"name hyphen", `{"image": "x", "secrets": {"A-B": ` + env + `}}`, `secrets.A-B`, nameRule},
		{"name empty", `{"image": "x", "secrets": {"": ` + env + `}}`, `secrets[""]`, nameRule},
		{"name long", `{"image": "x", "secrets": {"` + long + `": ` + env + `}}`, "secrets." + long, nameRule},
		{"name proxy", `{"image": "x", "secrets": {"HTTPS_PROXY": ` + env + `}}`, "secrets.HTTPS_PROXY", "HTTPS_PROXY is set by bottle itself in every agent; choose another name"},
		{"name proxy lower", `{"image": "x", "secrets": {"no_proxy": ` + env + `}}`, "secrets.no_proxy", "no_proxy is set by bottle itself in every agent; choose another name"},
		{"name CA", `{"image": "x", "secrets": {"NODE_EXTRA_CA_CERTS": ` + env + `}}`, "secrets.NODE_EXTRA_CA_CERTS", "NODE_EXTRA_CA_CERTS is set by bottle itself in every agent; choose another name"},
		{"name bottle's", `{"image": "x", "secrets": {"BOTTLE_SIDECAR_DAEMONS": ` + env + `}}`, "secrets.BOTTLE_SIDECAR_DAEMONS", "names starting with BOTTLE_ are bottle's own; choose another name"},
		{"name bottle's prefix", `{"image": "x", "secrets": {"BOTTLE_X": ` + env + `}}`, "secrets.BOTTLE_X", "names starting with BOTTLE_ are bottle's own; choose another name"},
		{"name in env", `{"image": "x", "secrets": {"A": ` + env + `}, "env": {"A": "1"}}`, "secrets.A", "A is also a key of env; give the variable in one place only"},
		{"name twice", "{\"image\": \"x\", \"secrets\": {\n\"A\": " + env + ",\n\"A\": " + env + "}}", "secrets.A", "duplicate key (first given at line 2)"},
		{"unknown key", `{"image": "x", "secrets": {"A": {"form_env": "V"}}}`, "secrets.A.form_env", `unknown key; did you mean "from_env"?`},
		{"unknown key far", `{"image": "x", "secrets": {"A": {"value": "V"}}}`, "secrets.A.value", "unknown key; the keys here are from_env, from_file, hosts"},
		{"both", `{"image": "x", "secrets": {"A": {"from_env": "V", "from_file": "/f", "hosts": ["a.com"]}}}`, "secrets.A", "has both from_env and from_file; give one of them"},
		{"neither", `{"image": "x", "secrets": {"A": {"hosts": ["a.com"]}}}`, "secrets.A", "needs from_env or from_file, where its value comes from"},
		{"no hosts", `{"image": "x", "secrets": {"A": {"from_env": "V"}}}`, "secrets.A.hosts", "required: the hosts the secret may be sent to"},
		{"hosts empty", `{"image": "x", "secrets": {"A": {"from_env": "V", "hosts": []}}}`, "secrets.A.hosts", "must not be empty: give the hosts the secret may be sent to"},
		{"hosts type", `{"image": "x", "secrets": {"A": {"from_env": "V", "hosts": "a.com"}}}`, "secrets.A.hosts", "must be an array of strings, not a string"},
		{"host bad", `{"image": "x", "secrets": {"A": {"from_env": "V", "hosts": ["a.com", "https://a.com"]}}}`, "secrets.A.hosts[1]", egressReason("https://a.com")},
		{"host star", `{"image": "x", "secrets": {"A": {"from_env": "V", "hosts": ["*"]}}}`, "secrets.A.hosts[0]", egressReason("*")},
		{"from_env type", `{"image": "x", "secrets": {"A": {"from_env": 1, "hosts": ["a.com"]}}}`, "secrets.A.from_env", "must be a string, not a number"},
		{"from_env bad", `{"image": "x", "secrets": {"A": {"from_env": "$V", "hosts": ["a.com"]}}}`, "secrets.A.from_env", `"$V" is ` + nameRule},
		{"from_env empty", `{"image": "x", "secrets": {"A": {"from_env": "", "hosts": ["a.com"]}}}`, "secrets.A.from_env", `"" is ` + nameRule},
		{"from_file relative", `{"image": "x", "secrets": {"A": {"from_file": "token", "hosts": ["a.com"]}}}`, "secrets.A.from_file", `"token" must be an absolute path, or start with "~/" for your home directory`},
		{"from_file other home", `{"image": "x", "secrets": {"A": {"from_file": "~root/t", "hosts": ["a.com"]}}}`, "secrets.A.from_file", `"~root/t" must be an absolute path, or start with "~/" for your home directory`},
		{"from_file empty", `{"image": "x", "secrets": {"A": {"from_file": "", "hosts": ["a.com"]}}}`, "secrets.A.from_file", `"" must be an absolute path, or start with "~/" for your home directory`},
		{"from_file no home", `{"image": "x", "secrets": {"A": {"from_file": "~/t", "hosts": ["a.com"]}}}`, "secrets.A.from_file", `"~/t" starts with "~/", but your home directory is not known (HOME is not an absolute path)`},
		{"from_file control", `{"image": "x", "secrets": {"A": {"from_file": "/a\nb", "hosts": ["a.com"]}}}`, "secrets.A.from_file", `"/a\nb" must not contain control characters`},
		{"from_file type", `{"image": "x", "secrets": {"A": {"from_file": ["/a"], "hosts": ["a.com"]}}}`, "secrets.A.from_file", "must be a string, not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "a.json", tt.json)
			def, err := Load(file, Config{})
			if def != nil {
				t.Errorf("got a definition %+v", def)
			}
			checkError(t, err, file, tt.key, tt.reason)
		})
	}
}

// resolving loads a definition of one secret, given as JSON, from dir.
func resolving(t *testing.T, dir, secret string) *Definition {
	t.Helper()
	def, err := Load(writeFile(t, dir, "a.json", `{"image": "x", "workspace": "ws", "secrets": {"S": `+secret+`}}`), Config{})
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestResolveSecrets(t *testing.T) {
	dir := tempDir(t)
	mkdir(t, dir, "ws")
	env := map[string]string{"KEY": "sk-env-value"}
	getenv := func(k string) string { return env[k] }

	def := resolving(t, dir, `{"from_env": "KEY", "hosts": ["a.com"]}`)
	if err := def.ResolveSecrets(getenv); err != nil || def.Secrets[0].Value != "sk-env-value" {
		t.Errorf("from_env: %v, %q", err, def.Secrets[0].Value)
	}

	token := writeFile(t, dir, "token", "sk-file-value\r\n\n")
	if err := os.Symlink(token, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{token, filepath.Join(dir, "link")} {
		def = resolving(t, dir, `{"from_file": "`+f+`", "hosts": ["a.com"]}`)
		if err := def.ResolveSecrets(getenv); err != nil || def.Secrets[0].Value != "sk-file-value" {
			t.Errorf("from_file %s: %v, %q", f, err, def.Secrets[0].Value)
		}
	}
	most := writeFile(t, dir, "most", strings.Repeat("x", MaxSecretFile))
	def = resolving(t, dir, `{"from_file": "`+most+`", "hosts": ["a.com"]}`)
	if err := def.ResolveSecrets(getenv); err != nil || len(def.Secrets[0].Value) != MaxSecretFile {
		t.Errorf("64 KiB file: %v", err)
	}
}

func TestResolveSecretsErrors(t *testing.T) {
	dir := tempDir(t)
	ws := mkdir(t, dir, "ws")
	const value = "sk-hidden-value"
	env := map[string]string{"EMPTY": "", "LINES": value + "\n" + value}
	getenv := func(k string) string { return env[k] }
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "big", strings.Repeat(value, MaxSecretFile/len(value)+1))
	writeFile(t, dir, "empty", "\n\n")
	writeFile(t, dir, "lines", value+"\n"+value+"\n")
	writeFile(t, ws, "token", value)
	if err := os.Symlink(filepath.Join(ws, "token"), filepath.Join(dir, "to-ws")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret, key, reason string
	}{
		{"unset", `{"from_env": "UNSET", "hosts": ["a.com"]}`, "secrets.S.from_env", "UNSET is not set (or is empty) in your environment"},
		{"empty", `{"from_env": "EMPTY", "hosts": ["a.com"]}`, "secrets.S.from_env", "EMPTY is not set (or is empty) in your environment"},
		{"env lines", `{"from_env": "LINES", "hosts": ["a.com"]}`, "secrets.S.from_env", "the value of LINES holds a control character; a secret is one line of text"},
		{"missing", `{"from_file": "DIR/missing", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/missing" does not exist`},
		{"dangling link", `{"from_file": "DIR/dangling", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/dangling" does not exist`},
		{"directory", `{"from_file": "DIR", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR" is a directory, not a file`},
		{"fifo", `{"from_file": "DIR/fifo", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/fifo" is not a regular file`},
		{"too large", `{"from_file": "DIR/big", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/big" is larger than 64 KiB`},
		{"empty file", `{"from_file": "DIR/empty", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/empty" is empty`},
		{"file lines", `{"from_file": "DIR/lines", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/lines" holds a control character (a line break inside, say); a secret is one line of text`},
		{"in the workspace", `{"from_file": "DIR/ws/token", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/ws/token" lies in "DIR/ws", which the agent sees; keep secrets out of what a bottle mounts`},
		{"link into the workspace", `{"from_file": "DIR/to-ws", "hosts": ["a.com"]}`, "secrets.S.from_file", `"DIR/to-ws" lies in "DIR/ws", which the agent sees; keep secrets out of what a bottle mounts`},
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		writeFile(t, dir, "secret", value)
		if err := os.Chmod(filepath.Join(dir, "secret"), 0); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, secret, key, reason string }{
			"unreadable", `{"from_file": "DIR/secret", "hosts": ["a.com"]}`, "secrets.S.from_file", `cannot read "DIR/secret": permission denied`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := resolving(t, dir, strings.ReplaceAll(tt.secret, "DIR", dir))
			err := def.ResolveSecrets(getenv)
			checkError(t, err, def.File, tt.key, strings.ReplaceAll(tt.reason, "DIR", dir))
			if err != nil && strings.Contains(err.Error(), "hidden") {
				t.Errorf("the error %q tells of the value", err)
			}
		})
	}
}
