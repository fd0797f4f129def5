// Package fetch is bottle-fetch: it brings an agent's branch back into the
// user's repository while the agent runs.
package fetch

import (
	"io"

	"github.com/bottle-dev/bottle/internal/cli"
)

// Main runs bottle-fetch as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-fetch and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return 0
}
