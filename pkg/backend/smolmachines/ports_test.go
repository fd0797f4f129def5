package smolmachines

import (
	"slices"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/agentdef"
)

// TestCreateArgsPorts: a port is published with -p HOST:GUEST only on a
// machine with an egress allowlist, written on every address with a host
// port; the ports are recorded in a label for listings.
func TestCreateArgsPorts(t *testing.T) {
	t.Parallel()
	def := &agentdef.Definition{Name: "web", Image: "x",
		Limits:       agentdef.Limits{Memory: agentdef.DefaultMemory, CPUs: agentdef.DefaultCPUs},
		Smolmachines: agentdef.Smolmachines{Image: "/images/web"},
		Egress:       agentdef.Egress{Allow: []string{"api.example.com"}},
		Ports:        []agentdef.Publish{{IP: "0.0.0.0", HostPort: 8080, Port: 3000}, {IP: "::", HostPort: 9000, Port: 90}}}
	got, err := createArgs(agentOf("web-1", def), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(got, " ")
	if !strings.Contains(line, " --allow-host api.example.com -p 8080:3000 -p 9000:90") ||
		!slices.Contains(got, "dev.bottle.ports=90=[::]:9000,3000=0.0.0.0:8080") {
		t.Errorf("createArgs = %s", line)
	}
	_, ports, _ := portArgs(def)
	if want := []agent.Port{{Port: 90, Host: "[::]:9000"}, {Port: 3000, Host: "0.0.0.0:8080"}}; !slices.Equal(ports, want) {
		t.Errorf("ports = %+v, want %+v", ports, want)
	}

	for _, tc := range []struct {
		allow []string
		p     agentdef.Publish
		want  string
	}{
		{nil, agentdef.Publish{IP: "0.0.0.0", HostPort: 8080, Port: 3000},
			"port 0.0.0.0:8080:3000: smolvm's -p would give a machine without egress.allow an unrestricted network (virtio-net with no policy); on smolmachines publish ports only with an egress allowlist"},
		{[]string{"a.example"}, agentdef.Publish{IP: "127.0.0.1", Port: 3000},
			"port 127.0.0.1::3000: smolvm's -p HOST:GUEST takes no address and does not say which it binds, so bottle cannot keep the port to 127.0.0.1; on smolmachines write 0.0.0.0:HOSTPORT:3000 (every address of the host)"},
		{[]string{"a.example"}, agentdef.Publish{IP: "0.0.0.0", Port: 3000},
			"port 0.0.0.0::3000: smolvm does not pick a host port; write 0.0.0.0:HOSTPORT:3000"},
	} {
		def := &agentdef.Definition{Name: "web", Image: "x", Smolmachines: agentdef.Smolmachines{Image: "/images/web"},
			Egress: agentdef.Egress{Allow: tc.allow}, Ports: []agentdef.Publish{tc.p}}
		if _, err := createArgs(agentOf("web-1", def), def, nil); err == nil || err.Error() != tc.want {
			t.Errorf("createArgs(%s) = %v, want %s", tc.p, err, tc.want)
		}
	}
}
