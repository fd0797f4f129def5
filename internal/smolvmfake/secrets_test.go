package smolvmfake

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	state, _ := setup(t)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("file-value\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOST_KEY", "env-value")
	must(t, "machine", "create", "--name", "a", "-e", "PLAIN=p",
		"--secret-env", "KEY=HOST_KEY", "--secret-file=TOKEN="+token, "--", "sleep", "infinity")

	// Only the references are kept.
	want := []any{map[string]any{"guest": "KEY", "host_env": "HOST_KEY"}, map[string]any{"guest": "TOKEN", "host_file": token}}
	if got := ls(t)["a"]["stand_in"].(map[string]any)["secrets"]; !reflect.DeepEqual(got, want) {
		t.Errorf("stand_in.secrets = %#v, want %#v", got, want)
	}
	if b, _ := os.ReadFile(state); strings.Contains(string(b), "value") {
		t.Errorf("a value is in the state: %s", b)
	}

	// Every start and exec reads them anew, in its own environment.
	os.Unsetenv("HOST_KEY")
	expect(t, 1, "Error: config operation failed: resolve secret 'KEY': env_unset\n", "machine", "start", "--name", "a")
	if m := ls(t)["a"]; m["state"] != "created" || len(vms(t, state)) != 0 {
		t.Errorf("a start that failed booted the machine: %v, VMs %q", m["state"], vms(t, state))
	}
	t.Setenv("HOST_KEY", "env-value")
	must(t, "machine", "start", "--name", "a")
	show := []string{"machine", "exec", "--name", "a", "--", "sh", "-c", `printf '%s|%s|%s' "$PLAIN" "$KEY" "$TOKEN"`}
	if out := must(t, show...); out != "p|env-value|file-value" {
		t.Errorf("exec sees %q", out)
	}
	t.Setenv("HOST_KEY", "")
	if out := must(t, show...); out != "p||file-value" {
		t.Errorf("an empty variable is a value: exec sees %q", out)
	}
	os.Unsetenv("HOST_KEY")
	expect(t, 1, "Error: config operation failed: resolve secret 'KEY': env_unset\n", show...)
	t.Setenv("HOST_KEY", "env-value")

	// exec's own secrets, over the machine's, under its -e.
	t.Setenv("OTHER", "other-value")
	if out := must(t, "machine", "exec", "--name", "a", "--secret-env", "KEY=OTHER", "--secret-env", "NEW=OTHER", "-e", "TOKEN=e",
		"--", "sh", "-c", `printf '%s|%s|%s' "$KEY" "$NEW" "$TOKEN"`); out != "other-value|other-value|e" {
		t.Errorf("exec's secrets: %q", out)
	}

	// Files: a symlink, a file too large, one that is not there.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(token, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, reason := range map[string]string{link: "file_symlink", big: "file_too_large", filepath.Join(dir, "none"): "file_unreadable", dir: "file_unreadable"} {
		expect(t, 1, "Error: config operation failed: resolve secret 'F': "+reason+"\n", "machine", "exec", "--name", "a", "--secret-file", "F="+file, "--", "true")
	}
	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	expect(t, 1, "resolve secret 'TOKEN': file_unreadable", show...)
	must(t, "machine", "stop", "--name", "a")
	expect(t, 1, "resolve secret 'TOKEN': file_unreadable", "machine", "start", "--name", "a")

	// What smolvm refuses when it reads the flags.
	expect(t, 2, "error: invalid value 'TOKEN=token' for '--secret-file <GUEST=/abs/path>': the host path must be absolute", "machine", "create", "--name", "b", "--secret-file", "TOKEN=token")
	expect(t, 2, "error: invalid value 'KEY' for '--secret-env <GUEST=HOSTVAR>'", "machine", "create", "--name", "b", "--secret-env", "KEY")
	expect(t, 1, "Error: config operation failed: create machine: secret 'KEY' is given more than once", "machine", "create", "--name", "b", "--secret-env", "KEY=A", "--secret-file", "KEY=/f")
	if _, ok := ls(t)["b"]; ok {
		t.Error("a refused create made its machine")
	}
}
