package cli

import "github.com/bottle-dev/bottle/internal/version"

// Version is the version of the running binary: see package version.
func Version() string { return version.String() }
