package bench

import "testing"

func TestParseListenDrops(t *testing.T) {
	s := "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\nTcpExt: 0 12 15 99\nIpExt: InNoRoutes\nIpExt: 0\n"
	if d := parseListenDrops(s); !d.ok || d.overflows != 12 || d.drops != 15 {
		t.Fatalf("got %+v", d)
	}
	if d := parseListenDrops("IpExt: A\nIpExt: 1\n"); d.ok {
		t.Fatalf("no TcpExt lines: got %+v", d)
	}
	if d := readListenDrops(); !d.ok {
		t.Fatalf("this machine's /proc/net/netstat: %+v", d)
	}
}
