package labels_test

import (
	"maps"
	"reflect"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/labels"
)

func TestBottle(t *testing.T) {
	t.Parallel()
	a := agent.Agent{Slug: "reviewer-3f9a1c", Name: "reviewer", Services: []string{"egress", "web"}}
	user := map[string]string{"team": "site"}
	want := map[string]string{
		"team":                "site",
		"dev.bottle.slug":     "reviewer-3f9a1c",
		"dev.bottle.agent":    "reviewer",
		"dev.bottle.services": "egress,web",
	}
	if got := labels.Bottle(a, user); !maps.Equal(got, want) {
		t.Errorf("Bottle = %v, want %v", got, want)
	}
	if len(user) != 1 {
		t.Errorf("Bottle changed the user's labels: %v", user)
	}
	if got := labels.Bottle(agent.Agent{Slug: "s", Name: "s"}, nil); got["dev.bottle.services"] != "" {
		t.Errorf("Bottle of an agent without services = %v, want an empty services label", got)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, a := range []agent.Agent{
		{Slug: "reviewer-3f9a1c", Name: "reviewer", Services: []string{"egress", "web"}},
		{Slug: "shell-000000", Name: "shell"},
		{Slug: "shell-000001", Name: "shell", Branch: &agent.Branch{Name: "bottle/shell-000001", Repo: "/home/u/src/site", Copy: "/home/u/.local/share/bottle/copies/shell-000001-123"}},
		{Slug: "evil", Name: "a\nb", Services: []string{"x\x1b[31m", `y\z`}},
	} {
		got, ok := labels.Decode(labels.Bottle(a, map[string]string{"team": "site"}))
		if !ok || !reflect.DeepEqual(got, a) {
			t.Errorf("Decode(Bottle(%+v)) = %+v, %v", a, got, ok)
		}
	}
	if a, ok := labels.Decode(map[string]string{"dev.bottle.agent": "fake", "dev.bottle.role": "agent"}); ok {
		t.Errorf("Decode of labels without the slug = %+v, want not the toolkit's", a)
	}
}

func TestCarries(t *testing.T) {
	t.Parallel()
	l := map[string]string{"a": "1", "b": ""}
	for _, tc := range []struct {
		want map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"a": "1"}, true},
		{map[string]string{"a": "1", "b": ""}, true},
		{map[string]string{"a": "2"}, false},
		{map[string]string{"c": ""}, false},
	} {
		if got := labels.Carries(l, tc.want); got != tc.ok {
			t.Errorf("Carries(%v, %v) = %v, want %v", l, tc.want, got, tc.ok)
		}
	}
}

func TestCheckUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		user map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"team/x": "y", "a.b_c-d": ""}, ""},
		{map[string]string{"": "x"}, `label key "": use letters, digits, '.', '_', '/' and '-'`},
		{map[string]string{"-a": "x"}, `label key "-a": use letters, digits, '.', '_', '/' and '-'`},
		{map[string]string{"a\tb": "x"}, `label key "a\\tb": use letters, digits, '.', '_', '/' and '-'`},
		{map[string]string{"dev.bottle.slug": "x"}, `label key "dev.bottle.slug": the dev.bottle. prefix is the toolkit's own`},
		{map[string]string{"k": "a\tb"}, `label k: the value must not hold control characters or backslashes`},
		{map[string]string{"k": `a\b`}, `label k: the value must not hold control characters or backslashes`},
	} {
		got := ""
		if err := labels.CheckUser(tc.user); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("CheckUser(%q) = %q, want %q", tc.user, got, tc.want)
		}
	}
}
