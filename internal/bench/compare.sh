#!/usr/bin/env bash
# compare.sh: Hearth, Prosody 0.12 and ejabberd 23.01 (Debian) measured with the
# same load generator (`hearth bench`) on this machine, one server at a time,
# everything on 127.0.0.1. Prints a Markdown table and keeps the raw JSON lines.
#
#   sudo internal/bench/compare.sh            (or: make bench-compare)
#
# Per server, on a fresh data directory under one mktemp folder:
#   start; accounts user1..user200 with password benchpassN (Hearth: `hearth user
#   add` before the start; Prosody, ejabberd: `hearth bench register`, XEP-0077);
#   then with --json
#     logins --duration 5s; throughput --pairs 1, 10, 100 (5 s each);
#     latency --pairs 10 --rate 1000 --duration 10s; fanout --contacts 50 --count 100
#   stop; start a fresh process on the same data;
#     idle --conns 10000 --pid PID (100 accounts x 100 resources)
#   stop.
# The next server starts only when the previous one is gone. A trap stops every
# server on any exit (error, Ctrl-C, SIGTERM).
#
# Choices, the same for all three:
#   - TCP_NODELAY on every server socket: Go sets it by default (Hearth);
#     Prosody gets network_settings = { nagle = false } (its default is Nagle on);
#     ejabberd gets -kernel inet_default_listen_options [{nodelay,true}] in vm.args
#     (ejabberd 23.01 leaves Erlang's default, Nagle on).
#   - Logging at warning level (per-connection info lines would cost the servers
#     in the logins and idle runs).
#   - No rate limits: Prosody without mod_limits, ejabberd without shapers and with
#     max_user_sessions raised to 10000; Hearth with its connection limits
#     and its limit on resources per account raised out of the way.
#   - SASL: the best mechanism the server offers that the client speaks (Hearth
#     SCRAM-SHA-256; Prosody 0.12 only SCRAM-SHA-1; ejabberd's stock
#     auth_scram_hash, SCRAM-SHA-1); the table says which was used.
#   - TLS: Hearth's own self-signed certificate; for Prosody and ejabberd a
#     self-signed P-256 one; the client offers X25519/P-256 only (no --pq).
#
# Needs root (Prosody runs as root with run_as_root; ejabberd runs as the ejabberd
# user through setpriv, see EJCTL), Debian's prosody and ejabberd packages,
# openssl, jq, python3, Go. The open-file limit is raised as far as the hard
# limit allows (10,000 idle streams need 10,000+ in the server and the client).
#
# Environment: SERVERS ("hearth prosody ejabberd"), BASE_PORT (25200),
# IDLE_CONNS (10000), IDLE_USERS (100), KEEP_DATA (0: server data folders are
# deleted at the end, the JSON, table and logs stay), GO (go).
set -uo pipefail

export LC_ALL=C
START_S=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
INTEROP=$ROOT/server/xmpptest/interop
SERVERS=${SERVERS:-"hearth prosody ejabberd"}
BASE_PORT=${BASE_PORT:-25200}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_USERS=${IDLE_USERS:-100}
KEEP_DATA=${KEEP_DATA:-0}
GO=${GO:-go}
DOMAIN=bench.test
ACCOUNTS=200 # throughput --pairs 100 needs 200
BENCH_TIMEOUT=180

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0): Prosody runs with run_as_root, ejabberdctl must su to ejabberd"
for c in openssl jq ss timeout setpriv "$GO"; do command -v "$c" >/dev/null || die "missing $c"; done
PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3) || die "missing python3"
case " $SERVERS " in *" prosody "*) command -v prosody >/dev/null || die "missing prosody (make deps)" ;; esac
case " $SERVERS " in *" ejabberd "*) command -v ejabberdctl >/dev/null || die "missing ejabberd (make deps)" ;; esac

W=$(mktemp -d /tmp/hearth-compare.XXXXXX) || die "mktemp"
chmod 755 "$W" # ejabberd (its own user) must reach its folder below
RESULTS=$W/results.jsonl
TABLE=$W/table.md
: >"$RESULTS"
HH=$W/hearth-headless
log "work folder $W (raw JSON: $RESULTS)"

# Open files: 10,000 idle streams are 10,000 descriptors in the server and as
# many in the client. Raised here, inherited by every server started below.
ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE_CONNS + 512)) ] || log "warning: open file limit $(ulimit -n) is low for $IDLE_CONNS idle connections"

# ---------------------------------------------------------------- cleanup
HEARTH_PID="" PROSODY_PID="" EJ_STARTED="" EJ_FG_PID="" BENCH_PID=""

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID NAME: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
	local pid=$1 name=$2 i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 150); do pid_alive "$pid" || break; sleep 0.1; done
	if pid_alive "$pid"; then
		log "$name ($pid) ignored SIGTERM; SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		sleep 0.2
	fi
	wait "$pid" 2>/dev/null
	return 0
}

stop_hearth() { stop_pid "$HEARTH_PID" hearth; HEARTH_PID=""; }
stop_prosody() { stop_pid "$PROSODY_PID" prosody; PROSODY_PID=""; }

ej_pid() { cat "$W/ejabberd/spool/ejabberd.pid" 2>/dev/null; }
# ejabberdctl run by root re-runs itself through `su ejabberd`, whose PAM session
# drops the open-file soft limit to 1024 (too few for the idle run). setpriv
# switches to the ejabberd user without PAM, keeping this script's limit;
# ejabberdctl then runs as the current user. HOME holds the Erlang cookie.
# An array, not a function: timeout must be able to run it.
EJCTL=(env -C "$W/ejabberd" HOME="$W/ejabberd" setpriv --reuid ejabberd --regid ejabberd --init-groups
	ejabberdctl --config-dir "$W/ejabberd/conf")
stop_ejabberd() {
	[ -n "$EJ_STARTED" ] || return 0
	local pid
	pid=$(ej_pid)
	timeout 20 "${EJCTL[@]}" stop >/dev/null 2>&1
	timeout 20 "${EJCTL[@]}" stopped >/dev/null 2>&1
	# su starts beam.smp in a session of its own: make sure it is gone.
	[ -n "$pid" ] && stop_pid "$pid" "ejabberd beam.smp"
	stop_pid "$EJ_FG_PID" "ejabberdctl foreground"
	rm -f "$W/ejabberd/spool/ejabberd.pid"
	EJ_STARTED="" EJ_FG_PID=""
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$BENCH_PID" "hearth bench"
	stop_hearth
	stop_prosody
	stop_ejabberd
	if [ "$KEEP_DATA" = 0 ]; then
		rm -rf "$W/hearth/data" "$W/prosody/data" "$W/ejabberd/spool" "$HH"
	fi
	log "all servers stopped; results in $W"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------- helpers
port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# wait_port PORT PID SECONDS: until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 pid=$2 n=$(($3 * 10)) i
	for ((i = 0; i < n; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		[ -z "$pid" ] || pid_alive "$pid" || return 1
		sleep 0.1
	done
	return 1
}

# check_loopback NAME PID: every listening socket of PID is on 127.0.0.1.
check_loopback() {
	local name=$1 pid=$2 socks bad
	socks=$(ss -Hltunp 2>/dev/null | grep "pid=$pid," | awk '{print $1, $5}')
	log "$name listens on: $(echo "$socks" | tr '\n' ' ')"
	bad=$(echo "$socks" | awk '$2 !~ /^127\.0\.0\.1:/ && $2 != ""')
	[ -z "$bad" ] || die "$name listens beyond loopback: $bad"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)

# offered_mechs PORT: the SASL mechanisms offered after direct TLS on PORT.
offered_mechs() {
	{
		printf "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" "$DOMAIN"
		sleep 1
	} | timeout 3 openssl s_client -connect "127.0.0.1:$1" -servername "$DOMAIN" -quiet 2>/dev/null |
		grep -o '<mechanism>[^<]*</mechanism>' | sed 's/<[^>]*>//g' | paste -sd, -
}

# bench SERVER KEY PID ARGS...: one hearth bench run; appends its JSON line,
# with the server, the run's key, the exit status and the server's CPU time.
bench() {
	local srv=$1 key=$2 pid=$3
	shift 3
	local out=$W/$srv/bench-$key.json err=$W/$srv/bench-$key.err rc c0 c1 t0 t1
	log "$srv: bench $*"
	c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	timeout --kill-after=10 "$BENCH_TIMEOUT" "$HH" bench "$@" --json --label "$srv/$key" >"$out" 2>"$err" &
	BENCH_PID=$!
	wait "$BENCH_PID"
	rc=$?
	BENCH_PID=""
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	local cpu wall
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/hz}')
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
	if jq -e . "$out" >/dev/null 2>&1 && [ -s "$out" ]; then
		jq -c --arg srv "$srv" --arg key "$key" --argjson rc "$rc" --argjson cpu "$cpu" --argjson wall "$wall" \
			'. + {srv: $srv, key: $key, exit: $rc, server_cpu_s: $cpu, wall_s: $wall}' "$out" >>"$RESULTS"
	else
		jq -nc --arg srv "$srv" --arg key "$key" --argjson rc "$rc" --arg e "$(tail -c 400 "$err" | tr '\n' ' ')" \
			'{srv: $srv, key: $key, exit: $rc, no_result: true, first_error: $e}' >>"$RESULTS"
	fi
	if [ "$rc" = 0 ]; then
		log "$srv: $key ok: $(jq -r '"\(.value) \(.unit)"' "$out" 2>/dev/null) (server cpu ${cpu}s, ${wall}s)"
	else
		log "$srv: $key FAILED (exit $rc): $(tail -c 300 "$err" | tr '\n' ' ')"
	fi
	return 0
}

note() { # note SERVER KEY JSON-FIELDS...: an extra fact for the table
	local srv=$1 key=$2
	shift 2
	jq -nc --arg srv "$srv" --arg key "$key" "$@" '$ARGS.named + {srv: $srv, key: $key}' >>"$RESULTS"
}

selfsigned() { # selfsigned DIR: DIR/cert.pem and DIR/key.pem for $DOMAIN (P-256)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
		-subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN,DNS:*.$DOMAIN" \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

render() { # render TEMPLATE KEY=VALUE...: Go-template placeholders {{.KEY}} filled by sed
	local tmpl=$1 expr=() kv
	shift
	for kv in "$@"; do expr+=(-e "s|{{\\.${kv%%=*}}}|${kv#*=}|g"); done
	sed "${expr[@]}" "$tmpl"
}

# ---------------------------------------------------------------- servers
# Ports: hearth BASE+0.., prosody BASE+10.., ejabberd BASE+20..
H_C2S=$BASE_PORT H_TLS=$((BASE_PORT + 1)) H_HTTP=$((BASE_PORT + 2)) H_S2S=$((BASE_PORT + 3))
P_C2S=$((BASE_PORT + 10)) P_TLS=$((BASE_PORT + 11)) P_S2S=$((BASE_PORT + 12))
E_C2S=$((BASE_PORT + 20)) E_TLS=$((BASE_PORT + 21)) E_S2S=$((BASE_PORT + 22)) E_DIST=$((BASE_PORT + 29))
for p in $H_C2S $H_TLS $H_HTTP $H_S2S $P_C2S $P_TLS $P_S2S $E_C2S $E_TLS $E_S2S $E_DIST; do
	port_free "$p" || die "port $p is in use (set BASE_PORT)"
done

# Each server: setup_X (data, config, accounts where they can be made offline),
# start_X (sets SRV_PID, SRV_PORT, SRV_CA), stop_X, accounts_X (after start).

setup_hearth() {
	mkdir -p "$W/hearth/data"
	chmod 700 "$W/hearth/data"
	local i
	for ((i = 1; i <= ACCOUNTS; i++)); do
		"$HH" user add "user$i@$DOMAIN" --data "$W/hearth/data" --domain "$DOMAIN" --password "benchpass$i" >/dev/null ||
			die "hearth user add user$i"
	done
	# No limits, as for the others: every connection comes from 127.0.0.1
	# (the idle run holds 10,000 of them, 100 per account).
	local kv
	for kv in limits.connections_per_address=100000 limits.unauthenticated_per_address=100000 \
		limits.unauthenticated=100000 limits.resources=100000; do
		"$HH" config set "${kv%%=*}" "${kv#*=}" --data "$W/hearth/data" >/dev/null || die "hearth config set $kv"
	done
}
start_hearth() {
	"$HH" serve --headless --no-mdns --data "$W/hearth/data" --domain "$DOMAIN" \
		--c2s "127.0.0.1:$H_C2S" --c2s-tls "127.0.0.1:$H_TLS" --http "127.0.0.1:$H_HTTP" --s2s "127.0.0.1:$H_S2S" \
		--log-level warn >>"$W/hearth/serve.log" 2>&1 &
	HEARTH_PID=$!
	wait_port "$H_TLS" "$HEARTH_PID" 20 || { start_failed hearth "$W/hearth/serve.log"; return 1; }
	SRV_PID=$HEARTH_PID SRV_PORT=$H_C2S SRV_TLS=$H_TLS SRV_CA=$W/hearth/data/tls/cert.pem
}
accounts_hearth() { :; }

setup_prosody() {
	local P=$W/prosody
	mkdir -p "$P/data"
	selfsigned "$P"
	render "$INTEROP/prosody.cfg.lua.tmpl" Domain="$DOMAIN" Interface=127.0.0.1 C2SPort="$P_C2S" \
		DirectTLSPort="$P_TLS" S2SPort="$P_S2S" DataDir="$P/data" CertFile="$P/cert.pem" KeyFile="$P/key.pem" |
		sed -e 's/min = "info"/min = "warn"/' \
			-e 's/^allow_registration = false/allow_registration = true -- hearth bench register (loopback is exempt from the throttle)/' \
			-e 's/^\t"ping";/\t"ping";\n\t"register";  -- in-band registration for the accounts/' \
			-e 's/^run_as_root = true/run_as_root = true\n-- TCP_NODELAY, as Go (Hearth) and ejabberd (vm.args) have it here.\nnetwork_settings = { nagle = false }/' \
			>"$P/prosody.cfg.lua"
	grep -q '"register"' "$P/prosody.cfg.lua" && grep -q 'nagle = false' "$P/prosody.cfg.lua" &&
		! grep -q '"limits"' "$P/prosody.cfg.lua" || die "prosody config not as intended"
}
start_prosody() {
	local P=$W/prosody
	prosody -F --config "$P/prosody.cfg.lua" >>"$P/stdout.log" 2>&1 &
	PROSODY_PID=$!
	wait_port "$P_TLS" "$PROSODY_PID" 20 || { start_failed prosody "$P/stdout.log" "$P/data/prosody.log"; return 1; }
	SRV_PID=$PROSODY_PID SRV_PORT=$P_C2S SRV_TLS=$P_TLS SRV_CA=$P/cert.pem
}
accounts_prosody() {
	bench "$1" register "$SRV_PID" register --host 127.0.0.1 --port "$SRV_PORT" --domain "$DOMAIN" --ca "$SRV_CA" \
		--users "$ACCOUNTS" --password 'benchpass%d'
}

setup_ejabberd() {
	local E=$W/ejabberd
	install -d -o ejabberd -g ejabberd "$E" "$E/conf" "$E/spool" "$E/log"
	selfsigned "$E"
	render "$INTEROP/ejabberd.yml.tmpl" Domain="$DOMAIN" Interface=127.0.0.1 C2SPort="$E_C2S" \
		DirectTLSPort="$E_TLS" S2SPort="$E_S2S" CertFile="$E/cert.pem" KeyFile="$E/key.pem" |
		sed -e 's/^loglevel: info/loglevel: warning/' \
			-e 's/^  max_user_sessions: 100$/  max_user_sessions: 10000/' \
			-e 's/^    access: c2s$/    access: c2s\n    shaper: none/' \
			-e 's/^modules:$/# hearth bench register: in-band registration, no per-IP wait between accounts.\nregistration_timeout: infinity\n\nmodules:\n  mod_register: {}/' \
			>"$E/conf/ejabberd.yml"
	grep -q 'max_user_sessions: 10000' "$E/conf/ejabberd.yml" && grep -q 'mod_register' "$E/conf/ejabberd.yml" ||
		die "ejabberd config not as intended"
	render "$INTEROP/ejabberdctl.cfg.tmpl" Node="hearth-cmp-$$@localhost" DistPort="$E_DIST" Interface=127.0.0.1 \
		SpoolDir="$E/spool" LogDir="$E/log" >"$E/conf/ejabberdctl.cfg"
	# TCP_NODELAY on accepted sockets (they inherit the listen options).
	printf '%s\n' '-kernel inet_default_listen_options [{nodelay,true}]' >"$E/conf/vm.args"
	cp /etc/ejabberd/inetrc "$E/conf/" 2>/dev/null || : >"$E/conf/inetrc"
	chown -R ejabberd:ejabberd "$E"
}
start_ejabberd() {
	local E=$W/ejabberd pid
	EJ_STARTED=1
	"${EJCTL[@]}" foreground >>"$E/stdout" 2>&1 &
	EJ_FG_PID=$!
	timeout 60 "${EJCTL[@]}" started >/dev/null 2>&1 && wait_port "$E_TLS" "" 20 && pid=$(ej_pid) && pid_alive "$pid" ||
		{ start_failed ejabberd "$E/stdout" "$E/log/error.log"; return 1; }
	SRV_PID=$pid SRV_PORT=$E_C2S SRV_TLS=$E_TLS SRV_CA=$E/cert.pem
}
accounts_ejabberd() { accounts_prosody "$@"; }

# start_failed NAME LOGS...: report a server that did not come up; the run goes on.
start_failed() {
	local s=$1
	shift
	tail -n 20 "$@" >&2 2>/dev/null
	log "$s did not start"
	note "$s" start --arg first_error "$s did not start: $(tail -qn 3 "$@" 2>/dev/null | tr '\n' ' ' | tail -c 300)"
}

# run_server NAME: the whole sequence for one server.
run_server() {
	local s=$1
	log "=== $s"
	"setup_$s"
	"start_$s" || { "stop_$s"; return 1; }
	check_loopback "$s" "$SRV_PID"
	log "$s: pid $SRV_PID, open files $(awk '/open files/{print $4}' "/proc/$SRV_PID/limits")"
	note "$s" info --arg mechs "$(offered_mechs "$SRV_TLS")" --arg nofile "$(awk '/open files/{print $4}' "/proc/$SRV_PID/limits")"
	"accounts_$s" "$s"
	local C=(--host 127.0.0.1 --port "$SRV_PORT" --domain "$DOMAIN" --ca "$SRV_CA" --password 'benchpass%d')
	bench "$s" logins "$SRV_PID" logins "${C[@]}" --users 100 --duration 5s
	bench "$s" throughput_p1 "$SRV_PID" throughput "${C[@]}" --users 2 --pairs 1 --duration 5s
	bench "$s" throughput_p10 "$SRV_PID" throughput "${C[@]}" --users 20 --pairs 10 --duration 5s
	bench "$s" throughput_p100 "$SRV_PID" throughput "${C[@]}" --users 200 --pairs 100 --duration 5s
	bench "$s" latency "$SRV_PID" latency "${C[@]}" --users 20 --pairs 10 --rate 1000 --duration 10s
	bench "$s" fanout "$SRV_PID" fanout "${C[@]}" --users 51 --contacts 50 --count 100
	"stop_$s"
	# A fresh process for the memory measurement.
	"start_$s" || { "stop_$s"; return 1; }
	sleep 1
	bench "$s" idle "$SRV_PID" idle "${C[@]}" --users "$IDLE_USERS" --conns "$IDLE_CONNS" --pid "$SRV_PID"
	"stop_$s"
	pid_alive "$SRV_PID" && die "$s ($SRV_PID) still running"
	return 0
}

# ---------------------------------------------------------------- run
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before: $LOAD_BEFORE"
log "building hearth (headless, CGO_ENABLED=0)"
(cd "$ROOT" && CGO_ENABLED=0 "$GO" build -tags nogui -o "$HH" .) || die "go build"

HEARTH_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && HEARTH_REV="$HEARTH_REV+dirty"
PROSODY_VER=$(dpkg-query -W -f='${Version}' prosody 2>/dev/null)
EJABBERD_VER=$(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null)
ERLANG_VER=$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null)
note hearth version --arg v "$HEARTH_REV ($("$GO" env GOVERSION))"
note prosody version --arg v "$PROSODY_VER (Lua 5.4, epoll)"
note ejabberd version --arg v "$EJABBERD_VER (Erlang $ERLANG_VER)"

for s in $SERVERS; do
	case $s in hearth | prosody | ejabberd) run_server "$s" || log "$s: skipped the rest of its runs" ;; *) die "unknown server $s" ;; esac
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
WALL=$(($(date +%s) - START_S))

# ---------------------------------------------------------------- table
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
MACHINE="$(nproc) CPUs, $CPU_MODEL, Linux $(uname -r), $(awk '/MemTotal/{printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
"$PY" - "$RESULTS" "$IDLE_CONNS" "$IDLE_USERS" "$SERVERS" >"$TABLE" <<'EOF'
import json, sys
path, idle_n, idle_users, servers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split()
R = {}
for line in open(path):
    line = line.strip()
    if line:
        o = json.loads(line)
        R[(o["srv"], o["key"])] = o
names = {"hearth": "Hearth", "prosody": "Prosody", "ejabberd": "ejabberd"}
notes = []

def get(s, k):
    return R.get((s, k))

def fail(o, s=None):
    if o is None:
        return "did not start" if get(s, "start") else "not run"
    e = (o.get("first_error") or "").strip()
    if e:
        notes.append(f"{names.get(o['srv'], o['srv'])} {o['key']}: {e[:300]}")
        return f"FAIL [{len(notes)}]"
    return f"FAIL (exit {o.get('exit')})"

def cell(s, k, fmt):
    o = get(s, k)
    if o is None or o.get("no_result"):
        return fail(o, s)
    try:
        txt = fmt(o)
    except Exception as ex:  # a field the run did not report
        return f"? ({ex})"
    if o.get("exit", 0) != 0:
        e = (o.get("first_error") or "").strip()
        if e:
            notes.append(f"{names[s]} {k}: {e[:300]}")
            txt += f" (exit {o['exit']} [{len(notes)}])"
        else:
            txt += f" (exit {o['exit']})"
    return txt

def lost(o):
    return f", **lost {o['lost']}**" if o.get("lost") else ""

def per(o, n):  # server CPU microseconds per event
    return o["server_cpu_s"] / n * 1e6 if n else float("nan")

def best_mech(o):
    m = (o.get("mechs") or "").split(",")
    for want in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        if want in m:
            return want
    return "?"

rows = [
    ("server version", lambda s: cell(s, "version", lambda o: o["v"])),
    ("SASL mechanism used (offered)", lambda s: cell(s, "info", lambda o: f"{best_mech(o)} ({o['mechs']})")),
    ("logins/s (16 workers, 5 s; TCP+STARTTLS+SASL+bind+close)", lambda s: cell(s, "logins",
        lambda o: f"{o['value']:,.0f} (p50 {o['login_p50_ms']:.1f} ms, p99 {o['login_p99_ms']:.1f} ms{', failed ' + str(o['failed']) if o['failed'] else ''})")),
    ("  server CPU per login", lambda s: cell(s, "logins", lambda o: f"{per(o, o['n'])/1000:.2f} ms")),
]
for p in (1, 10, 100):
    rows.append((f"throughput, {p} pair{'s' if p > 1 else ''} (msgs/s, window 100, 5 s)", lambda s, p=p: cell(s, f"throughput_p{p}",
        lambda o: f"{o['value']:,.0f}{lost(o)}")))
rows.append(("  server CPU per message (10 pairs)", lambda s: cell(s, "throughput_p10", lambda o: f"{per(o, o['received']):.1f} µs")))
rows += [
    ("latency p50 (10 pairs, 1000 msgs/s, 10 s)", lambda s: cell(s, "latency", lambda o: f"{o['p50_ms']:.2f} ms")),
    ("latency p90", lambda s: cell(s, "latency", lambda o: f"{o['p90_ms']:.2f} ms")),
    ("latency p99", lambda s: cell(s, "latency", lambda o: f"{o['p99_ms']:.2f} ms")),
    ("latency max", lambda s: cell(s, "latency", lambda o: f"{o['max_ms']:.2f} ms (achieved {o['achieved_rate']:,.0f}/s{lost(o)})")),
    ("fanout: presences delivered/s (1 user, 50 contacts, 100 changes)", lambda s: cell(s, "fanout",
        lambda o: f"{o['value']:,.0f} (all 50 reached: p50 {o['update_p50_ms']:.1f} ms, p99 {o['update_p99_ms']:.1f} ms{lost(o)})")),
    (f"idle: connections held (of {idle_n:,}; {idle_users} accounts)", lambda s: cell(s, "idle",
        lambda o: f"{o['conns']:,}" + (f" ({o['failed']:,} failed)" if o['failed'] else "") + (f", {o['dropped']} dropped" if o['dropped'] else ""))),
    ("idle: server KiB per connection (after 5 s hold)", lambda s: cell(s, "idle", lambda o: f"{o['value']:.1f} (after login {o['kib_per_conn_after_login']:.1f})")),
    ("idle: server RSS fresh -> with all connections", lambda s: cell(s, "idle",
        lambda o: f"{o['rss_before_kib']/1024:.0f} -> {o['rss_settled_kib']/1024:.0f} MiB")),
    ("idle: time to log all in (32 at a time)", lambda s: cell(s, "idle", lambda o: f"{o['login_seconds']:.1f} s ({o['conns']/max(o['login_seconds'],0.1):,.0f}/s)")),
    ("server open-file limit", lambda s: cell(s, "info", lambda o: o["nofile"])),
]
hdr = [names[s] for s in servers]
out = ["| metric | " + " | ".join(hdr) + " |", "|---|" + "---|" * len(hdr)]
for label, f in rows:
    out.append(f"| {label} | " + " | ".join(f(s) for s in servers) + " |")
print("\n".join(out))
if notes:
    print()
    for i, n in enumerate(notes, 1):
        print(f"[{i}] {n}")
EOF

{
	echo
	echo "Machine: $MACHINE. Date: $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Load average (1/5/15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER. Wall time: ${WALL}s."
	echo "Client and server share the machine: hearth bench runs on the same $(nproc) CPUs as the server under test."
	echo "All servers: 127.0.0.1 only, TCP_NODELAY (Prosody nagle = false; ejabberd nodelay via vm.args), log level warning,"
	echo "no rate limits or shapers (Prosody without mod_limits; ejabberd max_user_sessions 10000, shaper none), fresh process for idle."
	echo "Raw JSON lines: $RESULTS"
} >>"$TABLE"
echo
cat "$TABLE"
log "table: $TABLE"
