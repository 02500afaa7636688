#!/bin/sh
# Regenerates the committed deployment figures (README "Deployment facts"):
# SSE over HTTP/1.1 vs HTTP/2 vs WebSocket at 5,000 subscribers (one fanout,
# every transport over TLS), then the comparison (regenerate.sh: loadgen full,
# which now ends with the hazards scenario and the compression scenario), and
# copies results/deployment-facts.json into the demo page. About 45 minutes
# on the 2-core reference machine (the HTTP/2 fanout ~6, the comparison ~20,
# hazards ~1, compression ~15); run it on an otherwise idle machine with
# nginx and chromium installed (.ci/test installs both).
#
# Usage: results/regenerate-deployment.sh
set -eu
cd "$(dirname "$0")/.."
go build -o /tmp/twinstream-loadgen ./cmd/loadgen
go build -o /tmp/twinstream-demo ./cmd/demo
/tmp/twinstream-loadgen fanout --sse-http 1,2 --subscribers 5000 --rate 10 --size 100 --duration 60s --drain 120s \
	--out results --server-bin /tmp/twinstream-demo
results/regenerate.sh
cp results/deployment-facts.json cmd/demo/internal/web/static/deployment-facts.json
