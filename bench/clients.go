package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/ws"
)

// clientParams is what a load-generating client gives a transport's Go
// client.
type clientParams struct {
	URL        string
	HTTPClient *http.Client
	Backoff    transports.Backoff
	OnEvent    func(transports.WireEvent)
	OnControl  func([]byte)
	// WSCompression is the WebSocket client's permessage-deflate mode
	// (ws.ParseCompression's names).
	WSCompression string
}

// clientRunner runs one transport client until ctx ends or its stream ends
// for good (the transports' Client.Run contract).
type clientRunner func(ctx context.Context, p clientParams) error

func runnerFor(transport string) (clientRunner, error) {
	switch transport {
	case WS:
		return func(ctx context.Context, p clientParams) error {
			mode, err := ws.ParseCompression(p.WSCompression)
			if err != nil {
				return err
			}
			return ws.NewClient(ws.ClientConfig{URL: p.URL, HTTPClient: p.HTTPClient, Backoff: p.Backoff,
				OnEvent: p.OnEvent, OnControl: p.OnControl, Compression: mode}).Run(ctx)
		}, nil
	case SSE:
		return func(ctx context.Context, p clientParams) error {
			if p.Backoff.Jitter < 0 {
				// "No jitter" (browser-style): go-sse v0.12.0's mergeDefaults
				// replaces any jitter <= 0, including its own -1 = none, with
				// 0.5; a negligible positive jitter gets through unchanged.
				p.Backoff.Jitter = 1e-9
			}
			return sse.NewClient(sse.ClientConfig{URL: p.URL, HTTPClient: p.HTTPClient, Backoff: p.Backoff,
				OnEvent: p.OnEvent, OnControl: p.OnControl}).Run(ctx)
		}, nil
	}
	return nil, fmt.Errorf("bench: unknown transport %q", transport)
}
