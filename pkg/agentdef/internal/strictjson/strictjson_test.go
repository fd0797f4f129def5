package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	got, err := Decode([]byte(`{"b": 1, "a": [true, null, "x", 1e999], "c": {}, "d": {"z": -0.5, "y": false}}`), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := &Object{
		Keys: []string{"b", "a", "c", "d"},
		Values: []any{
			json.Number("1"),
			[]any{true, nil, "x", json.Number("1e999")},
			&Object{},
			&Object{Keys: []string{"z", "y"}, Values: []any{json.Number("-0.5"), false}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, json   string
		path, reason string
	}{
		{"syntax", `{"image": "x",}`, "", `invalid JSON at line 1, column 15: invalid character '}' looking for beginning of object key string`},
		{"syntax on line 2", "{\n  \"a\": x}", "", `invalid JSON at line 2, column 8: invalid character 'x' looking for beginning of value`},
		{"column in characters", "{\"é\": x}", "", `invalid JSON at line 1, column 7: invalid character 'x' looking for beginning of value`},
		{"truncated", `{"a": "x"`, "", `invalid JSON at line 1, column 10: unexpected end of JSON input`},
		{"empty", ``, "", `invalid JSON at line 1, column 1: unexpected end of JSON input`},
		{"trailing data", `{} {}`, "", `invalid JSON at line 1, column 4: invalid character '{' after top-level value`},
		{"duplicate", "{\"a\": 1,\n\"a\": 2}", "a", "duplicate key (first given at line 1)"},
		{"nested duplicate", "{\"x\": [{\n\"k\": 1,\n\"k\": 2}]}", "x[0].k", "duplicate key (first given at line 2)"},
		{"NUL", `{"a": ["b", "c\u0000"]}`, "a[1]", "must not contain a NUL character"},
		{"NUL at the top", `"\u0000"`, "", "must not contain a NUL character"},
		{"too deep", `{"a": [{"b": []}]}`, "a[0].b", "nested more than 3 levels deep"},
		{"odd key", `{"a b": {"c": {"d": {}}}}`, `["a b"].c.d`, "nested more than 3 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode([]byte(tt.json), 3)
			var e *Error
			if !errors.As(err, &e) || v != nil {
				t.Fatalf("got %#v, %v (%T); want an *Error", v, err, err)
			}
			if e.Path != tt.path || e.Reason != tt.reason {
				t.Errorf("got Path %q, Reason %q\nwant Path %q, Reason %q", e.Path, e.Reason, tt.path, tt.reason)
			}
		})
	}
}

// TestDecodeDepth: maxDepth arrays and objects may hold each other; one more
// is refused.
func TestDecodeDepth(t *testing.T) {
	for depth := 1; depth <= 4; depth++ {
		deepest := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		if _, err := Decode([]byte(deepest), depth); err != nil {
			t.Errorf("%d levels, maxDepth %d: %v", depth, depth, err)
		}
		if _, err := Decode([]byte("["+deepest+"]"), depth); err == nil {
			t.Errorf("%d levels, maxDepth %d: no error", depth+1, depth)
		}
	}
}

func TestError(t *testing.T) {
	if got := (&Error{Path: "env.A", Reason: "bad"}).Error(); got != "env.A: bad" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{Reason: "bad"}).Error(); got != "bad" {
		t.Errorf("got %q", got)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ got, want string }{
		{Member("", "image"), "image"},
		{Member("env", "FOO"), "env.FOO"},
		{Member("env", "_a-1"), "env._a-1"},
		{Member("env", "A B"), `env["A B"]`},
		{Member("env", "1A"), `env["1A"]`},
		{Member("env", "-a"), `env["-a"]`},
		{Member("env", ""), `env[""]`},
		{Member("env", "é"), `env["é"]`},
		{Member("", "a\tb"), `["a\tb"]`},
		{Member("", "\xff"), `["\xff"]`},
		{Index("sidecars", 1), "sidecars[1]"},
		{Member(Index("sidecars", 0), "env"), "sidecars[0].env"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTypeName(t *testing.T) {
	v, err := Decode([]byte(`["", 0, true, [], {}, null]`), 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, item := range v.([]any) {
		got = append(got, TypeName(item))
	}
	want := []string{"a string", "a number", "a boolean", "an array", "an object", "null"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzDecode: what Decode accepts is valid JSON, and it decodes to what
// encoding/json makes of it, order aside; what it refuses is an *Error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"b": 1, "a": [true, null, "x", 1e999], "c": {}}`,
		`{"a": 1, "a": 2}`,
		`["\u0000"]`,
		`[[[[[[]]]]]]`,
		`{"é": "\ud800"}`,
		"{\"a\": \"\xff\"}",
		`{"a": 1} x`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data, 4)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || v != nil {
				t.Fatalf("got %#v, %v (%T)", v, err, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if got := plain(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %q to %#v, encoding/json to %#v", data, got, want)
		}
	})
}

// plain turns what Decode returns into what encoding/json decodes into any.
func plain(v any) any {
	switch v := v.(type) {
	case *Object:
		m := make(map[string]any, len(v.Keys))
		for i, key := range v.Keys {
			m[key] = plain(v.Values[i])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = plain(item)
		}
		return out
	}
	return v
}
