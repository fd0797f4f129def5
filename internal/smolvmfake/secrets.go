package smolvmfake

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tidwall/gjson"
)

// Secrets, as smolvm keeps them: --secret-env GUEST=HOSTVAR and
// --secret-file GUEST=/abs/path store only where a value comes from (the
// machine's "stand_in" "secrets", in the order given), and every start
// and every exec reads the values anew, from its own environment and the
// host's files, failing when one cannot be read. exec's own --secret-env
// and --secret-file are read for that exec alone. The values reach an
// exec's command as its environment (a machine's env < its secrets <
// exec's secrets < exec's -e), as smolvm puts them into the guest.

// maxSecretFile is the largest file smolvm reads a secret from.
const maxSecretFile = 1 << 20

// secretRef is one secret a machine keeps: the guest's variable and
// where its value comes from, one of the two.
type secretRef struct {
	Guest string `json:"guest"`
	Env   string `json:"host_env,omitempty"`
	File  string `json:"host_file,omitempty"`
}

// secretRefs reads the --secret-env and --secret-file of a call, as
// smolvm's value parsers do (GUEST=SOURCE, a file's path absolute: a
// usage error otherwise) and then smolvm itself (a guest variable given
// twice: its failure). A code other than 0 is the call's status, the
// call having failed.
func (c *call) secretRefs(op string) (refs []secretRef, code int) {
	seen := map[string]bool{}
	for _, flag := range []string{"secret-env", "secret-file"} {
		for _, v := range c.flags[flag] {
			guest, source, ok := strings.Cut(v, "=")
			switch {
			case !ok || guest == "" || source == "":
				return nil, c.usage("invalid value '%s' for '--%s <GUEST=%s>': expected GUEST=%s", v, flag, sourceName(flag), sourceName(flag))
			case flag == "secret-file" && !filepath.IsAbs(source):
				return nil, c.usage("invalid value '%s' for '--secret-file <GUEST=/abs/path>': the host path must be absolute", v)
			case seen[guest]:
				return nil, c.fail(fmt.Errorf("config operation failed: %s: secret '%s' is given more than once", op, guest))
			}
			seen[guest] = true
			ref := secretRef{Guest: guest, Env: source}
			if flag == "secret-file" {
				ref = secretRef{Guest: guest, File: source}
			}
			refs = append(refs, ref)
		}
	}
	return refs, 0
}

func sourceName(flag string) string {
	if flag == "secret-file" {
		return "/abs/path"
	}
	return "HOSTVAR"
}

// storedSecrets returns the secrets that machine m keeps.
func storedSecrets(m json.RawMessage) ([]secretRef, error) {
	var refs []secretRef
	if s := gjson.GetBytes(m, "stand_in.secrets"); s.IsArray() {
		if err := json.Unmarshal([]byte(s.Raw), &refs); err != nil {
			return nil, errBadState
		}
	}
	return refs, nil
}

// resolveSecrets reads the values of refs in this process's environment
// and the host's files, as KEY=VALUE. The first that cannot be read fails
// it, in smolvm's words: "resolve secret 'K': REASON".
func resolveSecrets(refs []secretRef) ([]string, error) {
	var env []string
	for _, r := range refs {
		value, reason := resolveSecret(r)
		if reason != "" {
			return nil, fmt.Errorf("config operation failed: resolve secret '%s': %s", r.Guest, reason)
		}
		env = append(env, r.Guest+"="+value)
	}
	return env, nil
}

// resolveSecret returns the value of r, or why it cannot be read: the
// variable is unset (env_unset; an empty value is a value), or the file
// is a symlink (file_symlink), larger than 1 MiB (file_too_large) or not
// a regular file it can read (file_unreadable). A file's trailing
// newlines are trimmed.
func resolveSecret(r secretRef) (value, reason string) {
	if r.File == "" {
		v, ok := os.LookupEnv(r.Env)
		if !ok {
			return "", "env_unset"
		}
		return v, ""
	}
	info, err := os.Lstat(r.File)
	switch {
	case err != nil:
		return "", "file_unreadable"
	case info.Mode()&os.ModeSymlink != 0:
		return "", "file_symlink"
	case !info.Mode().IsRegular():
		return "", "file_unreadable"
	case info.Size() > maxSecretFile:
		return "", "file_too_large"
	}
	f, err := os.Open(r.File)
	if err != nil {
		return "", "file_unreadable"
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return "", "file_unreadable"
	case len(b) > maxSecretFile:
		return "", "file_too_large"
	}
	return strings.TrimRight(string(b), "\r\n"), ""
}
