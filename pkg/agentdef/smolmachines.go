package agentdef

import (
	"fmt"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
)

// archiveSuffixes are the names of the image archives smolvm reads.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz"}

func (l *loader) smolmachines(at string, v any) (Smolmachines, error) {
	var s Smolmachines
	obj, ok := v.(*strictjson.Object)
	if !ok {
		return s, l.wrongType(at, "an object", v)
	}
	err := l.fields(obj, at, smolKeys, func(_, at string, v any) (err error) {
		s.Image, err = l.localImage(at, v)
		return err
	})
	return s, err
}

// localImage reads smolmachines.image: a path, relative to the directory
// the definition was found in, of an image archive or of an unpacked root
// file system directory. It returns it absolute, symlinks resolved, so
// that smolvm reads it as a local image and the one checked is the one
// used. A directory becomes the machine's own files, which the agent may
// be able to write: it is checked as a workspace is, and must not hold the
// definition's own directory.
func (l *loader) localImage(at string, v any) (string, error) {
	s, info, err := l.hostPath(at, v, "", "leave it out for the image smolvm pulls")
	switch {
	case err != nil:
		return "", err
	case !info.IsDir() && !(info.Mode().IsRegular() && hasSuffix(s, archiveSuffixes)):
		return "", l.fail(at, fmt.Sprintf("%q is neither a root file system directory nor an image archive (%s)", s, strings.Join(archiveSuffixes, ", ")))
	}
	real, err := l.realPath(at, s)
	if err != nil {
		return "", err
	}
	if !info.IsDir() {
		return real, nil
	}
	holds := real == l.defDir
	if !holds {
		if err := l.checkWorkspace(real); err != nil {
			return "", l.fail(at, err.Error())
		}
		holds = within(l.defDir, real)
	}
	if holds {
		return "", l.fail(at, fmt.Sprintf("%q holds the definition's own directory, which the agent could then rewrite", real))
	}
	return real, nil
}

func hasSuffix(s string, suffixes []string) bool {
	for _, suffix := range suffixes {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
