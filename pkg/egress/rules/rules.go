// Package rules is what a definition, a backend and the egress proxy agree
// on: the grammar of allowlist patterns, the environment through which a
// backend hands bottle-egress its rules, and the port it listens on. It
// imports nothing of the proxy, so the bottle binaries, which check and pass
// on the rules, do not link it.
package rules

// EnvAllow hands bottle-egress the allowlist, comma-separated patterns.
const EnvAllow = "BOTTLE_EGRESS_ALLOW"

// EnvDeny hands bottle-egress the addresses it never connects to, whatever
// the allowlist says: comma-separated CIDRs.
const EnvDeny = "BOTTLE_EGRESS_DENY"

// EnvListen overrides where bottle-egress listens.
const EnvListen = "BOTTLE_EGRESS_LISTEN"

// Port is where bottle-egress listens unless told otherwise.
const Port = 3128
