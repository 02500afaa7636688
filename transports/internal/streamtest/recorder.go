package streamtest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/twinstream/twinstream/transports"
)

// Recorder collects what a Go client delivers: give its OnEvent, OnControl
// and OnState to the client's config. S is the client's state type. The
// zero value is ready; it is safe for concurrent use.
type Recorder[S any] struct {
	mu       sync.Mutex
	events   []transports.WireEvent
	controls []string
	states   []S
}

// OnEvent records an event.
func (r *Recorder[S]) OnEvent(e transports.WireEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// OnControl records a control frame.
func (r *Recorder[S]) OnControl(raw []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.controls = append(r.controls, string(raw))
}

// OnState records a state change.
func (r *Recorder[S]) OnState(s S) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

// Events returns the events received, in order.
func (r *Recorder[S]) Events() []transports.WireEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Controls returns the control frames received, in order.
func (r *Recorder[S]) Controls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.controls)
}

// States returns the states reported, in order.
func (r *Recorder[S]) States() []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

// Seqs returns the seqs received on topic, in order.
func (r *Recorder[S]) Seqs(topic string) []uint64 {
	var out []uint64
	for _, e := range r.Events() {
		if e.Topic == topic {
			out = append(out, e.Seq)
		}
	}
	return out
}

// Kinds returns every event received as kind:seq, in order.
func (r *Recorder[S]) Kinds() []string {
	var out []string
	for _, e := range r.Events() {
		out = append(out, fmt.Sprintf("%s:%d", e.Event, e.Seq))
	}
	return out
}

// HasControl reports whether a control frame containing sub was received.
func (r *Recorder[S]) HasControl(sub string) bool {
	return slices.ContainsFunc(r.Controls(), func(c string) bool { return strings.Contains(c, sub) })
}
