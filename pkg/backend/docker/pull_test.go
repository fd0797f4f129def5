package docker

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
)

// TestCredentialsPerRegistry: each registry gets its own credentials and
// no other's; Docker Hub's are under the docker CLI's key for it.
func TestCredentialsPerRegistry(t *testing.T) {
	dir := t.TempDir()
	auth := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cfg := `{"auths": {
		"reg.example:5000": {"auth": "` + auth("alice:pw-a") + `"},
		"https://other.example/v1/": {"auth": "` + auth("bob:pw-b") + `"},
		"https://index.docker.io/v1/": {"auth": "` + auth("carol:pw-c") + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &credentials{dir: dir}
	for host, want := range map[string]string{"reg.example:5000": "alice:pw-a", "other.example": "bob:pw-b", "docker.io": "carol:pw-c", "third.example": ""} {
		header, secrets, err := c.auth(host)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if header != "" {
			data, err := base64.URLEncoding.DecodeString(header)
			if err != nil {
				t.Fatal(err)
			}
			var ac registry.AuthConfig
			if err := json.Unmarshal(data, &ac); err != nil {
				t.Fatal(err)
			}
			got = ac.Username + ":" + ac.Password
			if msg := redact("they said "+ac.Password+" and "+auth(got), secrets); strings.Contains(msg, ac.Password) || strings.Contains(msg, auth(got)) {
				t.Errorf("%s: redacted message %q still holds the secret", host, msg)
			}
		}
		if got != want {
			t.Errorf("%s: credentials %q, want %q", host, got, want)
		}
	}
}

func TestCredentialsNone(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		header, _, err := (&credentials{dir: dir}).auth("reg.example")
		if header != "" || err != nil {
			t.Errorf("dir %q: %q, %v; want no credentials", dir, header, err)
		}
	}
}

func TestTally(t *testing.T) {
	tl := newTally("reg.example/a:1")
	if got, want := tl.String(), "pulling reg.example/a:1"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	for _, m := range []jsonstream.Message{
		{Status: "Pulling from a", ID: "1"},
		{Status: "Pulling fs layer", ID: "l1"},
		{Status: "Already exists", ID: "l2"},
		{Status: "Downloading", ID: "l1", Progress: &jsonstream.Progress{Current: 1000, Total: 3000}},
	} {
		tl.add(m)
	}
	if got, want := tl.String(), "pulling reg.example/a:1: 1 of 2 layers, 1kB of 3kB"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	tl.add(jsonstream.Message{Status: "Pull complete", ID: "l1"})
	if got, want := tl.String(), "pulling reg.example/a:1: 2 of 2 layers, 3kB of 3kB"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
