package ws

import (
	"fmt"
	"strings"

	"github.com/coder/websocket"
)

// Compression mode names, as the demo's --ws-compression flag and the load
// generator spell them (coder/websocket's CompressionMode values).
const (
	CompressionDisabled          = "disabled"
	CompressionContextTakeover   = "context-takeover"
	CompressionNoContextTakeover = "no-context-takeover"
)

// ParseCompression maps a mode name to coder/websocket's mode; "" is
// disabled.
func ParseCompression(name string) (websocket.CompressionMode, error) {
	switch name {
	case "", CompressionDisabled:
		return websocket.CompressionDisabled, nil
	case CompressionContextTakeover:
		return websocket.CompressionContextTakeover, nil
	case CompressionNoContextTakeover:
		return websocket.CompressionNoContextTakeover, nil
	}
	return 0, fmt.Errorf("unknown WebSocket compression mode %q (want %s, %s or %s)", name,
		CompressionDisabled, CompressionContextTakeover, CompressionNoContextTakeover)
}

// CompressionName is the name of a mode (ParseCompression's inverse).
func CompressionName(m websocket.CompressionMode) string {
	switch m {
	case websocket.CompressionContextTakeover:
		return CompressionContextTakeover
	case websocket.CompressionNoContextTakeover:
		return CompressionNoContextTakeover
	}
	return CompressionDisabled
}

// negotiatedDeflate reports whether an upgrade response's
// Sec-WebSocket-Extensions header accepted permessage-deflate.
func negotiatedDeflate(ext string) bool {
	return strings.Contains(ext, "permessage-deflate")
}
