#!/usr/bin/env bash
# two_hosts.sh - the pair across a real network hop.
#
# Makes two network namespaces joined by a veth pair, with addresses from
# the documentation ranges (192.0.2.0/24, 2001:db8::/64) that exist only in
# them, runs the server in one and the client in the other, and removes it
# all on the way out.  Also checks that a connect to a black-holed address
# is bounded by the client's -t.  Needs root and ip (iproute2).
set -euo pipefail
cd "$(dirname "$0")/../.."
pair_dir=${PAIR_DIR:-.}
scale=${TIME_SCALE:-1}

skip_all() {
    echo "SKIPPED: two hosts: $1"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "network namespaces need root"
command -v ip >/dev/null || skip_all "ip (iproute2) is not installed"

srv_ns="abuse-$$-server"       # names unique to this run
cli_ns="abuse-$$-client"
veth_srv="ab$$s"
veth_cli="ab$$c"
work=$(mktemp -d)
server_pid=""

cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    # Anything still inside the namespaces is ours: they exist only for this run.
    for ns in "$srv_ns" "$cli_ns"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    ip netns del "$srv_ns" 2>/dev/null || true
    ip netns del "$cli_ns" 2>/dev/null || true
    ip link del "$veth_srv" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! ip netns add "$srv_ns" 2>"$work/netns.err"; then
    skip_all "cannot make a network namespace: $(cat "$work/netns.err")"
fi
ip netns add "$cli_ns"
in_srv() { ip netns exec "$srv_ns" "$@"; }
in_cli() { ip netns exec "$cli_ns" "$@"; }

ip link add "$veth_srv" type veth peer name "$veth_cli"
ip link set "$veth_srv" netns "$srv_ns"
ip link set "$veth_cli" netns "$cli_ns"
in_srv ip link set lo up
in_cli ip link set lo up
in_srv ip addr add 192.0.2.1/24 dev "$veth_srv"
in_cli ip addr add 192.0.2.2/24 dev "$veth_cli"
in_srv ip -6 addr add 2001:db8::1/64 dev "$veth_srv" nodad
in_cli ip -6 addr add 2001:db8::2/64 dev "$veth_cli" nodad
in_srv ip link set "$veth_srv" up
in_cli ip link set "$veth_cli" up
# The black hole: the client side sends 198.51.100.0/24 to the server side,
# which does not forward, so every SYN is dropped without an answer.
in_cli ip route add 198.51.100.0/24 via 192.0.2.1
in_srv sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'

passed=0
failed=0
pass() { echo "[       OK ] $1"; passed=$((passed + 1)); }
fail() { echo "[  FAILED  ] $1: $2"; failed=$((failed + 1)); }

# The server as a learner runs it: no options, port 9999, every address.
# (ip netns exec, not in_srv: ip execs the server, so $! is the server.)
ip netns exec "$srv_ns" "$pair_dir/server" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 50); do
    grep -q '^Listening on ' "$work/server.out" && break
    sleep 0.1
done
if ! grep -q '^Listening on ' "$work/server.out"; then
    echo "server did not start: $(cat "$work/server.err")"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "server in $srv_ns: $(head -n 1 "$work/server.out")"
printf 'Thank you for connecting\r\n' >"$work/expected"

# greeted NAME SERVER-ADDRESS LOGGED-CLIENT-ADDRESS
greeted() {
    local name=$1 address=$2 logged=$3 status=0
    in_cli timeout $((30 * scale)) "$pair_dir/client" -t 5 "$address" \
        >"$work/$name.out" 2>"$work/$name.err" || status=$?
    if [ "$status" -ne 0 ]; then
        fail "$name" "client exit $status: $(cat "$work/$name.err")"
    elif ! cmp -s "$work/expected" "$work/$name.out"; then
        fail "$name" "client printed something other than the greeting"
    elif ! grep -Eq "^Got a connection from $logged:[0-9]+\$" "$work/server.out"; then
        fail "$name" "the server's log does not name $logged"
    else
        pass "$name"
        grep -E "^Got a connection from $logged:" "$work/server.out" | sed 's/^/    /'
    fi
}

greeted client_in_other_namespace_gets_greeting_over_ipv4 192.0.2.1 '192\.0\.2\.2'
greeted client_in_other_namespace_gets_greeting_over_ipv6 2001:db8::1 '\[2001:db8::2\]'

name=client_is_refused_by_a_closed_port_on_the_other_host
status=0
in_cli timeout $((30 * scale)) "$pair_dir/client" -t 5 192.0.2.1 9998 \
    >"$work/refused.out" 2>"$work/refused.err" || status=$?
if [ "$status" -eq 1 ] && grep -q 'Connection refused' "$work/refused.err" &&
    [ ! -s "$work/refused.out" ]; then
    pass "$name"
    sed 's/^/    /' "$work/refused.err"
else
    fail "$name" "exit $status: $(cat "$work/refused.err")"
fi

name=client_connect_to_black_hole_is_bounded_by_timeout
status=0
start=$(date +%s%N)
in_cli timeout $((30 * scale)) "$pair_dir/client" -t 2 198.51.100.7 \
    >"$work/hole.out" 2>"$work/hole.err" || status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
if [ "$status" -eq 1 ] && grep -q 'timed out' "$work/hole.err" &&
    [ "$elapsed_ms" -ge 1900 ] && [ "$elapsed_ms" -le $((5000 * scale)) ]; then
    pass "$name"
    echo "    exit 1 after $elapsed_ms ms: $(cat "$work/hole.err")"
else
    fail "$name" "exit $status after $elapsed_ms ms: $(cat "$work/hole.err")"
fi

name=server_exits_0_on_sigterm
status=0
kill -TERM "$server_pid"
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" -eq 0 ] && [ ! -s "$work/server.err" ]; then
    pass "$name"
else
    fail "$name" "exit $status, stderr: $(cat "$work/server.err")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
