package server

import (
	"bytes"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

// FuzzSplitPublish checks the undecoded path against the decoder: a body
// splitPublish takes, with data the hub accepts, is one parsePublish
// accepts with the same kind and the same data bytes.
func FuzzSplitPublish(f *testing.F) {
	for _, s := range []string{
		`{"event":"tick","data":{"n":1}}`,
		`{"event":"tick","data":{"n":1},"x":2}`,
		`{"event":"tick","data":{"s":"}"}}`,
		`{"event":"snapshot","data":{}}`,
		`{"event":"a\"b","data":{}}`,
		`{"event":"tick","data":{"n": 1}}`,
		`{"event":"tick","data":[1]}`,
		`{"event":"tick","data":{}}` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		kind, data, ok := splitPublish(body)
		if !ok || transports.ValidData(data) != nil {
			return
		}
		k2, d2, apiErr := parsePublish(body)
		if apiErr != nil {
			t.Fatalf("%q: split as %q %q, but parsePublish fails: %v", body, kind, data, apiErr.frame)
		}
		if k2 != kind || !bytes.Equal(d2, data) {
			t.Fatalf("%q: split as %q %q, parsed as %q %q", body, kind, data, k2, d2)
		}
	})
}
