// Command bottle-trust: see `bottle-trust --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/trust"
)

func main() { os.Exit(trust.Main()) }
