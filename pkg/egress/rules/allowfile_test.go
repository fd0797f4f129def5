package rules

import (
	"errors"
	"slices"
	"testing"
)

func TestParseAllowFile(t *testing.T) {
	got, err := ParseAllowFile([]byte("A.example.\n\n# note\n*.b.example:8443\n"))
	if err != nil || !slices.Equal(got, []string{"a.example", "*.b.example:8443"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := ParseAllowFile(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q, %v", got, err)
	}
	if _, err := ParseAllowFile([]byte("a.example\nb.exa")); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("incomplete: %v", err)
	}
	if _, err := ParseAllowFile([]byte("a.example\n x.example\n")); err == nil || err.Error() != `line 2: " x.example": contains whitespace or control characters` {
		t.Fatalf("bad: %v", err)
	}
	if s := string(FormatAllowFile([]string{"a", "b:1"})); s != "a\nb:1\n" {
		t.Fatalf("format: %q", s)
	}
}
