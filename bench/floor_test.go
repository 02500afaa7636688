package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

func TestFloorMultiples(t *testing.T) {
	t.Parallel()
	floor := &TransportResult{ServerCPUUsPerDelivery: 4, LoadgenCPUUsPerDelivery: 5, ServerWriteSyscallsPerDelivery: 1,
		LatencyMS: Percentiles{Count: 10, P50: 0.5, P99: 2}}
	ws := &TransportResult{ServerCPUUsPerDelivery: 6.4, LoadgenCPUUsPerDelivery: 15, ServerWriteSyscallsPerDelivery: 0.25,
		LatencyMS: Percentiles{Count: 10, P50: 1, P99: 30}}
	got := floorMultiples(ws, floor)
	want := &FloorMultiples{ServerCPU: 1.6, LoadgenCPU: 3, ServerWriteSyscalls: 0.25, LatencyP50: 2, LatencyP99: 15}
	if got == nil || *got != *want {
		t.Errorf("floorMultiples = %+v, want %+v", got, want)
	}
	// A --target: no syscalls on the transport's side; 3 significant digits.
	ws = &TransportResult{ServerCPUUsPerDelivery: 10, LatencyMS: Percentiles{Count: 10, P50: 1, P99: 3}}
	floor.ServerCPUUsPerDelivery = 3
	got = floorMultiples(ws, floor)
	want = &FloorMultiples{ServerCPU: 3.33, LatencyP50: 2, LatencyP99: 1.5}
	if got == nil || *got != *want {
		t.Errorf("floorMultiples = %+v, want %+v", got, want)
	}
	if m := floorMultiples(&TransportResult{}, floor); m != nil {
		t.Errorf("nothing to compare gave %+v", m)
	}
	if m := floorMultiples(ws, nil); m != nil {
		t.Errorf("no floor gave %+v", m)
	}
}

func TestParseFloorRecord(t *testing.T) {
	t.Parallel()
	data := Payload(0, time.UnixMicro(1_700_000_000_000_000), 100)
	e := transports.NewEvent("floor-x-0", 42, EventKind, data, time.UnixMicro(1_700_000_000_000_123))
	line := append(append([]byte(nil), e.JSON()...), '\n')
	prefix := []byte(`{"type":"event","topic":` + strconv.Quote("floor-x-0") + `,"seq":`)
	got, ok := parseFloorRecord(line, prefix)
	if !ok || got.Seq != 42 || got.TS != 1_700_000_000_000_123 || string(got.Data) != string(data) || got.Event != EventKind {
		t.Fatalf("parseFloorRecord = %+v, %v", got, ok)
	}
	// What DecodeWire makes of the same bytes.
	want, err := transports.DecodeWire(line[:len(line)-1])
	if err != nil || want.Seq != got.Seq || want.TS != got.TS || string(want.Data) != string(got.Data) {
		t.Errorf("DecodeWire %+v (%v), parseFloorRecord %+v", want, err, got)
	}
	for _, bad := range []string{
		"", "\n", `{"type":"event","topic":"other","seq":1,"event":"tick","ts":1,"data":{}}` + "\n",
		string(line[:len(line)-1]),        // no newline
		string(line[:len(line)-3]) + "\n", // truncated
		`{"type":"event","topic":"floor-x-0","seq":0,"event":"tick","ts":1,"data":{}}` + "\n",
	} {
		if _, ok := parseFloorRecord([]byte(bad), prefix); ok {
			t.Errorf("parseFloorRecord(%q) accepted", bad)
		}
	}
}

// TestFloorServer drives the writer over its protocol: two connections on
// one topic receive every record, once each, in order, and the answer
// names the window written.
func TestFloorServer(t *testing.T) {
	t.Parallel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := RunFloorServer(context.Background(), inR, outW)
		outW.CloseWithError(err)
		done <- err
	}()
	msgs := bufio.NewScanner(outR)
	next := func() floorMsg {
		t.Helper()
		if !msgs.Scan() {
			t.Fatalf("the writer said nothing more: %v", msgs.Err())
		}
		var m floorMsg
		if err := json.Unmarshal(msgs.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	enc := json.NewEncoder(inW)
	hello := next()
	if hello.Type != "listening" || hello.Addr == "" {
		t.Fatalf("first message %+v", hello)
	}
	var conns []*bufio.Reader
	for range 2 {
		c, err := net.Dial("tcp", hello.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("t\n")); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, bufio.NewReader(c))
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := enc.Encode(floorCmd{Op: "conns"}); err != nil {
			t.Fatal(err)
		}
		if m := next(); m.Conns == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never held both connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := enc.Encode(floorCmd{Op: "publish", Topics: []string{"t"}, Rate: 200, Size: 64, Events: 20}); err != nil {
		t.Fatal(err)
	}
	prefix := []byte(`{"type":"event","topic":"t","seq":`)
	for i, br := range conns {
		for seq := uint64(1); seq <= 20; seq++ {
			line, err := br.ReadSlice('\n')
			if err != nil {
				t.Fatalf("conn %d, seq %d: %v", i, seq, err)
			}
			e, ok := parseFloorRecord(line, prefix)
			if !ok || e.Seq != seq {
				t.Fatalf("conn %d: record %q, want seq %d", i, line, seq)
			}
			if _, sched := PayloadMeta(e.Data); sched <= 0 || len(e.Data) != 64 {
				t.Errorf("conn %d: data %q: want the 64-byte payload with its schedule", i, e.Data)
			}
		}
	}
	m := next()
	if m.Type != "published" || m.Published != 20 || m.WriteErrors != 0 || len(m.Windows) != 1 || m.Windows[0] != (Window{Topic: "t", From: 1, To: 20}) {
		t.Errorf("published %+v", m)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Errorf("RunFloorServer: %v", err)
	}
}

// TestFloorBigRecords runs the floor in-process with records larger than
// a reader's buffer: every one arrives whole, none is malformed.
func TestFloorBigRecords(t *testing.T) {
	t.Parallel()
	c := Defaults(ScenarioFanout)
	c.InProcess, c.Procs, c.Size, c.Rate = true, 1, 10_000, 20
	c.Duration, c.Drain = Duration(500*time.Millisecond), Duration(10*time.Second)
	r := &Runner{Config: c}
	tr, err := r.floorOne(context.Background(), fanoutStep{n: 5, rate: 20, label: "floor test %s"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Expected != 10*5 || tr.Delivered != tr.Expected || tr.Lost != 0 || len(tr.Connections.Failures) != 0 {
		t.Errorf("expected %d delivered %d lost %d failures %v", tr.Expected, tr.Delivered, tr.Lost, tr.Connections.Failures)
	}
}
