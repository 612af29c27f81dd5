#!/usr/bin/env bash
# tests/peers.sh - the pair against real peers that nobody here wrote.  curl
# and nc speak first (a request, a line), which once made the server's close
# send a RST that could cost them the greeting: every run must get it whole.
# nc -l plays a banner server that keeps the connection open.
set -u
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
runs=${PEER_RUNS:-30}
greeting=$'Thank you for connecting\r\n'

# every NAME CMD...: CMD (output in $work/got) must print the greeting each run.
every() {
    local name=$1 bad=0 i
    shift
    for ((i = 0; i < runs; i++)); do
        if ! timeout 5 "$@" >"$work/got" 2>/dev/null || [ "$(cat "$work/got"; echo .)" != "$greeting." ]; then
            bad=$((bad + 1))
        fi
    done
    if [ "$bad" -eq 0 ]; then pass "$name: $runs of $runs greeted"; else fail "$name: $bad of $runs failed"; fi
}

start_server ./server 0 || exit 1
addresses=(127.0.0.1)
if ./client -t 1 ::1 "$port" >/dev/null 2>&1; then addresses+=('[::1]'); else skip "IPv6 peers" "no ::1 on this machine"; fi
for a in "${addresses[@]}"; do
    if command -v curl >/dev/null; then
        every "curl --http0.9 http://$a:PORT/" curl -s --http0.9 "http://$a:$port/"
    else skip "curl to $a" "curl is not installed: apt-get install curl"; fi
    if nc -h 2>&1 | grep -q 'OpenBSD netcat'; then
        every "nc -N $a PORT with a request" sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -N "$1" "$2"' sh "${a//[\[\]]/}" "$port"
    else skip "nc to $a" "OpenBSD nc is not installed: apt-get install netcat-openbsd"; fi
done
stop_server

if ! command -v ss >/dev/null; then skip "banner server" "ss is not installed: apt-get install iproute2"
elif nc -h 2>&1 | grep -q 'OpenBSD netcat'; then
    banner_port=$((20000 + RANDOM % 20000))
    { printf 'SSH-2.0-Banner\r\n'; sleep 3; } | timeout 5 nc -l 127.0.0.1 "$banner_port" >/dev/null &
    wait_until 30 sh -c "ss -ltn 'sport = :$banner_port' | grep -q LISTEN"
    ./client -t 1 127.0.0.1 "$banner_port" >"$work/got" 2>"$work/err"
    status=$?
    if [ "$status" -eq 1 ] && [ "$(cat "$work/got")" = $'SSH-2.0-Banner\r' ] && grep -q 'timed out' "$work/err"; then
        pass "client shows nc -l's banner, then says it timed out"
    else
        fail "client against nc -l: status $status, got $(cat -v "$work/got") $(cat "$work/err")"
    fi
    wait
else skip "banner server" "OpenBSD nc is not installed: apt-get install netcat-openbsd"; fi
finish peers
