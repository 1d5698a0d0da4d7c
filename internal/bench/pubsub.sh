#!/usr/bin/env bash
# pubsub.sh: `hearth bench pubsub` (XEP-0060 fan-out) to nodes of 100 and
# 1,000 subscribers on pubsub.<domain>, on one server process, and the
# server's CPU time per notification (from /proc/PID/stat) and its VmRSS.
#
#   internal/bench/pubsub.sh      (SIZES="100 1000" DUR=5s PORT=25342 HEARTH=/tmp/hearth-pubsub)
#
# Builds `CGO_ENABLED=0 go build -tags nogui` unless HEARTH names a binary;
# a fresh data directory under mktemp with user1..userN+1 (password
# benchpassN) and the connection limits out of the way; serves on
# 127.0.0.1 with --ca-page off --s2s off. Each run makes a new node
# (user1 its owner, no last item on subscription) and deletes it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-25342}
DUR=${DUR:-5s}
SIZES=${SIZES:-100 1000}
DOM=bench.test
N=0
for s in $SIZES; do N=$((s > N ? s : N)); done
# shellcheck source=serve.sh
. "$ROOT/internal/bench/serve.sh"
bench_serve "$((N + 1))"

for s in $SIZES; do
	c0=$(cpu)
	out=$("$H" bench pubsub --host 127.0.0.1 --port "$PORT" --domain "$DOM" --ca "$D/tls/ca.pem" \
		--password 'benchpass%d' --conc 16 --timeout 30s --users "$((s + 1))" --subscribers "$s" --duration "$DUR")
	c1=$(cpu)
	del=$(echo "$out" | sed -n 's/.*delivered=\([0-9]*\).*/\1/p')
	echo "$s subscribers: $out"
	echo "$s subscribers: server CPU $(((c1 - c0) * 10)) ms (logins included), $(((c1 - c0) * 10000000 / (del + 1))) ns per notification; VmRSS $(rss) KiB"
done
