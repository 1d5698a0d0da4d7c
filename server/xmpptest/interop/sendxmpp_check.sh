#!/usr/bin/env bash
# go-sendxmpp (Debian's /usr/bin/go-sendxmpp) sends one message over direct TLS
# (XEP-0368) and slix_recv.py, logged in as the recipient over STARTTLS, must get it.
#
#   sendxmpp_check.sh [--ca FILE | --insecure] [--timeout SECONDS] \
#       HOST STARTTLS_PORT DIRECT_TLS_PORT DOMAIN FROM_JID FROM_PASS TO_JID TO_PASS
#
# --ca FILE   trust FILE (PEM): slixmpp loads it, go-sendxmpp gets it as SSL_CERT_FILE
#             (Go's crypto/x509 reads that variable); the name checked is DOMAIN.
# --insecure  no certificate verification (go-sendxmpp -n).
# JIDs without @ get @DOMAIN appended. Exit 0 and "PASS" on success, non-zero
# with "FAIL: ..." otherwise; the whole check is bounded by --timeout (default 20 s).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
sendxmpp=${GO_SENDXMPP:-/usr/bin/go-sendxmpp}
ca=""
insecure=0
limit=20

fail() { echo "FAIL: $*" >&2; exit 1; }
usage() { sed -n '5,6p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }

while [[ $# -gt 0 && $1 == --* ]]; do
	case $1 in
	--ca) ca=${2:?--ca needs a file}; shift 2 ;;
	--insecure) insecure=1; shift ;;
	--timeout) limit=${2:?--timeout needs seconds}; shift 2 ;;
	--help) usage ;;
	*) echo "unknown option $1" >&2; usage ;;
	esac
done
[[ $# -eq 8 ]] || usage
host=$1 starttls_port=$2 tls_port=$3 domain=$4 from=$5 from_pass=$6 to=$7 to_pass=$8
[[ $from == *@* ]] || from="$from@$domain"
[[ $to == *@* ]] || to="$to@$domain"
[[ -x $sendxmpp ]] || fail "$sendxmpp not found (apt-get install go-sendxmpp)"
[[ -n $ca || $insecure == 1 ]] || echo "note: neither --ca nor --insecure: verifying against the system CAs" >&2

slix_tls=()
send_env=()
send_tls=()
if [[ -n $ca ]]; then
	[[ -r $ca ]] || fail "cannot read CA file $ca"
	slix_tls=(--ca "$ca")
	send_env=(SSL_CERT_FILE="$ca")
elif [[ $insecure == 1 ]]; then
	slix_tls=(--insecure)
	send_tls=(-n)
fi

work=$(mktemp -d /tmp/sendxmpp-check.XXXXXX)
recv_pid=""
cleanup() {
	if [[ -n $recv_pid ]]; then kill "$recv_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

body="go-sendxmpp check $$-$(date +%s%N)"
deadline=$((SECONDS + limit))

echo "... receiver $to logs in over STARTTLS at $host:$starttls_port"
"$python" "$here/slix_recv.py" "${slix_tls[@]}" --timeout "$limit" --from "$from" --body "$body" \
	--ready-file "$work/ready" "$host" "$starttls_port" "$domain" "$to" "$to_pass" >"$work/recv.log" 2>&1 &
recv_pid=$!

until [[ -e $work/ready ]]; do
	if ! kill -0 "$recv_pid" 2>/dev/null; then
		cat "$work/recv.log" >&2
		fail "receiver exited before it was ready"
	fi
	((SECONDS < deadline)) || { cat "$work/recv.log" >&2; fail "receiver not ready within ${limit}s"; }
	sleep 0.1
done
echo "ok  receiver is online"

left=$((deadline - SECONDS))
((left > 1)) || fail "no time left to send"
echo "... go-sendxmpp sends as $from to $to over direct TLS at $host:$tls_port"
# -j HOST:PORT with --tls: direct TLS to exactly that address (no SRV lookup);
# HOME points at an empty folder so no user configuration file is read.
if ! printf '%s\n' "$body" | env HOME="$work" "${send_env[@]}" timeout "$left" "$sendxmpp" \
	--tls "${send_tls[@]}" --timeout "$((left > 10 ? 10 : left))" \
	-j "$host:$tls_port" -u "$from" -p "$from_pass" "$to" >"$work/send.log" 2>&1; then
	cat "$work/send.log" >&2
	fail "go-sendxmpp could not send (see above)"
fi
echo "ok  go-sendxmpp sent $(printf '%q' "$body")"

rc=0
wait "$recv_pid" || rc=$?
recv_pid=""
sed "/^PASS$/d" "$work/recv.log"
((rc == 0)) || fail "receiver did not get the message (exit $rc)"
echo "PASS"
