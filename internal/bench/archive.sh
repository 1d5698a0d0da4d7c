#!/usr/bin/env bash
# archive.sh: `hearth bench throughput` at P=10 with the message archive
# (mam.enabled) on and off, on one server process, and the server's CPU time
# per message of each run (from /proc/PID/stat).
#
#   internal/bench/archive.sh            (ROUNDS=2 DUR=5s PORT=25322 HEARTH=/tmp/hearth-mam)
#
# Builds `CGO_ENABLED=0 go build -tags nogui` unless HEARTH names a binary;
# a fresh data directory under mktemp with user1..user20 (password benchpassN)
# and the connection limits out of the way; serves on 127.0.0.1 with
# --ca-page off --s2s off; switches mam.enabled live over the admin socket
# between runs. The archive grows through the rounds (two rows per message).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-25322}
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-2}
DOM=bench.test
# shellcheck source=serve.sh
. "$ROOT/internal/bench/serve.sh"
bench_serve 20

run() {
	local c0 c1 out sent
	c0=$(cpu)
	out=$("$H" bench throughput --host 127.0.0.1 --port "$PORT" --domain "$DOM" --ca "$D/tls/ca.pem" \
		--password 'benchpass%d' --conc 8 --users 20 --pairs 10 --duration "$DUR")
	c1=$(cpu)
	sent=$(echo "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
	echo "$1: $out"
	echo "$1: server CPU $(((c1 - c0) * 10)) ms, $(((c1 - c0) * 10000000 / sent)) ns per message"
}
for _ in $(seq "$ROUNDS"); do
	"$H" config set mam.enabled true --data "$D" >/dev/null
	run "archive on "
	"$H" config set mam.enabled false --data "$D" >/dev/null
	run "archive off"
done
