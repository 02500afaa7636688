package chat

import (
	"encoding/json"
	"fmt"

	"github.com/twinstream/twinstream/transports"
)

// KindMessage is the kind of a chat message event; its data is a Message.
const KindMessage = "message"

// Message is the data of a "message" event.
type Message struct {
	From    string `json:"from"`
	Message string `json:"message"`
}

// Route publishes a chat command (broadcast, personal, broadcast_except) sent
// by client id from: broadcast and broadcast_except go to the broadcast
// topic (the latter skipping the sender's connections), personal to the
// recipient's personal topic. It returns the event and how many connections
// it was queued for. Senders must have a client id.
func Route(h *transports.Hub, from string, c Command) (*transports.Event, int, *transports.ErrorFrame) {
	if from == "" {
		f := transports.NewErrorFrame(transports.CodeForbidden, "sending messages needs a client_id")
		f.ID = c.ID
		return nil, 0, &f
	}
	topic, except := transports.TopicBroadcast, ""
	switch c.Type {
	case CmdBroadcast:
	case CmdBroadcastExcept:
		except = from
	case CmdPersonal:
		topic = transports.ClientTopic(c.To)
	default:
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, fmt.Sprintf("%q is not a message command", c.Type))
		f.ID = c.ID
		return nil, 0, &f
	}
	data, _ := json.Marshal(Message{From: from, Message: c.Message})
	e, n, err := h.PublishExcept(topic, KindMessage, data, except)
	if err != nil {
		f := transports.NewErrorFrame(transports.CodeUnavailable, err.Error())
		f.ID = c.ID
		return nil, 0, &f
	}
	return e, n, nil
}
