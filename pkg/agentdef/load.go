package agentdef

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
)

const (
	maxFileSize = 1 << 20
	maxNesting  = 32 // far deeper than any valid definition; bounds the work spent on hostile files
)

// Load finds and loads a definition. ref is either a path to a file ending in ".json"
// (relative to the current directory or absolute), or an agent name that is looked up as
// NAME.json in each directory of cfg.SearchPath, first match wins. A definition found
// through a relative directory of the search path must be trusted (see Trust).
func Load(ref string, cfg Config) (*Definition, error) {
	file, name, mustTrust, err := locate(ref, cfg.SearchPath)
	if err != nil {
		return nil, err
	}
	def, _, err := loadFile(file, name, cfg, mustTrust)
	return def, err
}

// loadFile reads file once and parses the very bytes it hashed: a file
// changed in between cannot pass for the one the user trusted. It returns
// the definition and what a trust record of it would hold.
func loadFile(file, name string, cfg Config, mustTrust bool) (*Definition, TrustedFile, error) {
	l := &loader{file: file, cfg: cfg}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, TrustedFile{}, l.fail("", "cannot resolve the path: "+describe(err))
	}
	data, real, err := l.read(abs)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	digest := sha256.Sum256(data)
	record := TrustedFile{File: real, SHA256: hex.EncodeToString(digest[:])}
	if mustTrust {
		if err := l.checkTrusted(record); err != nil {
			return nil, TrustedFile{}, err
		}
	}
	obj, err := l.decode(data)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	// A relative workspace is relative to the directory the file was
	// found in; the definition's own directory is where it really lies.
	l.dir, l.defDir = filepath.Dir(abs), filepath.Dir(real)
	def, err := l.definition(obj)
	if err != nil {
		return nil, TrustedFile{}, err
	}
	def.Name, def.File, def.Dir = name, abs, l.defDir
	return def, record, nil
}

// read returns the file's bytes and its real path, having checked that
// the bytes are those of the file at that path.
func (l *loader) read(abs string) (data []byte, real string, err error) {
	// Stat first, so that a FIFO or device is refused without being opened.
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", l.fail("", "no such file")
	case err != nil:
		return nil, "", l.fail("", "cannot read: "+describe(err))
	case info.IsDir():
		return nil, "", l.fail("", "is a directory, not a definition file")
	case !info.Mode().IsRegular():
		return nil, "", l.fail("", "is not a regular file")
	case info.Size() > maxFileSize:
		return nil, "", l.fail("", "is larger than 1 MiB")
	}
	// Non-blocking, so that a FIFO put in its place since cannot hang the open.
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", l.fail("", "cannot read: "+describe(err))
	}
	defer f.Close()
	replaced := l.fail("", "was replaced while it was read; try again")
	if opened, err := f.Stat(); err != nil || !os.SameFile(info, opened) {
		return nil, "", replaced
	}
	// The file may have grown since the stat.
	data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, "", l.fail("", "cannot read: "+describe(err))
	}
	if len(data) > maxFileSize {
		return nil, "", l.fail("", "is larger than 1 MiB")
	}
	real, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, "", l.fail("", "cannot resolve the path: "+describe(err))
	}
	// A rename or a changed link since the open would have the bytes of
	// one file recorded under the path of another.
	if now, err := os.Stat(real); err != nil || !os.SameFile(info, now) {
		return nil, "", replaced
	}
	return data, real, nil
}

// decode parses data, which must hold one JSON object.
func (l *loader) decode(data []byte) (*strictjson.Object, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, l.fail("", "is empty; it must hold a JSON object")
	}
	root, err := strictjson.Decode(data, maxNesting)
	if err != nil {
		e := &strictjson.Error{Reason: err.Error()}
		errors.As(err, &e)
		return nil, l.fail(e.Path, e.Reason)
	}
	obj, ok := root.(*strictjson.Object)
	if !ok {
		return nil, l.fail("", "must hold a JSON object at the top level, not "+strictjson.TypeName(root))
	}
	return obj, nil
}

// describe drops the path that os errors repeat, since Error already names the file.
func describe(err error) string {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err.Error()
	}
	return err.Error()
}
