// Package logs is bottle-logs (being written).
package logs

import (
	"io"

	"github.com/bottle-dev/bottle/internal/cli"
)

// Main runs bottle-logs as a process.
func Main() int { return cli.Main(Run) }

// Run runs bottle-logs.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int { return 1 }
