// Command bottle-port: see `bottle-port --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/port"
)

func main() { os.Exit(port.Main()) }
