#!/bin/sh
# Before and after issue 7, measured the same way: fanout 5,000 subscribers
# × 10 events/s × 100 B for 30 s per transport, one fresh demo server per
# transport, the same load generator (this commit's), and a CPU profile of
# the server over the publishing phase, split by results/timesplit.sh into
# kernel, Go runtime, libraries and ours.
#
# "before" is commit 684d781 (the delivery path before issue 7) with the
# two later commits that let it be profiled (5603f57: /metrics allocations
# and stacks; ebb34f3: --pprof) applied on top; "after" is this checkout.
# About 5 minutes. Writes results/profiles/.
#
# Usage: results/where-time-goes.sh
set -eu
cd "$(dirname "$0")/.."
out=results/profiles
mkdir -p "$out"
tmp=$(mktemp -d)
cleanup() { git worktree remove --force "$tmp/before" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add -q --detach "$tmp/before" 684d781
(cd "$tmp/before" && git cherry-pick -n 5603f57 ebb34f3 >/dev/null && go build -o "$tmp/demo-before" ./cmd/demo)
go build -o "$tmp/demo-after" ./cmd/demo
go build -o "$tmp/loadgen" ./cmd/loadgen
for v in before after; do
	"$tmp/loadgen" fanout --server-bin "$tmp/demo-$v" --subscribers 5000 --rate 10 --size 100 --duration 30s \
		--floor=false --server-cpuprofile "$out/server-$v.pprof" --out "$out/fanout-$v.json" --no-report --quiet
done
for v in before after; do
	for tr in ws sse; do
		us=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["transports"][sys.argv[2]].get("server_cpu_us_per_delivery", ""))' "$out/fanout-$v.json" "$tr")
		echo "== $v $tr (server CPU ${us} µs per delivery)"
		results/timesplit.sh "$tmp/demo-$v" "$out/server-$v-$tr.pprof" $us
	done
done | tee "$out/timesplit.txt"
