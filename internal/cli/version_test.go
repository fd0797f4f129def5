package cli

import (
	"bytes"
	"testing"
)

func TestVersionFlag(t *testing.T) {
	var stdout bytes.Buffer
	var opts struct {
		JSON bool `long:"json"`
	}
	// --version ends the parse where it stands, as --help does.
	rest, err := Command{Name: "bottle-ls"}.parse(&opts, []string{"--version", "--nope", "extra"}, &stdout)
	if err != errHelp || rest != nil || stdout.String() != "bottle-ls "+Version()+"\n" {
		t.Errorf("--version: %q, %v, printed %q", rest, err, stdout.String())
	}
}
