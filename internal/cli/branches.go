package cli

import (
	"path/filepath"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/branch"
)

// Branches reads where the agents' copies of repositories are kept,
// $XDG_DATA_HOME/bottle/copies, and the environment git runs with there.
func Branches(environ []string) branch.Config {
	cfg := branch.Config{Env: environ}
	if data := agentdef.ConfigFromEnv(lookup(environ)).DataDir; data != "" {
		cfg.Root = filepath.Join(data, "copies")
	}
	return cfg
}

// BranchEnvironment is the Environment section's line on where the
// agents' copies live, for the binaries that make, fetch or remove them.
const BranchEnvironment = `  XDG_DATA_HOME     holds bottle/copies, the agents' copies of repositories
                    (default ~/.local/share)
`
