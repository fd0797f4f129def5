package rules

import (
	"errors"
	"fmt"
	"strings"
)

// AllowFile is the allowlist in EnvStateDir that bottle-egress watches:
// one pattern a line, each line ended by a newline. When it starts, the
// proxy takes the file as the list in force if it is there (so that a
// change outlives a restart of the proxy), and else writes the list it was
// handed ($BOTTLE_EGRESS_ALLOW) into it. Whenever the file changes, the
// proxy takes the new list for the requests that follow; a file that does
// not parse leaves the list in force as it is.
const AllowFile = "allow"

// AllowInForceFile is where bottle-egress writes, in AllowFile's format,
// the list it has in force, each time it has taken one: what the proxy
// does, as opposed to what was asked of it. Whoever changes AllowFile
// waits until this file says the same.
const AllowInForceFile = "allow.in-force"

// ErrIncomplete is what ParseAllowFile returns for content whose last line
// has no newline: a file still being written, or cut short.
var ErrIncomplete = errors.New("its last line has no newline (a file being written, or cut short)")

// ParseAllowFile reads the content of an AllowFile and returns its
// patterns, normalized, in order. Empty lines, and lines starting with
// '#', are left out. An entry that does not parse is an error naming its
// line; so is content that does not end with a newline (ErrIncomplete),
// so that a file read while it is being written is never taken for a
// shorter list, except one cut at the end of a line, which allows no more
// than the whole.
func ParseAllowFile(content []byte) ([]string, error) {
	s := string(content)
	if s != "" && !strings.HasSuffix(s, "\n") {
		return nil, ErrIncomplete
	}
	var patterns []string
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := ParsePattern(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		patterns = append(patterns, p.String())
	}
	return patterns, nil
}

// FormatAllowFile is the content of an AllowFile holding patterns.
func FormatAllowFile(patterns []string) []byte {
	var b strings.Builder
	for _, p := range patterns {
		b.WriteString(p + "\n")
	}
	return []byte(b.String())
}
