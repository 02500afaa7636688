package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// BenchmarkPublishAPI measures POST /api/topics/:topic/events through the
// whole stack (HTTP keep-alive, Echo, validation, hub), with no subscriber:
// the load generator's publishing cost on the server.
func BenchmarkPublishAPI(b *testing.B) {
	s, err := server.New(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context()) //nolint:errcheck // benchmark teardown
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := s.URL() + "/api/topics/bench/events"
	body := `{"event":"tick","data":{"seq":1,"payload":"` + strings.Repeat("x", 200) + `"}}`
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

// BenchmarkPublishHandler measures the server's own work for one
// POST /api/topics/:topic/events (Echo, body, parse, hub), without a
// network or a client: the body in the load generator's canonical form,
// and the same event with white space in it.
func BenchmarkPublishHandler(b *testing.B) {
	s, err := server.New(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context()) //nolint:errcheck // benchmark teardown
	h := s.Handler()
	payload := `"payload":"` + strings.Repeat("x", 200) + `"`
	for _, tc := range []struct{ name, body string }{
		{"canonical", `{"event":"tick","data":{"seq":1,` + payload + `}}`},
		{"spaced", `{"event": "tick", "data": {"seq": 1, ` + payload + `}}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/topics/bench/events", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
