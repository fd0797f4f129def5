package logs

import (
	"io"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/parser"
)

// controlStripper passes on to w the text of what is written to it, as a
// terminal would show it, without anything that would make a terminal do
// something else: every escape sequence (CSI, OSC, DCS, SOS, PM, APC and
// the single ESC ones, in their 7-bit and 8-bit C1 forms) and every C0 and
// C1 control character but newline and tab are removed. "\r\n", and any
// run of "\r" before "\n", becomes "\n", and a lone "\r" becomes "\n" too,
// so that a program that redraws a line leaves one line per redraw. What
// comes out is valid UTF-8: invalid bytes become U+FFFD.
//
// The sequences are recognised by the DEC ANSI state machine of
// charmbracelet/x/ansi, the one its terminal emulators parse with, fed one
// byte at a time, so that a sequence split across writes is removed all
// the same. Whatever the parser makes of its input, only printable runes,
// tabs and newlines are ever written (see print and execute), so that no
// input reaches the terminal of someone who later reads the output with a
// control character in it. Two rules of our own keep hostile input from
// hiding what follows it: a string sequence (OSC, DCS, SOS, PM, APC), the
// one kind that may hold text, ends at the end of its line, terminated or
// not, and a byte that cannot continue a UTF-8 character ends it, instead
// of being taken into it.
type controlStripper struct {
	w   io.Writer
	p   *ansi.Parser
	out []byte // what one Write passes on
	cr  bool   // a line ended with "\r" and its "\n" may follow
}

func stripControls(w io.Writer) *controlStripper {
	s := &controlStripper{w: w, p: ansi.NewParser()}
	// The contents of sequences are not used: a small buffer bounds what
	// the parser keeps of them (and the work it does on each).
	s.p.SetDataSize(16)
	s.p.SetHandler(ansi.Handler{Print: s.print, Execute: s.execute})
	return s
}

// Write passes on the text of b, in one write.
func (s *controlStripper) Write(b []byte) (int, error) {
	s.out = s.out[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if s.p.State() == parser.GroundState && printable(c) {
			// A run of ASCII text, which the parser would print byte by
			// byte: at once.
			j := i + 1
			for j < len(b) && printable(b[j]) {
				j++
			}
			s.lineEnd()
			s.out = append(s.out, b[i:j]...)
			i = j - 1
			continue
		}
		switch state := s.p.State(); {
		case state == parser.Utf8State && !continuation(c):
			// A character cut short: c is not part of it.
			s.p.Reset()
			s.text(string(utf8.RuneError))
		case inString(state) && (c == '\n' || c == '\r'):
			s.p.Reset()
		case state == parser.GroundState && c >= 0xa0 && (c < 0xc2 || c > 0xf4):
			// Neither a C1 control nor the start of a character, which
			// the parser would drop without a trace.
			s.text(string(utf8.RuneError))
			continue
		}
		s.p.Advance(c)
	}
	if len(s.out) == 0 {
		return len(b), nil
	}
	if _, err := s.w.Write(s.out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close ends a last line that ended with "\r". It does not close w.
func (s *controlStripper) Close() error {
	if !s.cr {
		return nil
	}
	s.cr = false
	_, err := io.WriteString(s.w, "\n")
	return err
}

func (s *controlStripper) print(r rune) {
	switch {
	case r == utf8.RuneError:
		s.text(string(utf8.RuneError)) // an invalid sequence of bytes
	case r >= 0x80 && r <= 0x9f:
		// A C1 control written as a UTF-8 character, which terminals
		// in UTF-8 mode take for the control itself.
	default:
		s.lineEnd()
		s.out = utf8.AppendRune(s.out, r)
	}
}

func (s *controlStripper) execute(c byte) {
	switch c {
	case '\t':
		s.text("\t")
	case '\r':
		s.cr = true
	case '\n':
		s.cr = false
		s.out = append(s.out, '\n')
	}
	// Every other control character is dropped.
}

// text adds text to the output, after the end of a line that ended with
// "\r", if one did.
func (s *controlStripper) text(t string) {
	s.lineEnd()
	s.out = append(s.out, t...)
}

// lineEnd adds the end of a line that ended with "\r", if one did.
func (s *controlStripper) lineEnd() {
	if s.cr {
		s.cr = false
		s.out = append(s.out, '\n')
	}
}

// printable is whether c is an ASCII character that is not a control.
func printable(c byte) bool { return c >= 0x20 && c < 0x7f }

// continuation is whether c may be the second, third or fourth byte of a
// UTF-8 character.
func continuation(c byte) bool { return c&0xc0 == 0x80 }

// inString is whether the parser is in a string sequence, or in the part
// of a DCS before its string.
func inString(s parser.State) bool {
	switch s {
	case parser.OscStringState, parser.SosStringState, parser.PmStringState, parser.ApcStringState,
		parser.DcsEntryState, parser.DcsParamState, parser.DcsIntermediateState, parser.DcsStringState:
		return true
	}
	return false
}
