// Package lazyre compiles a regular expression on its first use, so that a
// binary pays for the patterns it never uses nothing at start-up (bottle-ls
// has every package's patterns linked in, and uses almost none).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr the first time it is called
// and returns the same *regexp.Regexp from then on.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
