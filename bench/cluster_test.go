package bench_test

import (
	"context"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/transports"
)

// Two targets that are the nodes of one deployment (hubs on one shared
// broker, as demo nodes on one Redis): subscribers spread over both, each
// event published once, through the nodes in turn, and every subscriber
// gets every event of its topic whichever node it is on; the result names
// the deployment and counts the deliveries that crossed nodes.
func TestRunnerDeployment(t *testing.T) {
	broker := transports.NewMemoryBroker(0)
	node := map[string]any{"role": "edge", "broker": "redis", "redis_version": "7.0.test", "redis_shards": 1}
	var nodes []*testServer
	for range 2 {
		hub := transports.NewHub(transports.HubConfig{Broker: broker.Node()})
		nodes = append(nodes, newHubServer(t, hub, node))
	}
	a, b := nodes[0], nodes[1]
	r := &bench.Runner{Config: smallConfig(bench.ScenarioFanout, a.URL)}
	r.Config.Targets = []string{a.URL, b.URL}
	r.Config.NoFloor = true
	res, err := r.Run(context.Background(), bench.ScenarioFanout)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deployment
	if d == nil || len(d.Nodes) != 2 || d.Broker != "redis" || d.RedisVersion != "7.0.test" || d.Nodes[1].URL != b.URL || d.Nodes[0].Role != "edge" {
		t.Fatalf("deployment %+v", d)
	}
	if !strings.HasPrefix(res.ServerMode, "deployment: 2 nodes") {
		t.Errorf("server mode %q", res.ServerMode)
	}
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		p := tr.Publisher
		// 20 events/s for 1.5 s on one topic: 30 events, once each, half
		// through each node.
		if p == nil || p.Scheduled != 30 || p.Published != 30 {
			t.Fatalf("%s: publisher %+v, want 30 of 30", name, p)
		}
		if pa, pb := a.Hub.Stats().Published, b.Hub.Stats().Published; pa == 0 || pb == 0 {
			t.Errorf("%s: published through the nodes %d and %d, want both", name, pa, pb)
		}
		// 20 subscribers, 10 per node, each gets all 30.
		if tr.Expected != 600 || tr.Delivered != 600 || tr.Lost != 0 || tr.Duplicates != 0 || tr.OutOfOrder != 0 {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d ooo %d, want 600 delivered", name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates, tr.OutOfOrder)
		}
		// Each subscriber gets the 15 events published through the other node
		// from across: 20 × 15.
		if tr.CrossNodeDeliveries != 300 {
			t.Errorf("%s: %d cross-node deliveries, want 300", name, tr.CrossNodeDeliveries)
		}
	}
}
