package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

// FuzzParsePublish: the publish body decoder never panics, and what it
// accepts is a valid, unreserved kind with data that is absent or one line
// of JSON object, the same value as in the body.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{
		`{"event":"tick","data":{"n":1}}`,
		"{\"event\":\"tick\",\n \"data\":{\"n\": [1, 2]}}",
		`{"event":"tick"}`,
		`{"event":"snapshot","data":{}}`,
		`{"event":"tick","data":null}`,
		`{"event":"tick","data":"{}"}`,
		`{"event":"tick","data":{},"x":1}`,
		`{"event":null}`,
		`{"event":"tick","event":"tock"}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		kind, data, apiErr := parsePublish(body)
		if apiErr != nil {
			return
		}
		if transports.ValidKind(kind) != nil || reservedKinds[kind] {
			t.Fatalf("%q: accepted kind %q", body, kind)
		}
		if data == nil {
			return
		}
		if bytes.ContainsAny(data, "\r\n") || len(data) == 0 || data[0] != '{' {
			t.Fatalf("%q: data %q is not one line of JSON object", body, data)
		}
		var in struct{ Data any }
		var out any
		if json.Unmarshal(body, &in) != nil || json.Unmarshal(data, &out) != nil {
			t.Fatalf("%q: data %q does not decode", body, data)
		}
		a, _ := json.Marshal(in.Data)
		b, _ := json.Marshal(out)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q: data %s, body's data %s", body, b, a)
		}
	})
}
