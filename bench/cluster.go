package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Several --target servers are either independent servers (each its own
// hub: a topic's seq is per server, and the publisher publishes every
// event to each) or the nodes of one deployment on a shared broker (the
// demo with --redis: a topic has one seq across nodes). For a deployment
// the publisher sends each event through one node, the nodes in turn, and
// every subscriber, whichever node it is connected to, expects every event
// of its topic; a delivery to a subscriber on another node than the one
// the event was published through is a cross-node delivery.

// AnyTarget is the Window.Target of a deployment's windows: the window
// applies to the subscribers of every target.
const AnyTarget = -1

// Deployment describes --target servers that are nodes of one deployment.
// Field names are a public interface.
type Deployment struct {
	Nodes        []Node `json:"nodes"`
	Broker       string `json:"broker"`                  // "redis"
	RedisVersion string `json:"redis_version,omitempty"` // as the first node reports it
	RedisShards  int    `json:"redis_shards,omitempty"`
}

// Node is one node of a deployment, as its /api/stats "node" says.
type Node struct {
	URL          string `json:"url"`
	Role         string `json:"role"`
	Broker       string `json:"broker"`
	RedisShards  int    `json:"redis_shards,omitempty"`
	RedisVersion string `json:"redis_version,omitempty"`
}

// String is the deployment in words, for logs and reports.
func (d *Deployment) String() string {
	nodes := make([]string, len(d.Nodes))
	for i, n := range d.Nodes {
		nodes[i] = fmt.Sprintf("%s (%s)", n.URL, n.Role)
	}
	s := fmt.Sprintf("%d nodes %s on %s", len(d.Nodes), strings.Join(nodes, ", "), d.Broker)
	if d.RedisVersion != "" {
		s += " " + d.RedisVersion
	}
	if d.RedisShards > 1 {
		s += fmt.Sprintf(", %d shards", d.RedisShards)
	}
	return s
}

// deploymentOf asks each target what it is (GET /api/stats, its "node")
// and returns the deployment they form, or nil: fewer than two targets,
// one that is not a twinstream server, or one without a shared broker.
func deploymentOf(ctx context.Context, ts []*target) *Deployment {
	if len(ts) < 2 {
		return nil
	}
	d := &Deployment{}
	for _, t := range ts {
		if t.kind() != KindTwinstream {
			return nil
		}
		n, err := t.metrics.node(ctx)
		if err != nil || n.Broker == "" || n.Broker == "memory" {
			return nil
		}
		n.URL = t.url
		d.Nodes = append(d.Nodes, n)
	}
	d.Broker, d.RedisVersion, d.RedisShards = d.Nodes[0].Broker, d.Nodes[0].RedisVersion, d.Nodes[0].RedisShards
	return d
}

// node reads the "node" of the server's /api/stats.
func (m metricsClient) node(ctx context.Context) (Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var n Node
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+"/api/stats", nil)
	if err != nil {
		return n, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return n, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("bench: GET /api/stats: %s", resp.Status)
	}
	var v struct {
		Node Node `json:"node"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return n, fmt.Errorf("bench: GET /api/stats: %w", err)
	}
	return v.Node, nil
}

// originDigits name a deployment window's origins: Origins[i] is the
// target that published seq From+i, as a base-36 digit ('0'–'9', 'a'–'z':
// 36 targets at most), or unknownOrigin where no publish was answered with
// that seq (or the target has no digit). A string keeps Window comparable
// and its JSON short.
const (
	originDigits  = "0123456789abcdefghijklmnopqrstuvwxyz"
	unknownOrigin = '.'
)

// setOrigins fills w.Origins from the seqs each target was answered.
func setOrigins(w *Window, bySeq map[uint64]int) {
	b := []byte(strings.Repeat(string(rune(unknownOrigin)), int(w.To-w.From+1)))
	for seq, ti := range bySeq {
		if seq >= w.From && seq <= w.To && ti >= 0 && ti < len(originDigits) {
			b[seq-w.From] = originDigits[ti]
		}
	}
	w.Origins = string(b)
}

// origin returns the target that published seq of w, or -1.
func (w Window) origin(seq uint64) int {
	if seq < w.From || seq-w.From >= uint64(len(w.Origins)) {
		return -1
	}
	return strings.IndexByte(originDigits, w.Origins[seq-w.From])
}

// crossNode counts the seqs of w that t received and that were published
// through another target than target.
func crossNode(t *SeqTracker, w Window, target int) uint64 {
	if len(w.Origins) == 0 || !t.started {
		return 0
	}
	var n uint64
	lo, hi := max(w.From, t.lo), min(w.To, t.hi)
	for seq := lo; seq <= hi && lo <= hi; seq++ {
		if o := w.origin(seq); o >= 0 && o != target && t.Received(seq, seq) == 1 {
			n++
		}
	}
	return n
}
