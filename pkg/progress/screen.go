package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/term"
)

type lineKey struct{}

// ToLines returns a context whose lines of work under way side by side
// (one per image being pulled) are reported to report: key's line is now
// text, or gone when text is "".
func ToLines(ctx context.Context, report func(key, text string)) context.Context {
	return context.WithValue(ctx, lineKey{}, report)
}

// Line reports key's line, or its end with "", if anyone listens.
func Line(ctx context.Context, key, text string) {
	if report, ok := ctx.Value(lineKey{}).(func(string, string)); ok {
		report(key, text)
	}
}

// Screen draws what a start reports on a terminal, in place: the lines of
// work under way, one per key in the order they first came, or else the
// step under way; Wipe leaves the terminal as it found it.
type Screen struct {
	mu    sync.Mutex
	w     io.Writer
	step  string
	keys  []string
	lines map[string]string
	drawn int // lines on the screen now, the cursor on the last
}

// NewScreen draws on w, a terminal.
func NewScreen(w io.Writer) *Screen {
	return &Screen{w: w, lines: map[string]string{}}
}

// Step shows step, followed by "...", while no lines are shown.
func (s *Screen) Step(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = step + "..."
	s.draw()
}

// Line shows key's line as text, or removes it when text is "".
func (s *Screen) Line(key, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if text == "" {
		delete(s.lines, key)
		s.keys = slices.DeleteFunc(s.keys, func(k string) bool { return k == key })
	} else {
		if _, ok := s.lines[key]; !ok {
			s.keys = append(s.keys, key)
		}
		s.lines[key] = text
	}
	s.draw()
}

// Wipe clears what was drawn.
func (s *Screen) Wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.keys = "", nil
	clear(s.lines)
	s.draw()
}

// draw goes back to the first line drawn, clears to the end of the
// screen and writes what there is to show, in one write. Each line is cut
// to the terminal's width: one that wrapped would take two rows, and the
// next draw would go back one too few.
func (s *Screen) draw() {
	width := 0
	if f, ok := s.w.(*os.File); ok {
		width, _, _ = term.GetSize(int(f.Fd()))
	}
	var b strings.Builder
	if s.drawn > 1 {
		fmt.Fprintf(&b, "\033[%dA", s.drawn-1)
	}
	b.WriteString("\r\033[J")
	show := make([]string, 0, len(s.keys))
	for _, k := range s.keys {
		show = append(show, s.lines[k])
	}
	if len(show) == 0 && s.step != "" {
		show = []string{s.step}
	}
	for i, line := range show {
		if r := []rune(line); width > 1 && len(r) >= width {
			show[i] = string(r[:width-1])
		}
	}
	b.WriteString(strings.Join(show, "\n"))
	s.drawn = len(show)
	io.WriteString(s.w, b.String())
}
