package cli

import (
	"bytes"
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "a451e22a00e183634cdeabc4dfbb6ffeb4bd26bd"}}
	modified := append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	for _, tc := range []struct {
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"v0.3.0", nil, "v0.3.0"},   // go install …@v0.3.0
		{"(devel)", nil, "(devel)"}, // go build -buildvcs=false
		{"", nil, "(devel)"},
		{"(devel)", rev, "(devel) (a451e22a00e1)"},
		{"(devel)", modified, "(devel) (a451e22a00e1, modified)"},
		{"v0.0.0-20261128063831-a451e22a00e1+dirty", modified, "v0.0.0-20261128063831-a451e22a00e1+dirty"},
	} {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/bottle-dev/bottle", Version: tc.version}, Settings: tc.settings}
		if got := version(info); got != tc.want {
			t.Errorf("version(%q, %v) = %q, want %q", tc.version, tc.settings, got, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	var stdout bytes.Buffer
	var opts struct {
		JSON bool `long:"json"`
	}
	// --version ends the parse where it stands, as --help does.
	rest, err := Command{Name: "bottle-ls"}.Parse(&opts, []string{"--version", "--nope", "extra"}, &stdout)
	if err != errHelp || rest != nil || stdout.String() != "bottle-ls "+Version()+"\n" {
		t.Errorf("--version: %q, %v, printed %q", rest, err, stdout.String())
	}
}
