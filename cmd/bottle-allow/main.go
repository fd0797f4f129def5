// Command bottle-allow: see `bottle-allow --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/allow"
)

func main() { os.Exit(allow.Main()) }
