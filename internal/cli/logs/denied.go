package logs

import (
	"bytes"
	"io"
	"slices"
	"strings"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// deniedDestination returns what a refusal line of an egress service's log
// was refused, as a pattern that allows exactly that: host:port for a
// connection, the name alone for a name smolvm would not resolve. ok is
// false for any other line, and for a destination that is not such a
// pattern as it stands: quoted (it had odd bytes), a wildcard, an IPv6
// address, anything ParsePattern refuses, so that nothing an agent asked
// for becomes, piped to bottle-allow, more than the one destination.
//
// The lines are docker's proxy's, "deny CONNECT host:port from IP" or
// "deny GET host:port from IP (note)", and smolvm's, "deny connect
// 203.0.113.9:443 at TIME" and "deny resolve name at TIME" (smolvm's
// "sendto", UDP, is left out: no pattern is about it).
func deniedDestination(line string) (string, bool) {
	fields := strings.Split(line, " ")
	if len(fields) < 3 || fields[0] != "deny" {
		return "", false
	}
	op, dest, after := fields[1], fields[2], fields[3:]
	smol := len(after) == 0 || len(after) == 2 && after[0] == "at"
	withPort := true
	switch {
	case op == "connect" && smol:
	case op == "resolve" && smol:
		withPort = false
	case isMethod(op) && len(after) >= 2 && after[0] == "from":
	default:
		return "", false
	}
	if strings.HasPrefix(dest, `"`) {
		return "", false
	}
	p, err := rules.ParsePattern(dest)
	if err != nil || p.Wildcard || (p.Port != 0) != withPort || p.String() != strings.ToLower(dest) {
		return "", false
	}
	return p.String(), true
}

// isMethod reports whether s is an HTTP method as the proxy logs those it
// refuses: upper-case letters.
func isMethod(s string) bool {
	return s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// deniedWriter takes an egress log as it is written and keeps each refused
// destination, in the order of its most recent refusal; following, it
// writes each the first time it is seen instead.
type deniedWriter struct {
	out    io.Writer
	follow bool
	line   []byte
	order  []string // by most recent refusal, the most recent last
	err    error
}

// maxLine bounds a line kept whole; the rest of a longer one is dropped
// (no refusal line is anywhere near it).
const maxLine = 64 << 10

func (w *deniedWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.line)+len(p) <= maxLine {
				w.line = append(w.line, p...)
			}
			break
		}
		if len(w.line)+i <= maxLine {
			w.line = append(w.line, p[:i]...)
		}
		w.take(string(w.line))
		w.line, p = w.line[:0], p[i+1:]
	}
	return n, w.err
}

func (w *deniedWriter) take(line string) {
	dest, ok := deniedDestination(strings.TrimSuffix(line, "\r"))
	if !ok {
		return
	}
	i := slices.Index(w.order, dest)
	switch {
	case w.follow && i >= 0:
		return
	case w.follow:
		w.order = append(w.order, dest)
		if _, err := io.WriteString(w.out, dest+"\n"); err != nil && w.err == nil {
			w.err = err
		}
		return
	case i >= 0:
		w.order = slices.Delete(w.order, i, i+1)
	}
	w.order = append(w.order, dest)
}

// Close takes a last line without its newline and, unless following,
// writes the destinations.
func (w *deniedWriter) Close() error {
	if len(w.line) > 0 {
		w.take(string(w.line))
		w.line = nil
	}
	if w.follow || w.err != nil {
		return w.err
	}
	var b strings.Builder
	for _, d := range w.order {
		b.WriteString(d + "\n")
	}
	_, err := io.WriteString(w.out, b.String())
	return err
}
