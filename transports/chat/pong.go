package chat

// IsPong reports whether b is exactly a pong answering an app-level ping,
// as the Go client, the browser client and JSON.stringify write it:
// {"type":"pong"} or {"type":"pong","ts":<digits>}. A connection needs no
// other work for one (it already counted as a sign of life), so its reader
// skips ParseCommand: a pong arrives from every client every heartbeat,
// and decoding it with encoding/json would grow each reader goroutine's
// stack for the rest of the connection's life. Anything else, including
// other spellings of a pong, goes through ParseCommand.
func IsPong(b []byte) bool {
	const head = `{"type":"pong"`
	if len(b) < len(head)+1 || string(b[:len(head)]) != head {
		return false
	}
	rest := b[len(head):]
	if string(rest) == "}" {
		return true
	}
	const ts = `,"ts":`
	if len(rest) < len(ts)+2 || string(rest[:len(ts)]) != ts || rest[len(rest)-1] != '}' {
		return false
	}
	digits := rest[len(ts) : len(rest)-1]
	if len(digits) > 18 || (len(digits) > 1 && digits[0] == '0') {
		return false // longer numbers may overflow int64; leading zeros are not JSON
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
