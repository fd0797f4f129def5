package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/bottle-dev/bottle/pkg/backend"
	"github.com/bottle-dev/bottle/pkg/backend/docker"
)

// containerList is a /containers/json answer of n running agents, each
// container as Docker Engine 20.10 (API 1.41) describes one that
// bottle-start made: labels, one network, the workspace mount.
func containerList(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		slug := fmt.Sprintf("reviewer-%06x", i)
		id := strings.Repeat(fmt.Sprintf("%08x", i), 8)
		fmt.Fprintf(&b, `{"Id":%q,"Names":["/%s"],"Image":"bottle-demo:latest",`+
			`"ImageID":"sha256:8c661da75b517a59351c9e0c1121417d48b2588e546cfd552e97c79c9fc47ea3","Command":"sleep infinity","Created":%d,"Ports":[],`+
			`"Labels":{"bottle-bench-run":"b3nch1","dev.bottle.agent":"reviewer","dev.bottle.attach":"[\"/bin/sh\"]","dev.bottle.example":"true",`+
			`"dev.bottle.role":"agent","dev.bottle.services":"egress,web","dev.bottle.slug":%q},`+
			`"State":"running","Status":"Up 5 minutes","HostConfig":{"NetworkMode":%q},`+
			`"NetworkSettings":{"Networks":{%q:{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":%q,"EndpointID":%q,`+
			`"Gateway":"172.31.0.1","IPAddress":"172.31.0.4","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,`+
			`"MacAddress":"02:42:ac:1f:00:04","DriverOpts":null}}},`+
			`"Mounts":[{"Type":"bind","Source":"/home/me/src/site","Destination":"/workspace","Mode":"","RW":true,"Propagation":"rprivate"}]}`,
			id, slug, 1795843200+i, slug, id, slug, id, id)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// fakeEngine answers the ping and the container list on a unix socket, and
// counts the requests it is sent. It returns its DOCKER_HOST.
func fakeEngine(b *testing.B, list []byte) (string, *atomic.Int64) {
	sock := filepath.Join(b.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	var requests atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Api-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/containers/json"):
			w.Header().Set("Content-Type", "application/json")
			w.Write(list)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "unix://" + sock, &requests
}

// BenchmarkEnumerate is one listing as bottle-ls makes it, against an
// Engine that answers at once: the ping that is its usability check, the
// list request, decoding the container summaries and turning them into
// agents. requests/op must stay 2 whatever the number of agents.
func BenchmarkEnumerate(b *testing.B) {
	for _, n := range []int{10, 200, 1000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			list := containerList(n)
			host, requests := fakeEngine(b, list)
			be := docker.New(docker.Config{Host: host})
			ctx := context.Background()
			b.SetBytes(int64(len(list)))
			b.ReportAllocs()
			for b.Loop() {
				agents, err := be.Enumerate(ctx, backend.Query{Labels: map[string]string{"bottle-bench-run": "b3nch1"}})
				if err != nil {
					b.Fatal(err)
				}
				if len(agents) != n {
					b.Fatalf("%d agents, want %d", len(agents), n)
				}
			}
			b.ReportMetric(float64(requests.Load())/float64(b.N), "requests/op")
		})
	}
}

// BenchmarkDecodeContainerList is the part of BenchmarkEnumerate that is
// the client's: decoding the answer into container summaries, as
// client.ContainerList does. Enumerate minus this is the HTTP round trip
// and the conversion to agents.
func BenchmarkDecodeContainerList(b *testing.B) {
	for _, n := range []int{10, 200, 1000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			list := containerList(n)
			b.SetBytes(int64(len(list)))
			b.ReportAllocs()
			for b.Loop() {
				var items []container.Summary
				if err := json.NewDecoder(bytes.NewReader(list)).Decode(&items); err != nil {
					b.Fatal(err)
				}
				if len(items) != n {
					b.Fatalf("%d items", len(items))
				}
			}
		})
	}
}
