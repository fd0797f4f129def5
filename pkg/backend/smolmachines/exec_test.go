package smolmachines

import (
	"bytes"
	"testing"
)

// The last line of what smolvm writes on stderr is kept, in whatever
// pieces it comes, and all of it is passed on.
func TestLastLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writes []string
		want   string
	}{
		{nil, ""},
		{[]string{"Error: vm not found: a\n"}, "Error: vm not found: a"},
		{[]string{"first\nError: agent", " operation failed: x\r\n", "\n  \n"}, "Error: agent operation failed: x"},
		{[]string{"a\n", "b"}, "b"},
		{[]string{string(bytes.Repeat([]byte("x"), 3*maxLine)) + "end"}, string(bytes.Repeat([]byte("x"), maxLine-3)) + "end"},
	} {
		var out bytes.Buffer
		l := &lastLine{w: &out}
		var all string
		for _, w := range tc.writes {
			l.Write([]byte(w))
			all += w
		}
		if l.String() != tc.want || out.String() != all {
			t.Errorf("writes %q: last line %q, passed %q; want %q", tc.writes, l.String(), out.String(), tc.want)
		}
	}
}
