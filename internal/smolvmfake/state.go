package smolvmfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tidwall/gjson"
)

var errBadState = errors.New("state file is not valid JSON")

// load reads the machines of the state file, each kept as it is written so
// that rewriting the file preserves machines the call does not touch.
func load(path string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []json.RawMessage
	if json.Unmarshal(b, &ms) != nil {
		return nil, errBadState
	}
	return ms, nil
}

// update applies fn to the machines under an exclusive lock, and writes the
// result by rename so that readers without the lock never see half a file.
func update(path string, fn func([]json.RawMessage) ([]json.RawMessage, error)) error {
	return locked(path, func() error {
		ms, err := load(path)
		if err != nil {
			return err
		}
		if ms, err = fn(ms); err != nil {
			return err
		}
		if ms == nil {
			ms = []json.RawMessage{}
		}
		b, err := json.MarshalIndent(ms, "", "  ")
		if err != nil {
			return err
		}
		return replace(path, append(b, '\n'))
	})
}

// locked runs fn holding the state's lock: a lock file beside the state, as
// the state file itself is replaced. Each call opens its own, so that the
// flock also excludes other calls in the same process; closing it
// releases the lock.
func locked(path string, fn func() error) error {
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return fn()
}

// replace writes the file at path anew, by rename.
func replace(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// find returns the index of the machine called name, -1 if there is none.
func find(ms []json.RawMessage, name string) int {
	return slices.IndexFunc(ms, func(m json.RawMessage) bool {
		n := gjson.GetBytes(m, "name")
		return n.Type == gjson.String && n.Str == name
	})
}

// setField returns object m with key set to the JSON value val, in place of
// the old value if there is one, else added at the end; other bytes stay as
// they are.
func setField(m json.RawMessage, key, val string) json.RawMessage {
	if old := gjson.GetBytes(m, key); old.Exists() {
		return slices.Concat(m[:old.Index], []byte(val), m[old.Index+len(old.Raw):])
	}
	end := bytes.LastIndexByte(m, '}')
	field := strconv.Quote(key) + ":" + val
	if len(bytes.TrimSpace(m[bytes.IndexByte(m, '{')+1:end])) > 0 {
		field = "," + field
	}
	return slices.Concat(m[:end], []byte(field), m[end:])
}

// setStandIn sets key of the machine's "stand_in" object to the JSON value val.
func setStandIn(m json.RawMessage, key, val string) json.RawMessage {
	standIn := "{}"
	if s := gjson.GetBytes(m, "stand_in"); s.IsObject() {
		standIn = s.Raw
	}
	return setField(m, "stand_in", string(setField(json.RawMessage(standIn), key, val)))
}

// The VMs that run are the lines of STATE.vms, each a machine's name; it
// is read and written under the state's lock.

func vmsFile(state string) string { return state + ".vms" }

// setVM records that the VM of the machine name runs, or no longer does.
func setVM(state, name string, runs bool) error {
	b, err := os.ReadFile(vmsFile(state))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	names := slices.DeleteFunc(strings.Fields(string(b)), func(n string) bool { return n == name })
	if runs {
		names = append(names, name)
	}
	slices.Sort(names)
	var out strings.Builder
	for _, n := range names {
		out.WriteString(n + "\n")
	}
	return replace(vmsFile(state), []byte(out.String()))
}

// pingTimeout is how long smolvm's ping of a VM that does not answer takes.
var pingTimeout = 3 * time.Second

// writeMachines prints machines, the JSON of the state file or of one of its
// entries, as smolvm prints them: pretty, two spaces, keys sorted (smolvm's
// serde_json keeps no insertion order), without what smolvm ver does not
// have, and with the state of each running machine as its ping finds it.
// What is not JSON is printed as it is, so that whatever a test put in
// the state reaches smolvm's caller.
func writeMachines(w io.Writer, raw []byte, ver version) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if !json.Valid(raw) || dec.Decode(&v) != nil {
		_, err := w.Write(raw)
		return err
	}
	objects, ok := v.([]any)
	if !ok {
		objects = []any{v}
	}
	for _, o := range objects {
		if m, ok := o.(map[string]any); ok {
			probe(m)
			if ver.before(labelsSince) {
				for _, k := range []string{"labels", "cuda", "forkable", "cuda_fork_pool_size", "cuda_vram_limit_mib"} {
					delete(m, k)
				}
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// probe resolves a machine's state as smolvm does for a listing: a running
// machine whose VM does not answer is unreachable, after a ping's timeout.
func probe(m map[string]any) {
	standIn, _ := m["stand_in"].(map[string]any)
	if m["state"] == "running" && standIn["hung"] == true {
		time.Sleep(pingTimeout)
		m["state"] = "unreachable"
	}
}
