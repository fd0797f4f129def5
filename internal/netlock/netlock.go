// Package netlock locks the network namespace of a bottle's pod on
// Kubernetes. A pod's containers share one network namespace, so no
// network of the cluster's can keep the agent from going around the egress
// proxy beside it: bottle-netlock, an init container that alone holds
// NET_ADMIN, installs this package's nftables table before the agent
// starts, and the agent, another user with no capabilities, cannot change
// it.
//
// The table lets out only packets to loopback, replies and the rest of
// connections already allowed, the packets of the allowed users (the
// proxy's), and the kernel's own IPv6 neighbour discovery; and it lets in
// only packets from loopback, replies and neighbour discovery, so that no
// one on the cluster's network can open a connection to the agent and
// take what it would send. Both IPv4 and IPv6: it is one inet table.
package netlock

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/bottle-dev/bottle/internal/version"
)

// table is the name of bottle's inet table, the one Lock replaces.
const table = "bottle"

// Run runs bottle-netlock with args (without the program name): it locks
// the network namespace it runs in, letting out the packets of each user
// given by -allow-uid and, with none, nothing but loopback. It returns the
// exit code: 0 once locked (and for -h and -version), 1 if the lock could
// not be installed, with one line on stderr saying why, 2 for bad usage.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bottle-netlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bottle-netlock [-allow-uid UID]...")
		fmt.Fprintln(stderr, "Locks this network namespace: out go only loopback, replies and the packets of each UID allowed.")
		fs.PrintDefaults()
	}
	var uids []uint32
	fs.Func("allow-uid", "let out the packets of user `UID` (the egress proxy's); repeatable; with none, nothing but loopback goes out", func(s string) error {
		uid, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return errors.New("not a user ID")
		}
		uids = append(uids, uint32(uid))
		return nil
	})
	if status, done := version.ParseFlags(fs, args, stdout); done {
		return status
	}
	if err := Lock(uids); err != nil {
		msg := err.Error()
		if errors.Is(err, os.ErrPermission) {
			msg += " (it needs the capability NET_ADMIN)"
		}
		// The library joins one error per message of the batch: one line.
		fmt.Fprintf(stderr, "bottle-netlock: not locked: %s\n", strings.ReplaceAll(msg, "\n", "; "))
		return 1
	}
	return 0
}

// Lock replaces bottle's table in the network namespace it runs in with
// one that lets out the packets of the users uids, and
// nothing else but loopback, replies and neighbour discovery: see the
// package's documentation. The old table goes and the new one comes in
// one netlink batch, which the kernel applies whole or not at all, so the
// namespace is never without a lock once it had one.
func Lock(uids []uint32) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("finding loopback: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: table}
	// Adding the table first makes deleting it succeed when it is not
	// there yet.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	output := c.AddChain(&nftables.Chain{
		Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter,
		Policy: ref(nftables.ChainPolicyDrop),
	})
	accept(c, output, iface(expr.MetaKeyOIF, lo.Index)...)
	accept(c, output, replies()...)
	for _, uid := range uids {
		accept(c, output,
			&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uid)})
	}
	// The kernel's own, with no socket and no connection: without them
	// the proxy's IPv6 would find no neighbour. No one unprivileged can
	// send these types (ping sockets send only echo requests).
	nd, err := icmpv6Types(c, t, routerSolicit, neighborSolicit, neighborAdvert)
	if err != nil {
		return err
	}
	accept(c, output, nd...)

	input := c.AddChain(&nftables.Chain{
		Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter,
		Policy: ref(nftables.ChainPolicyDrop),
	})
	accept(c, input, iface(expr.MetaKeyIIF, lo.Index)...)
	accept(c, input, replies()...)
	nd, err = icmpv6Types(c, t, routerAdvert, neighborSolicit, neighborAdvert)
	if err != nil {
		return err
	}
	accept(c, input, nd...)

	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing table inet %s: %w", table, err)
	}
	return nil
}

func accept(c *nftables.Conn, chain *nftables.Chain, match ...expr.Any) {
	c.AddRule(&nftables.Rule{
		Table: chain.Table, Chain: chain,
		Exprs: append(match, &expr.Verdict{Kind: expr.VerdictAccept}),
	})
}

// iface matches the interface with the index given, as key (the input or
// the output interface) says.
func iface(key expr.MetaKey, index int) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(index))},
	}
}

// replies matches ct state established,related: the packets of a
// connection whose first packet was let through, and the ICMP errors
// about it.
func replies() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{
			SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0),
		},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// icmpv6Types adds to the batch an anonymous set of ICMPv6 types and
// returns the match of a packet of one of them.
func icmpv6Types(c *nftables.Conn, t *nftables.Table, types ...byte) ([]expr.Any, error) {
	set := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: nftables.TypeICMP6Type}
	elems := make([]nftables.SetElement, len(types))
	for i, typ := range types {
		elems[i] = nftables.SetElement{Key: []byte{typ}}
	}
	if err := c.AddSet(set, elems); err != nil {
		return nil, err
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}, nil
}

// The ICMPv6 types of neighbour discovery (RFC 4861) that a pod's
// addresses need.
const (
	routerSolicit   = 133
	routerAdvert    = 134
	neighborSolicit = 135
	neighborAdvert  = 136
)

func ref[T any](v T) *T { return &v }
