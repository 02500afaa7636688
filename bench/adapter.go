package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Target kinds (--target KIND=URL). The names are a public interface.
const (
	KindTwinstream = "twinstream" // the default: a server speaking twinstream's wire format
	KindCentrifugo = "centrifugo" // Centrifugo v6 (unidirectional transports, HTTP API)
	KindCustom     = "custom"     // any server described by a target file (TargetFile)
)

// TargetKinds lists the kinds --target accepts.
var TargetKinds = []string{KindTwinstream, KindCentrifugo, KindCustom}

// TargetSpec is one --target entry, "[KIND=]URL": a kind and a base URL
// (for KindCustom, the path of its target file).
type TargetSpec struct {
	Kind string
	URL  string
}

// ParseTarget parses "[KIND=]URL". Without a kind (or with an '=' that
// belongs to the URL) it is a twinstream target.
func ParseTarget(s string) (TargetSpec, error) {
	s = strings.TrimSpace(s)
	if k, rest, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(k, ":/?") {
		if !slices.Contains(TargetKinds, k) {
			return TargetSpec{}, fmt.Errorf("--target %q: unknown kind %q (want %s)", s, k, strings.Join(TargetKinds, ", "))
		}
		s = TargetSpec{Kind: k, URL: rest}.URL
		if k == KindCustom {
			if s == "" {
				return TargetSpec{}, fmt.Errorf("--target custom=FILE: give the target file's path")
			}
			return TargetSpec{Kind: k, URL: s}, nil
		}
		return checkBase(TargetSpec{Kind: k, URL: s})
	}
	return checkBase(TargetSpec{Kind: KindTwinstream, URL: s})
}

func checkBase(t TargetSpec) (TargetSpec, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t, fmt.Errorf("--target %q: want [KIND=]http://host:port", t.URL)
	}
	t.URL = strings.TrimRight(t.URL, "/")
	return t, nil
}

// String is the spec as --target takes it.
func (t TargetSpec) String() string { return t.Kind + "=" + t.URL }

// An adapter is how the load generator speaks to one kind of server, on
// the parent's side: what a scenario can do there, how an event is
// published, how connections are counted and dropped, and what the
// worker processes need to run its clients (AdapterSpec). Its clients'
// side is a clientProto. Adapters are safe for concurrent use.
type adapter interface {
	kind() string
	// unsupported says why the target cannot run a scenario on a
	// transport ("" when it can).
	unsupported(scenario, transport string, c *Config) string
	// stamps reports whether the publisher stamps events (StampPayload):
	// the server puts no seq and ts of its own on them.
	stamps() bool
	// publish publishes one event and returns the seq the subscribers
	// will see it under (the server's seq, or the event's lg_i).
	publish(ctx context.Context, client *http.Client, topic string, ev pubEvent) (uint64, error)
	// drop drops every connection of a transport and returns how many.
	drop(ctx context.Context, transport string) (int, error)
	// connections reports how many connections of a transport the
	// server holds (ok false when it does not say).
	connections(ctx context.Context, transport string) (int, bool)
	// metrics reads the server's own figures (an error when it has none).
	metrics(ctx context.Context) (procSample, error)
	// spec is what a worker needs to run this target's clients (nil for
	// twinstream, whose wire format the clients speak by default).
	spec() *AdapterSpec
}

// pubEvent is one event the publisher sends.
type pubEvent struct {
	index uint64    // 1, 2, 3… per target and topic
	due   time.Time // when the schedule meant to publish it
	epoch int       // twinstream: the spawned server's life (restarts)
	size  int       // bytes of data
	kind  string    // its data: Config.Payload's kinds (payloads.go; "" padding)
}

// AdapterSpec tells a worker how its clients speak to a target that is not
// twinstream (WorkerSpec.Adapters): its kind and what the kind needs.
type AdapterSpec struct {
	Kind string `json:"kind"`
	// Token is a Centrifugo connection JWT ("": connect anonymously).
	Token string `json:"token,omitempty"`
	// File is a custom target's file.
	File *TargetFile `json:"file,omitempty"`
}

// A clientProto is a target's protocol on one client's side: it says
// where each connection goes and what it sends first, and finds the
// events in what arrives. It keeps the position the client resumes from
// across its reconnects. One client's goroutine, or the poller feeding
// its session, calls it, never both at once.
type clientProto interface {
	// request is the path and query of the next connection.
	request() (path, rawQuery string)
	// hello is the text message a WebSocket client sends right after the
	// upgrade (nil: none).
	hello() []byte
	// message handles one WebSocket text message or SSE data: each event
	// in it goes to ev, a failed resume to reset.
	message(b []byte, ev func(topic string, s stamp), reset func())
	// anyEventName: SSE frames with an event: field are ours too.
	anyEventName() bool
}

// newClientProto returns the client side of spec for a client of
// transport following topics (one, in every scenario that runs on an
// adapter).
func (a *AdapterSpec) newClientProto(transport string, topics []string) (clientProto, error) {
	if len(topics) == 0 {
		return nil, fmt.Errorf("bench: a %s client needs a topic", a.Kind)
	}
	switch a.Kind {
	case KindCentrifugo:
		return newCentrifugoClient(transport, topics, a.Token), nil
	case KindCustom:
		if a.File == nil {
			return nil, fmt.Errorf("bench: a custom client needs its target file")
		}
		return newCustomClient(a.File, transport, topics[0])
	}
	return nil, fmt.Errorf("bench: no client protocol for target kind %q", a.Kind)
}

// Why a scenario does not run on a target: the report shows the reason
// instead of figures ("not supported by target: …").
const notSupported = "not supported by target: "

// unsupportedCommon is what no target but a twinstream server can do.
func unsupportedCommon(kind, scenario string, c *Config) string {
	switch {
	case scenario == ScenarioTasks:
		return notSupported + kind + " has no task API (tasks needs POST /api/tasks and /ws|/sse/tasks/:id)"
	case scenario == ScenarioReconnect && c.ReconnectMode == "restart":
		return notSupported + "--mode restart restarts a spawned twinstream demo server only"
	}
	return ""
}

// twinstreamAdapter is a server speaking twinstream's wire format: the
// demo's routes, its seq and ts on every event.
type twinstreamAdapter struct {
	t *target
}

func (a twinstreamAdapter) kind() string                              { return KindTwinstream }
func (a twinstreamAdapter) unsupported(_, _ string, _ *Config) string { return "" }
func (a twinstreamAdapter) stamps() bool                              { return false }
func (a twinstreamAdapter) spec() *AdapterSpec                        { return nil }
func (a twinstreamAdapter) metrics(ctx context.Context) (procSample, error) {
	return a.t.metrics.read(ctx)
}

func (a twinstreamAdapter) publish(ctx context.Context, client *http.Client, topic string, ev pubEvent) (uint64, error) {
	return postEvent(ctx, client, a.t.url+"/api/topics/"+url.PathEscape(topic)+"/events", ev)
}

func (a twinstreamAdapter) drop(ctx context.Context, transport string) (int, error) {
	return a.t.adminDrop(ctx, transport)
}

func (a twinstreamAdapter) connections(ctx context.Context, transport string) (int, bool) {
	m, err := a.t.metrics.read(ctx)
	if err != nil || m.Conns == nil {
		return 0, false
	}
	n, ok := m.Conns[transport]
	return n, ok
}
