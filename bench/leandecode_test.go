package bench

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// FuzzLeanDecode holds leanDecode to transports.DecodeWire: where both
// accept a frame they agree on every field, and leanDecode accepts nothing
// DecodeWire rejects but frames whose data is not valid JSON (the one
// check it leaves out).
func FuzzLeanDecode(f *testing.F) {
	f.Add([]byte(`{"type":"event","topic":"t","seq":7,"event":"tick","ts":1764100000123456,"data":{"e":0,"s":1,"p":"x"}}`))
	f.Add([]byte(`{"type":"event","topic":"t","seq":07,"event":"tick","ts":-1,"data":{}}`))
	f.Add([]byte(`{"type":"event","topic":"a\"b","seq":1,"event":"k","ts":1,"data":{"x":[}}`))
	f.Add([]byte(`{"type":"ping","ts":1764100000123456}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, ok := leanDecode(b)
		we, err := transports.DecodeWire(b)
		if !ok {
			return // the caller falls back to DecodeWire
		}
		if err != nil {
			if json.Valid(ev.data) {
				t.Fatalf("%q: leanDecode accepts, DecodeWire says %v", b, err)
			}
			return
		}
		if we.Type != transports.TypeEvent || we.Topic != string(ev.topic) || we.Seq != ev.seq ||
			we.Event != leanKind(ev.kind) || we.TS != ev.ts || !bytes.Equal(we.Data, ev.data) {
			t.Fatalf("%q: leanDecode %+v, DecodeWire %+v", b, ev, we)
		}
	})
}

// FuzzLeanDecodeEvent: every event the server can encode takes the lean
// path.
func FuzzLeanDecodeEvent(f *testing.F) {
	f.Add("fanout-1a2b3c4d-0", uint64(1), "tick", int64(1764100000123456), []byte(`{"e":0,"s":1764100000123456,"p":"xx"}`))
	f.Add("task:8c014f8acc2e70e3", uint64(1<<63), "progress", int64(-5), []byte(`{ "a" : [1, 2] }`))
	f.Fuzz(func(t *testing.T, topic string, seq uint64, kind string, micros int64, data []byte) {
		if transports.ValidTopic(topic) != nil || transports.ValidKind(kind) != nil || !json.Valid(data) ||
			len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' || micros < -1<<52 || micros > 1<<52 {
			return
		}
		e := transports.NewEvent(topic, seq, kind, bytes.TrimSpace(data), time.UnixMicro(micros))
		ev, ok := leanDecode(e.JSON())
		if !ok || string(ev.topic) != topic || ev.seq != seq || string(ev.kind) != kind || ev.ts != micros || !bytes.Equal(ev.data, e.Data) {
			t.Fatalf("%s: leanDecode %+v, %v", e.JSON(), ev, ok)
		}
	})
}
