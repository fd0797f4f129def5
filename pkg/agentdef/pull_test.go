package agentdef

import "testing"

func TestLoadPull(t *testing.T) {
	dir := tempDir(t)
	for _, tc := range []struct{ json, want string }{
		{`{"image": "x"}`, ""},
		{`{"image": "x", "pull": null}`, ""},
		{`{"image": "x", "pull": "missing"}`, "missing"},
		{`{"image": "x", "pull": "always"}`, "always"},
		{`{"image": "x", "pull": "never"}`, "never"},
	} {
		def, err := Load(writeFile(t, dir, "a.json", tc.json), Config{})
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if string(def.Pull) != tc.want {
			t.Errorf("%s: Pull %q, want %q", tc.json, def.Pull, tc.want)
		}
	}
	for _, tc := range []struct{ json, reason string }{
		{`{"image": "x", "pull": "Always"}`, `"Always" is not a way to pull: use missing, always, never`},
		{`{"image": "x", "pull": ""}`, `"" is not a way to pull: use missing, always, never`},
		{`{"image": "x", "pull": true}`, `must be a string, not a boolean`},
	} {
		file := writeFile(t, dir, "b.json", tc.json)
		_, err := Load(file, Config{})
		checkError(t, err, file, "pull", tc.reason)
	}
}
