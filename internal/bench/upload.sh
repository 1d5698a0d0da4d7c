#!/usr/bin/env bash
# upload.sh: a 50 MiB file through HTTP file upload (XEP-0363) on loopback:
# PUT and GET throughput, and the server process's resident size while it
# streams (it must not hold the file in memory).
#
#   internal/bench/upload.sh            (MIB=50 PORT=25422 HEARTH=/tmp/hearth-upload)
#
# Builds `CGO_ENABLED=0 go build -tags nogui` unless HEARTH names a binary;
# a fresh data directory with alice@localhost; serves on 127.0.0.1 (domain
# localhost, so the URL's name reaches the listener and curl checks the
# certificate against the home CA); asks for a slot with slixmpp
# (/usr/bin/python3, python3-slixmpp); PUTs and GETs with curl, reading
# VmRSS of the server from /proc every 10 ms meanwhile.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${PORT:-25422}
MIB=${MIB:-50}
DOM=localhost
W=$(mktemp -d)
H=${HEARTH:-$W/hearth}
if [ -z "${HEARTH:-}" ]; then
	(cd "$ROOT" && CGO_ENABLED=0 go build -tags nogui -o "$H" .)
fi
D=$W/data
mkdir -p "$D"
chmod 700 "$D"
"$H" user add "alice@$DOM" --data "$D" --domain "$DOM" --password silver-kettle-pw >/dev/null
"$H" config set upload.max_file_bytes $(((MIB + 1) << 20)) --data "$D" >/dev/null
"$H" serve --headless --no-mdns --data "$D" --domain "$DOM" --c2s "127.0.0.1:$PORT" \
	--c2s-tls off --http "127.0.0.1:$((PORT + 1))" --ca-page off --s2s off --log-level warn >>"$W/serve.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 50); do
	(echo >/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null && break
	sleep 0.1
done
head -c $((MIB << 20)) /dev/urandom >"$W/file.bin"
SIZE=$(stat -c %s "$W/file.bin")

# A slot, asked for over XMPP.
read -r PUT GET < <(/usr/bin/python3 - "$PORT" "$SIZE" "$D/tls/ca.pem" <<'PY'
import asyncio, sys, slixmpp
port, size, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = slixmpp.ClientXMPP("alice@localhost/bench", "silver-kettle-pw")
c.ca_certs = ca
c.register_plugin("xep_0363")
async def main():
    c.connect(address=("127.0.0.1", port), force_starttls=True)
    await c.wait_until("session_start", timeout=10)
    iq = await c.plugin["xep_0363"].request_slot("upload.localhost", "film.bin", size, "application/octet-stream", timeout=10)
    print(iq["http_upload_slot"]["put"]["url"], iq["http_upload_slot"]["get"]["url"])
    c.disconnect()
asyncio.run(main())
PY
)

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SP/status"; }
watch() { # peak VmRSS (kB) until the file $W/stop appears
	local peak=0 r
	while [ ! -e "$W/stop" ]; do
		r=$(rss)
		[ "$r" -gt "$peak" ] && peak=$r
		sleep 0.01
	done
	echo "$peak"
}
measure() { # $1: what; the rest: curl's arguments
	local what=$1
	shift
	rm -f "$W/stop"
	watch >"$W/peak" &
	local wp=$!
	local speed
	speed=$(curl -sS --fail --cacert "$D/tls/ca.pem" -w '%{speed_upload} %{speed_download}' "$@")
	touch "$W/stop"
	wait $wp
	local bps
	if [ "$what" = PUT ]; then bps=${speed% *}; else bps=${speed#* }; fi
	printf '%-4s %6.1f MB/s   server VmRSS peak %5.1f MiB\n' "$what" "$(echo "$bps / 1000000" | bc -l)" "$(echo "$(cat "$W/peak") / 1024" | bc -l)"
}
printf 'file %d MiB; server VmRSS before %.1f MiB\n' "$MIB" "$(echo "$(rss) / 1024" | bc -l)"
measure PUT -T "$W/file.bin" -H 'Content-Type: application/octet-stream' -o /dev/null "$PUT"
measure GET -o /dev/null "$GET"
curl -sS --fail --cacert "$D/tls/ca.pem" -o "$W/back.bin" "$GET"
cmp "$W/file.bin" "$W/back.bin" && echo "GET returned the same $SIZE bytes"
awk '/^VmHWM:/ {printf "server VmHWM (peak resident since start) %.1f MiB\n", $2/1024}' "/proc/$SP/status"
