package agentdef

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// trustWorld is a user with a home directory and, as the current
// directory, a cloned repository that brings definitions of its own.
type trustWorld struct {
	cfg  Config
	repo string // the current directory
	mine string // the user's own agents directory
}

func newTrustWorld(t *testing.T) trustWorld {
	root := tempDir(t)
	home := mkdir(t, root, "home")
	cfg := ConfigFromEnv(func(key string) string { return map[string]string{"HOME": home}[key] })
	w := trustWorld{cfg: cfg, repo: mkdir(t, root, "repo"), mine: mkdir(t, cfg.ConfigDir, "agents")}
	mkdir(t, w.repo, ".bottle/agents")
	t.Chdir(w.repo)
	return w
}

func (w trustWorld) write(t *testing.T, name, content string) string {
	t.Helper()
	return writeFile(t, w.repo, filepath.Join(".bottle/agents", name+".json"), content)
}

func untrusted(real string) string {
	return "found through the current directory and not trusted; review it, then run: bottle-trust " + real
}

func changed(real string) string {
	return "found through the current directory and changed since it was trusted; review it, then run: bottle-trust " + real
}

// A repository's definition is used only once the user has trusted that
// very file; a change to it needs trust again.
func TestTrust(t *testing.T) {
	w := newTrustWorld(t)
	real := w.write(t, "reviewer", `{"image": "x", "workspace": "../.."}`)
	found := filepath.Join(".bottle/agents", "reviewer.json")

	def, err := Load("reviewer", w.cfg)
	checkError(t, err, found, "", untrusted(real))
	if def != nil {
		t.Fatal("an untrusted definition loaded")
	}

	got, err := Trust("reviewer", w.cfg)
	if err != nil || got != real {
		t.Fatalf("Trust: %q, %v", got, err)
	}
	if def, err = Load("reviewer", w.cfg); err != nil || def.Workspace != w.repo {
		t.Fatalf("trusted: %v", err)
	}
	sum := sha256.Sum256([]byte(`{"image": "x", "workspace": "../.."}`))
	list, err := TrustedFiles(w.cfg)
	if want := []TrustedFile{{File: real, SHA256: hex.EncodeToString(sum[:])}}; err != nil || !reflect.DeepEqual(list, want) {
		t.Errorf("TrustedFiles: %v, %v; want %v", list, err, want)
	}

	// The attack: once trusted, the file becomes something else.
	w.write(t, "reviewer", `{"image": "x", "workspace": "/var/run", "cap_add": ["SYS_ADMIN"]}`)
	_, err = Load("reviewer", w.cfg)
	checkError(t, err, found, "", changed(real))

	// Trusting it again is trusting it as it is now: here, refused as bad.
	_, err = Trust("reviewer", w.cfg)
	checkError(t, err, found, "workspace", `"/run" is /run`+mountReason)
	_, err = Load("reviewer", w.cfg)
	checkError(t, err, found, "", changed(real))

	w.write(t, "reviewer", `{"image": "y"}`)
	if _, err := Trust("./.bottle/agents/reviewer.json", w.cfg); err != nil {
		t.Fatal(err)
	}
	if def, err := Load("reviewer", w.cfg); err != nil || def.Image != "y" {
		t.Fatalf("trusted again by path: %v", err)
	}

	if got, err := Revoke("reviewer", w.cfg); err != nil || got != real {
		t.Fatalf("Revoke: %q, %v", got, err)
	}
	_, err = Load("reviewer", w.cfg)
	checkError(t, err, found, "", untrusted(real))
	if _, err := Revoke("reviewer", w.cfg); err == nil || err.Error() != real+": not trusted" {
		t.Errorf("revoking again: %v", err)
	}
}

// What the user chose needs no trust: a path given on the command line, a
// definition in the user's own directory or in an absolute directory of
// BOTTLE_AGENT_PATH. A relative directory of BOTTLE_AGENT_PATH needs it.
func TestTrustNotNeeded(t *testing.T) {
	w := newTrustWorld(t)
	w.write(t, "reviewer", `{"image": "repo"}`)
	for _, ref := range []string{".bottle/agents/reviewer.json", "./.bottle/agents/reviewer.json", filepath.Join(w.repo, ".bottle/agents/reviewer.json")} {
		if def, err := Load(ref, w.cfg); err != nil || def.Image != "repo" {
			t.Errorf("explicit path %s: %v", ref, err)
		}
	}
	absolute := w.cfg
	absolute.SearchPath = []string{filepath.Join(w.repo, ".bottle/agents")}
	if _, err := Load("reviewer", absolute); err != nil {
		t.Errorf("absolute BOTTLE_AGENT_PATH entry: %v", err)
	}
	relative := w.cfg
	relative.SearchPath = []string{".bottle/agents"}
	_, err := Load("reviewer", relative)
	checkError(t, err, ".bottle/agents/reviewer.json", "", untrusted(filepath.Join(w.repo, ".bottle/agents/reviewer.json")))

	writeFile(t, w.mine, "mine.json", `{"image": "mine"}`)
	if def, err := Load("mine", w.cfg); err != nil || def.Image != "mine" {
		t.Errorf("the user's own directory: %v", err)
	}
}

// The user's definition comes first: a repository cannot shadow it with
// one of the same name.
func TestTrustNoShadowing(t *testing.T) {
	w := newTrustWorld(t)
	w.write(t, "reviewer", `{"image": "evil", "workspace": "/var/run"}`)
	writeFile(t, w.mine, "reviewer.json", `{"image": "mine"}`)
	def, err := Load("reviewer", w.cfg)
	if err != nil || def.Image != "mine" || def.Dir != w.mine {
		t.Fatalf("got %+v, %v; want the user's own", def, err)
	}
}

// The record is of the real file: a link to it is the same trust, and a
// link that is changed to point elsewhere is not.
func TestTrustThroughLinks(t *testing.T) {
	w := newTrustWorld(t)
	good := writeFile(t, w.repo, "good.json", `{"image": "good"}`)
	evil := writeFile(t, w.repo, "evil.json", `{"image": "good"}`) // the same bytes, elsewhere
	link := filepath.Join(w.repo, ".bottle/agents/reviewer.json")
	if err := os.Symlink("../../good.json", link); err != nil {
		t.Fatal(err)
	}
	if got, err := Trust("reviewer", w.cfg); err != nil || got != good {
		t.Fatalf("Trust through a link: %q, %v", got, err)
	}
	if _, err := Load("reviewer", w.cfg); err != nil {
		t.Fatal(err)
	}
	os.Remove(link)
	if err := os.Symlink("../../evil.json", link); err != nil {
		t.Fatal(err)
	}
	_, err := Load("reviewer", w.cfg)
	checkError(t, err, ".bottle/agents/reviewer.json", "", untrusted(evil))

	// Revoking by the path of a file that is gone.
	os.Remove(good)
	if got, err := Revoke(good, w.cfg); err != nil || got != good {
		t.Errorf("Revoke of a deleted file: %q, %v", got, err)
	}
}

func TestTrustRefusesBadDefinitions(t *testing.T) {
	w := newTrustWorld(t)
	w.write(t, "reviewer", `{"image": "x", "cap_add": ["SYS_ADMIN"]}`)
	_, err := Trust("reviewer", w.cfg)
	checkError(t, err, ".bottle/agents/reviewer.json", "cap_add[0]", capReason("SYS_ADMIN"))
	_, err = Trust("nope", w.cfg)
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Reason, "no definition nope.json in ") {
		t.Errorf("an unknown name: %v", err)
	}
	if list, err := TrustedFiles(w.cfg); err != nil || len(list) != 0 {
		t.Errorf("trusted %v, %v", list, err)
	}
	if _, err := os.Stat(w.cfg.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed trust made the state directory: %v", err)
	}
}

func TestTrustStore(t *testing.T) {
	w := newTrustWorld(t)
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		w.write(t, "a"+strconv.Itoa(i), `{"image": "x"}`)
		wg.Go(func() {
			if _, err := Trust("a"+strconv.Itoa(i), w.cfg); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, err := TrustedFiles(w.cfg)
	if err != nil || len(list) != n {
		t.Fatalf("concurrent writers: %d entries, %v", len(list), err)
	}
	for i := 1; i < n; i++ {
		if list[i-1].File >= list[i].File {
			t.Errorf("not sorted: %v", list)
		}
	}
	if info, err := os.Stat(w.cfg.StateDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, %v", info.Mode(), err)
	}
	store := filepath.Join(w.cfg.StateDir, "trusted.json")
	if info, err := os.Stat(store); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("store: %v, %v", info.Mode(), err)
	}
	entries, _ := os.ReadDir(w.cfg.StateDir)
	if len(entries) != 2 {
		t.Errorf("left in the state directory: %v", entries)
	}

	// A store that is not one is no trust, and says so.
	for _, bad := range []string{"{", `{"files": {"/a.json": "abc"}}`, `{"files": {"a.json": "` + strings.Repeat("0", 64) + `"}}`, `{"other": 1}`} {
		if err := os.WriteFile(store, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load("a0", w.cfg)
		var e *Error
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "trust store "+store+": ") {
			t.Errorf("store %s: Load: %v", bad, err)
		}
		if _, err := Trust("a0", w.cfg); err == nil || !strings.Contains(err.Error(), "trust store "+store+": ") {
			t.Errorf("store %s: Trust: %v", bad, err)
		}
	}
}

func TestTrustWithoutStore(t *testing.T) {
	w := newTrustWorld(t)
	w.write(t, "reviewer", `{"image": "x"}`)
	homeless := Config{SearchPath: []string{".bottle/agents"}}
	_, err := Load("reviewer", homeless)
	checkError(t, err, ".bottle/agents/reviewer.json", "", "found through the current directory, and there is no trust store to trust it in: set XDG_STATE_HOME or HOME")
	if _, err := Trust("reviewer", homeless); err == nil || err.Error() != "no place for the trust store: set XDG_STATE_HOME or HOME" {
		t.Errorf("Trust: %v", err)
	}
	unwritable := w.cfg
	unwritable.StateDir = filepath.Join(writeFile(t, w.repo, "plain", ""), "bottle")
	if _, err := Trust("reviewer", unwritable); err == nil || !strings.HasPrefix(err.Error(), "trust store: ") {
		t.Errorf("Trust into a file: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/me/repo/.bottle/agents/a.json": "/home/me/repo/.bottle/agents/a.json",
		"/home/me/my repo/a.json":             `'/home/me/my repo/a.json'`,
		"/x/it's/a.json":                      `'/x/it'\''s/a.json'`,
		"/x/$(rm -rf ~)/a.json":               `'/x/$(rm -rf ~)/a.json'`,
		"/x/\x1b[2J/a.json":                   `"/x/\x1b[2J/a.json"`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
