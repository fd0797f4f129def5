package progress

import (
	"strings"
	"testing"
)

// TestScreen: lines replace the step while there are any, each redraw goes
// back to the first line, and Wipe leaves nothing.
func TestScreen(t *testing.T) {
	var b strings.Builder
	s := NewScreen(&b)
	s.Step("creating")
	s.Line("a", "pulling a")
	s.Line("b", "pulling b")
	s.Line("a", "")
	s.Wipe()
	want := "\r\033[Jcreating..." + "\r\033[Jpulling a" + "\r\033[Jpulling a\npulling b" + "\033[1A\r\033[Jpulling b" + "\r\033[J"
	if got := b.String(); got != want {
		t.Errorf("drew %q, want %q", got, want)
	}
}
