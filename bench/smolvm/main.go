// Command smolvm is the stand-in smolvm of internal/smolvmfake as a binary
// of its own, so that the benchmark can point BOTTLE_SMOLVM at it: it keeps
// its machines in $SMOLVM_STATE, logs every call to $SMOLVM_CALLS and
// sleeps $SMOLVM_DELAY before answering.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/smolvmfake"
)

func main() { os.Exit(smolvmfake.Main()) }
