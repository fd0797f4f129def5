// Command minls is a yardstick, not a tool: the least a Go program can do
// to print bottle-ls's lines for docker. It sends the one request it is
// given (bottle-ls's own list request, as curl is given it) to the Engine's
// unix socket, with no ping and no Docker client, decodes only the fields
// a line needs, and writes the lines through one buffer. With -ping it only
// sends HEAD /_ping, as bottle-has-backend's job needs.
//
//	minls SOCKET REQUEST-URI
//	minls -ping SOCKET
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/bottle-dev/bottle/pkg/labels"
)

func main() {
	ping := len(os.Args) == 3 && os.Args[1] == "-ping"
	if !ping && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: minls SOCKET REQUEST-URI | minls -ping SOCKET")
		os.Exit(2)
	}
	sock, uri := os.Args[1], os.Args[2]
	method := http.MethodGet
	if ping {
		sock, uri, method = os.Args[2], "/_ping", http.MethodHead
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequest(method, "http://docker"+uri, nil)
	if err != nil {
		fail(err)
	}
	res, err := c.Do(req)
	if err != nil {
		fail(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fail(fmt.Errorf("%s %s: %s", method, uri, res.Status))
	}
	if ping {
		return
	}
	var items []struct {
		Labels map[string]string
	}
	if err := json.NewDecoder(res.Body).Decode(&items); err != nil {
		fail(err)
	}
	slices.SortFunc(items, func(a, b struct{ Labels map[string]string }) int {
		return strings.Compare(a.Labels[labels.Slug], b.Labels[labels.Slug])
	})
	w := bufio.NewWriter(os.Stdout)
	for _, it := range items {
		// The answer holds the bottles' other containers too, as
		// bottle-ls's does: a line is an agent's.
		if it.Labels[labels.Role] != labels.RoleAgent {
			continue
		}
		services := it.Labels[labels.Services]
		if services == "" {
			services = "-"
		}
		fmt.Fprintf(w, "docker\t%s\t%s\t%s\n", it.Labels[labels.Slug], it.Labels[labels.Agent], services)
	}
	if err := w.Flush(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "minls:", err)
	os.Exit(1)
}
