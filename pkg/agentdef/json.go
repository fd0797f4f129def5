package agentdef

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// object keeps keys in file order, which decides which problem is reported first.
type object struct {
	keys   []string
	values []any
}

// parse turns data into strings, json.Numbers, bools, nils, []any and *objects,
// rejecting repeated keys, NUL characters and needless nesting on the way.
func (l *loader) parse(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, l.fail("", "is empty; it must hold a JSON object")
	}
	// The token stream reports syntax errors with offsets relative to the current
	// value, so a whole-document check comes first for an exact line and column.
	if !json.Valid(data) {
		var syntax *json.SyntaxError
		if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syntax) {
			at := int(syntax.Offset) - 1 // the offset counts the offending byte
			if strings.Contains(syntax.Error(), "end of JSON input") {
				at = len(data)
			}
			return nil, l.fail("", fmt.Sprintf("invalid JSON at %s: %s", position(data, at), syntax.Error()))
		}
		return nil, l.fail("", "invalid JSON")
	}
	p := &parser{loader: l, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber() // a huge number is a type error later, not a parse failure here
	return p.value("", 0)
}

type parser struct {
	*loader
	data []byte
	dec  *json.Decoder
}

func (p *parser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail("", "invalid JSON: "+err.Error())
	}
	return tok, nil
}

func (p *parser) value(at string, depth int) (any, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxNesting {
			return nil, p.fail(at, fmt.Sprintf("nested more than %d levels deep", maxNesting))
		}
		if t == '{' {
			return p.object(at, depth)
		}
		return p.array(at, depth)
	case string:
		if strings.ContainsRune(t, 0) {
			return nil, p.fail(at, "must not contain a NUL character")
		}
	}
	return tok, nil
}

func (p *parser) object(at string, depth int) (any, error) {
	obj := &object{}
	firstSeen := map[string]int{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // the input is valid JSON, so this is always a string
		keyAt := member(at, key)
		if first, dup := firstSeen[key]; dup {
			return nil, p.fail(keyAt, fmt.Sprintf("duplicate key (first given at line %d)", lineOf(p.data, first)))
		}
		firstSeen[key] = int(p.dec.InputOffset())
		v, err := p.value(keyAt, depth+1)
		if err != nil {
			return nil, err
		}
		obj.keys = append(obj.keys, key)
		obj.values = append(obj.values, v)
	}
	_, err := p.token() // the closing brace
	return obj, err
}

func (p *parser) array(at string, depth int) (any, error) {
	arr := []any{}
	for p.dec.More() {
		v, err := p.value(index(at, len(arr)), depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := p.token() // the closing bracket
	return arr, err
}

// position gives the 1-based line and column (in characters) of data[at].
func position(data []byte, at int) string {
	at = min(max(at, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:at], '\n') + 1
	return fmt.Sprintf("line %d, column %d", lineOf(data, at), utf8.RuneCount(data[lineStart:at])+1)
}

func lineOf(data []byte, at int) int {
	return bytes.Count(data[:min(at, len(data))], []byte("\n")) + 1
}
