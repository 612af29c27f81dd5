#!/usr/bin/env bash
# packets.sh - the exchange of make demo as TCP packets on loopback (make packets).
#
# Captures the server's port with tcpdump (needs root) and names the call
# behind each packet: connect()'s handshake, send()'s 26 bytes, then the two
# FINs, the server's first.  Each line starts with its connection's number.
set -euo pipefail
# A user may capture in namespaces of its own, where it is root (tests/isolated.sh).
[ -n "${ISOLATED:-}" ] || exec "$(dirname "$0")/../tests/isolated.sh" "$0" "$@"
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"

if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
needs() {
    echo "make packets needs $1. The README shows a real capture." >&2
    exit 1
}
command -v tcpdump >/dev/null || needs "tcpdump (apt-get install tcpdump)"
[ "$(id -u)" = 0 ] || needs "root to capture on loopback: sudo make packets"

# label: tcpdump -nn -t lines in; out, each packet with its connection's
# number and the call behind it (TCP options left out).
label() {
    awk -v port="$port" '/ Flags \[/ {
        from_server = $2 ~ ("\\." port "$"); client = from_server ? $4 : $2; sub(/:$/, "", client)
        c = (client in conn) ? conn[client] : (conn[client] = ++n)
        flags = $0; sub(/.*Flags \[/, "", flags); sub(/\].*/, "", flags)
        bytes = $NF; who = from_server ? "server" : "client"
        if (flags ~ /R/) what = "RST: " who " reset the connection"
        else if (flags == "S") what = "SYN: client connect()"
        else if (flags == "S.") what = "SYN-ACK: the server kernel answers"
        else if (bytes > 0) what = who " send(): " bytes " bytes" (flags ~ /F/ ? " + FIN" : "")
        else if (flags ~ /F/) what = from_server ? "server FIN: shutdown()" : "client FIN: close()"
        else if (!from_server && !acked[c]++) what = "ACK: client connect() returns"
        else if (from_server && cfin[c]) what = "last ACK: server in TIME_WAIT"
        else what = "ACK"
        if (!from_server && flags ~ /F/) cfin[c] = 1
        line = $0; sub(/, options \[[^]]*\]/, "", line)
        printf "%d %-34s | %s\n", c, what, line
    }'
}
complete() { [ "$(label <"$work/tcpdump.out" | grep -c 'last ACK')" -ge "${#hosts[@]}" ]; }
stop_tcpdump() { kill -TERM "$tcpdump_pid" 2>/dev/null; wait "$tcpdump_pid" || :; }

echo "== make packets: the exchange of make demo as TCP packets on loopback"
echo
echo "\$ ./server 0 &"
start_server ./server 0
echo "\$ tcpdump -i lo -nn -t -l --immediate-mode 'tcp port $port' &"
timeout 60 tcpdump -i lo -nn -t -l --immediate-mode "tcp port $port" \
    >"$work/tcpdump.out" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
at_exit stop_tcpdump
wait_until 50 grep -q '^listening on' "$work/tcpdump.err" || { cat "$work/tcpdump.err" >&2; needs "tcpdump to capture here"; }
hosts=(127.0.0.1)
grep -q '^Listening on \[' "$work/server.out" && grep -qs '^0*1 ' /proc/net/if_inet6 && hosts+=(::1)
for host in "${hosts[@]}"; do
    echo "\$ ./client $host $port"
    timeout 10 ./client "$host" "$port" | tr -d '\r' | sed 's/^/client | /'
done
[ ${#hosts[@]} = 2 ] || echo "(skipped ./client ::1: this machine has no IPv6 loopback)"
wait_until 30 complete || echo "(the last packets did not show within 3 s)"
echo
echo "What tcpdump saw, by connection, and the call behind each packet:"
label <"$work/tcpdump.out"
if command -v ss >/dev/null; then
    echo
    echo "The server sent the first FIN, so its side of each connection stays 60 s in TIME_WAIT:"
    echo "\$ ss -tan state time-wait '( sport = :$port )'"
    ss -tan state time-wait "( sport = :$port )"
fi
stop_server INT
