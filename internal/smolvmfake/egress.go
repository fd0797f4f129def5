package smolvmfake

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A machine's data directory is smolvm's per-VM directory, named by a hash
// of the machine's name (the first 16 hex digits of its SHA-256) and
// holding a file "name" with the name: here under STATE.data, where smolvm
// has its cache directory. create and start make it, delete removes it.
// Of what smolvm keeps there the stand-in has only the egress denial log,
// egress-denials.log, which the VM's network appends to and which a test
// writes instead, one line per refusal in the VM's own words:
//
//	[2026-11-28T05:31:09Z]: egress policy denied connect to 203.0.113.9:443
//	[2026-11-28T05:31:10Z]: egress policy denied sendto 203.0.113.7:123
//	[2026-11-28T05:31:11Z]: egress policy denied resolve pypi.org

// dataDir is the data directory of the machine name.
func dataDir(state, name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(state+".data", hex.EncodeToString(sum[:])[:16])
}

// makeDataDir makes the machine's data directory, if it is not there.
func makeDataDir(state, name string) error {
	dir := dataDir(state, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "name"), []byte(name), 0o644)
}

// dataDirOf is `machine data-dir`: the directory of a machine there is,
// else smolvm's "vm not found".
func dataDirOf(c *call) int {
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	name := c.name()
	if find(ms, name) < 0 {
		return c.fail(vmNotFound(name))
	}
	fmt.Fprintln(c.stdout, dataDir(c.state, name))
	return 0
}

// denial is one event of `machine egress-events --json`.
type denial struct{ Timestamp, Operation, Dest string }

// prettyDenials writes the events as serde_json's to_string_pretty does:
// two spaces a level, the fields in smolvm's order, "[]" for none.
func prettyDenials(events []denial) string {
	if len(events) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[")
	for i, e := range events {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  {\n    \"timestamp\": %s,\n    \"operation\": %s,\n    \"dest\": %s\n  }", serdeString(e.Timestamp), serdeString(e.Operation), serdeString(e.Dest))
	}
	b.WriteString("\n]")
	return b.String()
}

// serdeString quotes s as serde_json does: only '"', '\\' and the C0
// controls escaped, with \b \t \n \f \r where there is one, else \u00xx;
// everything else, U+2028 and DEL among it, as it is.
func serdeString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// denialScan is how much of the end of the denial log smolvm reads.
const denialScan = 256 << 10

// egressEvents prints the refused connections of a machine as smolvm
// does: it reads the last denialScan bytes of the denial log in the
// machine's data directory (all or nothing: bytes that are not UTF-8
// there, as a cut through a character gives, make it read nothing), keeps
// the lines it can read as denials, and prints the newest --limit of
// them, oldest first. It never checks that the machine exists: one that
// does not, or has no log, has none.
func egressEvents(c *call) int {
	limit := uint64(200)
	if c.has("limit") {
		n, err := strconv.ParseUint(c.flag("limit"), 10, 64)
		if err != nil {
			return c.usage("invalid value '%s' for '--limit <LIMIT>': %v", c.flag("limit"), errors.Unwrap(err))
		}
		limit = n
	}
	events := readDenials(filepath.Join(dataDir(c.state, c.name()), "egress-denials.log"))
	if uint64(len(events)) > limit {
		events = events[uint64(len(events))-limit:]
	}
	if c.has("json") {
		fmt.Fprintln(c.stdout, prettyDenials(events))
		return 0
	}
	if len(events) == 0 {
		fmt.Fprintf(c.stdout, "No egress denials recorded for '%s'.\n", c.name())
		return 0
	}
	fmt.Fprintf(c.stdout, "%-30s %-9s DESTINATION\n", "TIMESTAMP", "OP")
	for _, e := range events {
		fmt.Fprintf(c.stdout, "%-30s %-9s %s\n", e.Timestamp, e.Operation, e.Dest)
	}
	return 0
}

// readDenials reads the denials of the log at path, oldest first. Like
// smolvm it reports none for a log that is not there or cannot be read.
func readDenials(path string) []denial {
	events := []denial{} // [] rather than null
	f, err := os.Open(path)
	if err != nil {
		return events
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > denialScan {
		f.Seek(-denialScan, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil || !utf8.Valid(b) {
		return events
	}
	for _, line := range lines(string(b)) {
		if d, ok := parseDenial(line); ok {
			events = append(events, d)
		}
	}
	return events
}

// lines splits s as Rust's str::lines does: at "\n", a "\r" before it
// dropped, with no empty line after a final "\n".
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// parseDenial reads one line of the denial log as smolvm does: after the
// marker "egress policy denied ", wherever it is on the line, an operation
// (connect, sendto or resolve), a space and the destination (after a "to "
// if there is one, without the space around it); the timestamp is the
// first word of a line that starts with "[", without the ":" and "]" at
// its end, or "" for a line that does not start so.
func parseDenial(line string) (denial, bool) {
	const marker = "egress policy denied "
	i := strings.Index(line, marker)
	if i < 0 {
		return denial{}, false
	}
	op, rest, ok := strings.Cut(line[i+len(marker):], " ")
	if !ok || op != "connect" && op != "sendto" && op != "resolve" {
		return denial{}, false
	}
	dest := strings.TrimSpace(strings.TrimPrefix(rest, "to "))
	if dest == "" {
		return denial{}, false
	}
	timestamp := ""
	if after, ok := strings.CutPrefix(line, "["); ok {
		if f := strings.Fields(after); len(f) > 0 {
			timestamp = strings.TrimRight(strings.TrimRight(f[0], ":"), "]")
		}
	}
	return denial{Timestamp: timestamp, Operation: op, Dest: dest}, true
}
