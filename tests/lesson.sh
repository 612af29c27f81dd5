#!/usr/bin/env bash
# tests/lesson.sh - the lesson stays true.  Four kinds of check:
#
# 1. README.md's ```console blocks run: each "$ " line in turn, in bash, and
#    what the README shows under it must be what it prints (ports and pids
#    aside); after `make TARGET` or `lesson/SCRIPT`, the rest of the block is
#    what that one command printed.  LESSON_GOT=DIR keeps what each block
#    printed there (got.N), to put in the README when the programs change.
# 2. README.md's ```c blocks after <!-- from FILE --> are FILE's own lines.
# 3. The first version and the exercises' solutions build without a warning
#    and do what the README says.
# 4. make demo, make trace and make packets do what the README says.
#
# As root it runs in a machine of its own: a network namespace with only
# loopback, named `lesson`, with Debian's /etc/hosts (127.0.1.1 lesson,
# ::1 and 127.0.0.1 localhost) and no DNS, so no name lookup leaves it.
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the inner shell, or by verdict
set -u
if [ -z "${LESSON_ALONE:-}" ] && [ "$(id -u)" = 0 ] && unshare -m -u -n true 2>/dev/null; then
    dir=$(mktemp -d)
    printf '%s\n' '127.0.0.1 localhost' '127.0.1.1 lesson' '::1 localhost ip6-localhost' >"$dir/hosts"
    echo 'hosts: files' >"$dir/nsswitch.conf"
    LESSON_ALONE=1 unshare -m -u -n sh -c 'mount --bind "$1/hosts" /etc/hosts &&
        mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf && hostname lesson &&
        ip link set lo up && exec bash "$0"' "$0" "$dir"
    status=$?
    rm -rf "$dir"
    exit "$status"
fi
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
alone=${LESSON_ALONE:-}
unset MAKELEVEL MAKEFLAGS MFLAGS  # make demo runs as a user's would
ipv6=$(grep -qs '^0*1 ' /proc/net/if_inet6 && echo yes)
export LC_ALL=C

# ---- 1 and 2: README.md's console and c blocks ------------------------------
# Splits README.md into $work/block.N (what the block shows), with its kind,
# and the file it quotes, in $work/about.N; says how many blocks.
blocks=$(awk -v dir="$work" '
    /^<!-- from: .* -->$/ { about = $3; next }
    /^```/ && !in_block { in_block = 1; kind = substr($0, 4); n++
                          printf "%s %s\n", kind, about > (dir "/about." n); about = ""; next }
    /^```$/ { in_block = 0; next }
    in_block { print > (dir "/block." n) }
    !in_block && !/^$/ { about = "" }
    END { print n }' README.md)

normalize() { sed -E 's/\r$//; s/(kill( -[A-Z]+)?|talking_client) [0-9]+/\1 PID/g; s/\b[0-9]{5}\b/PORT/g'; }
started='' # the pid of the server a check started, killed on the way out
left_running() { [ -z "$started" ] || { kill -CONT "$started"; kill -KILL "$started"; } 2>/dev/null; }
at_exit left_running
# console_block N: runs block N's commands; what each printed is in $work/got.N.
# A block that starts with `make TARGET` or `lesson/SCRIPT` runs that one
# command: the rest of the block is what it printed.
console_block() {
    local line status=0
    while IFS= read -r line; do
        if [[ $line == '$ '* ]]; then
            echo "$line"
            timeout 60 bash -c "(exit $status); ${line#\$ }" 2>&1 </dev/null
            status=$?
            [[ $line != '$ make '* && $line != '$ lesson/'* ]] || break
        fi
    done <"$work/block.$1" >"$work/got.$1"
}
for ((n = 1; n <= blocks; n++)); do
    about=$work/about.$n
    read -r kind what <"$about"
    name="README block $n ($(grep -m1 '^\$ ' "$work/block.$n" 2>/dev/null | cut -c3-42))"
    if [ "$kind" = c ] && [ -n "$what" ]; then
        if [[ $(<"$what") == *"$(<"$work/block.$n")"* ]]; then pass "README quote $n is $what's"; else
            fail "README quote $n is not in $what: copy it again"; sed 's/^/    /' "$work/block.$n"
        fi
    elif [ "$kind" = console ]; then
        if [ -z "$alone" ]; then skip "$name" "needs root, for a network and /etc/hosts of its own"; continue; fi
        if [ -z "$ipv6" ] && grep -q '::1' "$work/block.$n"; then skip "$name" "no IPv6 loopback here"; continue; fi
        console_block "$n"
        [ -z "${LESSON_GOT:-}" ] || cp "$work/got.$n" "$LESSON_GOT/"  # to update the README
        if diff <(normalize <"$work/block.$n") <(normalize <"$work/got.$n") >"$work/diff"; then pass "$name"; else
            fail "$name printed something else (< README, > real)"; sed 's/^/    /' "$work/diff" | head -n 30
        fi
    fi
done

# ---- 3: the first version and the solutions ----------------------------------
build() {
    local cc=$1 src=$2
    "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -o "$work/$(basename "$src" .c)" \
        "$src" >"$work/build.log" 2>&1 && [ ! -s "$work/build.log" ]
}
for src in lesson/first/*.c lesson/solutions/*.c; do
    for cc in cc clang; do
        command -v "$cc" >/dev/null || { skip "$src builds with $cc" "$cc is not installed"; continue; }
        if build "$cc" "$src"; then pass "$src builds with $cc, no warning"; else
            fail "$src with $cc"; sed 's/^/    /' "$work/build.log"
        fi
    done
done
# verdict NAME 'TEST': pass if the shell command TEST succeeds.
verdict() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# ---- 4: make demo, make trace (make packets, which needs root, at the end) ----
timeout 60 lesson/demo.sh >"$work/demo" 2>&1
# shellcheck disable=SC2034 # read by verdict
greetings=${ipv6:+2}; greetings=${greetings:-1}
verdict "make demo: the greeting over IPv4${ipv6:+ and IPv6}, then refused once the server is gone" \
    '[ "$(grep -c "^client | Thank you for connecting\$" "$work/demo")" = $greetings ] &&
     grep -q "^client | .*Connection refused" "$work/demo"'
# calls SIDE FILE: the calls SIDE made, in C's names, one line each.
calls() {
    sed -n "s/^.* $1 | \([a-z0-9_]*\)(.*/\1/p" "$2" |
        sed 's/^sendto$/send/; s/^recvfrom$/recv/; s/^accept4$/accept/; s/^ppoll$/poll/'
}
# follows_sample: each side's calls in the README's sample (an excerpt) come
# in that order in a live make trace, other calls between them or not.
follows_sample() {
    local side
    sed -n '/^<!-- sample: trace -->$/,/^```$/p' README.md >"$work/sample"
    for side in server client; do
        calls "$side" "$work/sample" >"$work/want"
        calls "$side" "$work/trace" >"$work/got"
        awk 'NR == FNR { want[++n] = $0; next } i < n && $0 == want[i + 1] { i++ }
             END { if (i < n) print "'"$side"': no " want[i + 1] " where the sample has it"; exit i < n }' \
            "$work/want" "$work/got" || return 1
    done
}
if ! strace -o /dev/null true 2>/dev/null; then skip "make trace" "strace is missing or may not trace here"; else
    timeout 60 lesson/trace.sh >"$work/trace" 2>&1
    verdict "make trace: the calls of the README's sample, in its order" follows_sample
fi
bin=$work
if [ -z "$alone" ]; then
    skip "the first version and the exercises" "need root, for a network and /etc/hosts of their own"
    finish lesson
    exit
fi

# Each server on port 9999 gets a network of its own (a namespace with only
# loopback): the TIME_WAIT of one's connections would refuse the next's bind.
ns='' k=0
network() { [ -z "$ns" ] || ip netns del "$ns"; ns=''; }
at_exit network
net() { ip netns exec "$ns" "$@"; }
# serve CMD...: in a new network, starts a server on 9999 and waits until it
# listens (TCP or UDP).
serve() {
    network
    ns=lesson-$$-$((k += 1))
    ip netns add "$ns" && ip -n "$ns" link set lo up || return 1
    ip netns exec "$ns" "$@" >"$work/serve.out" 2>&1 &
    started=$!
    net bash -c 'for _ in $(seq 50); do grep -qsE ":270F 0+:0+ (0A|07) " /proc/net/tcp /proc/net/udp && exit; sleep 0.1; done; exit 1'
}
unserve() { kill "$started"; wait "$started"; started=''; } 2>/dev/null
crlf() { printf 'Thank you for connecting\r\n'; }

serve "$bin/server"
verdict "first version: the client prints the greeting as the Python lesson does" \
    'cmp -s <(net timeout 5 "$bin/client") <(printf "The time got from the server is "; crlf; echo)'
unserve

# Exercise 1.  Past what the kernel may buffer (both sides' send and receive
# buffers at their largest), a client that writes everything before it reads
# waits for ever; the one that polls gets it all back.
read -r _ _ wmax </proc/sys/net/ipv4/tcp_wmem
read -r _ _ rmax </proc/sys/net/ipv4/tcp_rmem
big=$((2 * (wmax + rmax) + (8 << 20)))
serve "$bin/echo-server"
head -c 1000000 /dev/urandom >"$work/1mb"
verdict "exercise 1: 1 MB comes back as it was" 'cmp -s "$work/1mb" <(net timeout 20 "$bin/echo-client" <"$work/1mb")'
head -c "$big" /dev/zero | net timeout 5 "$bin/echo-client" >/dev/null
status=$?
verdict "exercise 1: $((big >> 20)) MB: both sides wait for ever (still running after 5 s)" '[ $status = 124 ]'
n=$(head -c "$big" /dev/zero | net timeout 60 "$bin/echo-client-poll" | wc -c)
verdict "exercise 1: $((big >> 20)) MB come back whole to the client that polls" '[ "$n" = "$big" ]'
unserve

# Exercise 2.  A child per client; every child reaped.  zombies PID: how many
# of PID's children are zombies (state Z in /proc/CHILD/stat).
zombies() {
    local c z=0
    for c in $(children "$1"); do grep -q '^[0-9]* (.*) Z' "/proc/$c/stat" 2>/dev/null && z=$((z + 1)); done
    [ "$z" = 0 ]
}
has_zombies() { ! zombies "$@"; }
many_clients() { for _ in $(seq 20); do echo hi | net timeout 5 "$bin/echo-client" >/dev/null; done; }
serve "$bin/fork-server"
mkfifo "$work/silence" && exec 7<>"$work/silence"  # open, and nothing comes
ip netns exec "$ns" timeout 10 "$bin/echo-client" <"$work/silence" >/dev/null &
silent=$!
verdict "exercise 2: a client is served while another one is connected" \
    '[ "$(echo hello | net timeout 5 "$bin/echo-client")" = hello ]'
many_clients
verdict "exercise 2: no zombie after 21 clients" 'wait_until 50 zombies "$started"'
kill "$silent"
wait "$silent"
exec 7>&-
unserve
if getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
    sed 's/check(sigaction(SIGCHLD, &sa, NULL), "sigaction");/signal(SIGCHLD, reap);/' \
        lesson/solutions/fork-server.c >"$work/signal-server.c"
    build cc "$work/signal-server.c"
    serve "$bin/signal-server"
    many_clients
    sleep 0.5
    verdict "exercise 2: with glibc's signal() in a POSIX build, zombies stay" 'has_zombies "$started"'
    unserve
else
    skip "exercise 2: with signal(), zombies stay" "that is glibc's signal(), and this C library is another"
fi

# Exercise 3: on the silent-first name of tests/hosts.sh, the raced client
# connects long before the client that gives the silent address its share.
if ! command -v ip >/dev/null; then skip "exercise 3: silent-first, raced" "needs ip (iproute2)"; else
    # shellcheck source=tests/hosts.sh
    source tests/hosts.sh
    if ! hosts_up 2>"$work/hosts.err"; then skip "exercise 3: silent-first, raced" "cannot make two hosts: $(cat "$work/hosts.err")"; else
        ip netns exec "$ns_a" ./server 0 >"$work/a.out" 2>&1 &
        started=$!
        wait_until 50 grep -q '^Listening' "$work/a.out"
        a_port=$(sed -n 's/^Listening on .*:\([0-9]*\)$/\1/p' "$work/a.out")
        took() {
            local t
            t=$(date +%s%N)
            in_b timeout 10 "$@" silent-first "$a_port" >"$work/b.out" 2>&1 && cmp -s "$work/b.out" <(crlf) || return 1
            echo $((($(date +%s%N) - t) / 1000000))
        }
        one=$(took ./client -t 4) raced=$(took "$bin/raced-client")
        verdict "exercise 3: silent-first: raced in ${raced:-?} ms, one after the other in ${one:-?} ms" \
            '[ -n "$one" ] && [ -n "$raced" ] && [ "$raced" -lt "$one" ]'
        unserve
    fi
fi

# Exercise 4: the request of a client started before the server is lost; the
# client asks again a second later and gets the greeting.
network
ns=lesson-$$-udp
ip netns add "$ns" && ip -n "$ns" link set lo up
net timeout 10 "$bin/udp-client" >"$work/udp.out" 2>"$work/udp.err" &
client=$!
sleep 0.3
ip netns exec "$ns" "$bin/udp-server" >"$work/serve.out" 2>&1 &
started=$!
wait "$client"
status=$?
verdict "exercise 4: the first request lost, the second answered" \
    '[ $status = 0 ] && cmp -s "$work/udp.out" <(crlf) && grep -q "attempt 1 of 3" "$work/udp.err"'
unserve
network

# ---- 4, as root: make packets ---------------------------------------------------
# The window scale in the SYN is log2(max(tcp_rmem[2], rmem_max)) - 15, as the README says.
if ! command -v tcpdump >/dev/null; then skip "make packets" "needs tcpdump"; else
    timeout 60 lesson/packets.sh >"$work/packets" 2>&1
    verdict "make packets: a handshake, 26 bytes, the server's FIN first, no reset" \
        'grep -q "^1 server FIN" "$work/packets" && ! grep -q RST "$work/packets"'
    ./server 0 >"$work/serve.out" 2>&1 &
    started=$!
    wait_until 50 grep -q Listening "$work/serve.out"
    p=$(sed -n 's/^Listening on .*:\([0-9]*\)$/\1/p' "$work/serve.out")
    timeout 10 tcpdump -i lo -nn -v -c 1 "tcp[tcpflags] == tcp-syn and port $p" >"$work/syn" 2>/dev/null &
    dump=$!
    sleep 1
    timeout 5 ./client 127.0.0.1 "$p" >/dev/null
    wait "$dump"
    unserve
    read -r _ _ r </proc/sys/net/ipv4/tcp_rmem
    space=$(( r > $(cat /proc/sys/net/core/rmem_max) ? r : $(cat /proc/sys/net/core/rmem_max) ))
    log2=0; while [ $((1 << (log2 + 1))) -le "$space" ]; do log2=$((log2 + 1)); done
    verdict "the SYN's wscale is log2($space) - 15 = $((log2 - 15))" 'grep -q "wscale $((log2 - 15))\b" "$work/syn"'
fi
finish lesson
