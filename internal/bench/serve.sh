# serve.sh is sourced by the bench scripts (archive.sh, pubsub.sh,
# room.sh): the server they measure, set up one way.
#
#   bench_serve USERS [KEY=VALUE ...]
#
# Needs ROOT, PORT and DOM. Builds `CGO_ENABLED=0 go build -tags nogui`
# into H unless HEARTH names a binary; a fresh data directory D under
# mktemp W with user1..userUSERS@DOM (password benchpassN), the connection
# limits out of the way and the settings given; serves on
# 127.0.0.1:PORT (direct TLS on PORT+1) with --http off --ca-page off
# --s2s off, SP its pid, stopped and W removed when the script exits.
# cpu and rss read the server's CPU time (clock ticks, 1/100 s) and VmRSS.

bench_serve() {
	local users=$1
	shift
	W=$(mktemp -d)
	H=${HEARTH:-$W/hearth}
	if [ -z "${HEARTH:-}" ]; then
		(cd "$ROOT" && CGO_ENABLED=0 go build -tags nogui -o "$H" .)
	fi
	D=$W/data
	mkdir -p "$D"
	chmod 700 "$D"
	for i in $(seq 1 "$users"); do
		"$H" user add "user$i@$DOM" --data "$D" --domain "$DOM" --password "benchpass$i" >/dev/null
	done
	for kv in limits.connections_per_address=100000 limits.unauthenticated_per_address=100000 \
		limits.unauthenticated=100000 limits.resources=100000 "$@"; do
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
}

cpu() { awk '{print $14+$15}' "/proc/$SP/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SP/status"; }
