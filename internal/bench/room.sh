#!/usr/bin/env bash
# room.sh: `hearth bench room` (XEP-0045 fan-out) with rooms of 50 and 500
# occupants, the room archive on, on one server process, and the server's
# CPU time per delivered message (from /proc/PID/stat) and its VmRSS.
#
#   internal/bench/room.sh        (SIZES="50 500" SENDERS=5 DUR=5s PORT=25332 HEARTH=/tmp/hearth-room)
#
# Builds `CGO_ENABLED=0 go build -tags nogui` unless HEARTH names a binary;
# a fresh data directory under mktemp with user1..userN (password
# benchpassN) and the connection limits out of the way; serves on
# 127.0.0.1 with --ca-page off --s2s off, an occupant's message rate
# (muc.message_rate) unlimited. Each run makes a new room (an
# instant room with its archive on) and leaves it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-25332}
DUR=${DUR:-5s}
SIZES=${SIZES:-50 500}
SENDERS=${SENDERS:-5}
DOM=bench.test
N=0
for s in $SIZES; do N=$((s > N ? s : N)); done
# shellcheck source=serve.sh
. "$ROOT/internal/bench/serve.sh"
bench_serve "$N" muc.message_rate=0

for s in $SIZES; do
	c0=$(cpu)
	out=$("$H" bench room --host 127.0.0.1 --port "$PORT" --domain "$DOM" --ca "$D/tls/ca.pem" \
		--password 'benchpass%d' --conc 16 --users "$s" --occupants "$s" --senders "$SENDERS" --duration "$DUR")
	c1=$(cpu)
	del=$(echo "$out" | sed -n 's/.*delivered=\([0-9]*\).*/\1/p')
	echo "$s occupants: $out"
	echo "$s occupants: server CPU $(((c1 - c0) * 10)) ms (joins included), $(((c1 - c0) * 10000000 / (del + 1))) ns per delivery; VmRSS $(rss) KiB"
done
