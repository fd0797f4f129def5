package agentdef

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Config is what loading a definition needs to know of the user's
// environment. The binaries read it once, with ConfigFromEnv, and pass it on.
type Config struct {
	SearchPath []string // the directories searched for NAME.json, in order; a relative one needs trust
	Home       string   // the user's home directory, "" when unknown: never a workspace, nor what contains it
	ConfigDir  string   // bottle's own configuration ($XDG_CONFIG_HOME/bottle), "" when unknown: never mounted
	StateDir   string   // bottle's state, the trust store among it ($XDG_STATE_HOME/bottle), "" when unknown: never mounted
	DataDir    string   // bottle's data, the agents' copies of repositories among it ($XDG_DATA_HOME/bottle), "" when unknown: never mounted
}

// defaultSearchEntry is the search path's entry for the definitions of the
// repository the user is in; what is found through it needs trust.
const defaultSearchEntry = "./.bottle/agents"

// ConfigFromEnv reads the Config from the environment:
//
//   - SearchPath: the colon-separated BOTTLE_AGENT_PATH if set and non-empty
//     (empty entries skipped), else ConfigDir/agents, then defaultSearchEntry;
//   - Home: HOME, when it is an absolute path;
//   - ConfigDir: $XDG_CONFIG_HOME/bottle, XDG_CONFIG_HOME defaulting to $HOME/.config;
//   - StateDir: $XDG_STATE_HOME/bottle, XDG_STATE_HOME defaulting to $HOME/.local/state;
//   - DataDir: $XDG_DATA_HOME/bottle, XDG_DATA_HOME defaulting to $HOME/.local/share.
//
// A relative XDG_CONFIG_HOME, XDG_STATE_HOME or XDG_DATA_HOME is ignored, as the XDG base
// directory specification requires.
func ConfigFromEnv(getenv func(string) string) Config {
	var cfg Config
	if home := getenv("HOME"); filepath.IsAbs(home) {
		cfg.Home = filepath.Clean(home)
	}
	xdg := func(key, fallback string) string {
		base := getenv(key)
		switch {
		case filepath.IsAbs(base):
		case cfg.Home != "":
			base = filepath.Join(cfg.Home, fallback)
		default:
			return ""
		}
		return filepath.Join(base, "bottle")
	}
	cfg.ConfigDir = xdg("XDG_CONFIG_HOME", ".config")
	cfg.StateDir = xdg("XDG_STATE_HOME", filepath.Join(".local", "state"))
	cfg.DataDir = xdg("XDG_DATA_HOME", filepath.Join(".local", "share"))
	if list := getenv("BOTTLE_AGENT_PATH"); list != "" {
		for _, dir := range strings.Split(list, ":") {
			if dir != "" {
				cfg.SearchPath = append(cfg.SearchPath, dir)
			}
		}
		return cfg
	}
	// The user's own directory comes first, so that a repository's
	// definition never shadows the user's of the same name.
	if cfg.ConfigDir != "" {
		cfg.SearchPath = append(cfg.SearchPath, filepath.Join(cfg.ConfigDir, "agents"))
	}
	cfg.SearchPath = append(cfg.SearchPath, defaultSearchEntry)
	return cfg
}

// locate turns ref into the file to load and the agent's name, and says
// whether the file was found through a relative directory of the search
// path: one that depends on where the user happens to be.
func locate(ref string, searchPath []string) (file, name string, mustTrust bool, err error) {
	if strings.HasSuffix(ref, ".json") {
		name := strings.TrimSuffix(filepath.Base(ref), ".json")
		if !validAgentName(name) {
			return "", "", false, &Error{File: ref, Reason: fmt.Sprintf("the file name gives the agent name %q, which is not allowed: %s", name, agentNameRule)}
		}
		return ref, name, false, nil
	}
	if !validAgentName(ref) {
		reason := "not a valid agent name: " + agentNameRule
		if strings.ContainsAny(ref, `/\.`) {
			reason += `; to load a file, give a path ending in ".json"`
		}
		return "", "", false, &Error{File: ref, Reason: reason}
	}
	file, dir, err := find(ref, searchPath)
	if err != nil {
		return "", "", false, err
	}
	return file, ref, !filepath.IsAbs(dir), nil
}

// Names lists the agent names found on searchPath (sorted, deduplicated, first match wins), for help and error messages.
func Names(searchPath []string) []string {
	seen := map[string]bool{}
	for _, dir := range searchPath {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, entry := range entries {
			name, ok := strings.CutSuffix(entry.Name(), ".json")
			if !ok || !validAgentName(name) {
				continue
			}
			if info, err := os.Stat(filepath.Join(dir, entry.Name())); err == nil && info.Mode().IsRegular() {
				seen[name] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// find returns the first NAME.json on searchPath and the directory of the
// search path it was found in.
func find(name string, searchPath []string) (file, dir string, err error) {
	for _, dir := range searchPath {
		file := filepath.Join(dir, name+".json")
		_, err := os.Stat(file)
		if err == nil {
			return file, dir, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", "", &Error{File: file, Reason: "cannot read: " + describe(err)}
		}
	}
	if len(searchPath) == 0 {
		return "", "", &Error{File: name, Reason: fmt.Sprintf("no definition %s.json: the search path is empty (set BOTTLE_AGENT_PATH)", name)}
	}
	dirs := make([]string, len(searchPath))
	for i, dir := range searchPath {
		dirs[i] = printable(dir)
	}
	reason := fmt.Sprintf("no definition %s.json in %s", name, strings.Join(dirs, ", "))
	if names := Names(searchPath); len(names) > 0 {
		reason += "; available agents: " + strings.Join(names, ", ")
	}
	return "", "", &Error{File: name, Reason: reason}
}
