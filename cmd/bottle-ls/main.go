// Command bottle-ls: see `bottle-ls --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/ls"
)

func main() { os.Exit(ls.Main()) }
