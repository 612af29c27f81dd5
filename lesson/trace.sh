#!/usr/bin/env bash
# trace.sh - the exchange of make demo under strace (make trace).
#
# Traces the server and each client, then merges the traces into one list in
# the order the calls returned, so a call that waits (accept, poll) comes after
# what woke it.  Shows the socket calls from each program's first TCP socket
# on; TRACE_ALL=1 shows every call, the loader's and getaddrinfo's included.
set -euo pipefail
export LC_ALL=C   # numbers with a decimal point, for awk and sort
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"

calls=socket,setsockopt,bind,listen,accept,accept4,getsockname,connect,fcntl,poll,ppoll,getsockopt,sendto,recvfrom,shutdown,close
if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
if ! strace -o /dev/null true 2>"$work/probe"; then
    echo "make trace needs strace (apt-get install strace) and ptrace, which a" >&2
    echo "container may forbid (docker run --cap-add=SYS_PTRACE). Here strace says:" >&2
    sed 's/^/    /' "$work/probe" >&2
    echo "The README shows the output of a real run." >&2
    exit 1
fi
options=(-ttt -T)   # when each call began, and how long it took
[ "${TRACE_ALL:-0}" = 1 ] || options+=(-e "trace=$calls")

echo "== make trace: the exchange of make demo, as the kernel sees it"
echo
echo "\$ strace ./server 0 &"
start_server strace "${options[@]}" -o "$work/server.tr" ./server 0
hosts=(127.0.0.1)
grep -q '^Listening on \[' "$work/server.out" && grep -qs '^0*1 ' /proc/net/if_inet6 && hosts+=(::1)
for i in "${!hosts[@]}"; do
    echo "\$ strace ./client ${hosts[i]} $port"
    strace "${options[@]}" -o "$work/client$i.tr" ./client "${hosts[i]}" "$port" >/dev/null
done
[ ${#hosts[@]} = 2 ] || echo "(skipped ./client ::1: this machine has no IPv6 loopback)"
# Ctrl-C once the server waits in accept() again (its call begun, not ended).
in_accept() { [ -n "$(tail -c 1 "$work/server.tr")" ] && tail -n 1 "$work/server.tr" | grep -Eq ' accept4?\('; }
wait_until 50 in_accept || { echo "the server is not waiting in accept()" >&2; exit 1; }
echo "\$ kill -INT $(children "$server_pid")        # what Ctrl-C does"
stop_server INT
echo
if [ "${TRACE_ALL:-0}" = 1 ]; then echo "Every call of all three, in the order they returned (ms):"; else
    echo "The socket calls of all three from each one's first TCP socket on (TRACE_ALL=1"
    echo "shows every call), in the order they returned (ms):"
fi
awk -v all="${TRACE_ALL:-0}" '
    FNR == 1 { on = all; who = FILENAME ~ /server\.tr$/ ? "server" : "client" }
    / socket\(AF_INET6?, SOCK_STREAM/ { on = 1 }
    !on { next }
    {
        t = $1; sub(/^[^ ]+ +/, "")
        if (match($0, / <[0-9.]+>$/)) { t += substr($0, RSTART + 2, RLENGTH - 3); $0 = substr($0, 1, RSTART - 1) }
        printf "%.6f %s | %s\n", t, who, $0
    }' "$work/server.tr" "$work"/client*.tr | sort -s -n -k1,1 |
    awk '{ t = $1; sub(/^[^ ]+ /, ""); if (NR == 1) start = t; printf "%8.3f %s\n", (t - start) * 1000, $0 }'
cat <<'END'

How to read it:
- send() and recv() reach the kernel as sendto() and recvfrom().
- accept() returns a NEW socket, 4, for this one client; 3 keeps listening.
- The client's connect() returns EINPROGRESS at once (its socket is
  non-blocking while it connects); poll() waits for the handshake, a peek
  with recv() says it worked (EAGAIN: connected, nothing to read yet), and
  fcntl() makes the socket blocking again.
- The server's first poll() looks, without waiting, whether the client has
  sent anything or only the next client is queued. Neither: so shutdown()
  sends its FIN, the client's last recvfrom() returns 0, the end of the
  greeting, and the server waits (poll, recvfrom) for the client to close
  too before its own close(). (A quiet client with the next one queued is
  closed at once.)
- SIGINT (Ctrl-C) kills the server in accept(); the kernel closes its sockets.
END
