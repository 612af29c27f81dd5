#!/usr/bin/env bash
# steps.sh STEP - from the first version (lesson/first) to ./server and
# ./client, one step at a time: does the same thing to both and shows what
# each printed.  README.md's "From the first version to server.c" runs each.
#
#   addresses   a client over IPv4 and one over IPv6
#   restart     the server restarted right after a client
#   pieces      a greeting that comes in two pieces
#   vanish      a client that ends its side and resets while queued
#   reset       a client that speaks first
#   time-limit  a server that accepts the handshake, then says nothing
#
# Both servers use port 9999, as the Python lesson does.  As root each step
# gets a network of its own (a network namespace with only loopback), so no
# other program, and no earlier step's TIME_WAIT, is in the way.
# shellcheck disable=SC2016 # single quotes on purpose: the command as shown
set -u
cd "$(dirname "$0")/.." || exit 1
step=${1:-}
case $step in
addresses | restart | pieces | vanish | reset | time-limit) ;;
*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
# Each part of a step (the first version's, then server.c's) runs on its own:
# as root in a network of its own, so that the TIME_WAIT of one part's
# connections cannot change what the next sees.
part=${2:-}
if [ -z "$part" ]; then
    case $step in pieces | time-limit) parts=both ;; *) parts='first real' ;; esac
    for part in $parts; do
        if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
            V6OFF=$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 0) \
                unshare -n sh -c 'ip link set lo up &&
                { [ "$V6OFF" != 1 ] || echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6; } &&
                exec "$0" "$1" "$2"' "$0" "$step" "$part" || exit
        else
            "$0" "$step" "$part" || exit
        fi
    done
    exit 0
fi
# 9999 in hex, and TCP states 0A (listening) and 06 (TIME_WAIT) in /proc/net/tcp.
port_in() { grep -qs ":270F [0-9A-F]*:[0-9A-F]* $1 " /proc/net/tcp /proc/net/tcp6; }
if port_in 0A || port_in 06; then
    echo "steps: port 9999 is in use here, or held by connections in TIME_WAIT (for up" >&2
    echo "to a minute). Wait, or run as root: each part then gets a network of its own." >&2
    exit 1
fi

# The first version, built as the Makefile builds server.c.
for f in server client; do
    [ lesson/first/$f -nt lesson/first/$f.c ] ||
        ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic \
            -o lesson/first/$f lesson/first/$f.c || exit 1
done

work=$(mktemp -d "${TMPDIR:-/tmp}/steps.XXXXXX")
server_pid='' shown=0
trap '[ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# serve CMD...: starts the server CMD, shows it (with $why), waits until it
# listens.
serve() {
    [ -n "${quiet:-}" ] || echo "\$ $* &${why:+        # $why}"
    "$@" >"$work/server.out" 2>&1 &
    server_pid=$! shown=0
    for _ in $(seq 50); do port_in 0A && break; sleep 0.1; done
    shown=$(wc -l <"$work/server.out")  # "Listening on ...", or nothing
}
# said: what the server printed since the last call.
said() {
    tail -n "+$((shown + 1))" "$work/server.out" | sed 's/^/server | /'
    shown=$(wc -l <"$work/server.out")
}
# stop: stops the server, and shows what it printed last.  A stopped server
# dies of the SIGTERM as soon as it is continued, before it can run on.
stop() {
    kill "$server_pid"
    kill -CONT "$server_pid" 2>/dev/null
    { wait "$server_pid"; } 2>/dev/null
    server_pid=''
    said
}
# ended: waits for the server (5 s at most), then shows what it printed and
# its status.
ended() {
    local status=0
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null && echo "(the server still ran 5 s later: killed)"
    { wait "$server_pid" || status=$?; } 2>/dev/null
    server_pid=''
    said
    echo "(the server's exit status: $status$([ "$status" -gt 128 ] && echo ", killed by SIG$(kill -l "$status")"))"
}
# run CMD...: runs a client (10 s at most), shows what it and the server said;
# $shown_as is how the command line is shown, if not as it is.
run() {
    local status=0
    echo "\$ ${shown_as:-$*}"
    # A peer of this script is a function: bash -c runs it, bounded too.
    # shellcheck disable=SC2163 # exports the function named in $1
    if declare -F "$1" >/dev/null; then export -f "$1"; set -- bash -c "$1"' "$@"' "$@"; fi
    timeout 10 "$@" >"$work/client.out" 2>&1 || status=$?
    said
    tr -d '\r' <"$work/client.out" | sed 's/^/client | /'
    [ "$status" -le 1 ] || echo "(the client's exit status: $status)"
    shown_as=''
}
# A few lines of Perl (on every Debian) stand in for peers that misbehave.
# pieces_server: sends "Thank you ", then the rest once the client has hung
# up or a second has passed.
pieces_server() {
    exec perl -MSocket -e 'socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
        setsockopt($l, SOL_SOCKET, SO_REUSEADDR, 1); $SIG{PIPE} = "IGNORE";
        bind($l, pack_sockaddr_in(9999, INADDR_ANY)) or die "bind: $!\n";
        listen($l, 5) or die "listen: $!\n";
        while (accept(my $c, $l)) {
            syswrite($c, "Thank you "); vec(my $r = "", fileno($c), 1) = 1;
            select($r, undef, undef, 1); syswrite($c, "for connecting\r\n"); close($c);
        }'
}
# vanishing_client: connects, ends its side (FIN), then resets (SO_LINGER 0).
vanishing_client() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
        connect($s, pack_sockaddr_in(9999, inet_aton($ARGV[0]))) or die "connect: $!\n";
        shutdown($s, 1); setsockopt($s, SOL_SOCKET, SO_LINGER, pack("ii", 1, 0));
        close($s); print "sent a FIN, then a RST\n"' "$(hostname)"
}
# talking_client PID: says hello, lets the stopped server PID go on, then
# reads to the end and tells how it ended: with the server's FIN, or a reset.
talking_client() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
        connect($s, pack_sockaddr_in(9999, inet_aton($ARGV[0]))) or die "connect: $!\n";
        syswrite($s, "hello\n"); kill "CONT", $ARGV[1]; $| = 1;
        while (1) {
            my $n = sysread($s, my $piece, 1024);
            if (!defined $n) { print "recv: $!\n"; exit 1 }
            if ($n == 0) { print "recv: 0, the end (the server'"'"'s FIN)\n"; exit 0 }
            print "recv: $piece";
        }' "$(hostname)" "$1"
}

case $step-$part in
addresses-first)
    why="one IPv4 socket, on the address of this machine's name" serve lesson/first/server
    run ./client 127.0.0.1
    run ./client ::1
    stop ;;
addresses-real)
    serve ./server
    run ./client 127.0.0.1
    run ./client ::1
    stop ;;
restart-first)
    serve lesson/first/server
    shown_as='./client "$(hostname)"        # reads to the end: the server hangs up first'
    run ./client "$(hostname)"
    shown_as=''
    echo "\$ kill $server_pid; lesson/first/server"
    stop
    lesson/first/server >"$work/server.out" 2>&1 & server_pid=$! shown=0
    ended ;;
restart-real)
    serve ./server
    run ./client
    echo "\$ kill $server_pid; ./server &"
    stop
    quiet=1 serve ./server
    shown=0
    stop ;;
pieces-both)
    why="sends \"Thank you \", then the rest a moment later" serve pieces_server
    run lesson/first/client
    run ./client 127.0.0.1
    stop ;;
vanish-first)
    serve lesson/first/server
    echo "\$ kill -STOP $server_pid        # busy elsewhere: a client waits in the queue"
    kill -STOP "$server_pid"
    run vanishing_client
    echo "\$ kill -CONT $server_pid"
    kill -CONT "$server_pid" 2>/dev/null
    ended ;;
vanish-real)
    serve ./server
    echo "\$ kill -STOP $server_pid"
    kill -STOP "$server_pid"
    run vanishing_client
    echo "\$ kill -CONT $server_pid"
    kill -CONT "$server_pid" 2>/dev/null
    run ./client
    stop ;;
reset-first)
    serve lesson/first/server
    echo "\$ kill -STOP $server_pid        # so that the hello comes first"
    kill -STOP "$server_pid"
    shown_as="talking_client $server_pid        # hello, kill -CONT $server_pid, then read"
    run talking_client "$server_pid"
    stop ;;
reset-real)
    serve ./server
    echo "\$ kill -STOP $server_pid"
    kill -STOP "$server_pid"
    shown_as="talking_client $server_pid"
    run talking_client "$server_pid"
    stop ;;
time-limit-both)
    serve ./server
    echo "\$ kill -STOP $server_pid        # its kernel still completes handshakes"
    kill -STOP "$server_pid"
    echo "\$ timeout 3 lesson/first/client        # without timeout it would wait for ever"
    status=0
    timeout 3 lesson/first/client >"$work/client.out" 2>&1 || status=$?
    sed 's/^/client | /' "$work/client.out"
    echo "(the client's exit status: $status$([ "$status" = 124 ] && echo ": still waiting, killed by timeout"))"
    run ./client -t 1
    stop ;;
esac
