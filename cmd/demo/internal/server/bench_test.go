package server_test

import (
	"io"
	"net/http"
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
