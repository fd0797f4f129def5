package agentdef

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
)

// DefaultPublishIP is the host address a published port is bound to when
// none is given: the host's loopback, never its other addresses.
const DefaultPublishIP = "127.0.0.1"

// Publish is one port of the agent published on the host, TCP always.
type Publish struct {
	IP       string // the host address it is bound to: DefaultPublishIP unless given
	HostPort int    // the host's port; 0: the backend picks a free one
	Port     int    // the agent's port
}

// String spells p as docker does, IP:HOSTPORT:PORT, HOSTPORT empty when
// the backend picks it, an IPv6 address in brackets.
func (p Publish) String() string {
	host := ""
	if p.HostPort != 0 {
		host = strconv.Itoa(p.HostPort)
	}
	ip := p.IP
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return ip + ":" + host + ":" + strconv.Itoa(p.Port)
}

// ParsePublish reads docker's spelling of a published port,
// [IP:][HOSTPORT:]PORT, with an optional "/tcp": PORT is the agent's,
// HOSTPORT the host's (left out or empty: the backend picks one), IP the
// host address it is bound to (left out: 127.0.0.1; an IPv6 address in
// brackets). One port each, TCP only.
func ParsePublish(s string) (Publish, error) {
	p := Publish{IP: DefaultPublishIP}
	spec := s
	if rest, proto, ok := strings.Cut(spec, "/"); ok {
		if proto != "tcp" {
			return p, fmt.Errorf("%q: only TCP ports can be published, not %q", s, proto)
		}
		spec = rest
	}
	ip, hasIP := "", false
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]")
		if end < 0 || !strings.HasPrefix(spec[end+1:], ":") {
			return p, fmt.Errorf("%q: an IPv6 address is written [ADDRESS]:HOSTPORT:PORT", s)
		}
		ip, hasIP, spec = spec[1:end], true, spec[end+2:]
	}
	parts := strings.Split(spec, ":")
	if !hasIP && len(parts) == 3 {
		ip, hasIP, parts = parts[0], true, parts[1:]
	}
	var hostPort, port string
	switch len(parts) {
	case 1:
		port = parts[0]
	case 2:
		hostPort, port = parts[0], parts[1]
		if hostPort == "" && !hasIP {
			return p, fmt.Errorf("%q: give a host port before the ':', or write 127.0.0.1::PORT to have one picked", s)
		}
	default:
		return p, fmt.Errorf("%q: not [IP:][HOSTPORT:]PORT (an IPv6 address goes in brackets)", s)
	}
	if hasIP {
		addr, err := netip.ParseAddr(ip)
		if err != nil || addr.Zone() != "" {
			return p, fmt.Errorf("%q: %q is not an IP address", s, ip)
		}
		p.IP = addr.String()
	}
	var err error
	if p.Port, err = portNumber(port); err != nil {
		return p, fmt.Errorf("%q: %w", s, err)
	}
	if hostPort != "" {
		if p.HostPort, err = portNumber(hostPort); err != nil {
			return p, fmt.Errorf("%q: host %w", s, err)
		}
	}
	return p, nil
}

// portNumber reads one port: 1 to 65535, digits only.
func portNumber(s string) (int, error) {
	switch {
	case s == "":
		return 0, fmt.Errorf("port missing")
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("port %s is out of range (1-65535)", s)
	case strings.Contains(s, "-") && strings.Trim(s, "0123456789-") == "":
		return 0, fmt.Errorf("port %q is a range: publish one port at a time", s)
	case strings.Trim(s, "0123456789") != "":
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range (1-65535)", s)
	}
	return n, nil
}

// AddPorts publishes more ports, as --publish gives them, after the
// definition's own; a port of the agent published twice, or a host
// address and port bound twice, is refused.
func (d *Definition) AddPorts(ports []Publish) error {
	for _, p := range ports {
		if err := checkDuplicate(d.Ports, p); err != nil {
			return err
		}
		d.Ports = append(d.Ports, p)
	}
	return nil
}

// checkDuplicate refuses p when ports already publish its agent port, or
// already bind its host address and port.
func checkDuplicate(ports []Publish, p Publish) error {
	for _, q := range ports {
		switch {
		case q.Port == p.Port:
			return fmt.Errorf("port %d is published twice (%s and %s)", p.Port, q, p)
		case p.HostPort != 0 && q.HostPort == p.HostPort && q.IP == p.IP:
			return fmt.Errorf("host address %s is bound twice (%s and %s)", strings.TrimSuffix(p.String(), ":"+strconv.Itoa(p.Port)), q, p)
		}
	}
	return nil
}

// ports reads the ports key: an array of ports (numbers), or of strings
// in docker's spelling [IP:][HOSTPORT:]PORT.
func (l *loader) ports(at string, v any) ([]Publish, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, l.wrongType(at, "an array of port numbers or \"[IP:][HOSTPORT:]PORT\" strings", v)
	}
	var ports []Publish
	for i, item := range items {
		itemAt := strictjson.Index(at, i)
		var p Publish
		var err error
		switch item := item.(type) {
		case json.Number:
			p.IP = DefaultPublishIP
			if p.Port, err = portNumber(item.String()); err != nil {
				return nil, l.fail(itemAt, err.Error())
			}
		case string:
			if p, err = ParsePublish(item); err != nil {
				return nil, l.fail(itemAt, err.Error())
			}
		default:
			return nil, l.wrongType(itemAt, "a port number or a \"[IP:][HOSTPORT:]PORT\" string", item)
		}
		if err := checkDuplicate(ports, p); err != nil {
			return nil, l.fail(itemAt, err.Error())
		}
		ports = append(ports, p)
	}
	return ports, nil
}
