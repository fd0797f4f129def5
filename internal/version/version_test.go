package version

import (
	"runtime/debug"
	"testing"
)

func TestOf(t *testing.T) {
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
		if got := of(info); got != tc.want {
			t.Errorf("of(%q, %v) = %q, want %q", tc.version, tc.settings, got, tc.want)
		}
	}
}
