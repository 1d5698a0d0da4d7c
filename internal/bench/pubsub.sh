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
W=$(mktemp -d)
H=${HEARTH:-$W/hearth}
if [ -z "${HEARTH:-}" ]; then
	(cd "$ROOT" && CGO_ENABLED=0 go build -tags nogui -o "$H" .)
fi
D=$W/data
mkdir -p "$D"
chmod 700 "$D"
N=0
for s in $SIZES; do N=$((s > N ? s : N)); done
for i in $(seq 1 "$((N + 1))"); do
	"$H" user add "user$i@$DOM" --data "$D" --domain "$DOM" --password "benchpass$i" >/dev/null
done
for kv in limits.connections_per_address=100000 limits.unauthenticated_per_address=100000 \
	limits.unauthenticated=100000 limits.resources=100000; do
	"$H" config set "${kv%%=*}" "${kv#*=}" --data "$D" >/dev/null
done
"$H" serve --headless --no-mdns --data "$D" --domain "$DOM" --c2s "127.0.0.1:$PORT" \
	--c2s-tls "127.0.0.1:$((PORT + 1))" --http off --ca-page off --s2s off --log-level warn >>"$W/serve.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 50); do
	(echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
	sleep 0.2
done

cpu() { awk '{print $14+$15}' "/proc/$SP/stat"; } # clock ticks (1/100 s)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SP/status"; }
for s in $SIZES; do
	c0=$(cpu)
	out=$("$H" bench pubsub --host 127.0.0.1 --port "$PORT" --domain "$DOM" --ca "$D/tls/ca.pem" \
		--password 'benchpass%d' --conc 16 --timeout 30s --users "$((s + 1))" --subscribers "$s" --duration "$DUR")
	c1=$(cpu)
	del=$(echo "$out" | sed -n 's/.*delivered=\([0-9]*\).*/\1/p')
	echo "$s subscribers: $out"
	echo "$s subscribers: server CPU $(((c1 - c0) * 10)) ms (logins included), $(((c1 - c0) * 10000000 / (del + 1))) ns per notification; VmRSS $(rss) KiB"
done
