package transports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

func TestDecodeWire(t *testing.T) {
	e := transports.NewEvent("task:abc", 7, "progress", json.RawMessage(`{"p":30,"s":"x\"y"}`), fixedTime)
	tests := []struct {
		name    string
		in      string
		want    transports.WireEvent
		wantErr error
		anyErr  bool
	}{
		{name: "ours", in: string(e.JSON()), want: transports.WireEvent{Type: "event", Topic: "task:abc", Seq: 7, Event: "progress", TS: fixedTime.UnixMicro(), Data: json.RawMessage(`{"p":30,"s":"x\"y"}`)}},
		{name: "other order", in: `{"seq":3,"type":"event","data":{"a":1},"topic":"t","event":"k","ts":5}`, want: transports.WireEvent{Type: "event", Topic: "t", Seq: 3, Event: "k", TS: 5, Data: json.RawMessage(`{"a":1}`)}},
		{name: "spaces", in: `{"type": "event", "topic": "t", "seq": 3, "event": "k", "ts": 5, "data": {}}`, want: transports.WireEvent{Type: "event", Topic: "t", Seq: 3, Event: "k", TS: 5, Data: json.RawMessage(`{}`)}},
		{name: "control", in: `{"type":"ping","ts":5}`, want: transports.WireEvent{Type: "ping", TS: 5}, wantErr: transports.ErrNotEvent},
		{name: "broken data", in: `{"type":"event","topic":"t","seq":1,"event":"k","ts":5,"data":{"a":}}`, anyErr: true},
		{name: "not json", in: `hello`, anyErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := transports.DecodeWire([]byte(tc.in))
			if tc.anyErr {
				if err == nil {
					t.Fatalf("DecodeWire(%s) = %+v, want an error", tc.in, got)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got.Type != tc.want.Type || got.Topic != tc.want.Topic || got.Seq != tc.want.Seq || got.Event != tc.want.Event || got.TS != tc.want.TS || !bytes.Equal(got.Data, tc.want.Data) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeWireCopiesData(t *testing.T) {
	b := []byte(transports.NewEvent("t", 1, "k", json.RawMessage(`{"a":1}`), fixedTime).JSON())
	w, err := transports.DecodeWire(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'z'
	}
	if string(w.Data) != `{"a":1}` || w.Topic != "t" {
		t.Fatalf("decoded event aliases the input: %+v", w)
	}
}

// FuzzDecodeWire checks that the fast path agrees with encoding/json on
// every input it accepts.
func FuzzDecodeWire(f *testing.F) {
	f.Add([]byte(transports.NewEvent("task:1", 3, "progress", json.RawMessage(`{"x":1}`), fixedTime).JSON()))
	f.Add([]byte(`{"type":"event","topic":"t","seq":01,"event":"k","ts":5,"data":{}}`))
	f.Add([]byte(`{"type":"event","topic":"t","seq":1,"event":"k","ts":-5,"data":{}}`))
	f.Add([]byte(`{"type":"event","topic":"t\u0041","seq":1,"event":"k","ts":5,"data":{}} `))
	f.Add([]byte(`{"type":"ping"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := transports.DecodeWire(b)
		var want transports.WireEvent
		jerr := json.Unmarshal(b, &want)
		if err == nil {
			if jerr != nil {
				t.Fatalf("DecodeWire accepted %q, encoding/json says %v", b, jerr)
			}
			if want.Type != got.Type || want.Topic != got.Topic || want.Seq != got.Seq || want.Event != got.Event || want.TS != got.TS || !bytes.Equal(want.Data, got.Data) {
				t.Fatalf("DecodeWire(%q) = %+v, encoding/json = %+v", b, got, want)
			}
		}
	})
}

func BenchmarkDecodeWire(b *testing.B) {
	frame := transports.NewEvent("bench", 12345, "tick", json.RawMessage(`{"e":1,"s":1764100000123456,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`), fixedTime).JSON()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := transports.DecodeWire(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			var w transports.WireEvent
			if err := json.Unmarshal(frame, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzEventWire(f *testing.F) {
	f.Add("news", "tick", []byte(`{"a":1}`))
	f.Add("task:abc", "progress", []byte(`{"s":"\u2028\"x"}`))
	f.Fuzz(func(t *testing.T, topic, kind string, data []byte) {
		if transports.ValidTopic(topic) != nil || transports.ValidKind(kind) != nil || transports.ValidData(data) != nil {
			return
		}
		e := transports.NewEvent(topic, 1, kind, data, fixedTime)
		var w transports.WireEvent
		if err := json.Unmarshal(e.JSON(), &w); err != nil {
			t.Fatalf("wire form not JSON: %v: %s", err, e.JSON())
		}
		if w.Topic != topic || w.Event != kind || w.Seq != 1 || w.TS != fixedTime.UnixMicro() {
			t.Fatalf("round trip: %+v", w)
		}
	})
}
