package egress

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// inForce reads the list the watch says it has in force.
func inForce(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rules.AllowInForceFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAllowWatch(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	env, _ := NewAllowlist([]string{"A.example", "*.b.example:8443"})
	p := &Proxy{Allow: env, Log: &log}
	w := &AllowWatch{Dir: dir, Proxy: p}
	if err := w.Start(env); err != nil {
		t.Fatal(err)
	}
	// No file: the environment's list is written there, normalized.
	if b, _ := os.ReadFile(filepath.Join(dir, rules.AllowFile)); string(b) != "a.example\n*.b.example:8443\n" {
		t.Fatalf("allow file = %q", b)
	}
	if got := inForce(t, dir); got != "a.example\n*.b.example:8443\n" {
		t.Fatalf("in force = %q", got)
	}
	if log.Len() != 0 {
		t.Errorf("start logged %q", log.String())
	}

	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rules.AllowFile), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A good file replaces the list at the next poll, with one line.
	write("c.example\n# a comment\n\nregistry.npmjs.org:443\n")
	w.Poll()
	if !p.Allowlist().Allows("registry.npmjs.org", 443) || p.Allowlist().Allows("a.example", 443) {
		t.Fatalf("list in force after a change: %q", p.Allowlist().Patterns())
	}
	if got := log.String(); got != "bottle-egress: allowlist: 2 patterns: c.example, registry.npmjs.org:443\n" {
		t.Fatalf("log = %q", got)
	}
	if got := inForce(t, dir); got != "c.example\nregistry.npmjs.org:443\n" {
		t.Fatalf("in force = %q", got)
	}
	// Unchanged: nothing.
	log.Reset()
	w.Poll()
	if log.Len() != 0 {
		t.Fatalf("an unchanged file logged %q", log.String())
	}

	// A file that does not parse keeps the old list, says so once.
	write("d.example\nhttps://evil.example\x1b[2J\n")
	w.Poll()
	w.Poll()
	if !p.Allowlist().Allows("c.example", 443) || p.Allowlist().Allows("d.example", 443) {
		t.Fatalf("a bad file changed the list: %q", p.Allowlist().Patterns())
	}
	if got := log.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, `bottle-egress: allowlist: `) ||
		!strings.Contains(got, `line 2: "https://evil.example\x1b[2J": contains whitespace or control characters; keeping 2 patterns`) {
		t.Fatalf("log = %q", got)
	}
	if got := inForce(t, dir); got != "c.example\nregistry.npmjs.org:443\n" {
		t.Fatalf("in force = %q", got)
	}

	// A file half-written (no final newline) is waited for: the whole
	// one, a poll later, is taken, with nothing of the half in between.
	log.Reset()
	write("e.example\nf.exa")
	w.Poll()
	if log.Len() != 0 || p.Allowlist().Allows("f.exa", 443) {
		t.Fatalf("a half-written file was acted on: %q, %q", log.String(), p.Allowlist().Patterns())
	}
	write("e.example\nf.example\n")
	w.Poll()
	if got := log.String(); got != "bottle-egress: allowlist: 2 patterns: e.example, f.example\n" {
		t.Fatalf("log = %q", got)
	}
	// One that stays so is refused.
	log.Reset()
	write("g.example")
	w.Poll()
	w.Poll()
	if got := log.String(); !strings.Contains(got, "its last line has no newline") || p.Allowlist().Allows("g.example", 443) {
		t.Fatalf("log = %q, list %q", got, p.Allowlist().Patterns())
	}

	// A file removed changes nothing; an empty one allows nothing.
	os.Remove(filepath.Join(dir, rules.AllowFile))
	w.Poll()
	if !p.Allowlist().Allows("e.example", 443) {
		t.Fatal("a removed file changed the list")
	}
	log.Reset()
	write("")
	w.Poll()
	if got := log.String(); got != "bottle-egress: allowlist: nothing\n" || p.Allowlist().Allows("e.example", 443) {
		t.Fatalf("log = %q, list %q", got, p.Allowlist().Patterns())
	}
}

func TestAllowWatchRestart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, rules.AllowFile), []byte("kept.example\n"), 0o644)
	var log bytes.Buffer
	env, _ := NewAllowlist([]string{"env.example"})
	p := &Proxy{Allow: env, Log: &log}
	if err := (&AllowWatch{Dir: dir, Proxy: p}).Start(env); err != nil {
		t.Fatal(err)
	}
	// The file there is the list in force, not the environment's, and is
	// left as it is.
	if got := p.Allowlist().Patterns(); len(got) != 1 || got[0] != "kept.example" {
		t.Fatalf("list in force = %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, rules.AllowFile)); string(b) != "kept.example\n" {
		t.Fatalf("allow file = %q", b)
	}
	if got := log.String(); !strings.Contains(got, "kept from before this start") {
		t.Fatalf("log = %q", got)
	}

	// One that does not parse allows nothing, not the environment's list.
	os.WriteFile(filepath.Join(dir, rules.AllowFile), []byte("ok.example\n*\n"), 0o644)
	log.Reset()
	p = &Proxy{Allow: env, Log: &log}
	w := &AllowWatch{Dir: dir, Proxy: p, Interval: 10 * time.Millisecond}
	if err := w.Start(env); err != nil {
		t.Fatal(err)
	}
	if got := p.Allowlist().Patterns(); len(got) != 0 {
		t.Fatalf("list in force = %q", got)
	}
	if got := log.String(); !strings.Contains(got, `line 2: "*" is not a host name`) || !strings.Contains(got, "allowing nothing until it is fixed") {
		t.Fatalf("log = %q", got)
	}
	if got := inForce(t, dir); got != "" {
		t.Fatalf("in force = %q", got)
	}
	// Fixed, it is taken by Run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	os.WriteFile(filepath.Join(dir, rules.AllowFile), []byte("ok.example\n"), 0o644)
	for deadline := time.Now().Add(2 * time.Second); inForce(t, dir) != "ok.example\n"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fixed file was not taken")
		}
	}
	if !p.Allowlist().Allows("ok.example", 443) {
		t.Fatal("not in force")
	}
}

// A request decided by one list connects under it, whatever SetAllow does
// meanwhile; the next one is decided by the new list.
func TestSetAllow(t *testing.T) {
	a, _ := NewAllowlist([]string{"a.example"})
	p := &Proxy{Allow: a}
	if !p.Allowlist().Allows("a.example", 443) {
		t.Fatal("Allow not in force")
	}
	b, _ := NewAllowlist([]string{"b.example"})
	p.SetAllow(b)
	if p.Allowlist().Allows("a.example", 443) || !p.Allowlist().Allows("b.example", 443) {
		t.Fatal("SetAllow not in force")
	}
	ctx := context.WithValue(context.Background(), allowKey{}, a)
	if !p.allowlistFor(ctx).Allows("a.example", 443) {
		t.Fatal("the request's own list was not kept")
	}
	p.SetAllow(nil)
	if p.Allowlist().Allows("b.example", 443) {
		t.Fatal("SetAllow(nil) allows")
	}
}
