#!/usr/bin/env bash
# packets.sh - the exchange of make demo as TCP packets on loopback (make packets).
#
# Captures with tcpdump, filtered to the server's own port, and names the
# call behind each packet: the handshake of connect(), the 26 bytes of
# send(), and the two FINs of close(), the server's first.
set -euo pipefail
# shellcheck source=tests/lesson_lib.sh
source "$(dirname "$0")/lesson_lib.sh"

if [ ! -x ./server ] || [ ! -x ./client ]; then die "build first: make"; fi
if ! command -v tcpdump >/dev/null; then
    echo "make packets needs tcpdump, which is not installed. On Debian or Ubuntu:" >&2
    echo "    sudo apt-get install tcpdump" >&2
    exit 1
fi

# Names the call behind each packet of tcpdump -nn output on stdin.  With
# check=1 prints nothing and succeeds only once every connection is over
# (the server has answered the client's FIN).
label_packets() {
    awk -v port="$port" -v check="${1:-0}" '
    / Flags \[/ {
        src = $2; dst = $4; sub(/:$/, "", dst)
        from_server = (src ~ ("\\." port "$"))
        client = from_server ? dst : src
        match($0, /Flags \[[^]]*\]/); flags = substr($0, RSTART + 7, RLENGTH - 8)
        len = $0; sub(/.*length /, "", len); len += 0
        what = ""
        if (flags ~ /R/)                       what = "RST: connection reset"
        else if (flags == "S")                 what = "connect() sends SYN"
        else if (flags == "S.")                what = "SYN-ACK, from the server kernel"
        else if (len > 0 && from_server)       { what = "send(): " len " bytes"; data[client] = 1 }
        else if (flags ~ /F/ && from_server)   { what = "server close(): FIN"; sfin[client] = 1 }
        else if (flags ~ /F/)                  { what = "client close(): FIN"; cfin[client] = 1 }
        else if (!from_server && !data[client]) what = "ACK: connect() returns"
        else if (!from_server && !sfin[client]) what = "ACK of the data"
        else if (!from_server && !cfin[client]) what = "ACK of the FIN: recv() gets 0"
        else if (from_server && cfin[client])  { what = "last ACK: server in TIME_WAIT"; done[client] = 1 }
        seen[client] = 1
        line = $0; sub(/, options \[[^]]*\]/, "", line)
        if (!check) printf "%-31s | %s\n", what, line
    }
    END {
        if (!check) exit 0
        n = 0
        for (c in seen) { n++; if (!done[c]) exit 1 }
        exit n == 0
    }'
}

capture_complete() { label_packets 1 <"$work/packets.txt"; }

echo "== make packets: the exchange of make demo as TCP packets on loopback"
echo

say "./server 0"
start_server ./server 0
show server "$work/server.out"

say "tcpdump -i lo -nn -t -l --immediate-mode 'tcp port $port'"
tcpdump -i lo -nn -t -l --immediate-mode "tcp port $port" \
    >"$work/packets.txt" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
started+=("$tcpdump_pid")
if ! wait_until 50 grep -q '^listening on' "$work/tcpdump.err"; then
    echo "tcpdump cannot capture here:" >&2
    sed 's/^/    /' "$work/tcpdump.err" >&2
    echo "Capturing packets needs root: run  sudo make packets" >&2
    exit 1
fi

say "./client 127.0.0.1 $port"
run_client "$work/client4" ./client 127.0.0.1 "$port"
show client "$work/client4"
if ipv6_ok; then
    say "./client ::1 $port"
    run_client "$work/client6" ./client ::1 "$port"
    show client "$work/client6"
fi
wait_until 30 capture_complete || echo "(the capture may be incomplete: the last packets did not show within 3 s)"

echo
echo "What tcpdump saw (TCP options left out), and the call behind each packet:"
label_packets <"$work/packets.txt"

if command -v ss >/dev/null; then
    echo
    echo "The side that closed first (the server) keeps each connection in TIME_WAIT:"
    say "ss -tan state time-wait '( sport = :$port )'"
    ss -tan state time-wait "( sport = :$port )"
fi

stop_server
kill -INT "$tcpdump_pid"
wait_until 30 stopped "$tcpdump_pid" || die "tcpdump did not stop within 3 s of SIGINT"
status=0
wait "$tcpdump_pid" || status=$?
forget "$tcpdump_pid"
[ "$status" -eq 0 ] || die "tcpdump failed: $(cat "$work/tcpdump.err")"
echo
grep 'packets' "$work/tcpdump.err" | sed 's/^/tcpdump | /'
echo
echo "The server was stopped with SIGINT and exited with status 0."
