// Package strictjson decodes JSON documents that are policy, where a
// lenient reading would let a mistake or an attack through unseen. It keeps
// the members of an object in file order, so that the first problem in the
// file is the one reported; refuses repeated member names, NUL characters
// and needless nesting; keeps numbers as written, so that a huge one is the
// caller's to judge rather than a parse failure; and says where each
// problem is with a path such as sidecars[1].env.FOO.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Object is a JSON object with its members in file order.
type Object struct {
	Keys   []string
	Values []any
}

// Error is a problem with a document: the path of the value it concerns
// (built by Member and Index; "" for the document as a whole) and the reason.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Decode decodes data, which must hold exactly one JSON value, into
// strings, json.Numbers, bools, nils, []any and *Objects. More than
// maxDepth arrays and objects nested in one another are refused. Every
// error is an *Error; a syntax error gives the line and column it is at.
func Decode(data []byte, maxDepth int) (any, error) {
	// The token stream reports syntax errors with offsets relative to the current
	// value, so a whole-document check comes first for an exact line and column.
	if !json.Valid(data) {
		var syntax *json.SyntaxError
		if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syntax) {
			at := int(syntax.Offset) - 1 // the offset counts the offending byte
			if strings.Contains(syntax.Error(), "end of JSON input") {
				at = len(data)
			}
			return nil, &Error{Reason: fmt.Sprintf("invalid JSON at %s: %s", position(data, at), syntax.Error())}
		}
		return nil, &Error{Reason: "invalid JSON"}
	}
	d := &decoder{data: data, dec: json.NewDecoder(bytes.NewReader(data)), maxDepth: maxDepth}
	d.dec.UseNumber()
	return d.value("", 0)
}

type decoder struct {
	data     []byte
	dec      *json.Decoder
	maxDepth int
}

func (d *decoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, &Error{Reason: "invalid JSON: " + err.Error()}
	}
	return tok, nil
}

func (d *decoder) value(at string, depth int) (any, error) {
	tok, err := d.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= d.maxDepth {
			return nil, &Error{Path: at, Reason: fmt.Sprintf("nested more than %d levels deep", d.maxDepth)}
		}
		if t == '{' {
			return d.object(at, depth)
		}
		return d.array(at, depth)
	case string:
		if strings.ContainsRune(t, 0) {
			return nil, &Error{Path: at, Reason: "must not contain a NUL character"}
		}
	}
	return tok, nil
}

func (d *decoder) object(at string, depth int) (any, error) {
	obj := &Object{}
	firstSeen := map[string]int{}
	for d.dec.More() {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // the input is valid JSON, so this is always a string
		keyAt := Member(at, key)
		if first, dup := firstSeen[key]; dup {
			return nil, &Error{Path: keyAt, Reason: fmt.Sprintf("duplicate key (first given at line %d)", lineOf(d.data, first))}
		}
		firstSeen[key] = int(d.dec.InputOffset())
		v, err := d.value(keyAt, depth+1)
		if err != nil {
			return nil, err
		}
		obj.Keys = append(obj.Keys, key)
		obj.Values = append(obj.Values, v)
	}
	_, err := d.token() // the closing brace
	return obj, err
}

func (d *decoder) array(at string, depth int) (any, error) {
	arr := []any{}
	for d.dec.More() {
		v, err := d.value(Index(at, len(arr)), depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := d.token() // the closing bracket
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

// Member is the path of the member key of the object at path at, such as
// env.FOO; a key that would be ambiguous or unprintable in that form is
// quoted instead: env["A B"].
func Member(at, key string) string {
	if !isPlainKey(key) {
		return at + "[" + strconv.Quote(key) + "]"
	}
	if at == "" {
		return key
	}
	return at + "." + key
}

// Index is the path of element i of the array at path at, such as sidecars[1].
func Index(at string, i int) string {
	return at + "[" + strconv.Itoa(i) + "]"
}

// isPlainKey says whether key reads unambiguously after a dot: a letter or
// "_", then letters, digits, "_" and "-".
func isPlainKey(key string) bool {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
	return key != "" && strings.IndexByte(letters, key[0]) >= 0 && strings.Trim(key[1:], letters+"0123456789-") == ""
}

// TypeName names the JSON type of v, a value Decode returned, for messages:
// "a string", "an object", "null".
func TypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case *Object:
		return "an object"
	}
	return "null"
}
