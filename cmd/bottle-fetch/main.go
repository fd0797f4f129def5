// Command bottle-fetch: see `bottle-fetch --help`.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/cli/fetch"
)

func main() { os.Exit(fetch.Main()) }
