package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/bench"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, kind, url, err string
	}{
		{in: "http://127.0.0.1:8080/", kind: bench.KindTwinstream, url: "http://127.0.0.1:8080"},
		{in: "twinstream=http://h:1", kind: bench.KindTwinstream, url: "http://h:1"},
		{in: "centrifugo=http://127.0.0.1:8000", kind: bench.KindCentrifugo, url: "http://127.0.0.1:8000"},
		{in: "custom=./my-server.json", kind: bench.KindCustom, url: "./my-server.json"},
		{in: "http://h:1/?a=b", kind: bench.KindTwinstream, url: "http://h:1/?a=b"},
		{in: "nats=http://h:1", err: `unknown kind "nats"`},
		{in: "centrifugo=h:1", err: "want [KIND=]http://host:port"},
		{in: "custom=", err: "target file's path"},
		{in: "ftp://h", err: "want [KIND=]http://host:port"},
	}
	for _, tt := range tests {
		got, err := bench.ParseTarget(tt.in)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTarget(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
		case err != nil || got.Kind != tt.kind || got.URL != tt.url:
			t.Errorf("ParseTarget(%q) = %+v, %v; want %s %s", tt.in, got, err, tt.kind, tt.url)
		}
	}
}

const goodTargetFile = `{
  "name": "my-server",
  "base_url": "http://127.0.0.1:9000",
  "ws": {"url": "/ws/{topic}", "subscribe": "{\"op\":\"sub\",\"topic\":\"{topic}\"}"},
  "sse": {"url": "/events?topic={topic}"},
  "publish": {"method": "POST", "url": "/publish/{topic}", "headers": {"Content-Type": "application/json"}, "body": "{payload}"},
  "drop": {"url": "/admin/drop?transport={transport}"},
  "metrics": "/metrics"
}`

// A target file with a mistake is refused with an error that names the
// field at fault.
func TestTargetFileMistakes(t *testing.T) {
	t.Parallel()
	if _, err := bench.ParseTargetFile([]byte(goodTargetFile)); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"misspelt field", `"publish":`, `"pubish":`, `unknown field "pubish"`},
		{"no payload in the body", `"body": "{payload}"`, `"body": "{}"`, "publish.body: must contain {payload}"},
		{"no publish", `"publish": {"method": "POST", "url": "/publish/{topic}", "headers": {"Content-Type": "application/json"}, "body": "{payload}"},`, ``, "publish: missing"},
		{"relative stream URL", `"url": "/ws/{topic}"`, `"url": "ws/{topic}"`, "ws.url:"},
		{"absolute stream URL", `"url": "/events?topic={topic}"`, `"url": "http://h/events"`, "sse.url:"},
		{"wrong type", `"metrics": "/metrics"`, `"metrics": 8`, "metrics: want string"},
		{"bad method", `"method": "POST"`, `"method": "SEND"`, "publish.method:"},
		{"bad status", `"body": "{payload}"}`, `"body": "{payload}", "status": 1000}`, "publish.status:"},
		{"no base URL", `"base_url": "http://127.0.0.1:9000",`, ``, "base_url: missing"},
		{"base URL without scheme", `"http://127.0.0.1:9000"`, `"127.0.0.1:9000"`, "base_url:"},
		{"no stream at all", `"ws": {"url": "/ws/{topic}", "subscribe": "{\"op\":\"sub\",\"topic\":\"{topic}\"}"},
  "sse": {"url": "/events?topic={topic}"},`, ``, "ws, sse: give at least one"},
		{"bad drop", `"url": "/admin/drop?transport={transport}"`, `"url": ""`, "drop.url: missing"},
		{"a subscribe message on SSE", `"sse": {"url": "/events?topic={topic}"}`, `"sse": {"url": "/e", "subscribe": "x"}`, "sse.subscribe:"},
		{"not JSON", `"name": "my-server",`, `"name": "my-server"`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(goodTargetFile, tt.from) {
				t.Fatalf("the test's edit %q is not in the good file", tt.from)
			}
			_, err := bench.ParseTargetFile([]byte(strings.Replace(goodTargetFile, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// The error of a file on disk names the file, and --target validation
// reports it.
func TestTargetFileErrorNamesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(path, []byte(strings.Replace(goodTargetFile, `"body": "{payload}"`, `"body": ""`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := bench.Defaults(bench.ScenarioFanout)
	c.Targets = []string{"custom=" + path}
	err := c.Validate(bench.ScenarioFanout)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "publish.body") {
		t.Errorf("Validate: %v, want an error naming %s and publish.body", err, path)
	}
}

// The committed FastAPI peer's target file is valid.
func TestFastAPITargetFile(t *testing.T) {
	t.Parallel()
	f, err := bench.LoadTargetFile(filepath.Join(bench.FastAPIDir(".."), "target.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "fastapi" || f.WS == nil || f.SSE == nil || f.Drop == nil || f.Metrics == "" {
		t.Errorf("FastAPI target file %+v", f)
	}
}

// A transport the file has no endpoint for, and a scenario no custom
// target can run, say "not supported by target", per transport, with
// nothing measured and no error.
func TestCustomNotSupported(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ws-only.json")
	only := strings.Replace(goodTargetFile, `"sse": {"url": "/events?topic={topic}"},`, ``, 1)
	if err := os.WriteFile(path, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		scenario   string
		transports []string
		want       string
	}{
		{bench.ScenarioFanout, []string{bench.SSE}, `has no "sse" endpoint`},
		{bench.ScenarioTasks, []string{bench.WS}, "has no task API"},
		{bench.ScenarioReconnect, []string{bench.SSE}, `has no "sse" endpoint`},
	} {
		c := bench.Defaults(tt.scenario)
		c.Targets, c.Transports, c.InProcess, c.NoFloor = []string{"custom=" + path}, tt.transports, true, true
		res, err := (&bench.Runner{Config: c, ModuleDir: ".."}).Run(context.Background(), tt.scenario)
		if err != nil {
			t.Fatalf("%s: %v", tt.scenario, err)
		}
		tr := res.Transports[tt.transports[0]]
		if tr == nil || !strings.HasPrefix(tr.NotSupported, "not supported by target: ") || !strings.Contains(tr.NotSupported, tt.want) || tr.Expected != 0 {
			t.Errorf("%s %s: %+v, want not supported (%s)", tt.scenario, tt.transports[0], tr, tt.want)
		}
	}
}
