package smolvmfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine is a new machine as `machine ls --json` shows it, plus what the
// stand-in keeps for tests.
type machine struct {
	Name                   string            `json:"name"`
	State                  string            `json:"state"`
	CPUs                   uint64            `json:"cpus"`
	MemoryMiB              uint64            `json:"memory_mib"`
	PID                    *int              `json:"pid"`
	Mounts                 int               `json:"mounts"`
	Ports                  int               `json:"ports"`
	CreatedAt              int64             `json:"created_at"`
	StorageGB              *int              `json:"storage_gb"`
	OverlayGB              *int              `json:"overlay_gb"`
	Image                  *string           `json:"image"`
	Entrypoint             []string          `json:"entrypoint"`
	Cmd                    []string          `json:"cmd"`
	Ephemeral              bool              `json:"ephemeral"`
	GPU                    bool              `json:"gpu"`
	GPUVRAMMiB             *int              `json:"gpu_vram_mib"`
	CUDA                   bool              `json:"cuda"`
	Forkable               bool              `json:"forkable"`
	CUDAForkPoolSize       *int              `json:"cuda_fork_pool_size"`
	CUDAVRAMLimitMiB       *int              `json:"cuda_vram_limit_mib"`
	ForkpointHeld          bool              `json:"forkpoint_held"`
	Labels                 map[string]string `json:"labels"`
	RestartPolicy          string            `json:"restart_policy"`
	RestartMaxRetries      int               `json:"restart_max_retries"`
	RestartCount           int               `json:"restart_count"`
	HealthCmd              *string           `json:"health_cmd"`
	HealthIntervalSecs     *int              `json:"health_interval_secs"`
	HealthTimeoutSecs      *int              `json:"health_timeout_secs"`
	HealthRetries          *int              `json:"health_retries"`
	HealthStartupGraceSecs *int              `json:"health_startup_grace_secs"`
	Network                bool              `json:"network"`
	StandIn                standIn           `json:"stand_in"`
}

// standIn is what the stand-in keeps of a machine that ls has no field
// for, under a key of its own that no smolvm prints (see the package
// documentation).
type standIn struct {
	Env       []string          `json:"env"`
	Workdir   *string           `json:"workdir"`
	Volumes   []string          `json:"volumes"`
	Reach     string            `json:"reach"`
	CreateEnv map[string]string `json:"create_env"`
	Secrets   []secretRef       `json:"secrets"`
	BootEnv   map[string]string `json:"boot_env"`            // null until the first boot
	Published []string          `json:"published,omitempty"` // the -p values, as given
}

// hardeningVars are the variables of smolvm's caller that decide how
// confined a machine is: the egress floor its network applies, and the
// syscall and file system confinement of its VMM.
var hardeningVars = []string{"SMOLVM_EGRESS_FLOOR", "SMOLVM_SECCOMP", "SMOLVM_LANDLOCK"}

// hardeningEnv returns those of hardeningVars that are set, with their values.
func hardeningEnv() map[string]string {
	env := map[string]string{}
	for _, k := range hardeningVars {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}

func create(c *call) int {
	if c.has("image") && c.flag("image") == "" {
		return c.usage("a value is required for '--image <IMAGE>' but none was supplied")
	}
	if stray := createFlagsIn(c.command); len(stray) > 0 {
		verb := "it was"
		if len(stray) > 1 {
			verb = "they were"
		}
		fmt.Fprintf(c.stderr, "note: %s came after `--`, so %s passed to the workload and did not configure the machine. Machine options go before `--`.\n", strings.Join(stray, ", "), verb)
	}
	m := machine{
		Name:          c.flag("name"),
		State:         "created",
		CPUs:          4, // smolvm's defaults when no size is given
		MemoryMiB:     8192,
		Mounts:        len(c.flags["volume"]),
		Ports:         len(c.flags["port"]),
		CreatedAt:     time.Now().Unix(),
		Entrypoint:    []string{},
		Cmd:           append([]string{}, c.command...),
		Labels:        map[string]string{},
		RestartPolicy: "never",
		StandIn: standIn{
			// Non-nil, so that "none" reads [] rather than null.
			Env:       envValues(c.flags["env"]),
			Volumes:   append([]string{}, c.flags["volume"]...),
			Published: append([]string{}, c.flags["port"]...),
			CreateEnv: hardeningEnv(),
		},
	}
	if !c.has("name") {
		m.Name = fmt.Sprintf("vm-%x", time.Now().UnixNano()&0xffffff)
	}
	if c.has("workdir") {
		w := c.flag("workdir")
		m.StandIn.Workdir = &w
	}
	// Sizes as smolvm types them: cpus is a u8, mem a u32.
	for _, n := range []struct {
		long string
		bits int
		dst  *uint64
	}{{"cpus", 8, &m.CPUs}, {"mem", 32, &m.MemoryMiB}} {
		if !c.has(n.long) {
			continue
		}
		v, err := strconv.ParseUint(c.flag(n.long), 10, n.bits)
		if err != nil {
			return c.usage("invalid value '%s' for '--%s': %v", c.flag(n.long), n.long, errors.Unwrap(err))
		}
		*n.dst = v
	}
	if !c.networkValues() {
		return 2
	}
	var code int
	if m.StandIn.Secrets, code = c.secretRefs("create machine"); code != 0 {
		return code
	}
	if m.StandIn.Secrets == nil {
		m.StandIn.Secrets = []secretRef{}
	}
	if err := checkName(m.Name); err != nil {
		return c.fail(fmt.Errorf("config operation failed: create machine: %w", err))
	}
	for _, l := range c.flags["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return c.fail(fmt.Errorf("config operation failed: create machine: invalid label '%s': expected KEY=VALUE with a non-empty KEY", l))
		}
		m.Labels[k] = v
	}
	reach, stored, err := c.reach()
	if err != nil {
		return c.fail(err)
	}
	m.StandIn.Reach, m.Network = reach, stored
	if err := checkVolumes(c.flags["volume"]); err != nil {
		return c.fail(err)
	}
	if err := checkSize(m.CPUs, m.MemoryMiB, c.stderr); err != nil {
		return c.fail(err)
	}
	if err := c.checkNetwork(reach); err != nil {
		return c.fail(err)
	}
	if c.has("image") {
		image, err := c.stageImage(c.flag("image"), reach != "none")
		if err != nil {
			return c.fail(fmt.Errorf("config operation failed: create machine: %w", err))
		}
		m.Image = &image
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return c.fail(err)
	}
	err = update(c.state, func(ms []json.RawMessage) ([]json.RawMessage, error) {
		if find(ms, m.Name) >= 0 {
			return nil, fmt.Errorf("config operation failed: create machine: machine '%s' already exists or is being created", m.Name)
		}
		return append(ms, raw), nil
	})
	if err == nil {
		err = makeDataDir(c.state, m.Name)
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Created machine: %s\n", m.Name)
	return 0
}

// createLongs are the long options of smolvm's create, those the
// stand-in does not model included.
var createLongs = func() []string {
	longs := []string{"--storage", "--overlay", "--init", "--smolfile", "--from", "--max-image-size"}
	for _, o := range createOpts {
		longs = append(longs, "--"+o.long)
	}
	return longs
}()

// createFlagsIn returns the words of the workload command that are long
// options of create, each once, in their order: smolvm passes them to the
// workload, as everything after "--", and names them in a note, since
// they configure nothing.
func createFlagsIn(command []string) []string {
	var found []string
	for _, w := range command {
		if slices.Contains(createLongs, w) && !slices.Contains(found, w) {
			found = append(found, w)
		}
	}
	return found
}

// checkName applies smolvm's rules for a machine's name, which only
// create checks: 1 to 128 bytes of A-Z, a-z, 0-9, "_" and "-", starting
// with a letter or digit, with no "--" and no "-" at the end.
func checkName(name string) error {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	switch {
	case name == "":
		return errors.New("machine name cannot be empty")
	case len(name) > 128:
		return fmt.Errorf("machine name cannot be longer than 128 bytes (got %d)", len(name))
	case !strings.ContainsRune(alnum, rune(name[0])):
		return fmt.Errorf("machine name must start with a letter or digit (got: %q)", name)
	case strings.Trim(name, alnum+"_-") != "":
		return fmt.Errorf("machine name may only contain letters, digits, '_' and '-' (got: %q)", name)
	case strings.HasSuffix(name, "-"):
		return fmt.Errorf("machine name cannot end with a hyphen (got: %q)", name)
	case strings.Contains(name, "--"):
		return fmt.Errorf("machine name cannot contain consecutive hyphens (got: %q)", name)
	}
	return nil
}

// stageImage reads --image as smolvm does and returns what ls then shows.
// "-" is a `docker save` archive on stdin; a value starting with "/",
// "./" or "../", or ending in ".tar", ".tar.gz" or ".tgz", is local: an
// existing directory is a root file system, anything else an archive,
// both staged now; anything else is a registry reference, which a machine
// without network cannot pull.
func (c *call) stageImage(image string, network bool) (string, error) {
	local := false
	for _, prefix := range []string{"/", "./", "../"} {
		local = local || strings.HasPrefix(image, prefix)
	}
	for _, suffix := range []string{".tar", ".tar.gz", ".tgz"} {
		local = local || strings.HasSuffix(image, suffix)
	}
	switch {
	case image == "-":
		return digest(c.stdin, "stdin")
	case !local && !network:
		return "", fmt.Errorf("image '%s' must be pulled from a registry, but this machine has no network; give it network or use a local image (--image PATH or --image -)", image)
	case !local:
		return image, nil
	}
	if info, err := os.Stat(image); err == nil && info.IsDir() {
		dir, err := filepath.EvalSymlinks(image)
		if err == nil {
			dir, err = filepath.Abs(dir)
		}
		return "local-dir:" + dir, err
	}
	f, err := os.Open(image)
	if err != nil {
		return "", fmt.Errorf("image archive '%s': %v", image, errors.Unwrap(err))
	}
	defer f.Close()
	return digest(f, image)
}

// digest is how smolvm records a local archive: its SHA-256.
func digest(r io.Reader, what string) (string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	switch {
	case err != nil:
		return "", fmt.Errorf("image archive '%s': %v", what, err)
	case n == 0:
		return "", fmt.Errorf("image archive '%s' is empty", what)
	}
	return "local:" + hex.EncodeToString(h.Sum(nil)), nil
}

// protectedMounts are the host paths smolvm never mounts (on Linux): each
// itself and, where true, everything below it.
var protectedMounts = []struct {
	path    string
	subtree bool
}{
	{"/", false}, {"/var", false}, {"/var/run", true}, {"/var/log", true},
	{"/etc", true}, {"/boot", true}, {"/usr", true}, {"/bin", true},
	{"/sbin", true}, {"/lib", true}, {"/proc", true}, {"/sys", true},
	{"/dev", true}, {"/run", true},
}

// checkVolumes checks -v HOST:GUEST[:ro|:rw] as smolvm does: split from the
// right (HOST may hold a ':', GUEST may not), HOST an existing directory
// (virtiofs shares directories only) that is no protected system path once
// its symlinks are resolved, GUEST absolute, and no GUEST given twice.
func checkVolumes(specs []string) error {
	var targets []string
	for _, spec := range specs {
		rest := spec
		if i := strings.LastIndexByte(spec, ':'); i >= 0 && (spec[i+1:] == "ro" || spec[i+1:] == "rw") {
			rest = spec[:i]
		}
		i := strings.LastIndexByte(rest, ':')
		if i <= 0 || i == len(rest)-1 {
			return fmt.Errorf("invalid mount path: invalid format '%s' (expected host:guest[:ro|:rw])", spec)
		}
		host, guest := rest[:i], rest[i+1:]
		info, err := os.Stat(host)
		if err != nil {
			return fmt.Errorf("mount source not found: %s", host)
		}
		if !info.IsDir() {
			return fmt.Errorf("mount operation failed: validate host path: source path on host must be a directory (virtiofs limitation): %s", host)
		}
		canonical, err := filepath.EvalSymlinks(host)
		if err == nil {
			canonical, err = filepath.Abs(canonical)
		}
		if err != nil {
			return fmt.Errorf("mount operation failed: canonicalize host path: '%s': %v", host, errors.Unwrap(err))
		}
		for _, p := range protectedMounts {
			if canonical == p.path || p.subtree && strings.HasPrefix(canonical, p.path+"/") {
				return fmt.Errorf("mount operation failed: validate host path: source path on host is a protected system path and cannot be mounted: %s", canonical)
			}
		}
		if !strings.HasPrefix(guest, "/") {
			return fmt.Errorf("mount operation failed: validate guest path: target path on guest should be an absolute directory: %s", guest)
		}
		targets = append(targets, guest)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[path.Clean(t)] {
			return fmt.Errorf("mount operation failed: validate mounts: duplicate mount target: %s is specified more than once", t)
		}
		seen[path.Clean(t)] = true
	}
	return nil
}

// checkSize refuses what cannot boot; more vCPUs than the hypervisor runs
// are only warned about, as smolvm caps them.
func checkSize(cpus, mib uint64, stderr io.Writer) error {
	switch {
	case cpus == 0:
		return errors.New("config operation failed: validate resources: CPU count must be at least 1")
	case mib < 64:
		return fmt.Errorf("config operation failed: validate resources: memory must be at least 64 MiB (got %d MiB)", mib)
	case cpus > 16:
		fmt.Fprintf(stderr, "warning: requested %d vCPUs but the hypervisor supports at most 16; the VM will run with 16 vCPUs\n", cpus)
	}
	return nil
}
