package agentdef_test

import (
	"path/filepath"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// The definitions the project ships are valid as they are, those whose
// images cannot be built here (claude.json) included.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../examples/agents/*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("the examples: %v, %v", files, err)
	}
	for _, file := range files {
		def, err := agentdef.Load(file, agentdef.Config{})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if def.Name == "claude" && (def.Image != "bottle-claude:latest" || len(def.Secrets) != 1 || def.Egress.Allow[0] != "api.anthropic.com" || def.Sidecars[0].Name != "egress") {
			t.Errorf("claude.json is %+v: want the image the Dockerfile makes, behind the egress proxy, its key a secret", def)
		}
	}
}
