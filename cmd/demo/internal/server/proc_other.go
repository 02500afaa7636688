//go:build !linux

package server

// rssBytes is unknown off Linux.
func rssBytes() int64 { return 0 }

// cpuSeconds is unknown off Linux.
func cpuSeconds() (user, system float64) { return 0, 0 }
