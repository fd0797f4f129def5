package cli

import (
	"strings"

	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/backend/docker"
	"github.com/bottle-dev/bottle/pkg/backend/kubernetes"
	"github.com/bottle-dev/bottle/pkg/backend/smolmachines"
)

// Backends is every backend the toolkit knows, in the order bottle-ls lists
// them, each configured from environ (KEY=VALUE, as os.Environ gives it):
// the one place where the binaries' backends are made and read their
// environment.
func Backends(environ []string) *backend.Set {
	getenv := lookup(environ)
	program := getenv(smolmachines.EnvSmolvm)
	if program == "" {
		program = "smolvm"
	}
	return backend.NewSet(
		docker.New(docker.ConfigFromEnv(getenv)),
		smolmachines.New(smolmachines.Config{Program: program, Env: environ}),
		kubernetes.New(kubernetes.ConfigFromEnv(getenv)),
	)
}

// lookup is getenv for environ; the last value of a variable wins, as in
// exec.Cmd.
func lookup(environ []string) func(string) string {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) string { return vars[k] }
}
