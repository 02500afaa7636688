package bench

import (
	"context"
	"fmt"
	"slices"
)

// ScenarioCompression measures what compression costs and saves: fanout
// steps at Subscribers[0] subscribers, per payload (a task progress event,
// then a 2 KB JSON document; --payload picks one), per leg: WebSocket
// without compression, with permessage-deflate with and without context
// takeover, SSE without and with gzip. Each leg gets a fresh spawned
// server that offers both compressions (--ws-compression
// context-takeover, which also accepts a client asking for none, and
// --sse-gzip); its clients ask for the leg's. Every step reports bytes on
// the wire per event, CPU per delivery and server memory per subscriber
// (Result.Sweep, one step per payload; Transports is the last payload's).
const ScenarioCompression = "compression"

// CompressionLegs are the compression scenario's legs, in order.
var CompressionLegs = []string{WS, WSDeflate, WSDeflateNoCtx, SSE, SSEGzip}

// compressionPayloads are the payloads it measures by default.
var compressionPayloads = []string{PayloadProgress, PayloadDoc2K}

func (r *Runner) compression(ctx context.Context, res *Result) error {
	c := r.Config
	n := c.Subscribers[0]
	payloads := compressionPayloads
	if c.Payload != "" && c.Payload != PayloadPadding {
		payloads = []string{c.Payload}
	}
	r.scenarioSrv = []string{"--ws-compression", "context-takeover", "--sse-gzip"}
	defer func() { r.scenarioSrv, r.Config.Payload = nil, c.Payload }()
	for _, pl := range payloads {
		r.Config.Payload = pl
		st := fanoutStep{n: n, rate: c.Rate, label: "compression %s " + pl, name: pl}
		step := SweepStep{Subscribers: n, Rate: c.Rate, Payload: pl, Transports: map[string]*TransportResult{}}
		for _, name := range CompressionLegs {
			if ctx.Err() != nil {
				break
			}
			if !slices.Contains(c.Transports, legOf(name).transport) {
				continue
			}
			err := r.withTargets(ctx, res, func(ts []*target) error {
				tr, err := r.fanoutOne(ctx, ts, name, st)
				if tr != nil {
					step.Transports[name] = tr
				}
				return err
			})
			if err != nil {
				res.Transports = step.Transports
				return fmt.Errorf("%s %s: %w", pl, name, err)
			}
		}
		uncompressedPayload(step.Transports)
		res.Transports = step.Transports
		cs := step.compact()
		cs.Payload = pl
		res.Sweep = append(res.Sweep, cs)
		if ctx.Err() != nil {
			break
		}
	}
	return nil
}

// uncompressedPayload gives a compressed leg the event size its
// transport's uncompressed leg measured (the same events, uncompressed),
// so that its compressed bytes have their payload beside them.
func uncompressedPayload(trs map[string]*TransportResult) {
	for name, tr := range trs {
		l := legOf(name)
		if tr == nil || tr.Wire == nil || tr.Wire.PayloadBytesPerEvent > 0 || l.transport == name {
			continue
		}
		if plain := trs[l.transport]; plain != nil && plain.Wire != nil {
			tr.Wire.PayloadBytesPerEvent = plain.Wire.PayloadBytesPerEvent
		}
	}
}
