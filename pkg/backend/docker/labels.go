package docker

import (
	"maps"
	"strings"

	"github.com/moby/moby/client"
)

// labelFilter selects objects carrying every given label (KEY or
// KEY=VALUE), plus the user's.
func labelFilter(user map[string]string, labels ...string) client.Filters {
	f := client.Filters{}
	for _, l := range labels {
		f.Add("label", l)
	}
	for k, v := range user {
		f.Add("label", k+"="+v)
	}
	return f
}

// with returns m with the pairs of kv added.
func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// networkName is the name of a bottle's own network: the slug and a
// nonce. Engines before API 1.44 let two networks share a name and then
// refuse to start containers on either, so concurrent starts of one slug
// must not make two of one name; the agent container's name is what
// claims the slug. The egress network is named after it, with ".egress",
// and the port forwarder's with ".ports".
func networkName(slug, nonce string) string { return slug + "." + nonce }

// isNetworkOf reports whether a network a container of the bottle slug is
// on is one of the bottle's own, by the name Start gives them: a network
// of the user's that a container was connected to is not.
func isNetworkOf(slug, name string) bool {
	nonce, ok := strings.CutPrefix(name, slug+".")
	if n, ok := strings.CutSuffix(nonce, "."+EgressSidecar); ok {
		nonce = n
	} else {
		nonce = strings.TrimSuffix(nonce, "."+portsSuffix)
	}
	return ok && len(nonce) == nonceLen && strings.Trim(nonce, "0123456789abcdef") == ""
}

// isVolumeOf reports whether a volume an agent container of the bottle
// slug has mounted is the bottle's own, by the name Start gives it: its
// network's, and ".tether" or ".proxy".
func isVolumeOf(slug, name string) bool {
	for _, suffix := range []string{tetherVolumeSuffix, proxyVolumeSuffix} {
		if network, ok := strings.CutSuffix(name, "."+suffix); ok {
			return isNetworkOf(slug, network) && !strings.HasSuffix(network, "."+EgressSidecar) && !strings.HasSuffix(network, "."+portsSuffix)
		}
	}
	return false
}
