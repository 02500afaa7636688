//go:build !linux

package bench

import (
	"context"
	"errors"
	"net"
	"time"
)

// leanPoller needs Linux (leanpoll_linux.go: reactors over epoll sets);
// elsewhere a worker runs the product clients only.
type leanPoller struct{}

func newLeanPoller() (*leanPoller, error) {
	return nil, errors.New("bench: the lean clients need Linux (epoll); run the product clients")
}

func (p *leanPoller) close() {}

func (p *leanPoller) serve(context.Context, net.Conn, []byte, leanProto, time.Duration) (bool, error) {
	return false, errors.ErrUnsupported
}
