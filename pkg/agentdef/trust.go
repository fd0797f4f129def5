package agentdef

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Trust. A definition found through a relative directory of the search path
// (the default ./.bottle/agents) came with whatever repository the user is
// in, so it is used only once the user has trusted that very file: its real
// path and the SHA-256 of its bytes are in the trust store,
// StateDir/trusted.json. A file changed since must be trusted again.
//
// The store is JSON, {"files": {"/real/path.json": "hex sha256", ...}}, mode
// 0600 in a directory of mode 0700. Writers take an flock on
// StateDir/trusted.lock, re-read the store under it, and replace the file
// by a rename, so that concurrent writers lose no entry and a reader (Load)
// always sees a whole store without taking the lock.

const (
	storeName    = "trusted.json"
	lockName     = "trusted.lock"
	maxStoreSize = 16 << 20
)

// TrustedFile is one entry of the trust store.
type TrustedFile struct {
	File   string // the definition's real path, symlinks resolved
	SHA256 string // of its bytes when it was trusted, in hex
}

// Trust loads ref as Load does, with every check but the one for trust, and
// records the file in the trust store. It returns the file's real path. A
// definition that does not load is an *Error and is not recorded.
func Trust(ref string, cfg Config) (string, error) {
	file, name, _, err := locate(ref, cfg.SearchPath)
	if err != nil {
		return "", err
	}
	_, record, err := loadFile(file, name, cfg, false)
	if err != nil {
		return "", err
	}
	err = updateStore(cfg.StateDir, func(files map[string]string) bool {
		files[record.File] = record.SHA256
		return true
	})
	return record.File, err
}

// Revoke removes ref, an agent name looked up on the search path or a path
// to a .json file (which need not exist any more), from the trust store. It
// returns the file's real path, and an error when it was not trusted.
func Revoke(ref string, cfg Config) (string, error) {
	file := ref
	if !strings.HasSuffix(ref, ".json") {
		var err error
		if file, _, _, err = locate(ref, cfg.SearchPath); err != nil {
			return "", err
		}
	}
	real, err := realPath(file)
	if err != nil {
		return "", err
	}
	found := false
	err = updateStore(cfg.StateDir, func(files map[string]string) bool {
		_, found = files[real]
		delete(files, real)
		return found
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: not trusted", printable(real))
	}
	return real, err
}

// TrustedFiles lists the trust store, sorted by path.
func TrustedFiles(cfg Config) ([]TrustedFile, error) {
	if cfg.StateDir == "" {
		return nil, nil
	}
	files, err := readStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	list := make([]TrustedFile, 0, len(files))
	for _, file := range slices.Sorted(maps.Keys(files)) {
		list = append(list, TrustedFile{File: file, SHA256: files[file]})
	}
	return list, nil
}

// checkTrusted refuses a definition found through the current directory
// unless the store has it with these very bytes.
func (l *loader) checkTrusted(record TrustedFile) error {
	command := "bottle-trust " + shellQuote(record.File)
	if l.cfg.StateDir == "" {
		return l.fail("", "found through the current directory, and there is no trust store to trust it in: set XDG_STATE_HOME or HOME")
	}
	files, err := readStore(l.cfg.StateDir)
	if err != nil {
		return fmt.Errorf("%s: checking whether it is trusted: %w", printable(l.file), err)
	}
	switch digest, ok := files[record.File]; {
	case !ok:
		return l.fail("", "found through the current directory and not trusted; review it, then run: "+command)
	case digest != record.SHA256:
		return l.fail("", "found through the current directory and changed since it was trusted; review it, then run: "+command)
	}
	return nil
}

// storeFile is the trust store as it is written.
type storeFile struct {
	Files map[string]string `json:"files"`
}

// readStore reads the store in dir; a store that is not there (nor could
// be, under a file) is empty.
func readStore(dir string) (map[string]string, error) {
	path := filepath.Join(dir, storeName)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return map[string]string{}, nil
	case err != nil:
		return nil, fmt.Errorf("trust store: %w", err)
	case len(data) > maxStoreSize:
		return nil, fmt.Errorf("trust store %s: larger than 16 MiB", path)
	}
	var store storeFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&store); err != nil {
		return nil, fmt.Errorf("trust store %s: %v", path, err)
	}
	for file, digest := range store.Files {
		if !filepath.IsAbs(file) || !isHexSHA256(digest) {
			return nil, fmt.Errorf("trust store %s: the entry for %s is not an absolute path with a hex SHA-256", path, printable(file))
		}
	}
	if store.Files == nil {
		store.Files = map[string]string{}
	}
	return store.Files, nil
}

// updateStore changes the store in dir under its lock; change says whether
// there is anything to write.
func updateStore(dir string, change func(files map[string]string) bool) error {
	if dir == "" {
		return errors.New("no place for the trust store: set XDG_STATE_HOME or HOME")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	defer lock.Close() // which releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("trust store: locking %s: %w", lock.Name(), err)
	}
	files, err := readStore(dir)
	if err != nil {
		return err
	}
	if !change(files) {
		return nil
	}
	data, err := json.MarshalIndent(storeFile{Files: files}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomically(filepath.Join(dir, storeName), append(data, '\n'))
}

// writeAtomically replaces path with data (mode 0600) by a rename, so that
// no reader sees half a store and a crash leaves the old one.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	return nil
}

// realPath is file's absolute path with symlinks resolved as far as they
// exist: a definition that was deleted can still be revoked by its path.
func realPath(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", &Error{File: file, Reason: "cannot resolve the path: " + describe(err)}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	return abs, nil
}

// shellQuote makes s one word for a POSIX shell, for a command the user is
// told to run; a string with characters no terminal should see raw is
// escaped instead, as Error does with file names.
func shellQuote(s string) string {
	const safe = upper + lower + digits + "_@%+=:,./-"
	switch {
	case s != "" && strings.Trim(s, safe) == "":
		return s
	case printable(s) != s:
		return printable(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isHexSHA256 says whether s is a SHA-256 in lower-case hex, as the store keeps them.
func isHexSHA256(s string) bool {
	return len(s) == 2*sha256.Size && strings.Trim(s, "0123456789abcdef") == ""
}
