// Command bottle-attach: see `bottle-attach --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/attach"
)

func main() { os.Exit(attach.Main()) }
