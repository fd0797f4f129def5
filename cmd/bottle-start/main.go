// Command bottle-start: see `bottle-start --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/start"
)

func main() { os.Exit(start.Main()) }
