package agentdef

import (
	"slices"
	"strings"
	"testing"
)

// loadJSON loads content as dir/a.json and returns the definition and the
// file's path.
func loadJSON(t *testing.T, content string) (*Definition, string, error) {
	t.Helper()
	file := writeFile(t, tempDir(t), "a.json", content)
	def, err := Load(file, Config{})
	return def, file, err
}

func TestSafeCapabilities(t *testing.T) {
	if !slices.IsSorted(SafeCapabilities) {
		t.Errorf("not sorted: %q", SafeCapabilities)
	}
	all := `"` + strings.Join(SafeCapabilities, `", "`) + `"`
	def, _, err := loadJSON(t, `{"image": "x", "cap_add": [`+all+`, "cap_kill", "Chown"],
		"sidecars": [{"name": "s", "image": "y", "cap_add": [`+all+`]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(SafeCapabilities), "KILL", "CHOWN"); !slices.Equal(def.CapAdd, want) {
		t.Errorf("agent: %q, want %q", def.CapAdd, want)
	}
	if !slices.Equal(def.Sidecars[0].CapAdd, SafeCapabilities) {
		t.Errorf("sidecar: %q", def.Sidecars[0].CapAdd)
	}
}

// Each capability that could let a process out of its container, or act on
// the host or the bottle's network, is refused for the agent and for every
// sidecar, whatever its spelling.
func TestUnsafeCapabilities(t *testing.T) {
	for _, c := range []string{
		"SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "NET_ADMIN", "NET_RAW", "DAC_READ_SEARCH",
		"SYS_RAWIO", "BPF", "MKNOD", "SETFCAP", "PERFMON", "SYS_BOOT", "SYS_TIME", "SYS_RESOURCE",
		"LINUX_IMMUTABLE", "IPC_LOCK", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG", "WAKE_ALARM",
		"BLOCK_SUSPEND", "AUDIT_CONTROL", "AUDIT_READ", "CHECKPOINT_RESTORE", "SYS_NICE",
		"SYS_PACCT", "SYS_TTY_CONFIG", "LEASE", "IPC_OWNER", "NET_BROADCAST",
		"ALL", "cap_sys_admin", "Sys_Admin", "NOPE", "net admin", "",
	} {
		t.Run(c, func(t *testing.T) {
			_, file, err := loadJSON(t, `{"image": "x", "cap_add": ["CHOWN", "`+c+`"]}`)
			checkError(t, err, file, "cap_add[1]", capReason(c))
			_, file, err = loadJSON(t, `{"image": "x", "sidecars": [{"name": "a", "image": "y"},
				{"name": "b", "image": "y", "cap_add": ["`+c+`"]}]}`)
			checkError(t, err, file, "sidecars[1].cap_add[0]", capReason(c))
		})
	}
}

func TestSidecarPidsLimit(t *testing.T) {
	def, _, err := loadJSON(t, `{"image": "x", "sidecars": [{"name": "s", "image": "y", "pids_limit": 16}]}`)
	if err != nil || def.Sidecars[0].PidsLimit != 16 {
		t.Fatalf("%v, %+v", err, def)
	}
	_, file, err := loadJSON(t, `{"image": "x", "sidecars": [{"name": "s", "image": "y", "pids_limit": 0}]}`)
	checkError(t, err, file, "sidecars[0].pids_limit", "0 must be a whole number from 16 to 4194304")
}

func TestLimits(t *testing.T) {
	for _, tt := range []struct {
		memory string
		want   int64
	}{
		{`"6m"`, 6 << 20},
		{`"512m"`, 512 << 20},
		{`"512M"`, 512 << 20},
		{`"512mb"`, 512 << 20},
		{`"1.5g"`, 3 << 29},
		{`"4g"`, 4 << 30},
		{`"1t"`, 1 << 40},
		{`"7340032"`, 7 << 20}, // bytes, as docker takes them
	} {
		def, _, err := loadJSON(t, `{"image": "x", "memory": `+tt.memory+`, "sidecars": [{"name": "s", "image": "y", "memory": `+tt.memory+`}]}`)
		if err != nil {
			t.Errorf("memory %s: %v", tt.memory, err)
			continue
		}
		if def.Memory != tt.want || def.Sidecars[0].Memory != tt.want {
			t.Errorf("memory %s: %d and %d, want %d", tt.memory, def.Memory, def.Sidecars[0].Memory, tt.want)
		}
	}
	for _, tt := range []struct {
		cpus string
		want float64
	}{{"2", 2}, {"0.5", 0.5}, {"0.01", 0.01}, {"64", 64}, {"1e1", 10}} {
		def, _, err := loadJSON(t, `{"image": "x", "cpus": `+tt.cpus+`, "sidecars": [{"name": "s", "image": "y", "cpus": `+tt.cpus+`}]}`)
		if err != nil {
			t.Errorf("cpus %s: %v", tt.cpus, err)
			continue
		}
		if def.CPUs != tt.want || def.Sidecars[0].CPUs != tt.want {
			t.Errorf("cpus %s: %g and %g, want %g", tt.cpus, def.CPUs, def.Sidecars[0].CPUs, tt.want)
		}
	}
}

func TestLimitErrors(t *testing.T) {
	for _, tt := range []struct {
		key, value, reason string
	}{
		{"memory", `"5m"`, `"5m" is less than 6m, the least docker allows`},
		{"memory", `"0"`, `"0" is less than 6m, the least docker allows`},
		{"memory", `"1.1t"`, `"1.1t" is more than 1t, the most a bottle may have`},
		{"memory", `"2p"`, `"2p" is more than 1t, the most a bottle may have`},
		{"memory", `"99999999999999999999t"`, `"99999999999999999999t" is more than 1t, the most a bottle may have`},
		{"memory", `"lots"`, `"lots" is not an amount of memory such as "512m", "1.5g" or "4g"`},
		{"memory", `"-1g"`, `"-1g" is not an amount of memory such as "512m", "1.5g" or "4g"`},
		{"memory", `"4gb "`, `"4gb " is not an amount of memory such as "512m", "1.5g" or "4g"`},
		{"memory", `""`, `"" is not an amount of memory such as "512m", "1.5g" or "4g"`},
		{"memory", `"1\u001bg"`, `"1\x1bg" is not an amount of memory such as "512m", "1.5g" or "4g"`},
		{"memory", `4294967296`, `must be a string such as "512m" or "4g", not a number`},
		{"cpus", `0`, `0 must be a number of CPUs from 0.01 to 64`},
		{"cpus", `-1`, `-1 must be a number of CPUs from 0.01 to 64`},
		{"cpus", `0.001`, `0.001 must be a number of CPUs from 0.01 to 64`},
		{"cpus", `65`, `65 must be a number of CPUs from 0.01 to 64`},
		{"cpus", `1e999`, `1e999 must be a number of CPUs from 0.01 to 64`},
		{"cpus", `"2"`, `must be a number such as 2 or 0.5, not a string`},
	} {
		_, file, err := loadJSON(t, `{"image": "x", "`+tt.key+`": `+tt.value+`}`)
		checkError(t, err, file, tt.key, tt.reason)
		_, file, err = loadJSON(t, `{"image": "x", "sidecars": [{"name": "s", "image": "y", "`+tt.key+`": `+tt.value+`}]}`)
		checkError(t, err, file, "sidecars[0]."+tt.key, tt.reason)
	}
}

// The egress sidecar's allowlist is egress.allow and nothing else: no
// arguments to the proxy, no variables of its own.
func TestEgressSidecar(t *testing.T) {
	const use = "the egress sidecar's allowlist comes from egress.allow alone: list the hosts there"
	for _, tt := range []struct {
		name, sidecar, key, reason string
	}{
		{"command", `"command": ["bottle-egress", "-allow", "*.com"]`, "sidecars[1].command", "must be left out, " + use},
		{"allow variable", `"env": {"TZ": "UTC", "BOTTLE_EGRESS_ALLOW": "evil.example"}`, "sidecars[1].env.BOTTLE_EGRESS_ALLOW", "must not be set, " + use},
		{"listen variable", `"env": {"BOTTLE_EGRESS_LISTEN": ":80"}`, "sidecars[1].env.BOTTLE_EGRESS_LISTEN", "must not be set, " + use},
		{"lower-case variable", `"env": {"bottle_egress_allow": "x"}`, "sidecars[1].env.bottle_egress_allow", "must not be set, " + use},
		{"name last", `"env": {"BOTTLE_EGRESS_ALLOW": "x"}, "name": "egress"`, "sidecars[1].env.BOTTLE_EGRESS_ALLOW", "must not be set, " + use},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sidecar := `{"name": "egress", "image": "y", ` + tt.sidecar + `}`
			if strings.Contains(tt.sidecar, `"name"`) {
				sidecar = `{"image": "y", ` + tt.sidecar + `}`
			}
			_, file, err := loadJSON(t, `{"image": "x", "sidecars": [{"name": "web", "image": "y"}, `+sidecar+`], "egress": {"allow": ["a.com"]}}`)
			checkError(t, err, file, tt.key, tt.reason)
		})
	}
	// Another sidecar may have a command and such variables: it is not the way out.
	if _, _, err := loadJSON(t, `{"image": "x", "sidecars": [{"name": "web", "image": "y", "command": ["-allow"], "env": {"BOTTLE_EGRESS_ALLOW": "x"}}]}`); err != nil {
		t.Error(err)
	}
}
