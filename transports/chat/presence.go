package chat

import (
	"encoding/json"

	"github.com/twinstream/twinstream/transports"
)

// Presence event kinds, published on the broadcast topic with data
// {"client_id":"<id>"}.
const (
	KindJoin  = "join"  // a client id got its first open connection
	KindLeave = "leave" // a client id lost its last open connection
)

// Presence announces that client id clientID came online (its first
// connection opened) or went offline (its last one closed) with a join or
// leave event on the broadcast topic. It is the hook a server sets as
// transports.HubConfig.Presence; the hub calls it outside its locks.
func Presence(h *transports.Hub, clientID string, online bool) error {
	kind := KindLeave
	if online {
		kind = KindJoin
	}
	data, _ := json.Marshal(map[string]string{"client_id": clientID})
	_, _, err := h.PublishExcept(transports.TopicBroadcast, kind, data, "")
	return err
}
