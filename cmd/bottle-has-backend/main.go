// Command bottle-has-backend: see `bottle-has-backend --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/hasbackend"
)

func main() { os.Exit(hasbackend.Main()) }
