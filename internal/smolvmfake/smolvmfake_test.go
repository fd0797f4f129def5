package smolvmfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// setup points the stand-in at a fresh state file and calls log.
func setup(t *testing.T) (state, calls string) {
	t.Helper()
	dir := t.TempDir()
	state, calls = filepath.Join(dir, "machines.json"), filepath.Join(dir, "calls")
	t.Setenv("SMOLVM_STATE", state)
	t.Setenv("SMOLVM_CALLS", calls)
	t.Setenv("SMOLVM_FAIL", "")
	t.Setenv("SMOLVM_DELAY", "")
	for _, k := range hardeningVars {
		t.Setenv(k, "") // and restored after the test
		os.Unsetenv(k)
	}
	return state, calls
}

// run calls Run with stdin and returns its exit status and output.
func run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// must runs args and fails the test unless they exit 0.
func must(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run("", args...)
	if code != 0 {
		t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// expect runs args and checks exit status and that stderr contains msg.
func expect(t *testing.T, code int, msg string, args ...string) {
	t.Helper()
	got, _, errOut := run("", args...)
	if got != code || !strings.Contains(errOut, msg) {
		t.Errorf("%q: exit %d, stderr %q; want exit %d, stderr containing %q", args, got, errOut, code, msg)
	}
}

// ls returns the machines `machine ls --json` prints, by name.
func ls(t *testing.T) map[string]map[string]any {
	t.Helper()
	var ms []map[string]any
	if err := json.Unmarshal([]byte(must(t, "machine", "ls", "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, m := range ms {
		byName[m["name"].(string)] = m
	}
	return byName
}

var specFields = strings.Fields(`name state cpus memory_mib pid mounts ports created_at
	storage_gb overlay_gb image entrypoint cmd ephemeral gpu gpu_vram_mib cuda forkable
	cuda_fork_pool_size cuda_vram_limit_mib forkpoint_held labels restart_policy
	restart_max_retries restart_count health_cmd health_interval_secs health_timeout_secs
	health_retries health_startup_grace_secs network`)

func TestRoundTrip(t *testing.T) {
	setup(t)
	h, h2 := t.TempDir(), t.TempDir()
	must(t, "machine", "create", "--name", "a", "--image=bottle-bundle:latest",
		"--label", "dev.bottle.agent=reviewer", "--label=dev.bottle.services=", "-e", "X=1", "-eY=2",
		"-w", "/work", "-v", h+":/g:ro", "-v", h2+":/g2", "--net", "--allow-host", "example.com",
		"--cpus", "2", "--mem", "2048", "--", "sleep", "infinity")
	must(t, "machine", "create", "--name", "b", "--image", "alpine")

	ms := ls(t)
	a, b := ms["a"], ms["b"]
	for _, f := range specFields {
		if _, ok := a[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	want := map[string]any{
		"state": "created", "cpus": 2.0, "memory_mib": 2048.0, "pid": nil, "mounts": 2.0,
		"image": "bottle-bundle:latest", "cmd": []any{"sleep", "infinity"}, "network": true,
		"restart_policy": "never", "storage_gb": nil, "gpu": false,
		"labels": map[string]any{"dev.bottle.agent": "reviewer", "dev.bottle.services": ""},
		"stand_in": map[string]any{"env": []any{"X=1", "Y=2"}, "workdir": "/work",
			"volumes": []any{h + ":/g:ro", h2 + ":/g2"}, "reach": "allow-host example.com",
			"create_env": map[string]any{}, "boot_env": nil},
	}
	for k, v := range want {
		if !reflect.DeepEqual(a[k], v) {
			t.Errorf("a.%s = %#v, want %#v", k, a[k], v)
		}
	}
	want = map[string]any{
		"cpus": 4.0, "memory_mib": 8192.0, "cmd": nil, "labels": map[string]any{}, "network": false, "mounts": 0.0,
		"stand_in": map[string]any{"env": []any{}, "workdir": nil, "volumes": []any{}, "reach": "none",
			"create_env": map[string]any{}, "boot_env": nil},
	}
	for k, v := range want {
		if !reflect.DeepEqual(b[k], v) {
			t.Errorf("b.%s = %#v, want %#v", k, b[k], v)
		}
	}
	if a["created_at"].(float64) < 1.7e9 {
		t.Errorf("created_at = %v", a["created_at"])
	}

	expect(t, 1, "Error: machine 'a' is not running", "machine", "exec", "--name", "a", "--", "true")
	must(t, "machine", "start", "--name", "a")
	if a := ls(t)["a"]; a["state"] != "running" || a["pid"] == nil {
		t.Errorf("after start: state %v, pid %v", a["state"], a["pid"])
	}
	if out := must(t, "machine", "exec", "--name", "a", "--", "echo", "hi"); out != "hi\n" {
		t.Errorf("exec output %q", out)
	}
	must(t, "machine", "stop", "-n", "a")
	if a := ls(t)["a"]; a["state"] != "stopped" || a["pid"] != nil {
		t.Errorf("after stop: state %v, pid %v", a["state"], a["pid"])
	}
	must(t, "machine", "delete", "--name", "a")
	must(t, "machine", "rm", "--name=b")
	if out := must(t, "machine", "list", "--json"); out != "[]\n" {
		t.Errorf("ls after delete = %q", out)
	}
}

func TestLsEmpty(t *testing.T) {
	state, _ := setup(t)
	if out := must(t, "machine", "ls", "--json"); out != "[]\n" {
		t.Errorf("missing state: %q", out)
	}
	os.WriteFile(state, []byte("\n"), 0o644)
	if out := must(t, "machine", "ls", "--json"); out != "[]\n" {
		t.Errorf("empty state: %q", out)
	}
}

func TestFixture(t *testing.T) {
	state, _ := setup(t)
	fixture, err := os.ReadFile("testdata/ls-mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(state, fixture, 0o644)

	// Field order and values as given, pretty-printed with 2 spaces.
	var compact, want bytes.Buffer
	json.Compact(&compact, fixture)
	json.Indent(&want, compact.Bytes(), "", "  ")
	want.WriteByte('\n')
	if got := must(t, "machine", "ls", "--json"); got != want.String() {
		t.Errorf("ls:\n%s\nwant:\n%s", got, want.String())
	}

	// Changing one machine leaves the others as they were.
	var before []map[string]any
	json.Unmarshal(fixture, &before)
	must(t, "machine", "stop", "--name", "dev")
	after := ls(t)
	for _, m := range before {
		if m["name"] == "dev" {
			m["state"], m["pid"] = "stopped", nil
		}
		if !reflect.DeepEqual(after[m["name"].(string)], m) {
			t.Errorf("machine %v:\n%v\nwant\n%v", m["name"], after[m["name"].(string)], m)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d machines, want %d", len(after), len(before))
	}
}

func TestSparseMachine(t *testing.T) {
	state, _ := setup(t)
	os.WriteFile(state, []byte(`[{"name": "x", "extra": [1, 2.50]}]`), 0o644)
	must(t, "machine", "start", "--name", "x")
	b, _ := os.ReadFile(state)
	var ms []map[string]json.RawMessage
	if err := json.Unmarshal(b, &ms); err != nil || len(ms) != 1 {
		t.Fatalf("state %s: %v", b, err)
	}
	var extra bytes.Buffer
	json.Compact(&extra, ms[0]["extra"])
	if m := ms[0]; string(m["state"]) != `"running"` || m["pid"] == nil || extra.String() != "[1,2.50]" {
		t.Errorf("state after start: %s", b)
	}
}

func TestMalformedState(t *testing.T) {
	state, _ := setup(t)
	for _, content := range []string{`[{"name": "a", "state": "runn`, "not json\n", "[1,]", "\x00\xff"} {
		os.WriteFile(state, []byte(content), 0o644)
		if out := must(t, "machine", "ls", "--json"); out != content {
			t.Errorf("ls of %q printed %q", content, out)
		}
		expect(t, 1, "Error: state file is not valid JSON", "machine", "create", "--name", "x", "--image", "i")
		expect(t, 1, "Error: state file is not valid JSON", "machine", "start", "--name", "a")
		if b, _ := os.ReadFile(state); string(b) != content {
			t.Errorf("state %q became %q", content, b)
		}
	}

	// Valid JSON of the wrong shape is only re-indented.
	os.WriteFile(state, []byte(`{"machines":[{"name":5}]}`), 0o644)
	if out, want := must(t, "machine", "ls", "--json"), "{\n  \"machines\": [\n    {\n      \"name\": 5\n    }\n  ]\n}\n"; out != want {
		t.Errorf("ls printed %q, want %q", out, want)
	}
}

func TestFail(t *testing.T) {
	state, calls := setup(t)
	t.Setenv("SMOLVM_FAIL", "version,create")
	expect(t, 1, "Error: injected failure of create\n", "machine", "create", "--name", "a", "--image", "i")
	expect(t, 1, "Error: injected failure of version\n", "--version")
	if _, err := os.Stat(state); err == nil {
		t.Error("failed create wrote the state")
	}
	must(t, "machine", "ls", "--json")
	if b, _ := os.ReadFile(calls); strings.Count(string(b), "\n") != 3 {
		t.Errorf("calls log:\n%s", b)
	}
}

func TestCallsLog(t *testing.T) {
	_, calls := setup(t)
	run("", "machine", "create", "--name", "a", "--image", "x@sha256:ab", "--label", "k=v,w", "--", "sh", "-c", `echo "hi"`, "")
	run("", "--version")
	run("")
	b, _ := os.ReadFile(calls)
	want := `machine create --name a --image x@sha256:ab --label k=v,w -- sh -c "echo \"hi\"" ""` + "\n--version\n\n"
	if string(b) != want {
		t.Errorf("calls log:\n%s\nwant:\n%s", b, want)
	}
}

func TestErrors(t *testing.T) {
	setup(t)
	must(t, "machine", "create", "--name", "a", "--image", "i")
	expect(t, 1, "Error: machine 'a' already exists\n", "machine", "create", "--name", "a", "--image", "j")
	for _, cmd := range []string{"start", "stop", "delete"} {
		expect(t, 1, "Error: machine 'zz' not found\n", "machine", cmd, "--name", "zz")
	}
	expect(t, 1, "Error: machine 'zz' not found\n", "machine", "exec", "--name", "zz", "--", "true")
	must(t, "machine", "start", "--name", "a")
	expect(t, 1, "Error: machine 'a' is running; stop it first or use -f\n", "machine", "delete", "--name", "a")
	must(t, "machine", "delete", "--name", "a", "-f")

	for _, args := range [][]string{
		{"machine", "start"},
		{"machine", "create", "--name", "b"},
		{"machine", "ls", "--x"},
		{"machine", "start", "--name", "a", "extra"},
		{"machine", "start", "--name"},
		{"machine", "start", "--name", "a", "--name", "b"},
		{"machine", "create", "--name", "b", "--image", "i", "--label", "novalue"},
		{"machine", "create", "--name", "b", "--image", "i", "-e", "=v"},
		{"machine", "create", "--name", "b", "--image", "i", "--cpus", "300"},
		{"machine", "create", "--name", "b", "--image", "i", "--net=yes"},
		{"machine", "create", "--name", "b", "--image", "i", "sleep"},
		{"machine", "exec", "--name", "a"},
		{"machine", "exec", "-n", "a", "--", "true"},
		{"machine", "frobnicate"},
		{"machine"},
		{},
	} {
		if code, _, errOut := run("", args...); code != 2 || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
	expect(t, 2, "error: unexpected argument '--x' found\n", "machine", "ls", "--x")
	expect(t, 2, "error: the following required arguments were not provided: --name <NAME>\n", "machine", "stop")
	expect(t, 2, "error: the following required arguments were not provided: --image <IMAGE>\n", "machine", "create", "--name", "b")

	t.Setenv("SMOLVM_STATE", "")
	expect(t, 2, "smolvm stand-in: SMOLVM_STATE is not set\n", "--version")
}

func TestVersion(t *testing.T) {
	setup(t)
	if out := must(t, "--version"); out != "smolvm 0.5.0 (stand-in)\n" {
		t.Errorf("version %q", out)
	}
}

func TestExec(t *testing.T) {
	setup(t)
	must(t, "machine", "create", "--name", "a", "--image", "i")
	must(t, "machine", "start", "--name", "a")
	exec := func(stdin string, args ...string) (int, string, string) {
		return run(stdin, append([]string{"machine", "exec", "--name", "a"}, args...)...)
	}
	if code, _, _ := exec("", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit status %d, want 7", code)
	}
	if code, _, _ := exec("", "--", "sh", "-c", "kill -TERM $$"); code != 128+15 {
		t.Errorf("killed: exit status %d, want 143", code)
	}
	if _, out, _ := exec("", "-e", "FOO=bar baz", "--env=BAR=", "--", "sh", "-c", `printf '%s|%s|%s' "$FOO" "${BAR-unset}" "$SMOLVM_STATE"`); !strings.HasPrefix(out, "bar baz||/") {
		t.Errorf("env: %q", out)
	}
	if _, out, _ := exec("in", "-it", "--", "cat"); out != "in" {
		t.Errorf("-i stdin: %q", out)
	}
	if _, out, _ := exec("in", "--", "cat"); out != "" {
		t.Errorf("stdin without -i: %q", out)
	}
	dir := t.TempDir()
	if _, out, _ := exec("", "-w", dir, "--", "pwd"); out != dir+"\n" {
		t.Errorf("-w %s: pwd %q", dir, out)
	}
	wd, _ := os.Getwd()
	if _, out, _ := exec("", "-w", "/no/such/dir", "--", "pwd"); out != wd+"\n" {
		t.Errorf("-w of a missing dir: pwd %q, want %q", out, wd)
	}
	if code, _, errOut := exec("", "--", "no-such-command-xyz"); code != 127 || errOut == "" {
		t.Errorf("missing command: exit %d, stderr %q", code, errOut)
	}
}

func TestConcurrentCreates(t *testing.T) {
	state, calls := setup(t)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			codes[i], _, _ = run("", "machine", "create", "--name", fmt.Sprint("m", i), "--image", "i")
		})
	}
	wg.Wait()
	ms := ls(t)
	for i, code := range codes {
		if _, ok := ms[fmt.Sprint("m", i)]; code != 0 || !ok {
			t.Errorf("m%d: exit %d, listed %v", i, code, ok)
		}
	}
	if b, _ := os.ReadFile(calls); strings.Count(string(b), "machine create --name m") != 20 {
		t.Errorf("calls log:\n%s", b)
	}
	if left, _ := filepath.Glob(state + ".*.tmp"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// standInOf returns what the stand-in keeps of machine name beyond ls's fields.
func standInOf(t *testing.T, name string) map[string]any {
	t.Helper()
	m, ok := ls(t)[name]
	if !ok {
		t.Fatalf("no machine %s", name)
	}
	return m["stand_in"].(map[string]any)
}

// The launch plan's table: which flags give the guest what.
func TestReach(t *testing.T) {
	setup(t)
	for i, tc := range []struct {
		flags   []string
		reach   string
		network bool
	}{
		{nil, "none", false},
		{[]string{"--net"}, "tsi-open", true},
		{[]string{"--dns", "1.1.1.1"}, "tsi-open", true},
		{[]string{"-p", "8080:80"}, "virtio-net-open", false},
		{[]string{"--net", "-p", "8080"}, "virtio-net-open", true},
		{[]string{"--net", "--net-backend", "virtio-net"}, "virtio-net-open", true},
		{[]string{"--network", "lab"}, "virtio-net-open", true},
		{[]string{"--allow-host", "api.example.com", "--allow-host", "192.0.2.7"}, "allow-host api.example.com 192.0.2.7", true},
		{[]string{"--net", "--allow-host", "example.com", "--net-backend=virtio-net"}, "allow-host example.com", true},
		{[]string{"--allow-cidr", "198.51.100.0/24", "--outbound-localhost-only"}, "allow-cidr 198.51.100.0/24 127.0.0.0/8 ::1/128", true},
		{[]string{"--allow-host", "::1", "--allow-cidr", "203.0.113.9"}, "allow-host ::1 allow-cidr 203.0.113.9", true},
	} {
		name := fmt.Sprint("m", i)
		must(t, append([]string{"machine", "create", "--name", name, "--image", "i"}, tc.flags...)...)
		m := ls(t)[name]
		if reach := m["stand_in"].(map[string]any)["reach"]; reach != tc.reach || m["network"] != tc.network {
			t.Errorf("%q: reach %q, network %v; want %q, %v", tc.flags, reach, m["network"], tc.reach, tc.network)
		}
	}
}

func TestCreateRefusals(t *testing.T) {
	state, _ := setup(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--allow-host", "api.example.com:443"},
			"Error: config operation failed: --allow-host: invalid hostname 'api.example.com:443': port suffixes are not supported. Use the hostname only (all ports are allowed to resolved IPs).\n"},
		{[]string{"--allow-host", "example.com", "--allow-host", "api.nowhere.invalid"},
			"Error: config operation failed: --allow-host: failed to resolve 'api.nowhere.invalid': failed to lookup address information: Name or service not known\n"},
		{[]string{"--allow-host", "*.example.com"}, "failed to resolve '*.example.com'"},
		{[]string{"--allow-cidr", "10.0.0.0/33"}, "Error: config operation failed: --allow-cidr: invalid CIDR '10.0.0.0/33'\n"},
		{[]string{"--net-backend", "tsi", "--allow-host", "example.com"},
			"Error: config operation failed: egress: egress policy (--allow-cidr/--allow-host/--outbound-localhost-only) requires the virtio-net backend; TSI does not enforce it."},
		{[]string{"--net-backend", "tsi", "--outbound-localhost-only"}, "egress policy"},
		{[]string{"--net-backend", "tsi", "-p", "80"}, "published ports require the virtio-net backend"},
		{[]string{"--net-backend", "virtio-net"}, "Error: config operation failed: --net-backend: --net-backend virtio-net requires --net\n"},
		{[]string{"-p", "80", "-p", "80:81"}, "host port 80 is mapped more than once"},
		{[]string{"-v", filepath.Join(dir, "none") + ":/g"}, "Error: mount source not found: " + filepath.Join(dir, "none") + "\n"},
		{[]string{"-v", file + ":/g:ro"}, "source path on host must be a directory (virtiofs limitation): " + file + "\n"},
		{[]string{"-v", dir + ":/g", "-v", dir + ":/g/:ro"}, "Error: mount operation failed: validate mounts: duplicate mount target: /g/ is specified more than once\n"},
		{[]string{"-v", "/etc/ssl:/g"}, "source path on host is a protected system path and cannot be mounted: /etc/ssl\n"},
		{[]string{"-v", "/:/g"}, "protected system path"},
		{[]string{"-v", dir + ":g"}, "target path on guest should be an absolute directory: g\n"},
		{[]string{"-v", dir}, "Error: invalid mount path: invalid format '" + dir + "' (expected host:guest[:ro|:rw])\n"},
		{[]string{"-v", dir + ":/g:x:ro"}, "mount source not found: " + dir + ":/g"},
		{[]string{"--cpus", "0"}, "Error: config operation failed: validate resources: CPU count must be at least 1\n"},
		{[]string{"--mem", "63"}, "memory must be at least 64 MiB (got 63 MiB)"},
	} {
		expect(t, 1, tc.want, append([]string{"machine", "create", "--name", "a", "--image", "i"}, tc.flags...)...)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("a refused create wrote the state")
	}
	for _, flags := range [][]string{
		{"-p", "0"}, {"-p", "x:80"}, {"-p", "80:65536"}, {"--net-backend", "slirp"}, {"--dns", "::1"}, {"--dns", "dns.example"},
	} {
		if code, _, errOut := run("", append([]string{"machine", "create", "--name", "a", "--image", "i"}, flags...)...); code != 2 || !strings.HasPrefix(errOut, "error: invalid value ") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", flags, code, errOut)
		}
	}
}

func TestVolumes(t *testing.T) {
	setup(t)
	colon := filepath.Join(t.TempDir(), "a:b")
	os.Mkdir(colon, 0o755)
	code, _, errOut := run("", "machine", "create", "--name", "a", "--image", "i",
		"-v", colon+":/w", "-v", colon+":/w/x:ro", "-v", colon+":/w/y:rw", "--cpus", "17")
	if code != 0 || errOut != "warning: requested 17 vCPUs but the hypervisor supports at most 16; the VM will run with 16 vCPUs\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if m := ls(t)["a"]; m["mounts"] != 3.0 || m["cpus"] != 17.0 {
		t.Errorf("mounts %v, cpus %v", m["mounts"], m["cpus"])
	}
}

// The hardening variables are recorded as each machine was created and
// booted with them; a start of a running machine boots nothing.
func TestBootEnv(t *testing.T) {
	setup(t)
	t.Setenv("SMOLVM_EGRESS_FLOOR", "strict")
	must(t, "machine", "create", "--name", "a", "--image", "i")
	t.Setenv("SMOLVM_SECCOMP", "enforce")
	t.Setenv("SMOLVM_LANDLOCK", "enforce")
	if got := standInOf(t, "a"); !reflect.DeepEqual(got["create_env"], map[string]any{"SMOLVM_EGRESS_FLOOR": "strict"}) || got["boot_env"] != nil {
		t.Errorf("after create: %v", got)
	}
	must(t, "machine", "start", "--name", "a")
	all := map[string]any{"SMOLVM_EGRESS_FLOOR": "strict", "SMOLVM_SECCOMP": "enforce", "SMOLVM_LANDLOCK": "enforce"}
	if got := standInOf(t, "a")["boot_env"]; !reflect.DeepEqual(got, all) {
		t.Errorf("boot_env %v", got)
	}
	os.Unsetenv("SMOLVM_SECCOMP")
	if out := must(t, "machine", "start", "--name", "a"); !strings.HasPrefix(out, "Machine 'a' already running (PID: ") {
		t.Errorf("start of a running machine: %q", out)
	}
	if got := standInOf(t, "a")["boot_env"]; !reflect.DeepEqual(got, all) {
		t.Errorf("a start of a running machine changed boot_env to %v", got)
	}
	must(t, "machine", "stop", "--name", "a")
	must(t, "machine", "start", "--name", "a")
	delete(all, "SMOLVM_SECCOMP")
	if got := standInOf(t, "a")["boot_env"]; !reflect.DeepEqual(got, all) {
		t.Errorf("boot_env after a boot without SMOLVM_SECCOMP: %v", got)
	}
}

func TestStatus(t *testing.T) {
	state, _ := setup(t)
	os.WriteFile(state, []byte(`[{"name":"default","state":"stopped"},{"name":"a","state":"running","labels":{}}]`), 0o644)
	if out := must(t, "machine", "status", "--name", "a", "--json"); out != "{\n  \"name\": \"a\",\n  \"state\": \"running\",\n  \"labels\": {}\n}\n" {
		t.Errorf("status --json: %q", out)
	}
	if out := must(t, "machine", "status"); out != "default\tstopped\n" {
		t.Errorf("status: %q", out)
	}
	expect(t, 1, "Error: config operation failed: machine status: machine 'zz' not found\n", "machine", "status", "-n", "zz", "--json")
}
