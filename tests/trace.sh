#!/usr/bin/env bash
# trace.sh - the exchange of make demo under strace (make trace).
#
# Shows the socket system calls of the server and of each client, as the
# kernel sees them.  TRACE_ALL=1 also shows the calls made before the
# program's first TCP socket (the loader and getaddrinfo's own sockets).
set -euo pipefail
# shellcheck source=tests/lesson_lib.sh
source "$(dirname "$0")/lesson_lib.sh"

calls=socket,setsockopt,bind,listen,accept,accept4,getsockname,send,sendto,recv,recvfrom,connect,shutdown,close

if [ ! -x ./server ] || [ ! -x ./client ]; then die "build first: make"; fi
if ! command -v strace >/dev/null; then
    echo "make trace needs strace, which is not installed. On Debian or Ubuntu:" >&2
    echo "    sudo apt-get install strace" >&2
    exit 1
fi
if ! strace -o /dev/null true 2>"$work/probe"; then
    echo "strace cannot trace programs here (ptrace is not permitted):" >&2
    sed 's/^/    /' "$work/probe" >&2
    echo "Inside a container, allow ptrace (e.g. docker run --cap-add=SYS_PTRACE);" >&2
    echo "elsewhere see /proc/sys/kernel/yama/ptrace_scope." >&2
    exit 1
fi

# skip_start FILE: unless TRACE_ALL=1, marks every line before the program's
# first TCP socket as shown, and says how many were left out.
skip_start() {
    local first
    [ "${TRACE_ALL:-0}" = 1 ] && return 0
    first=$(grep -n -m 1 '^socket(AF_INET6\{0,1\}, SOCK_STREAM' "$1" | cut -d: -f1)
    [ -n "$first" ] || die "no TCP socket() in the trace $1"
    shown[$1]=$((first - 1))
    if [ "$first" -gt 1 ]; then
        printf '       (%d earlier calls left out, made by %s;\n' "$((first - 1))" "$2"
        printf '        make trace TRACE_ALL=1 shows them)\n'
    fi
}

# in_accept FILE: the last line of FILE is an unfinished accept (the server waits).
in_accept() {
    [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" != '\n' ] &&
        tail -n 1 "$1" | grep -q '^accept4*('
}

# show_waiting: the server's trace so far, then the call it is blocked in.
show_waiting() {
    wait_until 50 in_accept "$work/server.tr" || die "the server is not waiting in accept()"
    show server "$work/server.tr"
    printf 'server | %s ...    <- blocked: accept() waits for a client\n' \
        "$(tail -n 1 "$work/server.tr")"
}

trace_client() {
    local name=$1 host=$2
    say "strace ./client $host $port"
    run_client "$work/$name" strace -o "$work/$name.tr" -e trace="$calls" ./client "$host" "$port"
    skip_start "$work/$name.tr" "the loader"
    show client "$work/$name.tr"
    show_waiting
}

echo "== make trace: the exchange of make demo, as the kernel sees it"
echo "strace -e trace=$calls"
echo "shows only these system calls; each program's calls are in order, and"
echo "the two programs run side by side, meeting at connect/accept and send/recv."
echo

say "strace ./server 0"
start_server strace -o "$work/server.tr" -e trace="$calls" ./server 0
wait_until 50 in_accept "$work/server.tr" || die "the server is not waiting in accept()"
skip_start "$work/server.tr" "the loader and by getaddrinfo()"
show_waiting

trace_client client4 127.0.0.1
if ipv6_ok; then
    trace_client client6 ::1
fi

say "kill -INT $server_pid        # Ctrl-C"
stop_server
show server "$work/server.tr"

cat <<'EOF'

How to read it:
- The C calls send() and recv() reach the kernel as sendto() and recvfrom()
  with no address (glibc's send and recv are built on them): that is what
  strace shows.
- accept() returns a NEW socket (4) for this one client; 3 keeps listening.
- The client's first recvfrom() returns 26 bytes; its second returns 0: the
  server closed its side (a FIN), which is how the client knows it has all.
- Ctrl-C interrupts the waiting accept() (ERESTARTSYS); the server's SIGINT
  handler then exits with status 0.
EOF
