package streamtest_test

import (
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/streamtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestContiguous(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint64
		ok   bool
	}{
		{"exact", []uint64{3, 4, 5}, true},
		{"gap", []uint64{3, 5, 6}, false},
		{"duplicate", []uint64{3, 4, 4}, false},
		{"short", []uint64{3, 4}, false},
		{"long", []uint64{3, 4, 5, 6}, false},
	} {
		if err := streamtest.Contiguous(tc.seqs, 3, 5); (err == nil) != tc.ok {
			t.Errorf("%s: Contiguous(%v, 3, 5) = %v", tc.name, tc.seqs, err)
		}
	}
}

func TestRecorder(t *testing.T) {
	var r streamtest.Recorder[int]
	r.OnState(1)
	r.OnEvent(transports.WireEvent{Topic: "a", Seq: 1, Event: "snapshot"})
	r.OnEvent(transports.WireEvent{Topic: "b", Seq: 7, Event: "tick"})
	r.OnEvent(transports.WireEvent{Topic: "a", Seq: 2, Event: "tick"})
	raw := []byte(`{"type":"ack","id":"c1"}`)
	r.OnControl(raw)
	raw[0] = 'x' // the recorder keeps a copy
	r.OnState(4)
	if got := r.Seqs("a"); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("Seqs(a) = %v", got)
	}
	if got := r.Kinds(); !slices.Equal(got, []string{"snapshot:1", "tick:7", "tick:2"}) {
		t.Errorf("Kinds = %v", got)
	}
	if !r.HasControl(`"id":"c1"`) || r.HasControl("nack") || r.Controls()[0][0] != '{' {
		t.Errorf("Controls = %q", r.Controls())
	}
	if got := r.States(); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("States = %v", got)
	}
}
