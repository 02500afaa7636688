#!/bin/sh
# Regenerates the committed comparison in this directory: every scenario on
# both transports at the sizes of issue 3's floors (fanout up to 10,000
# subscribers for 60 s, connect 19,000 per transport held 60 s, reconnect
# 10,000 dropped at once, tasks 100 × 20). It spawns a fresh demo server per
# transport. About 20 minutes on the 2-core reference machine; run it on an
# otherwise idle machine (the report records the load average and the whole
# machine's CPU next to the server's and loadgen's).
#
# Usage: results/regenerate.sh [loadgen flags...]   e.g. --transports ws
set -eu
cd "$(dirname "$0")/.."
go build -o /tmp/twinstream-loadgen ./cmd/loadgen
go build -o /tmp/twinstream-demo ./cmd/demo
exec /tmp/twinstream-loadgen full --out results --server-bin /tmp/twinstream-demo "$@"
