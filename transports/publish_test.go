package transports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

// BenchmarkPublish measures Hub.Publish alone: validation, the wire
// encoding and the fan-out into subscriber queues (drained between
// publishes, outside the clock's concern: Drain is the writer's cost).
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{0, 10} {
		for _, size := range []int{100, 1000} {
			b.Run(fmt.Sprintf("subs=%d/size=%d", subs, size), func(b *testing.B) {
				h := transports.NewHub(transports.HubConfig{})
				defer h.Close()
				ss := make([]*transports.Subscriber, subs)
				for i := range ss {
					s, err := h.NewSubscriber(transports.SubscriberOptions{Transport: "bench"})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close(nil)
					if _, err := s.Subscribe("bench", transports.SubscribeOptions{}); err != nil {
						b.Fatal(err)
					}
					ss[i] = s
				}
				data := json.RawMessage(`{"p":"` + strings.Repeat("x", size-8) + `"}`)
				ctx := context.Background()
				var items []transports.Item
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := h.Publish(ctx, "bench", "tick", data); err != nil {
						b.Fatal(err)
					}
					for _, s := range ss {
						items = s.Drain(items[:0])
					}
				}
			})
		}
	}
}

// The data is held once: Data is part of the wire bytes, not the caller's
// slice nor a copy of its own.
func TestPublishHoldsDataOnce(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	defer h.Close()
	data := []byte(`{"a":1}`)
	e, err := h.Publish(context.Background(), "t", "k", data)
	if err != nil {
		t.Fatal(err)
	}
	copy(data, `{"b":2}`) // the caller may reuse its buffer
	wire := e.JSON()
	if string(e.Data) != `{"a":1}` || string(wire) != fmt.Sprintf(`{"type":"event","topic":"t","seq":1,"event":"k","ts":%d,"data":{"a":1}}`, e.TimeMicros()) {
		t.Fatalf("data %s, wire %s", e.Data, wire)
	}
	if start := len(wire) - 1 - len(e.Data); &wire[start] != &e.Data[0] {
		t.Fatal("Data is not a sub-slice of the wire form")
	}
	if cap(e.Data) != len(e.Data) {
		t.Fatal("appending to Data could overwrite the wire form")
	}
}

// FuzzEventData checks the wire encoding against encoding/json: the data
// of valid JSON objects arrives unchanged, or compacted exactly as
// json.Compact does when it holds a raw line break.
func FuzzEventData(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1}`, "{\r\n \"a\" :\t[1, \"x\\\"\\n y\"]\n}", `{"s":"\u2028"}`, " {\"a\":\n\"\\\\\"} "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if transports.ValidData(data) != nil {
			return
		}
		want := data
		if strings.ContainsAny(string(data), "\r\n") {
			var b bytes.Buffer
			if err := json.Compact(&b, data); err != nil {
				t.Fatal(err)
			}
			want = b.Bytes()
		}
		e := transports.NewEvent("t", 1, "k", data, fixedTime)
		if !bytes.Equal(e.Data, want) {
			t.Fatalf("data %q: got %q, want %q", data, e.Data, want)
		}
		if w := e.JSON(); !bytes.HasSuffix(w, append(append([]byte(`"data":`), want...), '}')) || !json.Valid(w) {
			t.Fatalf("wire form %q", w)
		}
	})
}
