package transports

import "time"

// NewHubSweeping is NewHub with the janitor's period set, for tests.
func NewHubSweeping(cfg HubConfig, every time.Duration) *Hub {
	h := NewHub(cfg)
	h.sweepEvery = every
	return h
}

// JanitorArmed reports whether the janitor's timer is armed.
func (h *Hub) JanitorArmed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.janitor != nil
}
