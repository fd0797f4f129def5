package docker

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// engineAt answers the ping and the version request as an Engine of that
// release and API version would.
func engineAt(t *testing.T, release, api string) *client.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", api)
		if strings.HasSuffix(r.URL.Path, "/version") {
			fmt.Fprintf(w, `{"Version": %q, "ApiVersion": %q}`, release, api)
			return
		}
		w.Write([]byte("OK"))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(client.WithHost("tcp://"+srv.Listener.Addr().String()), client.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(context.Background(), client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHostIsolationByEngine(t *testing.T) {
	inhibit := map[string]string{optInhibitIPv4: "true"}
	isolated := map[string]string{optGatewayModeIPv4: gatewayIsolated, optGatewayModeIPv6: gatewayIsolated}
	for _, tc := range []struct {
		release, api string
		want         map[string]string
		refused      string
	}{
		{"19.03.15", "1.40", nil, "upgrade it to 20.10"},
		{"20.10.24", "1.41", inhibit, ""},
		{"26.0.1", "1.45", nil, "CVE-2024-32473"},
		{"26.0.2", "1.45", inhibit, ""},
		{"27.5.1", "1.47", inhibit, ""},
		{"28.0.0", "1.48", isolated, ""},
		{"29.7.2", "1.55", isolated, ""},
	} {
		got, err := hostIsolation(context.Background(), engineAt(t, tc.release, tc.api))
		switch {
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("Engine %s: got %v, %v; want a refusal naming %q", tc.release, got, err, tc.refused)
		case tc.refused == "" && (err != nil || !maps.Equal(got, tc.want)):
			t.Errorf("Engine %s: got %v, %v; want %v", tc.release, got, err, tc.want)
		}
	}
}
