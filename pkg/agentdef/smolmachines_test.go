package agentdef

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// smolmachines.image: a local image, relative to the definition's
// directory, given to smolvm absolute and with its symlinks resolved.
func TestSmolmachinesImage(t *testing.T) {
	dir := tempDir(t)
	agents := mkdir(t, dir, "agents")
	images := mkdir(t, dir, "images")
	rootfs := mkdir(t, images, "rootfs")
	archive := writeFile(t, images, "busybox.tar.gz", "x")
	os.Symlink(rootfs, filepath.Join(images, "link"))
	for _, tc := range []struct{ image, want string }{
		{"../images/rootfs", rootfs},
		{"../images/link", rootfs},
		{"../images/busybox.tar.gz", archive},
		{archive, archive},
	} {
		file := writeFile(t, agents, "a.json", `{"image": "x", "smolmachines": {"image": "`+tc.image+`"}}`)
		def, err := Load(file, Config{})
		if err != nil || def.Smolmachines.Image != tc.want {
			t.Errorf("smolmachines.image %s: %+v, %v; want %s", tc.image, def, err, tc.want)
		}
	}
	file := writeFile(t, agents, "a.json", `{"image": "x"}`)
	if def, err := Load(file, Config{}); err != nil || def.Smolmachines.Image != "" {
		t.Errorf("without smolmachines: %+v, %v", def, err)
	}

	writeFile(t, images, "notes.txt", "")
	syscall.Mkfifo(filepath.Join(images, "fifo.tar"), 0o644)
	for _, tc := range []struct{ smol, key, reason string }{
		{`{"image": "../images/none.tar"}`, "smolmachines.image", `"` + filepath.Join(images, "none.tar") + `" does not exist`},
		{`{"image": "../images/notes.txt"}`, "smolmachines.image", `"` + filepath.Join(images, "notes.txt") + `" is neither a root file system directory nor an image archive (.tar, .tar.gz, .tgz)`},
		{`{"image": "../images/fifo.tar"}`, "smolmachines.image", `"` + filepath.Join(images, "fifo.tar") + `" is neither a root file system directory nor an image archive (.tar, .tar.gz, .tgz)`},
		{`{"image": ""}`, "smolmachines.image", "must not be empty; leave it out for the image smolvm pulls"},
		{`{"image": 5}`, "smolmachines.image", "must be a string, not a number"},
		{`{"image": "."}`, "smolmachines.image", `"` + agents + `" holds the definition's own directory, which the agent could then rewrite`},
		{`{"image": ".."}`, "smolmachines.image", `"` + dir + `" holds the definition's own directory, which the agent could then rewrite`},
		{`{"image": "/etc"}`, "smolmachines.image", `"/etc" is /etc, which no bottle may mount`},
		{`{"image": "/"}`, "smolmachines.image", `"/" is the host's whole file system, which no bottle may mount`},
		{`{"imag": "x"}`, "smolmachines.imag", `unknown key; did you mean "image"?`},
		{`"x"`, "smolmachines", "must be an object, not a string"},
	} {
		file := writeFile(t, agents, "a.json", `{"image": "x", "smolmachines": `+tc.smol+`}`)
		_, err := Load(file, Config{})
		checkError(t, err, file, tc.key, tc.reason)
	}
}
