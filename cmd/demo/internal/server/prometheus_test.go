package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

// scrape parses GET /metrics with expfmt's text parser.
func (ts *testServer) scrape() map[string]*dto.MetricFamily {
	ts.t.Helper()
	res := ts.do("GET", "/metrics", "")
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		ts.t.Fatalf("GET /metrics: %d %s", res.status, res.header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(res.body))
	if err != nil {
		ts.t.Fatalf("parsing /metrics: %v\n%s", err, res.body)
	}
	return fams
}

// value returns the value of the family's metric with the given labels
// ("name=value" pairs), counters, gauges and histograms (their count) alike.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	want := strings.Join(labels, ",")
	var seen []string
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(got)
		if strings.Join(got, ",") == want {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		seen = append(seen, strings.Join(got, ","))
	}
	t.Fatalf("%s has no metric {%s}; has %v", name, want, seen)
	return 0
}

// GET /metrics is the Prometheus text format: a task watched over both
// transports and a dropped connection show in the counters, and the JSON
// the load generator reads is at /api/stats.
func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	var task tasks.Task
	ts.do("POST", "/api/tasks", `{"files":3,"step_ms":20}`).decode(t, &task)
	w := ts.dialWS("/ws/tasks/" + task.ID)
	sse := ts.openSSE("/sse/tasks/" + task.ID).expectStream()
	frames, code := w.untilClose()
	events := sse.events()
	if code != 1000 || len(frames) < 2 || len(events) < 2 {
		t.Fatalf("task streams: ws %d frames, close %d; sse %d events", len(frames), code, len(events))
	}
	chat := ts.dialWS("/ws?topic=news")
	chat.attached(1)
	ts.do("POST", "/api/admin/drop?transport=ws", "")
	if reason := chat.closeReason(); reason.Code != 1012 {
		t.Fatalf("drop: close %v", reason)
	}

	eventually(t, "disconnects counted", func() bool {
		st := ts.Collect().Hub
		return st.Disconnects["ws"]["dropped"] == 1 && st.Disconnects["ws"]["done"] == 1 && st.Disconnects["sse"]["done"] == 1
	})
	fams := ts.scrape()
	for _, tc := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"twinstream_connects_total", []string{"transport=ws"}, 2},
		{"twinstream_connects_total", []string{"transport=sse"}, 1},
		{"twinstream_disconnects_total", []string{"reason=dropped", "transport=ws"}, 1},
		{"twinstream_disconnects_total", []string{"reason=done", "transport=sse"}, 1},
		{"twinstream_deliveries_total", []string{"transport=ws"}, float64(len(frames))},
		{"twinstream_deliveries_total", []string{"transport=sse"}, float64(len(events))},
		// every event but the snapshot: progress and the terminal one
		{"twinstream_delivery_lag_seconds", []string{"transport=ws"}, float64(len(frames) - 1)},
		{"twinstream_delivery_lag_seconds", []string{"transport=sse"}, float64(len(events) - 1)},
		{"twinstream_events_published_total", nil, 5},
		{"twinstream_tasks", []string{"status=completed"}, 1},
		{"twinstream_tasks_submitted_total", nil, 1},
		{"twinstream_tasks_finished_total", []string{"status=completed"}, 1},
		{"twinstream_task_workers", nil, server.DefaultWorkers},
		{"process_cpu_seconds_total", nil, 0},
		{"go_goroutines", nil, 1},
	} {
		if v := value(t, fams, tc.name, tc.labels...); v < tc.min {
			t.Errorf("%s%v = %v, want >= %v", tc.name, tc.labels, v, tc.min)
		}
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"twinstream_connections", []string{"transport=ws"}, 0},
		{"twinstream_subscriptions", nil, 0},
		{"twinstream_queue_depth", nil, 0},
		{"twinstream_tasks", []string{"status=running"}, 0},
		{"twinstream_slow_consumer_closes_total", nil, 0},
		{"twinstream_broker_round_trips_total", nil, 0}, // in memory: no broker
		{"twinstream_redis_pubsub_reconnects_total", nil, 0},
	} {
		if v := value(t, fams, tc.name, tc.labels...); v != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, v, tc.want)
		}
	}
	for _, name := range []string{"twinstream_resumes_total", "twinstream_task_queue_depth", "twinstream_broker_errors_total", "twinstream_task_retries_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if f := fams["twinstream_delivery_lag_seconds"]; f.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("delivery lag is a %v, want a histogram", f.GetType())
	}
	var stats server.Metrics
	ts.do("GET", "/api/stats", "").decode(t, &stats)
	if stats.Tasks.Completed != 1 || stats.Hub.Connects["ws"] < 2 || stats.Node != (server.NodeInfo{Role: "all", Broker: "memory"}) {
		t.Errorf("/api/stats %+v", stats)
	}
	if testing.Verbose() {
		t.Log(fmt.Sprint(len(fams), " metric families"))
	}
}
