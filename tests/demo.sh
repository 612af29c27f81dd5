#!/usr/bin/env bash
# demo.sh - the whole exchange in one terminal (make demo).
#
# Starts ./server on a port the kernel picks, greets one client over IPv4 and
# one over IPv6, stops the server as Ctrl-C would, and labels who said what.
set -euo pipefail
# shellcheck source=tests/lesson_lib.sh
source "$(dirname "$0")/lesson_lib.sh"

if [ ! -x ./server ] || [ ! -x ./client ]; then die "build first: make"; fi

echo "== make demo: one server, two clients, one terminal"
echo
say "./server 0        # port 0: the kernel picks a free port"
start_server ./server 0
show server "$work/server.out"

say "./client 127.0.0.1 $port        # over IPv4"
run_client "$work/client4" ./client 127.0.0.1 "$port"
show server "$work/server.out"
show client "$work/client4"

if ipv6_ok; then
    say "./client ::1 $port              # over IPv6, to the same socket"
    run_client "$work/client6" ./client ::1 "$port"
    show server "$work/server.out"
    show client "$work/client6"
else
    echo "(no IPv6 here: ::1 is missing or the server fell back to IPv4; skipping it)"
fi

say "kill -INT $server_pid        # what Ctrl-C in the server's terminal does"
stop_server
show server "$work/server.out"
show server "$work/server.err"
echo
echo "The server exited with status 0; nothing is left running."
printf '%s\n' 'Each client received 26 bytes: "Thank you for connecting" and \r\n.'
echo "Next: make trace (the system calls), make packets (the TCP packets)."
