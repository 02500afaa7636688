package bench

import (
	"os"
	"strconv"
	"strings"
)

// listenDrops is the machine's TcpExt ListenOverflows and ListenDrops
// counters (what nstat shows), read from /proc/net/netstat.
type listenDrops struct {
	overflows, drops uint64
	ok               bool
}

func readListenDrops() listenDrops {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return listenDrops{}
	}
	return parseListenDrops(string(b))
}

// parseListenDrops reads the TcpExt header and value lines of
// /proc/net/netstat.
func parseListenDrops(s string) listenDrops {
	lines := strings.Split(s, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "TcpExt:") || !strings.HasPrefix(lines[i+1], "TcpExt:") {
			continue
		}
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		var d listenDrops
		found := 0
		for j := 1; j < len(names) && j < len(values); j++ {
			v, err := strconv.ParseUint(values[j], 10, 64)
			if err != nil {
				continue
			}
			switch names[j] {
			case "ListenOverflows":
				d.overflows, found = v, found+1
			case "ListenDrops":
				d.drops, found = v, found+1
			}
		}
		d.ok = found == 2
		return d
	}
	return listenDrops{}
}
