package transports

import (
	"encoding/json"
	"fmt"
)

// Limits on names. Topics, client ids and kinds are ASCII so that they can be
// quoted into the wire form without escaping surprises.
const (
	MaxTopicLen    = 128
	MaxClientIDLen = 64
	MaxKindLen     = 64
)

// The topics a client id implies. A connection that gives a client id
// follows its personal topic and the broadcast topic without asking
// (Stream.AllTopics), and may not follow another client's personal topic
// (CanSubscribe). What is published there is package chat's business.
const (
	TopicBroadcast    = "broadcast"
	ClientTopicPrefix = "client:"
)

// ClientTopic is the topic of a client id's personal messages.
func ClientTopic(id string) string { return ClientTopicPrefix + id }

// CanSubscribe reports whether client id may follow topic: personal topics
// of other clients are off limits.
func CanSubscribe(clientID, topic string) bool {
	if len(topic) > len(ClientTopicPrefix) && topic[:len(ClientTopicPrefix)] == ClientTopicPrefix {
		return topic == ClientTopic(clientID) && clientID != ""
	}
	return true
}

func nameByte(c byte, extra string) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	for i := 0; i < len(extra); i++ {
		if extra[i] == c {
			return true
		}
	}
	return false
}

func checkName(what, s string, max int, extra string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", what, max)
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], extra) {
			return fmt.Errorf("%s has a character outside [A-Za-z0-9%s] at byte %d", what, extra, i)
		}
	}
	return nil
}

// ValidTopic checks a topic name: 1–128 bytes of [A-Za-z0-9_.:-].
func ValidTopic(s string) error { return checkName("topic", s, MaxTopicLen, "_.:-") }

// ValidClientID checks a client id: 1–64 bytes of [A-Za-z0-9_.-].
func ValidClientID(s string) error { return checkName("client_id", s, MaxClientIDLen, "_.-") }

// ValidKind checks an event kind: 1–64 bytes of [A-Za-z0-9_.-].
func ValidKind(s string) error { return checkName("event", s, MaxKindLen, "_.-") }

// ValidData checks that b is a JSON object (the only data shape events carry).
func ValidData(b []byte) error {
	if !json.Valid(b) {
		return ErrInvalidData
	}
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c == '{' {
			return nil
		}
		break
	}
	return ErrInvalidData
}
