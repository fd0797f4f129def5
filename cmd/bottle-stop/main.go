// Command bottle-stop: see `bottle-stop --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/stop"
)

func main() { os.Exit(stop.Main()) }
