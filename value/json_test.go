package value_test

import (
	"math"
	"strings"
	"testing"

	"github.com/weirstream/weir/value"
)

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"null", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"int", -42, `-42`},
		{"min int", math.MinInt64, `-9223372036854775808`},
		{"integral float", 2.0, `2.0`},
		{"zero float", 0.0, `0.0`},
		{"negative zero", negZero, `-0.0`},
		{"fraction", 0.1, `0.1`},
		{"large integral float", 1e20, `100000000000000000000.0`},
		{"exponent large", 1e21, `1e+21`},
		{"exponent small", 1e-7, `1e-7`},
		{"smallest normal-ish", 1e-6, `0.000001`},
		{"max float", math.MaxFloat64, `1.7976931348623157e+308`},
		{"string", "hi", `"hi"`},
		{"escapes", "a\"b\\c\n\r\t\b\f\x01\x1f", `"a\"b\\c\n\r\t\b\f\u0001\u001f"`},
		{"unicode kept", "héllo ✓", `"héllo ✓"`},
		{"line separators", "\u2028\u2029", `"\u2028\u2029"`},
		{"invalid utf8", "a\xffb", `"a\ufffdb"`},
		{"html not escaped", "<&>", `"<&>"`},
		{"list", []any{1, "a", nil, []any{}}, `[1,"a",null,[]]`},
		{"map sorted", map[string]any{"b": 1, "a": []any{true}, "": 2.5}, `{"":2.5,"a":[true],"b":1}`},
		{"map key escaped", map[string]any{"q\"": 1}, `{"q\"":1}`},
		{"empty map", map[string]any{}, `{}`},
		{"non-canonical", []int8{1, 2}, `[1,2]`},
	}
	for _, tt := range tests {
		got, err := value.AppendJSON([]byte("prefix:"), tt.in)
		if err != nil {
			t.Errorf("%s: AppendJSON: %v", tt.name, err)
			continue
		}
		if string(got) != "prefix:"+tt.want {
			t.Errorf("%s: AppendJSON(%#v) = %s, want %s", tt.name, tt.in, got[len("prefix:"):], tt.want)
		}
	}
}

func TestAppendJSONErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		wantSub string
	}{
		{"NaN", math.NaN(), "unsupported float NaN"},
		{"+Inf", math.Inf(1), "unsupported float +Inf"},
		{"nested -Inf", map[string]any{"x": []any{math.Inf(-1)}}, `map key "x": list element 0: unsupported float -Inf`},
		{"chan", make(chan int), "unsupported type chan int"},
		{"too deep", nest(value.MaxDepth + 1), "nesting deeper"},
	}
	for _, tt := range tests {
		dst := []byte("keep")
		got, err := value.AppendJSON(dst, tt.in)
		if err == nil || !strings.HasPrefix(err.Error(), "value: encode json: ") || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s: error = %v, want containing %q", tt.name, err, tt.wantSub)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst = %q after error, want unchanged", tt.name, got)
		}
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"null", `null`, nil},
		{"bool", ` true `, true},
		{"int", `42`, 42},
		{"negative int", `-7`, -7},
		{"negative zero int", `-0`, 0},
		{"max int", `9223372036854775807`, math.MaxInt64},
		{"int overflow becomes float", `9223372036854775808`, 9223372036854775808.0},
		{"integral float", `2.0`, 2.0},
		{"exponent", `1e2`, 100.0},
		{"capital exponent", `1E-2`, 0.01},
		{"negative zero float", `-0.0`, negZero},
		{"string", `"a\u00e9\n"`, "aé\n"},
		{"list", `[1, 2.5, "x", null, [true]]`, []any{1, 2.5, "x", nil, []any{true}}},
		{"map", `{"b": {"c": 1}, "a": []}`, map[string]any{"a": []any{}, "b": map[string]any{"c": 1}}},
		{"duplicate key keeps last", `{"a": 1, "a": 2}`, map[string]any{"a": 2}},
	}
	for _, tt := range tests {
		got, err := value.ParseJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: ParseJSON(%s): %v", tt.name, tt.in, err)
			continue
		}
		if !value.Equal(got, tt.want) || !canonicalDeep(got) {
			t.Errorf("%s: ParseJSON(%s) = %#v, want %#v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantSub string
	}{
		{"empty", ``, "EOF"},
		{"syntax", `{"a":}`, "invalid character"},
		{"trailing value", `1 2`, "trailing data"},
		{"trailing garbage", `{} x`, "trailing data"},
		{"out of range", `1e400`, "out of range"},
		{"NaN literal", `NaN`, "invalid character"},
		{"too deep", strings.Repeat("[", value.MaxDepth+1) + strings.Repeat("]", value.MaxDepth+1), "nesting deeper"},
	}
	for _, tt := range tests {
		_, err := value.ParseJSON([]byte(tt.in))
		if err == nil || !strings.HasPrefix(err.Error(), "value: parse json: ") || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s: error = %v, want containing %q", tt.name, err, tt.wantSub)
		}
	}
	ok := strings.Repeat("[", value.MaxDepth) + strings.Repeat("]", value.MaxDepth)
	if _, err := value.ParseJSON([]byte(ok)); err != nil {
		t.Errorf("ParseJSON at MaxDepth: %v", err)
	}
}

func TestJSONRoundTripFloats(t *testing.T) {
	for _, f := range []float64{0, negZero, 1, -2, 0.1, 1.0 / 3, 1e300, 5e-324, math.MaxFloat64, 1e21, 1e20, 123456789012345678, 1e-6, 1e-7} {
		b, err := value.AppendJSON(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := value.ParseJSON(b)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", b, err)
		}
		if g, ok := got.(float64); !ok || g != f || math.Signbit(g) != math.Signbit(f) {
			t.Errorf("%v -> %s -> %#v", f, b, got)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`null`, `1`, `-0`, `2.0`, `1e400`, `"a\u2028\ud800"`, `[1,[2,{"a":3.5}]]`, `{"b":1,"a":[true,false]}`, `9223372036854775808`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := value.ParseJSON(data)
		if err != nil {
			return
		}
		j, err := value.AppendJSON(nil, v)
		if err != nil {
			t.Fatalf("AppendJSON(%#v) after ParseJSON(%q): %v", v, data, err)
		}
		back, err := value.ParseJSON(j)
		if err != nil || !value.Equal(back, v) {
			t.Fatalf("round trip %q -> %#v -> %s -> %#v, %v", data, v, j, back, err)
		}
	})
}
