#!/bin/sh
# Regenerates the committed comparison in this directory: every scenario on
# both transports (fanout at 1,000/5,000/10,000 subscribers for 60 s with
# the plain-TCP floor beside them, the saturation sweep at 5,000, connect
# 19,000 per transport held 60 s, reconnect 10,000 dropped in a paced
# drain, tasks 100 × 20, the deployment hazards through real nginx and
# Chromium, and compression). It spawns a fresh demo server per transport.
# About 27 minutes on the 2-core reference machine; run it on an otherwise
# idle machine (the report records the load average and the whole
# machine's CPU next to the server's and loadgen's). Then
# results/where-time-goes.sh (before/after profiles, ~5 min) and, for
# other servers, `go run ./cmd/loadgen peers --out results/peers`.
#
# Usage: results/regenerate.sh [loadgen flags...]   e.g. --transports ws
set -eu
cd "$(dirname "$0")/.."
go build -o /tmp/twinstream-loadgen ./cmd/loadgen
go build -o /tmp/twinstream-demo ./cmd/demo
exec /tmp/twinstream-loadgen full --out results --server-bin /tmp/twinstream-demo "$@"
