package smolvmfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// setup points the stand-in at a fresh state file and calls log.
func setup(t *testing.T) (state, calls string) {
	t.Helper()
	dir := t.TempDir()
	state, calls = filepath.Join(dir, "machines.json"), filepath.Join(dir, "calls")
	t.Setenv("SMOLVM_STATE", state)
	t.Setenv("SMOLVM_CALLS", calls)
	for _, k := range append([]string{"SMOLVM_FAIL", "SMOLVM_DELAY", "SMOLVM_VERSION", "SMOLVM_BOOT_DELAY"}, hardeningVars...) {
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

// vms returns the machines whose VM runs.
func vms(t *testing.T, state string) []string {
	t.Helper()
	b, err := os.ReadFile(vmsFile(state))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

var specFields = strings.Fields(`name state cpus memory_mib pid mounts ports created_at
	storage_gb overlay_gb image entrypoint cmd ephemeral gpu gpu_vram_mib cuda forkable
	cuda_fork_pool_size cuda_vram_limit_mib forkpoint_held labels restart_policy
	restart_max_retries restart_count health_cmd health_interval_secs health_timeout_secs
	health_retries health_startup_grace_secs network`)

func TestRoundTrip(t *testing.T) {
	state, _ := setup(t)
	h, h2 := t.TempDir(), t.TempDir()
	if out := must(t, "machine", "create", "--name", "a", "--image=bottle-bundle:latest",
		"--label", "dev.bottle.agent=reviewer", "--label=dev.bottle.services=", "--label", "k=v=w", "--label", "k=last",
		"-e", "X=1", "-eY=2", "-e", "=dropped", "-e", "SMOLVM_STATE", "-e", "UNSET_HERE",
		"-w", "/work", "-v", h+":/g:ro", "-v", h2+":/g2", "--net", "--allow-host", "example.com",
		"--cpus", "2", "--mem", "2048", "--", "sleep", "infinity"); out != "Created machine: a\n" {
		t.Errorf("create printed %q", out)
	}
	must(t, "machine", "create", "--name", "b")

	ms := ls(t)
	a, b := ms["a"], ms["b"]
	for _, f := range specFields {
		if _, ok := a[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	want := map[string]any{
		"state": "created", "cpus": 2.0, "memory_mib": 2048.0, "pid": nil, "mounts": 2.0,
		"image": "bottle-bundle:latest", "cmd": []any{"sleep", "infinity"}, "entrypoint": []any{}, "network": true,
		"restart_policy": "never", "storage_gb": nil, "gpu": false,
		"labels": map[string]any{"dev.bottle.agent": "reviewer", "dev.bottle.services": "", "k": "last"},
		"stand_in": map[string]any{"env": []any{"X=1", "Y=2", "SMOLVM_STATE=" + state}, "workdir": "/work",
			"volumes": []any{h + ":/g:ro", h2 + ":/g2"}, "reach": "allow-host example.com",
			"create_env": map[string]any{}, "boot_env": nil, "secrets": []any{}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(a[k], v) {
			t.Errorf("a.%s = %#v, want %#v", k, a[k], v)
		}
	}
	// A bare machine: no image, smolvm's default size, arrays never null.
	want = map[string]any{
		"image": nil, "cpus": 4.0, "memory_mib": 8192.0, "cmd": []any{}, "entrypoint": []any{}, "labels": map[string]any{}, "network": false, "mounts": 0.0,
		"stand_in": map[string]any{"env": []any{}, "workdir": nil, "volumes": []any{}, "reach": "none",
			"create_env": map[string]any{}, "boot_env": nil, "secrets": []any{}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(b[k], v) {
			t.Errorf("b.%s = %#v, want %#v", k, b[k], v)
		}
	}
	if a["created_at"].(float64) < 1.7e9 {
		t.Errorf("created_at = %v", a["created_at"])
	}

	expect(t, 1, "Error: agent operation failed: connect: machine 'a' is not running. Use 'smolvm machine start --name a' first.\n", "machine", "exec", "--name", "a", "--", "true")
	if out := must(t, "machine", "start", "--name", "a"); !strings.HasPrefix(out, "Machine 'a' running (PID: ") {
		t.Errorf("start printed %q", out)
	}
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
	if out := must(t, "machine", "stop", "-n", "a"); out != "Machine 'a' is not running (state: stopped)\n" {
		t.Errorf("stop of a stopped machine printed %q", out)
	}
	if out := must(t, "machine", "delete", "--name", "a", "-f"); out != "Deleted machine: a\n" {
		t.Errorf("delete printed %q", out)
	}
	must(t, "vm", "rm", "--name=b", "--force")
	if out := must(t, "machine", "list", "--json"); out != "[]\n" {
		t.Errorf("ls after delete = %q", out)
	}
	if left := vms(t, state); len(left) != 0 {
		t.Errorf("VMs left running: %v", left)
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

// The shared fixtures are smolvm's own output: the stand-in prints them
// byte for byte, keys sorted, whatever order the state holds them in.
func TestFixture(t *testing.T) {
	state, _ := setup(t)
	fixture := readFile(t, "testdata/ls-mixed.json")
	var machines []map[string]any
	if err := json.Unmarshal(fixture, &machines); err != nil || len(machines) != 5 {
		t.Fatalf("ls-mixed.json: %v, %d machines", err, len(machines))
	}
	// Written back unsorted, compact, as the stand-in's own state is.
	var unsorted bytes.Buffer
	unsorted.WriteString("[")
	for i, m := range machines {
		if i > 0 {
			unsorted.WriteString(",")
		}
		unsorted.WriteString(`{"name":` + fmt.Sprintf("%q", m["name"]))
		for _, k := range specFields[1:] {
			v, _ := json.Marshal(m[k])
			unsorted.WriteString(fmt.Sprintf(",%q:%s", k, v))
		}
		unsorted.WriteString("}")
	}
	unsorted.WriteString("]")
	os.WriteFile(state, unsorted.Bytes(), 0o644)
	if got := must(t, "machine", "ls", "--json"); got != string(fixture) {
		t.Errorf("ls:\n%s\nwant:\n%s", got, fixture)
	}
	if got, want := must(t, "machine", "status", "--name", "reviewer-3f9a1c", "--json"), readFile(t, "testdata/status-running.json"); got != string(want) {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}

	// Changing one machine leaves the others as they were.
	must(t, "machine", "stop", "--name", "dev")
	after := ls(t)
	for _, m := range machines {
		if m["name"] == "dev" {
			m["state"], m["pid"] = "stopped", nil
		}
		if !reflect.DeepEqual(after[m["name"].(string)], m) {
			t.Errorf("machine %v:\n%v\nwant\n%v", m["name"], after[m["name"].(string)], m)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
	// Numbers are printed as written, and nothing is escaped for HTML.
	os.WriteFile(state, []byte(`[{"name": "x", "n": 2.50, "s": "<&>"}]`), 0o644)
	if out := must(t, "machine", "ls", "--json"); out != "[\n  {\n    \"n\": 2.50,\n    \"name\": \"x\",\n    \"s\": \"<&>\"\n  }\n]\n" {
		t.Errorf("ls printed %q", out)
	}
}

func TestMalformedState(t *testing.T) {
	state, _ := setup(t)
	for _, content := range []string{`[{"name": "a", "state": "runn`, "not json\n", "[1,]", "\x00\xff"} {
		os.WriteFile(state, []byte(content), 0o644)
		if out := must(t, "machine", "ls", "--json"); out != content {
			t.Errorf("ls of %q printed %q", content, out)
		}
		expect(t, 1, "Error: state file is not valid JSON", "machine", "create", "--name", "x")
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
	expect(t, 1, "Error: agent operation failed: create: injected failure\n", "machine", "create", "--name", "a")
	expect(t, 1, "Error: agent operation failed: version: injected failure\n", "--version")
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
	must(t, "machine", "create", "--name", "a")
	expect(t, 1, "Error: config operation failed: create machine: machine 'a' already exists or is being created\n", "machine", "create", "--name", "a")
	for _, cmd := range []string{"start", "stop", "delete"} {
		expect(t, 1, "Error: vm not found: zz\n", "machine", cmd, "--name", "zz")
	}
	expect(t, 1, "Error: vm not found: zz\n", "machine", "exec", "--name", "zz", "--", "true")
	expect(t, 1, "Error: vm not found: default\n", "machine", "start")
	expect(t, 1, "Error: config operation failed: machine status: machine 'zz' not found\n", "machine", "status", "--name", "zz", "--json")
	expect(t, 1, "Error: config operation failed: create machine: invalid label 'novalue': expected KEY=VALUE with a non-empty KEY\n", "machine", "create", "--name", "b", "--label", "novalue")
	expect(t, 1, "invalid label '=v'", "machine", "create", "--name", "b", "--label", "=v")

	for _, args := range [][]string{
		{"machine", "delete"},
		{"machine", "ls", "--x"},
		{"machine", "start", "--name", "a", "extra"},
		{"machine", "start", "--name"},
		{"machine", "start", "--name", "a", "--name", "b"},
		{"machine", "create", "--name", "b", "--image", ""},
		{"machine", "create", "--name", "b", "--cpus", "300"},
		{"machine", "create", "--name", "b", "--net=yes"},
		{"machine", "create", "--name", "b", "sleep"},
		{"machine", "exec", "--name", "a"},
		{"machine", "exec", "-n", "a", "--", "true"},
		{"machine", "exec", "--name", "a", "-d", "-i", "--", "true"},
		{"machine", "exec", "--name", "a", "--timeout", "0s", "--", "true"},
		{"machine", "frobnicate"},
		{"machine"},
		{},
	} {
		if code, _, errOut := run("", args...); code != 2 || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
	expect(t, 2, "error: unexpected argument '--x' found\n", "machine", "ls", "--x")
	expect(t, 2, "error: unexpected argument '-n' found\n", "machine", "exec", "-n", "a", "--", "true")
	expect(t, 2, "error: the following required arguments were not provided: --name <NAME>\n", "machine", "delete")

	t.Setenv("SMOLVM_STATE", "")
	expect(t, 2, "smolvm stand-in: SMOLVM_STATE is not set\n", "--version")
}

// Names as smolvm's create checks them; only create does.
func TestNames(t *testing.T) {
	setup(t)
	for _, name := range []string{"a", "A_b-9", "0", strings.Repeat("x", 128), "reviewer-3f9a1c"} {
		must(t, "machine", "create", "--name", name)
	}
	for _, tc := range []struct{ name, want string }{
		{"a-", `Error: config operation failed: create machine: machine name cannot end with a hyphen (got: "a-")` + "\n"},
		{"a--b", `machine name cannot contain consecutive hyphens (got: "a--b")`},
		{"", "machine name cannot be empty"},
		{"_a", "machine name must start with a letter or digit"},
		{"a.b", "machine name may only contain letters, digits, '_' and '-'"},
		{"a/b", "may only contain"},
		{strings.Repeat("x", 129), "machine name cannot be longer than 128 bytes (got 129)"},
	} {
		expect(t, 1, tc.want, "machine", "create", "--name", tc.name)
	}
	if out := must(t, "machine", "create"); !strings.HasPrefix(out, "Created machine: vm-") {
		t.Errorf("create without a name printed %q", out)
	}
}

func TestVersion(t *testing.T) {
	setup(t)
	if out := must(t, "--version"); out != "smolvm 1.9.3\n" {
		t.Errorf("version %q", out)
	}
	t.Setenv("SMOLVM_VERSION", "1.7.6")
	if out := must(t, "-V"); out != "smolvm 1.7.6\n" {
		t.Errorf("version %q", out)
	}
	// Before 1.8.0: no --label, and machines without labels.
	expect(t, 2, "error: unexpected argument '--label' found\n", "machine", "create", "--name", "a", "--label", "k=v")
	must(t, "machine", "create", "--name", "a")
	for _, out := range []string{must(t, "machine", "ls", "--json"), must(t, "machine", "status", "--name", "a", "--json")} {
		for _, key := range []string{`"labels"`, `"cuda"`, `"forkable"`, `"cuda_fork_pool_size"`, `"cuda_vram_limit_mib"`} {
			if strings.Contains(out, key) {
				t.Errorf("smolvm 1.7.6 printed %s:\n%s", key, out)
			}
		}
	}
	expect(t, 2, "error: unrecognized subcommand 'egress-events'\n", "machine", "egress-events", "--name", "a")
	t.Setenv("SMOLVM_VERSION", "1.8.0")
	must(t, "machine", "create", "--name", "b", "--label", "k=v")
	expect(t, 2, "unrecognized subcommand 'egress-events'", "machine", "egress-events", "--name", "a")
	t.Setenv("SMOLVM_VERSION", "garbage")
	if out := must(t, "--version"); out != "smolvm garbage\n" {
		t.Errorf("version %q", out)
	}
	must(t, "machine", "create", "--name", "c", "--label", "k=v")
}

// --image as smolvm reads it: local forms are staged and recorded by what
// they are, a registry reference needs a network to be pulled through.
func TestImages(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	os.Mkdir(rootfs, 0o755)
	link := filepath.Join(dir, "link")
	os.Symlink(rootfs, link)
	archive := filepath.Join(dir, "image.tar")
	os.WriteFile(archive, []byte("tar"), 0o644)
	t.Chdir(dir)
	for _, tc := range []struct {
		image, stdin string
		flags        []string
		want         string
	}{
		{rootfs, "", nil, "local-dir:" + rootfs},
		{link, "", nil, "local-dir:" + rootfs},
		{"./rootfs", "", nil, "local-dir:" + rootfs},
		{archive, "", nil, digestOf("tar")},
		{"image.tar", "", nil, digestOf("tar")}, // local by its suffix
		{"-", "saved", nil, digestOf("saved")},
		{"alpine", "", []string{"--allow-host", "example.com"}, "alpine"},
		{"ghcr.io/x/y:1", "", []string{"--net"}, "ghcr.io/x/y:1"},
	} {
		code, _, errOut := run(tc.stdin, append([]string{"machine", "create", "--name", "m", "--image", tc.image}, tc.flags...)...)
		if got := ls(t)["m"]["image"]; code != 0 || got != tc.want {
			t.Errorf("--image %s: exit %d (%q), image %v; want %s", tc.image, code, errOut, got, tc.want)
		}
		must(t, "machine", "delete", "-n", "m", "-f")
	}
	for _, tc := range []struct{ image, want string }{
		{"alpine", "Error: config operation failed: create machine: image 'alpine' must be pulled from a registry, but this machine has no network"},
		{"bottle-bundle:latest", "must be pulled from a registry"},
		{"rootfs", "must be pulled from a registry"}, // a bare name is a reference, even where such a directory exists
		{"/no/such/image.tgz", "Error: config operation failed: create machine: image archive '/no/such/image.tgz': no such file or directory\n"},
		{"-", "image archive 'stdin' is empty"},
	} {
		expect(t, 1, tc.want, "machine", "create", "--name", "m", "--image", tc.image)
	}
	if len(ls(t)) != 0 {
		t.Error("a refused create made a machine")
	}
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "local:" + hex.EncodeToString(sum[:])
}
