// Command bottle-logs: see `bottle-logs --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/logs"
)

func main() { os.Exit(logs.Main()) }
