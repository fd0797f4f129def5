package agentdef_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// The definitions the project ships are valid as they are, those whose
// images cannot be built here (claude.json) included. They are read from a
// copy of the project's layout in which bin/images/bottle-demo, the root
// file system `make images` writes for smolvm, exists: a fresh clone has
// not built it, and whether it has is no property of the definitions.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../examples/agents/*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("the examples: %v, %v", files, err)
	}
	project := t.TempDir()
	agents := filepath.Join(project, "examples", "agents")
	for _, dir := range []string{agents, filepath.Join(project, "bin", "images", "bottle-demo")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(agents, filepath.Base(file))
		if err := os.WriteFile(copied, b, 0o644); err != nil {
			t.Fatal(err)
		}
		def, err := agentdef.Load(copied, agentdef.Config{})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
			continue
		}
		if def.Name == "claude" && (def.Image != "bottle-claude:latest" || len(def.Secrets) != 1 || def.Egress.Allow[0] != "api.anthropic.com" || def.Sidecars[0].Name != "egress") {
			t.Errorf("claude.json is %+v: want the image the Dockerfile makes, behind the egress proxy, its key a secret", def)
		}
	}
}
