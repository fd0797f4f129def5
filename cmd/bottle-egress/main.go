// Command bottle-egress is the allowlist forward proxy that runs in a bottle's
// egress sidecar; see `bottle-egress -h` and package egress.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/pkg/egress"
)

func main() { os.Exit(egress.Main()) }
