#!/usr/bin/env bash
# demo.sh - the whole exchange in one terminal (make demo).
#
# Starts ./server on a port the kernel picks, greets one client over IPv4 and
# one over IPv6, stops the server as Ctrl-C would, and labels who said what.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"

if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi

shown=0  # server lines shown so far
# show_server: the lines the server has logged since the last call.
show_server() {
    tail -n "+$((shown + 1))" "$work/server.out" | sed 's/^/server | /'
    shown=$(wc -l <"$work/server.out")
}

# client COMMENT ARGS...: runs ./client ARGS, then shows what each side said.
client() {
    local comment=$1 status=0
    shift
    echo "\$ ./client $*        $comment"
    timeout 10 ./client "$@" >"$work/client.out" 2>&1 || status=$?
    show_server   # the server logs a client before it greets it
    tr -d '\r' <"$work/client.out" | sed 's/^/client | /'
    return "$status"
}

echo "== make demo: one server, two clients, one terminal"
echo
echo "\$ ./server 0 &        # port 0: the kernel picks a free port"
start_server ./server 0
show_server
client "# over IPv4" 127.0.0.1 "$port"
if grep -q '^Listening on \[' "$work/server.out" && grep -qs '^0*1 ' /proc/net/if_inet6; then
    client "# over IPv6, to the same socket" ::1 "$port"
else
    echo "(skipped ./client ::1: this machine has no IPv6 loopback, as in some containers)"
fi
echo "\$ kill -INT $server_pid        # what Ctrl-C in the server's terminal does"
stop_server INT
show_server
[ "$server_status" -eq 130 ] || { echo "the server ended with status $server_status, not SIGINT's 130" >&2; exit 1; }
client "# no server now" 127.0.0.1 "$port" || true
cat <<'END'

SIGINT ended the server as Ctrl-C does (status 130); the kernel closed its
sockets, so the last client was refused. Next: make trace, make packets.
END
