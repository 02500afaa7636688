package bench_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// pipeWorker is a worker run in-process over the worker protocol
// (RunWorker on pipes), as an in-process Runner runs it.
type pipeWorker struct {
	t    testing.TB
	in   *io.PipeWriter
	enc  *json.Encoder
	msgs chan workerMsg
	done chan error
}

type workerMsg struct {
	Type     string              `json:"type"`
	Progress *bench.Progress     `json:"progress"`
	Result   *bench.WorkerResult `json:"result"`
	Error    string              `json:"error"`
}

func startWorker(t testing.TB, spec bench.WorkerSpec) *pipeWorker {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &pipeWorker{t: t, in: inW, enc: json.NewEncoder(inW), msgs: make(chan workerMsg, 64), done: make(chan error, 1)}
	go func() {
		err := bench.RunWorker(context.Background(), inR, outW)
		_ = inR.CloseWithError(io.EOF)
		_ = outW.CloseWithError(io.EOF)
		p.done <- err
	}()
	go func() {
		defer close(p.msgs)
		dec := json.NewDecoder(outR)
		for {
			var m workerMsg
			if dec.Decode(&m) != nil {
				return
			}
			p.msgs <- m
		}
	}()
	p.send(map[string]any{"op": "start", "spec": spec})
	t.Cleanup(func() {
		_ = inW.Close()
		for range p.msgs {
		}
		<-p.done
	})
	return p
}

func (p *pipeWorker) send(v any) {
	if err := p.enc.Encode(v); err != nil {
		p.t.Fatalf("worker command: %v", err)
	}
}

// waitProgress waits for a progress message that satisfies ok.
func (p *pipeWorker) waitProgress(ok func(bench.Progress) bool) bench.Progress {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, open := <-p.msgs:
			if !open {
				p.t.Fatal("worker ended")
			}
			if m.Type == "error" {
				p.t.Fatalf("worker: %s", m.Error)
			}
			if m.Progress != nil && ok(*m.Progress) {
				return *m.Progress
			}
		case <-deadline:
			p.t.Fatal("no such progress within 30s")
		}
	}
}

// finish asks for the result.
func (p *pipeWorker) finish(windows []bench.Window, drain time.Duration) *bench.WorkerResult {
	p.t.Helper()
	p.send(map[string]any{"op": "finish", "windows": windows, "drain": drain.String()})
	for m := range p.msgs {
		if m.Type == "error" {
			p.t.Fatalf("worker: %s", m.Error)
		}
		if m.Result != nil {
			return m.Result
		}
	}
	p.t.Fatal("worker ended without a result")
	return nil
}

func leanSpec(transport, url, topic string, n int, client string) bench.WorkerSpec {
	return bench.WorkerSpec{
		Transport: transport, Targets: []string{url}, Count: n, Client: client,
		Streams:       []bench.StreamSpec{{Path: "/" + transport + "?topic=" + topic, Topics: []string{topic}}},
		ProgressEvery: bench.Duration(50 * time.Millisecond),
		Backoff:       bench.BackoffConfig{Initial: bench.Duration(50 * time.Millisecond), Max: bench.Duration(time.Second)},
	}
}

// TestLeanClientDelivers: lean clients of both transports receive and
// account every event of an in-process server.
func TestLeanClientDelivers(t *testing.T) {
	for _, transport := range []string{bench.WS, bench.SSE} {
		t.Run(transport, func(t *testing.T) {
			srv := newTestServer(t)
			const n, events = 20, 50
			w := startWorker(t, leanSpec(transport, srv.URL, "lean", n, bench.ClientLean))
			w.waitProgress(func(p bench.Progress) bool { return p.Connected == n })
			srv.waitConns(t, transport, n)
			data := bench.Payload(0, time.Now(), 100)
			for range events {
				if _, err := srv.Hub.Publish(context.Background(), "lean", bench.EventKind, data); err != nil {
					t.Fatal(err)
				}
			}
			res := w.finish([]bench.Window{{Topic: "lean", From: 1, To: events}}, 10*time.Second)
			if tl := res.Tally; tl.Expected != n*events || tl.Delivered != tl.Expected || tl.Lost != 0 || tl.Duplicates != 0 || tl.OutOfOrder != 0 {
				t.Errorf("tally %+v", tl)
			}
			if res.Established != n || res.Failed != 0 || res.Peak != n || res.Deliveries != n*events || !res.Drained {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// publishN publishes n events of 100 bytes to topic.
func publishN(t *testing.T, srv *testServer, topic string, n int) {
	t.Helper()
	data := bench.Payload(0, time.Now(), 100)
	for range n {
		if _, err := srv.Hub.Publish(context.Background(), topic, bench.EventKind, data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeanClientResumes: when the server drops every connection, lean
// clients reconnect and resume from the last seq received, as the product
// clients do: nothing lost, nothing twice, each drop counted.
func TestLeanClientResumes(t *testing.T) {
	for _, transport := range []string{bench.WS, bench.SSE} {
		t.Run(transport, func(t *testing.T) {
			srv := newTestServer(t)
			const n = 10
			w := startWorker(t, leanSpec(transport, srv.URL, "resume", n, bench.ClientLean))
			w.waitProgress(func(p bench.Progress) bool { return p.Connected == n })
			srv.waitConns(t, transport, n)
			publishN(t, srv, "resume", 15)
			w.waitProgress(func(p bench.Progress) bool { return p.Deliveries == n*15 })
			if got := srv.Hub.DropAll(transport); got != n {
				t.Fatalf("dropped %d", got)
			}
			publishN(t, srv, "resume", 15) // while the clients are away
			w.waitProgress(func(p bench.Progress) bool { return p.Connected == n })
			publishN(t, srv, "resume", 10)
			res := w.finish([]bench.Window{{Topic: "resume", From: 1, To: 40}}, 10*time.Second)
			if tl := res.Tally; tl.Expected != n*40 || tl.Delivered != tl.Expected || tl.Lost != 0 || tl.Duplicates != 0 || tl.Resets != 0 {
				t.Errorf("tally %+v", tl)
			}
			if res.Reconnects != n || len(res.Disconnects) == 0 || res.Failed != 0 || len(res.Failures) != 0 {
				t.Errorf("reconnects %d, disconnects %v, failed %d %v", res.Reconnects, res.Disconnects, res.Failed, res.Failures)
			}
		})
	}
}

// TestLeanClientNoReconnect: in the connect scenario a lost connection is
// a failure, counted by cause, as for the product clients.
func TestLeanClientNoReconnect(t *testing.T) {
	for _, transport := range []string{bench.WS, bench.SSE} {
		t.Run(transport, func(t *testing.T) {
			srv := newTestServer(t)
			const n = 5
			spec := leanSpec(transport, srv.URL, "hold", n, bench.ClientLean)
			spec.NoReconnect = true
			w := startWorker(t, spec)
			w.waitProgress(func(p bench.Progress) bool { return p.Connected == n })
			srv.waitConns(t, transport, n)
			w.send(map[string]any{"op": "hold"})
			time.Sleep(50 * time.Millisecond) // the hold command is read before the drop
			srv.Hub.DropAll(transport)
			w.waitProgress(func(p bench.Progress) bool { return p.Failed == n })
			res := w.finish(nil, 0)
			total := 0
			for cause, k := range res.Failures {
				if !strings.HasPrefix(cause, "lost during hold: ") {
					t.Errorf("failure cause %q", cause)
				}
				total += k
			}
			if res.Failed != n || total != n || res.Established != n || res.Reconnects != 0 {
				t.Errorf("failed %d, failures %v, established %d, reconnects %d", res.Failed, res.Failures, res.Established, res.Reconnects)
			}
		})
	}
}

// TestLeanClientRefused: a stream the server refuses (404) is a failure
// with its status, and the client gives up, as the product clients do.
func TestLeanClientRefused(t *testing.T) {
	srv := newTestServer(t)
	for _, transport := range []string{bench.WS, bench.SSE} {
		spec := leanSpec(transport, srv.URL, "x", 2, bench.ClientLean)
		spec.Streams[0].Path = "/nowhere"
		w := startWorker(t, spec)
		w.waitProgress(func(p bench.Progress) bool { return p.Failed == 2 })
		res := w.finish(nil, 0)
		if res.Failures["http 404"] != 2 || res.Established != 0 {
			t.Errorf("%s: failures %v, established %d", transport, res.Failures, res.Established)
		}
	}
}
