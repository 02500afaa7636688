package bench

import (
	"strconv"
	"strings"
	"time"
)

// Payload returns the data object a publisher sends:
//
//	{"e":<epoch>,"s":<scheduled unix µs>,"p":"xxx…"}
//
// padded so that it is exactly size bytes (or as small as possible when
// size is below the minimum, about 40 bytes). The epoch lets subscribers
// tell the sequences of a restarted server from the old ones; the scheduled
// time is when the open-loop publisher meant to publish, so that latency can
// also be measured free of coordinated omission (see Sub.Event).
func Payload(epoch int, scheduled time.Time, size int) []byte {
	head := `{"e":` + strconv.Itoa(epoch) + `,"s":` + strconv.FormatInt(scheduled.UnixMicro(), 10) + `,"p":"`
	pad := max(size-len(head)-2, 0)
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// PayloadMeta reads the epoch and scheduled time of a Payload cheaply (no
// JSON decoding). Data of any other shape is epoch 0 with no schedule.
func PayloadMeta(data []byte) (epoch int, scheduledMicros int64) {
	const prefix = `{"e":`
	if len(data) < len(prefix) || string(data[:len(prefix)]) != prefix {
		return 0, 0
	}
	rest := data[len(prefix):]
	n, rest := leadingInt(rest)
	const sched = `,"s":`
	if len(rest) < len(sched) || string(rest[:len(sched)]) != sched {
		return int(n), 0
	}
	s, _ := leadingInt(rest[len(sched):])
	return int(n), s
}

func leadingInt(b []byte) (int64, []byte) {
	var n int64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:]
}
