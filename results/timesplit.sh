#!/bin/sh
# Splits a server CPU profile into where the time goes: kernel (time inside
# system calls), Go runtime (scheduler, channels, GC, timers), libraries
# (coder/websocket, go-sse, net/http, Echo, the standard library's net,
# bufio, sync, time...) and ours (github.com/twinstream), as shares of the
# profile's samples and, given the run's measured server CPU per delivery,
# as µs per delivery.
#
# Usage: results/timesplit.sh BINARY PROFILE [US_PER_DELIVERY]
#   e.g. results/timesplit.sh /tmp/twinstream-demo prof/server-ws.pprof 7.9
set -eu
bin=$1 prof=$2 us=${3:-}
go tool pprof -top -nodecount=100000 "$bin" "$prof" 2>/dev/null |
awk -v us="$us" '
/^ *[0-9.]+(ms|s) / {
	v = $1; unit = v; sub(/[0-9.]+/, "", unit); sub(/(ms|s)$/, "", v)
	v = v + 0; if (unit == "ms") v = v / 1000
	f = $6
	if (f ~ /^internal\/runtime\/syscall/ || f ~ /^syscall\./) k = "kernel"
	else if (f ~ /^runtime\./ || f ~ /^internal\/runtime\//) k = "runtime"
	else if (f ~ /^github\.com\/twinstream\//) k = "ours"
	else k = "library"
	t[k] += v; total += v
}
END {
	if (total == 0) { print "no samples"; exit 1 }
	printf "%-8s %8s %7s", "part", "seconds", "share"
	if (us != "") printf " %12s", "µs/delivery"
	printf "\n"
	n = split("kernel runtime library ours", order, " ")
	for (i = 1; i <= n; i++) {
		k = order[i]
		printf "%-8s %8.2f %6.1f%%", k, t[k], 100 * t[k] / total
		if (us != "") printf " %12.2f", us * t[k] / total
		printf "\n"
	}
	printf "%-8s %8.2f %6.1f%%", "total", total, 100
	if (us != "") printf " %12.2f", us
	printf "\n"
}'
