package agentdef

import (
	"reflect"
	"testing"
)

func TestParsePublish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Publish
		str  string
	}{
		{"3000", Publish{"127.0.0.1", 0, 3000}, "127.0.0.1::3000"},
		{"3000/tcp", Publish{"127.0.0.1", 0, 3000}, "127.0.0.1::3000"},
		{"8080:3000", Publish{"127.0.0.1", 8080, 3000}, "127.0.0.1:8080:3000"},
		{"127.0.0.1::3000", Publish{"127.0.0.1", 0, 3000}, "127.0.0.1::3000"},
		{"0.0.0.0:8080:3000", Publish{"0.0.0.0", 8080, 3000}, "0.0.0.0:8080:3000"},
		{"[::1]::3000", Publish{"::1", 0, 3000}, "[::1]::3000"},
		{"[::]:80:3000", Publish{"::", 80, 3000}, "[::]:80:3000"},
		{"65535:1", Publish{"127.0.0.1", 65535, 1}, "127.0.0.1:65535:1"},
	} {
		got, err := ParsePublish(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParsePublish(%q) = %+v (%s), %v; want %+v (%s)", tc.in, got, got.String(), err, tc.want, tc.str)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `"": port missing`},
		{"0", `"0": port 0 is out of range (1-65535)`},
		{"65536", `"65536": port 65536 is out of range (1-65535)`},
		{"70000:3000", `"70000:3000": host port 70000 is out of range (1-65535)`},
		{"x", `"x": port "x" is not a number`},
		{"+80", `"+80": port "+80" is not a number`},
		{"3000/udp", `"3000/udp": only TCP ports can be published, not "udp"`},
		{"3000-3010", `"3000-3010": port "3000-3010" is a range: publish one port at a time`},
		{":3000", `":3000": give a host port before the ':', or write 127.0.0.1::PORT to have one picked`},
		{"300.0.0.1::3000", `"300.0.0.1::3000": "300.0.0.1" is not an IP address`},
		{"localhost:80:3000", `"localhost:80:3000": "localhost" is not an IP address`},
		{"::1:80:3000", `"::1:80:3000": not [IP:][HOSTPORT:]PORT (an IPv6 address goes in brackets)`},
		{"[::1:3000", `"[::1:3000": an IPv6 address is written [ADDRESS]:HOSTPORT:PORT`},
		{"[fe80::1%eth0]::3000", `"[fe80::1%eth0]::3000": "fe80::1%eth0" is not an IP address`},
		{"1.2.3.4:80", `"1.2.3.4:80": host port "1.2.3.4" is not a number`},
	} {
		_, err := ParsePublish(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParsePublish(%q) = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestLoadPorts(t *testing.T) {
	dir := tempDir(t)
	file := writeFile(t, dir, "a.json", `{"image": "x", "ports": [3000, "0.0.0.0:8080:8000", "[::1]::9000"]}`)
	def, err := Load(file, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Publish{{"127.0.0.1", 0, 3000}, {"0.0.0.0", 8080, 8000}, {"::1", 0, 9000}}
	if !reflect.DeepEqual(def.Ports, want) {
		t.Errorf("Ports = %+v, want %+v", def.Ports, want)
	}
	if err := def.AddPorts([]Publish{{"127.0.0.1", 0, 4000}}); err != nil || len(def.Ports) != 4 {
		t.Errorf("AddPorts = %v, %+v", err, def.Ports)
	}
	if err := def.AddPorts([]Publish{{"127.0.0.1", 0, 3000}}); err == nil || err.Error() != "port 3000 is published twice (127.0.0.1::3000 and 127.0.0.1::3000)" {
		t.Errorf("AddPorts of a published port = %v", err)
	}

	for _, tc := range []struct{ json, key, reason string }{
		{`"ports": 3000`, "ports", `must be an array of port numbers or "[IP:][HOSTPORT:]PORT" strings, not a number`},
		{`"ports": [true]`, "ports[0]", `must be a port number or a "[IP:][HOSTPORT:]PORT" string, not a boolean`},
		{`"ports": [0]`, "ports[0]", `port 0 is out of range (1-65535)`},
		{`"ports": [65536]`, "ports[0]", `port 65536 is out of range (1-65535)`},
		{`"ports": [3000.5]`, "ports[0]", `port "3000.5" is not a number`},
		{`"ports": [-1]`, "ports[0]", `port -1 is out of range (1-65535)`},
		{`"ports": [3000, "3000"]`, "ports[1]", `port 3000 is published twice (127.0.0.1::3000 and 127.0.0.1::3000)`},
		{`"ports": ["8080:3000", "8080:4000"]`, "ports[1]", `host address 127.0.0.1:8080 is bound twice (127.0.0.1:8080:3000 and 127.0.0.1:8080:4000)`},
		{`"ports": ["1.2.3:80:3000"]`, "ports[0]", `"1.2.3:80:3000": "1.2.3" is not an IP address`},
	} {
		file := writeFile(t, dir, "b.json", `{"image": "x", `+tc.json+`}`)
		_, err := Load(file, Config{})
		checkError(t, err, file, tc.key, tc.reason)
	}
}
