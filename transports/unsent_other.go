//go:build !linux

package transports

import "net"

// SocketUnsent reports how many bytes written to c the kernel has not sent
// yet; off Linux it cannot tell.
func SocketUnsent(net.Conn) (int, bool) { return 0, false }
