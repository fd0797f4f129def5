package agent_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
)

func TestValidSlug(t *testing.T) {
	for _, s := range []string{"a", "0", "a-b", "reviewer-3f9a1c", "9-lives", strings.Repeat("a", 63)} {
		if !agent.ValidSlug(s) {
			t.Errorf("ValidSlug(%q) = false, want true", s)
		}
		if err := agent.CheckSlug(s); err != nil {
			t.Errorf("CheckSlug(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{
		"", "-a", "a-", "a--b", "Reviewer", "reviewer-3F9A1C", strings.Repeat("a", 64), "a_b", "a.b", "a b",
		"caf\u00e9", "abc\n", "\nabc", "a\tb", "\x1b[2Jabc",
	} {
		if agent.ValidSlug(s) {
			t.Errorf("ValidSlug(%q) = true, want false", s)
		}
		err := agent.CheckSlug(s)
		if err == nil {
			t.Errorf("CheckSlug(%q) = nil, want an error", s)
		} else if hasControl(err.Error()) {
			t.Errorf("CheckSlug(%q) = %q: the message carries a control character", s, err)
		}
	}
}

func TestNewSlug(t *testing.T) {
	form := regexp.MustCompile(`^reviewer-[0-9a-f]{6}$`)
	seen := map[string]bool{}
	const n = 1000
	for range n {
		s := agent.NewSlug("reviewer")
		if !form.MatchString(s) || !agent.ValidSlug(s) {
			t.Fatalf("NewSlug(%q) = %q, want reviewer-xxxxxx (six hex digits) and a valid slug", "reviewer", s)
		}
		seen[s] = true
	}
	// Six hex digits are 24 bits: among 1000 draws, one collision happens
	// about 3% of the time, three or more about once in 200,000 runs. A
	// generator that is not random fails this at once.
	if len(seen) < n-2 {
		t.Errorf("1000 calls of NewSlug gave only %d distinct slugs", len(seen))
	}
}
