package transports

// SetDrop makes a MemoryBroker node lose the deliveries drop names (lost
// pub/sub messages), for tests of gap filling.
func SetDrop(b Broker, drop func(e *Event) bool) {
	n := b.(*memNode)
	n.mu.Lock()
	n.drop = drop
	n.mu.Unlock()
}
