package smolvmfake

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envMain makes the test binary run as the stand-in smolvm, so that tests
// can kill a smolvm process.
const envMain = "SMOLVMFAKE_TEST_MAIN"

func TestMain(m *testing.M) {
	// The guest agent of an exec is this binary run again; Main tells.
	if _, agent := os.LookupEnv(envGuestAgent); agent || os.Getenv(envMain) == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

func TestExec(t *testing.T) {
	state, _ := setup(t)
	must(t, "machine", "create", "--name", "a")
	must(t, "machine", "start", "--name", "a")
	exec := func(stdin string, args ...string) (int, string, string) {
		return run(stdin, append([]string{"machine", "exec", "--name", "a"}, args...)...)
	}
	if code, _, _ := exec("", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit status %d, want 7", code)
	}
	if code, _, _ := exec("", "--", "sh", "-c", "exit 300"); code != 300&0xff {
		t.Errorf("exit status %d, want the low 8 bits of 300", code)
	}
	if code, _, _ := exec("", "--", "sh", "-c", "kill -TERM $$"); code != 128+15 {
		t.Errorf("killed: exit status %d, want 143", code)
	}
	if code, _, _ := exec("", "--timeout", "100ms", "--", "sleep", "5"); code != 124 {
		t.Errorf("--timeout: exit status %d, want 124", code)
	}
	t.Setenv("FROM_CALLER", "c")
	if _, out, _ := exec("", "-e", "FOO=bar baz", "--env=BAR=", "-e", "FROM_CALLER", "--", "sh", "-c", `printf '%s|%s|%s|%s' "$FOO" "${BAR-unset}" "$FROM_CALLER" "$SMOLVM_STATE"`); out != "bar baz||c|"+state {
		t.Errorf("env: %q", out)
	}
	if _, out, _ := exec("in", "-i", "--", "cat"); out != "in" {
		t.Errorf("-i stdin: %q", out)
	}
	if _, out, _ := exec("in", "-t", "--", "cat"); out != "in" {
		t.Errorf("-t alone forwards stdin too: %q", out)
	}
	for _, flags := range [][]string{nil, {"--stream"}} {
		if _, out, _ := exec("in", append(flags, "--", "cat")...); out != "" {
			t.Errorf("stdin with %q: %q, want none", flags, out)
		}
	}
	// Without -i, -t or --stream output comes at the end, stdout first; with
	// -t the guest's stderr is on the terminal, stdout.
	if _, out, errOut := exec("", "--", "sh", "-c", "echo err >&2; echo out"); out != "out\n" || errOut != "err\n" {
		t.Errorf("buffered: stdout %q, stderr %q", out, errOut)
	}
	if _, out, errOut := exec("", "-it", "--", "sh", "-c", "echo err >&2"); out != "err\n" || errOut != "" {
		t.Errorf("-t: stdout %q, stderr %q", out, errOut)
	}
	if code, out, _ := exec("", "-d", "--", "true"); code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("-d: exit %d, printed %q, want the pid", code, out)
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
	// The machine stops under the session: smolvm's failure, exit 1.
	code, _, errOut := exec("", "-i", "--", "sh", "-c", `printf '[]' > "$SMOLVM_STATE"`)
	if code != 1 || errOut != "Error: agent operation failed: run interactive: connection to VM lost\n" {
		t.Errorf("VM gone during the session: exit %d, stderr %q", code, errOut)
	}
}

func TestConcurrentCreates(t *testing.T) {
	state, calls := setup(t)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			codes[i], _, _ = run("", "machine", "create", "--name", fmt.Sprint("m", i))
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
		must(t, append([]string{"machine", "create", "--name", name}, tc.flags...)...)
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
		expect(t, 1, tc.want, append([]string{"machine", "create", "--name", "a"}, tc.flags...)...)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("a refused create wrote the state")
	}
	for _, flags := range [][]string{
		{"-p", "0"}, {"-p", "x:80"}, {"-p", "80:65536"}, {"--net-backend", "slirp"}, {"--dns", "::1"}, {"--dns", "dns.example"},
	} {
		if code, _, errOut := run("", append([]string{"machine", "create", "--name", "a"}, flags...)...); code != 2 || !strings.HasPrefix(errOut, "error: invalid value ") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", flags, code, errOut)
		}
	}
}

func TestVolumes(t *testing.T) {
	setup(t)
	colon := filepath.Join(t.TempDir(), "a:b")
	os.Mkdir(colon, 0o755)
	code, _, errOut := run("", "machine", "create", "--name", "a",
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
	must(t, "machine", "create", "--name", "a")
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
	os.WriteFile(state, []byte(`[{"name":"default","state":"stopped"},{"state":"running","name":"a","labels":{}}]`), 0o644)
	if out := must(t, "machine", "status", "--name", "a", "--json"); out != "{\n  \"labels\": {},\n  \"name\": \"a\",\n  \"state\": \"running\"\n}\n" {
		t.Errorf("status --json: %q", out)
	}
	if out := must(t, "machine", "status"); out != "default\tstopped\n" {
		t.Errorf("status: %q", out)
	}
}

// Without -f delete stops the machine, then asks; only y or yes deletes.
func TestDeletePrompt(t *testing.T) {
	setup(t)
	must(t, "machine", "create", "--name", "a")
	must(t, "machine", "start", "--name", "a")
	for _, answer := range []string{"", "n\n", "no\n", "sure\n"} {
		code, out, errOut := run(answer, "machine", "delete", "--name", "a")
		if code != 0 || out != "Cancelled\n" || errOut != "Delete machine 'a'? [y/N] " {
			t.Errorf("answer %q: exit %d, stdout %q, stderr %q; want Cancelled", answer, code, out, errOut)
		}
	}
	if m := ls(t)["a"]; m == nil || m["state"] != "stopped" {
		t.Fatalf("after cancelled deletes: %v, want the machine, stopped", m)
	}
	for i, answer := range []string{"y\n", "YES"} {
		name := fmt.Sprint("y", i)
		must(t, "machine", "create", "--name", name)
		if code, out, _ := run(answer, "machine", "delete", "--name", name); code != 0 || out != "Deleted machine: "+name+"\n" {
			t.Errorf("answer %q: exit %d, stdout %q", answer, code, out)
		}
	}
	must(t, "machine", "delete", "--name", "a", "--cascade")
	if len(ls(t)) != 0 {
		t.Errorf("machines left: %v", ls(t))
	}
}

// A start killed before its VM's agent answered leaves the VM running
// under a record that says created; delete does not end it, stop does.
func TestOrphanVM(t *testing.T) {
	state, _ := setup(t)
	for _, name := range []string{"killed", "stopped"} {
		must(t, "machine", "create", "--name", name)
		if err := setVM(state, name, true); err != nil { // as a killed start leaves it
			t.Fatal(err)
		}
	}
	if ms := ls(t); ms["killed"]["state"] != "created" || ms["killed"]["pid"] != nil {
		t.Errorf("the record of a killed start: %v", ms["killed"])
	}
	must(t, "machine", "delete", "--name", "killed", "-f")
	if got := vms(t, state); !reflect.DeepEqual(got, []string{"killed", "stopped"}) {
		t.Errorf("VMs after delete -f: %v, want the killed start's still running", got)
	}
	if out := must(t, "machine", "stop", "--name", "stopped"); out != "Machine 'stopped' is not running (state: created)\n" {
		t.Errorf("stop printed %q", out)
	}
	must(t, "machine", "delete", "--name", "stopped", "-f")
	if got := vms(t, state); !reflect.DeepEqual(got, []string{"killed"}) {
		t.Errorf("VMs after stop and delete: %v, want only the leaked one", got)
	}
}

// An interrupted start: SIGINT while the VM's agent is awaited exits 130
// and leaves the VM running; a start of the same machine kills it first.
func TestInterruptedStart(t *testing.T) {
	state, _ := setup(t)
	must(t, "machine", "create", "--name", "a")
	t.Setenv("SMOLVM_BOOT_DELAY", "10s")
	done := make(chan int)
	go func() { code, _, _ := run("", "machine", "start", "--name", "a"); done <- code }()
	for !slices.Contains(vms(t, state), "a") {
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if code := <-done; code != 130 {
		t.Fatalf("interrupted start: exit %d, want 130", code)
	}
	if m := ls(t)["a"]; m["state"] != "created" || !slices.Contains(vms(t, state), "a") {
		t.Errorf("after the interrupted start: state %v, VMs %v; want created with its VM running", m["state"], vms(t, state))
	}
	t.Setenv("SMOLVM_BOOT_DELAY", "")
	must(t, "machine", "start", "--name", "a")
	if m := ls(t)["a"]; m["state"] != "running" || !reflect.DeepEqual(vms(t, state), []string{"a"}) {
		t.Errorf("after a start: state %v, VMs %v", m["state"], vms(t, state))
	}
	must(t, "machine", "delete", "--name", "a", "-f")
	if left := vms(t, state); len(left) != 0 {
		t.Errorf("delete of a running machine left its VM: %v", left)
	}
}

// A VM that does not answer: each listing waits a ping's timeout for it
// and shows it unreachable; exec records it so; start boots it anew.
func TestHungVM(t *testing.T) {
	state, _ := setup(t)
	pingTimeout = 50 * time.Millisecond
	t.Cleanup(func() { pingTimeout = 3 * time.Second })
	os.WriteFile(state, []byte(`[{"name":"h1","state":"running","stand_in":{"hung":true}},{"name":"h2","state":"running","stand_in":{"hung":true}},{"name":"ok","state":"running"}]`), 0o644)
	began := time.Now()
	ms := ls(t)
	if took := time.Since(began); took < 2*pingTimeout {
		t.Errorf("ls took %s, want a ping's timeout for each hung VM", took)
	}
	if ms["h1"]["state"] != "unreachable" || ms["h2"]["state"] != "unreachable" || ms["ok"]["state"] != "running" {
		t.Errorf("states %v %v %v", ms["h1"]["state"], ms["h2"]["state"], ms["ok"]["state"])
	}
	expect(t, 1, "Error: agent operation failed: connect: machine 'h1' does not answer\n", "machine", "exec", "--name", "h1", "--", "true")
	if out := must(t, "machine", "status", "--name", "h1"); out != "h1\tunreachable\n" {
		t.Errorf("after exec: %q", out)
	}
	must(t, "machine", "start", "--name", "h2")
	if ms := ls(t); ms["h2"]["state"] != "running" {
		t.Errorf("after start: %v", ms["h2"]["state"])
	}
}

// dead says whether the process pid has exited (a zombie has).
func dead(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) == 0 || fields[0] == "Z" || fields[0] == "X"
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
	}
}

// pids reads the process ids the command of an exec wrote.
func pids(t *testing.T, path string) []int {
	t.Helper()
	var ps []int
	b, _ := os.ReadFile(path)
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, n)
	}
	return ps
}

// The command of an exec, with what it started in the background, does
// not outlive the smolvm client that ran it, however the client ends:
// smolvm's agent kills the command's process group when its client goes
// away (SIGKILL included), and the container goes with its command.
func TestExecEndsWithClient(t *testing.T) {
	setup(t)
	must(t, "machine", "create", "--name", "a")
	must(t, "machine", "start", "--name", "a")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{nil, {"-i"}, {"--stream"}, {"-t"}} {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			pidFile := filepath.Join(t.TempDir(), "pids")
			script := `sleep 300 & echo $$ $! > "$0"; wait`
			client := exec.Command(self, slices.Concat([]string{"machine", "exec", "--name", "a"}, flags, []string{"--", "sh", "-c", script, pidFile})...)
			client.Env = append(os.Environ(), envMain+"=1")
			stdin, _ := client.StdinPipe() // held open: -i must not end by its input
			if err := client.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the command wrote its pids", func() bool { return len(pids(t, pidFile)) == 2 })
			ps := pids(t, pidFile)
			client.Process.Signal(sig)
			client.Wait()
			stdin.Close()
			waitFor(t, fmt.Sprintf("%q, client killed by %v: the command %d and its child %d are gone", flags, sig, ps[0], ps[1]), func() bool {
				return dead(ps[0]) && dead(ps[1])
			})
		}
	}
	// A command that ends takes what it left running with it.
	pidFile := filepath.Join(t.TempDir(), "pids")
	must(t, "machine", "exec", "--name", "a", "--", "sh", "-c", `sleep 300 & echo $! > "$0"`, pidFile)
	bg := pids(t, pidFile)
	waitFor(t, "the command's background child is gone", func() bool { return dead(bg[0]) })
	// --timeout kills the whole group too.
	pidFile = filepath.Join(t.TempDir(), "pids")
	if code, _, _ := run("", "machine", "exec", "--name", "a", "--timeout", "200ms", "--", "sh", "-c", `sleep 300 & echo $! > "$0"; wait`, pidFile); code != 124 {
		t.Errorf("--timeout: exit %d, want 124", code)
	}
	bg = pids(t, pidFile)
	waitFor(t, "after --timeout, the command's child is gone", func() bool { return dead(bg[0]) })
	// -d alone leaves its command running without a client.
	code, out, _ := run("", "machine", "exec", "--name", "a", "-d", "--", "sleep", "300")
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	if code != 0 || pid <= 0 {
		t.Fatalf("-d: exit %d, printed %q", code, out)
	}
	time.Sleep(100 * time.Millisecond)
	if dead(pid) {
		t.Errorf("-d: the command %d is gone with its client", pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// writeDenials appends lines to the machine's denial log, as its VM does.
func writeDenials(t *testing.T, state, name string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dataDir(state, name), "egress-denials.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		f.WriteString(l + "\n")
	}
}

func TestEgressEvents(t *testing.T) {
	state, _ := setup(t)
	must(t, "machine", "create", "--name", "a")
	dir := strings.TrimSpace(must(t, "machine", "data-dir", "--name", "a"))
	if dir != dataDir(state, "a") || readFile(t, filepath.Join(dir, "name")) == nil {
		t.Fatalf("data-dir printed %q, want %q with the name in it", dir, dataDir(state, "a"))
	}
	if out := must(t, "machine", "egress-events", "--name", "a", "--json"); out != "[]\n" {
		t.Errorf("no log yet: %q", out)
	}
	// The fixture's events, in the VM's words, among lines of other kinds.
	writeDenials(t, state, "a",
		"[2026-11-28T05:31:07Z]: egress policy denied resolve pypi.org",
		"[2026-11-28T05:31:08Z]: virtio-net: blocking DNS query by allow-host policy name=pypi.org",
		"[2026-11-28T05:31:09Z]: egress policy denied connect to 151.101.0.223:443",
		"[2026-11-28T05:35:00Z]: egress policy denied listen 0.0.0.0:1",
		"[2026-11-28T05:35:01Z]: egress policy denied connect to ",
		"[2026-11-28T05:40:12Z]: egress policy denied sendto 203.0.113.7:123",
	)
	fixture := readFile(t, "testdata/egress-events.json")
	if out := must(t, "machine", "egress-events", "--name", "a", "--json"); out != string(fixture) {
		t.Errorf("egress-events --json:\n%s\nwant:\n%s", out, fixture)
	}
	if out := must(t, "machine", "egress-events", "-n", "a", "--limit", "1", "--json"); !strings.Contains(out, `"dest": "203.0.113.7:123"`) || strings.Count(out, "timestamp") != 1 {
		t.Errorf("--limit 1: %s", out)
	}
	if out := must(t, "machine", "egress-events", "-n", "a", "--limit", "0", "--json"); out != "[]\n" {
		t.Errorf("--limit 0: %s", out)
	}
	table := "TIMESTAMP                      OP        DESTINATION\n" +
		"2026-11-28T05:31:07Z           resolve   pypi.org\n" +
		"2026-11-28T05:31:09Z           connect   151.101.0.223:443\n" +
		"2026-11-28T05:40:12Z           sendto    203.0.113.7:123\n"
	if out := must(t, "machine", "egress-events", "-n", "a"); out != table {
		t.Errorf("table:\n%s\nwant:\n%s", out, table)
	}
	expect(t, 2, "error: invalid value 'x' for '--limit <LIMIT>'", "machine", "egress-events", "-n", "a", "--limit", "x")
	expect(t, 2, "error: invalid value '-1' for '--limit <LIMIT>'", "machine", "egress-events", "-n", "a", "--limit", "-1")
	if out := must(t, "machine", "egress-events", "--name", "nobody", "--json"); out != "[]\n" {
		t.Errorf("unknown machine: %q", out)
	}
	if out := must(t, "machine", "egress-events", "--name", "nobody"); out != "No egress denials recorded for 'nobody'.\n" {
		t.Errorf("unknown machine: %q", out)
	}
	expect(t, 1, "Error: vm not found: nobody\n", "machine", "data-dir", "--name", "nobody")
	expect(t, 2, "error: the following required arguments were not provided: --name <NAME>", "machine", "data-dir")
	// Gone with its machine.
	must(t, "machine", "delete", "--name", "a", "-f")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data directory outlived its machine: %v", err)
	}
	if out := must(t, "machine", "egress-events", "--name", "a", "--json"); out != "[]\n" {
		t.Errorf("deleted machine: %q", out)
	}
}

// What the guest puts in a denial (the name it asked for) reaches the
// JSON as it is, escaped as serde_json escapes it, and a name that holds a
// newline writes a second line, read as a denial of its own: smolvm
// trusts its log.
func TestEgressEventsHostile(t *testing.T) {
	state, _ := setup(t)
	must(t, "machine", "create", "--name", "a")
	writeDenials(t, state, "a",
		"[2026-11-28T05:31:07Z]: egress policy denied resolve evil\x1b[2J<b>&\u2028\x7f.example\"\\",
		"[2026-11-28T05:31:08Z]: egress policy denied resolve a\n[1999-01-01T00:00:00Z]: egress policy denied connect to 6.6.6.6:66",
		"no timestamp: egress policy denied connect to 192.0.2.1:80",
	)
	want := `[
  {
    "timestamp": "2026-11-28T05:31:07Z",
    "operation": "resolve",
    "dest": "evil\u001b[2J<b>&` + "\u2028\x7f" + `.example\"\\"
  },
  {
    "timestamp": "2026-11-28T05:31:08Z",
    "operation": "resolve",
    "dest": "a"
  },
  {
    "timestamp": "1999-01-01T00:00:00Z",
    "operation": "connect",
    "dest": "6.6.6.6:66"
  },
  {
    "timestamp": "",
    "operation": "connect",
    "dest": "192.0.2.1:80"
  }
]
`
	if out := must(t, "machine", "egress-events", "--name", "a", "--json"); out != want {
		t.Errorf("egress-events --json:\n%s\nwant:\n%s", out, want)
	}
}

// smolvm reads only the end of the log, and nothing of an end that is not
// UTF-8 (cut through a character).
func TestEgressEventsScan(t *testing.T) {
	state, _ := setup(t)
	must(t, "machine", "create", "--name", "a")
	line := "[2026-11-28T05:31:07Z]: egress policy denied connect to 192.0.2.1:443"
	var many []string
	for range denialScan/(len(line)+1) + 100 {
		many = append(many, line)
	}
	writeDenials(t, state, "a", many...)
	// The lines whole in the last denialScan bytes, and the end of the one
	// cut there, which is read too when it holds the marker: without its
	// "[", as a denial without a timestamp.
	whole, cut := denialScan/(len(line)+1), denialScan%(len(line)+1)-1
	want, untimed := whole, 0
	if len(line)-cut <= strings.Index(line, "egress policy denied") {
		want, untimed = whole+1, 1
	}
	out := must(t, "machine", "egress-events", "--name", "a", "--limit", "1000000", "--json")
	if n, u := strings.Count(out, `"dest"`), strings.Count(out, `"timestamp": ""`); n != want || u != untimed {
		t.Errorf("%d lines in the log, %d read (%d without a timestamp); want those in its last %d bytes, %d (%d)", len(many), n, u, denialScan, want, untimed)
	}
	if n := strings.Count(must(t, "machine", "egress-events", "--name", "a", "--json"), `"dest"`); n != 200 {
		t.Errorf("default limit: %d events, want 200", n)
	}
	writeDenials(t, state, "a", "[2026-11-28T05:31:08Z]: egress policy denied resolve caf\xe9")
	if out := must(t, "machine", "egress-events", "--name", "a", "--json"); out != "[]\n" {
		t.Errorf("a log that is not UTF-8: %.200s", out)
	}
}

// Machine options after "--" are the workload's: smolvm says so.
func TestCreateNote(t *testing.T) {
	setup(t)
	code, _, errOut := run("", "machine", "create", "--name", "a", "--", "app", "--mem", "64", "--net", "--mem", "--memory")
	if code != 0 || errOut != "note: --mem, --net came after `--`, so they were passed to the workload and did not configure the machine. Machine options go before `--`.\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if cmd := ls(t)["a"]["cmd"]; !reflect.DeepEqual(cmd, []any{"app", "--mem", "64", "--net", "--mem", "--memory"}) {
		t.Errorf("cmd %v", cmd)
	}
	if _, _, errOut := run("", "machine", "create", "--name", "b", "--", "sleep", "infinity"); errOut != "" {
		t.Errorf("stderr %q", errOut)
	}
}

// A host port is published by one running machine at a time: a second
// machine with it fails to start until the first stops.
func TestPortClash(t *testing.T) {
	setup(t)
	for _, name := range []string{"a", "b"} {
		if code, _, errOut := run("", "machine", "create", "--name", name, "--allow-host", "example.com", "-p", "8080:3000"); code != 0 {
			t.Fatalf("create %s: %d %s", name, code, errOut)
		}
	}
	if code, _, errOut := run("", "machine", "start", "--name", "a"); code != 0 {
		t.Fatalf("start a: %d %s", code, errOut)
	}
	code, _, errOut := run("", "machine", "start", "--name", "b")
	if code != 1 || errOut != "Error: config operation failed: start machine: host port 8080 is already published by machine 'a'\n" {
		t.Errorf("start b: %d %q", code, errOut)
	}
	run("", "machine", "stop", "--name", "a")
	if code, _, errOut := run("", "machine", "start", "--name", "b"); code != 0 {
		t.Errorf("start b after a stopped: %d %s", code, errOut)
	}
	run("", "machine", "stop", "--name", "b")
}
