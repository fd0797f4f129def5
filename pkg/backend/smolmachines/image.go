package smolmachines

import (
	"fmt"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// imageOf is the --image of the agent's machine. smolvm reads a value
// starting with "/", "./" or "../", or ending in ".tar", ".tar.gz" or
// ".tgz", as a local image, and anything else, a bare "name:tag" among
// them, as a registry reference, which it pulls at the first start, and
// which it refuses for a machine without network. So the image is the
// definition's smolmachines.image when it names one (an absolute path,
// local whatever its name), else its image, which must then be a registry
// reference (a relative path would be read from wherever smolvm runs) and
// have an allowlist to be pulled through.
func imageOf(def *agentdef.Definition) (string, error) {
	switch image := def.Image; {
	case def.Smolmachines.Image != "":
		return def.Smolmachines.Image, nil
	case readsAsLocal(image):
		return "", fmt.Errorf(`image %q is a path to smolvm, which it would read from where it runs: give it as "smolmachines": {"image": "PATH"}, relative to the definition`, image)
	case def.Pull == agentdef.PullNever:
		return "", fmt.Errorf(`image %q is a registry reference, which smolvm pulls itself, and pull is "never": give a local image as "smolmachines": {"image": "PATH"}`, image)
	case len(def.Egress.Allow) == 0:
		return "", fmt.Errorf(`image %q is a registry reference to smolvm, and a machine without network (no egress.allow) cannot pull it: give a local image as "smolmachines": {"image": "PATH"}, an archive (.tar, .tar.gz, .tgz) or a root file system directory`, image)
	}
	return def.Image, nil
}

func readsAsLocal(image string) bool {
	for _, prefix := range []string{"/", "./", "../"} {
		if strings.HasPrefix(image, prefix) {
			return true
		}
	}
	for _, suffix := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(image, suffix) {
			return true
		}
	}
	return false
}
