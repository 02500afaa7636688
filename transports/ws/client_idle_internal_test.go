package ws

import (
	"testing"
	"time"
)

// The rule (0 is the default, negative is none) is client.IdleTimeout's,
// tested there; this checks the default the client gives it.
func TestClientIdleTimeoutDefault(t *testing.T) {
	if got := NewClient(ClientConfig{URL: "ws://x/ws"}).idleTimeout(); got != 45*time.Second {
		t.Errorf("IdleTimeout 0: got %v, want 45s", got)
	}
}
