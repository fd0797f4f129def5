package logs

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// stripCases are what a program inside a bottle may print, hostile ones
// above all, and the text that is left of each.
var stripCases = []struct {
	name, in, want string
}{
	{"plain", "hello\n", "hello\n"},
	{"utf-8", "héllo ś 世界 🙂\n", "héllo ś 世界 🙂\n"},
	{"tab", "a\tb\n", "a\tb\n"},
	{"colours", "\x1b[31mred\x1b[0m\n", "red\n"},
	{"256 colours and sub-parameters", "\x1b[38;5;196mx\x1b[38:2::1:2:3my\x1b[m", "xy"},
	{"private CSI", "\x1b[?1049h\x1b[?25lscreen\x1b[?1049l", "screen"},
	{"cursor moves and erases", "a\x1b[2J\x1b[H\x1b[10;20Hb\x1b[K", "ab"},
	{"8-bit CSI", "\x9b31mred\x9b0m", "red"},

	{"OSC 52 clipboard, BEL", "a\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07b", "ab"},
	{"OSC 52 clipboard, ST", "a\x1b]52;c;Y3VybA==\x1b\\b", "ab"},
	{"OSC 52 clipboard, 8-bit", "a\x9d52;c;Y3VybA==\x9cb", "ab"},
	{"OSC 52 clipboard, 8-bit OSC, 7-bit ST", "a\x9d52;c;Y3VybA==\x1b\\b", "ab"},
	{"title", "\x1b]0;evil title\x07text", "text"},
	{"hyperlink", "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", "click"},
	{"ESC inside OSC starts a sequence", "\x1b]0;a\x1b]52;c;Y3VybA==\x07b", "b"},
	{"ESC [ inside OSC", "\x1b]0;a\x1b[31mb", "b"},
	{"OSC with UTF-8 in it", "\x1b]0;tïtle ś\x07x", "x"},
	{"OSC with C1 bytes in it", "\x1b]0;\x9b\x9d\x90\x07x", "x"},
	{"unterminated OSC ends at its line", "a\x1b]52;c;Y3VybA==\nb\n", "a\nb\n"},
	{"unterminated OSC ends at \\r\\n", "a\x1b]0;x\r\nb", "a\nb"},
	{"unterminated OSC at the end", "a\x1b]52;c;Y3Vy", "a"},
	{"OSC cancelled by CAN", "\x1b]0;x\x18y", "y"},
	{"OSC cancelled by SUB", "\x1b]0;x\x1ay", "y"},

	{"DCS sixel", "\x1bPq#0;2;0;0;0#0~~@@vv@@~~$-\x1b\\after", "after"},
	{"DCS tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;Y3VybA==\x07\x1b\\x", "x"},
	{"DCS 8-bit", "\x90q#0~~\x9cx", "x"},
	{"DECRQSS", "\x1bP$qm\x1b\\x", "x"},
	{"unterminated DCS ends at its line", "\x1bPq#0~~\nnext\n", "\nnext\n"},
	{"APC kitty graphics", "\x1b_Gf=100,a=T;iVBORw0KGgo=\x1b\\x", "x"},
	{"APC 8-bit", "\x9fGf=100\x9cx", "x"},
	{"SOS", "\x1bXsos text\x1b\\x", "x"},
	{"PM", "\x1b^pm text\x1b\\x", "x"},
	{"SOS and PM 8-bit", "\x98sos\x9cx\x9epm\x9cy", "xy"},

	{"reset", "\x1bcx", "x"},
	{"save and restore the cursor", "\x1b7x\x1b8", "x"},
	{"charset", "\x1b(0lqk\x1b(B", "lqk"},
	{"DEC screen alignment", "\x1b#8x", "x"},
	{"keypad", "\x1b=\x1b>x", "x"},
	{"8-bit index, next line", "a\x84\x85b", "ab"},
	{"two ESCs", "\x1b\x1b[31mx", "x"},
	{"ESC at the end", "x\x1b", "x"},
	{"CSI at the end", "x\x1b[31", "x"},
	{"CSI cancelled by CAN", "\x1b[31\x18m", "m"},
	{"a control inside a CSI is a control", "\x1b[3\a1mx", "x"},
	{"a newline inside a CSI is a newline", "\x1b[3\n1mx", "\nx"},
	{"many parameters", "\x1b[" + strings.Repeat("1;", 500) + "mx", "x"},
	{"a long OSC", "\x1b]0;" + strings.Repeat("x", 3000) + "\x07y", "y"},

	{"C0 controls", "a\x00b\x07c\x08d\x0be\x0cf\x0eg\x0fh\x7fi", "abcdefghi"},
	{"backspaces do not hide text", "rm -rf /\x08\x08\x08\x08\x08\x08\x08\x08ls -l   ", "rm -rf /ls -l   "},
	{"C1 controls as UTF-8", "a\u009b31mb\u0085c\u009dd", "a31mbcd"},
	{"invalid UTF-8", "a\xffb\xfec\xc0\xafd", "a\uFFFDb\uFFFDc\uFFFD\uFFFDd"},
	{"a character cut short by ESC", "a\xe2\x1b[31mb", "a\uFFFDb"},
	{"a character cut short by an OSC", "a\xc3\x1b]52;c;Y3VybA==\x07b", "a\uFFFDb"},
	{"a character cut short by a newline", "a\xf0\x9f\nb", "a\uFFFD\nb"},
	{"a continuation byte is not 8-bit CSI", "a\xc3\x9b31mb", "aÛ31mb"}, // C3 9B is Û
	{"surrogate", "a\xed\xa0\x80b", "a\uFFFDb"},

	{"CRLF", "a\r\nb\r\n", "a\nb\n"},
	{"CR CR LF", "a\r\r\nb", "a\nb"},
	{"redraws", "50%\r60%\r100%\n", "50%\n60%\n100%\n"},
	{"a redraw that erases", "50%\r\x1b[K60%\r\x1b[2K100%\r\n", "50%\n60%\n100%\n"},
	{"CR at the end", "x\r", "x\n"},
	{"LF CR", "a\n\rb", "a\n\nb"},
	{"empty lines", "\r\n\r\n\n", "\n\n\n"},
}

func strip(t testing.TB, writes ...[]byte) string {
	t.Helper()
	var out bytes.Buffer
	s := stripControls(&out)
	for _, w := range writes {
		if n, err := s.Write(w); n != len(w) || err != nil {
			t.Fatalf("Write: %d, %v; want %d, nil", n, err, len(w))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestStripControls(t *testing.T) {
	for _, tc := range stripCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if got := strip(t, in); got != tc.want {
				t.Fatalf("%q: %q, want %q", tc.in, got, tc.want)
			}
			// Written in two parts, split anywhere, as while following.
			for i := range in {
				if got := strip(t, in[:i], in[i:]); got != tc.want {
					t.Fatalf("%q split at %d: %q, want %q", tc.in, i, got, tc.want)
				}
			}
			// One byte at a time.
			var bytewise [][]byte
			for i := range in {
				bytewise = append(bytewise, in[i:i+1])
			}
			if got := strip(t, bytewise...); got != tc.want {
				t.Fatalf("%q byte by byte: %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A write of nothing but what is removed writes nothing: a follower does
// not wake its reader for it.
func TestStripControlsWritesText(t *testing.T) {
	w := &countingWriter{}
	s := stripControls(w)
	s.Write([]byte("\x1b[31m"))
	s.Write([]byte("\x1b]0;title"))
	if w.writes != 0 {
		t.Errorf("%d writes for sequences alone", w.writes)
	}
	s.Write([]byte("\x07a\x1b[0mb\n"))
	if w.writes != 1 || w.String() != "ab\n" {
		t.Errorf("%d writes of %q, want 1 of \"ab\\n\"", w.writes, w.String())
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(b)
}

// checkText fails unless out is valid UTF-8 with no control character in
// it but newline and tab: no ESC, no other C0, no DEL, no C1 (as a byte
// of its own or as a character).
func checkText(t *testing.T, in []byte, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%q: the output %q is not valid UTF-8", in, out)
	}
	for i, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f {
			t.Fatalf("%q: the output %q has %U at %d", in, out, r, i)
		}
	}
}

func FuzzStripControls(f *testing.F) {
	for _, tc := range stripCases {
		f.Add([]byte(tc.in), uint8(len(tc.in)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole := strip(t, in)
		checkText(t, in, whole)
		// In writes of chunk bytes, as they may come while following: the
		// same text.
		size := int(chunk) + 1
		var writes [][]byte
		for b := in; len(b) > 0; b = b[min(size, len(b)):] {
			writes = append(writes, b[:min(size, len(b))])
		}
		if parts := strip(t, writes...); parts != whole {
			t.Fatalf("%q in writes of %d: %q; at once: %q", in, size, parts, whole)
		}
	})
}

// A session's log, colours and all, through the filter in reads of 32 KiB
// as a follower gets them.
func BenchmarkStripControls(b *testing.B) {
	line := "\x1b[1;32m✓\x1b[0m compiled \x1b[36mpkg/backend/docker\x1b[0m in 1.2s\r\n"
	log := []byte(strings.Repeat(line, 1<<20/len(line)))
	b.SetBytes(int64(len(log)))
	s := stripControls(io.Discard)
	for b.Loop() {
		for p := log; len(p) > 0; p = p[min(32<<10, len(p)):] {
			s.Write(p[:min(32<<10, len(p))])
		}
	}
}
