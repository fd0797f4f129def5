package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bottle-dev/bottle/pkg/backend"
)

// The backends are configured from the environment they are given, and
// from nothing else; smolvm runs in exactly that environment.
func TestBackends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	smolvm := filepath.Join(dir, "smolvm")
	script := "#!/bin/sh\necho '[{\"name\": \"x\", \"state\": \"running\", \"created_at\": 1, \"labels\": {\"dev.bottle.slug\": \"x\", \"dev.bottle.agent\": \"'\"$MARK\"'\"}}]'\n"
	if err := os.WriteFile(smolvm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	set := Backends([]string{"DOCKER_HOST=unix://" + dir + "/missing.sock", "BOTTLE_SMOLVM=" + smolvm, "MARK=from-environ"})
	if names := set.Names(); !slices.Equal(names, []string{"docker", "smolmachines", "kubernetes"}) {
		t.Fatalf("Names = %q", names)
	}
	errs := set.Probe(t.Context(), []string{"docker"})
	if want := "docker: no Docker Engine answers at unix://" + dir + "/missing.sock: no such file or directory"; errs[0] == nil || errs[0].Error() != want {
		t.Errorf("Probe(docker) = %v, want %s", errs[0], want)
	}
	l := set.List(t.Context(), backend.Query{})
	if len(l.Agents) != 1 || l.Agents[0].Name != "from-environ" || len(l.Failed)+len(l.Hung) > 0 {
		t.Errorf("List = %+v, want the one agent, named from the environment smolvm was given", l)
	}
}
