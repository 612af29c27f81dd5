#!/usr/bin/env bash
# lesson_test.sh - checks make demo, make trace, make packets and README.md.
#
# Every exchange runs in a network and PID namespace of its own (unshare):
# only its loopback exists there, port 9999 is free whatever else runs on the
# machine, and when the namespace ends the kernel kills whatever is left in it.
#
# README.md conventions this test reads:
#   <!-- check: SESSION [given: NAME] --> before a ```console block: its
#       "$ command" lines are run, in order, in SESSION's namespace (one per
#       session), and what they print must be what the README shows below
#       them, ports and pids aside.  A command whose shown output ends in ^C
#       runs in the background until the session ends, then gets SIGINT.
#       given: NAME starts something first (see start_given below).
#       one-command at the end: only the first "$ " line is a command; the
#       later ones are output (make demo shows the commands it runs).
#   <!-- diagram: call-sequence --> the ```text block of calls: the order of
#       its calls must be the order strace sees (make trace).
#   <!-- sample: trace --> and <!-- sample: packets --> real output, held to
#       the same checks as a live run.
# Every other command in a code block must be covered by a test here or be
# listed in `exempt` with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
# Run the README's make commands as a user would type them, not as part of
# the make that runs this test (which would add "Entering directory" lines).
unset MAKELEVEL MAKEFLAGS MFLAGS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lesson_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

pass() { passed=$((passed + 1)); printf 'PASS %s\n' "$1"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP %s: %s\n' "$1" "$2"; }
fail() {
    failed=$((failed + 1))
    printf 'FAIL %s: %s\n' "$1" "$2"
    if [ -n "${3:-}" ] && [ -f "$3" ]; then sed 's/^/    | /' "$3" | head -n 60; fi
}

# --- namespaces --------------------------------------------------------------

netns=()
for flags in -npf -rnpf; do   # as root; else as a user with user namespaces
    if unshare "$flags" --mount-proc --kill-child bash -c 'ip link set lo up' 2>/dev/null; then
        netns=(unshare "$flags" --mount-proc --kill-child)
        break
    fi
done

# in_netns SECONDS SCRIPT: runs bash SCRIPT in the repository, in a new
# network and PID namespace with loopback up, killed after SECONDS.
in_netns() {
    # shellcheck disable=SC2016 # $1 and $2 are bash -c's, not ours
    timeout -k 5 "$1" "${netns[@]}" bash -c 'ip link set lo up && cd "$1" && bash "$2"' \
        _ "$PWD" "$2"
}

need_netns() {
    [ ${#netns[@]} -gt 0 ] && return 0
    skip "$1" "cannot make a network namespace (needs root or user namespaces, and ip from iproute2)"
    return 1
}

# --- what the README says ----------------------------------------------------

# The README as records: "B n lang marker", "C command", "O output line".
readme_records() {
    awk '
    /^<!-- .* -->$/ { marker = $0; sub(/^<!-- */, "", marker); sub(/ *-->$/, "", marker); next }
    /^```/ && !inside {
        inside = 1; lang = substr($0, 4); n++; commands = 0
        one = (marker ~ / one-command$/)
        print "B", n, lang, marker; marker = ""; next
    }
    /^```/ && inside { inside = 0; next }
    inside && lang == "console" && /^\$ / && !(one && commands) { commands++; print "C", substr($0, 3); next }
    inside && lang == "console" { print "O", $0; next }
    inside && lang == "sh" && NF && !/^#/ { print "C", $0; next }
    !inside && NF { marker = "" }
    ' README.md
}

# block_with MARKER: the lines of the README block right after <!-- MARKER -->.
block_with() {
    awk -v want="<!-- $1 -->" '
    $0 == want { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
    ' README.md
}

# Ports and pids differ from run to run.
normalize() {
    sed -E -e 's/\r$//' -e 's/([:. ])[0-9]{5}([^0-9]|$)/\1PORT\2/g' \
        -e 's/([:. ])[0-9]{5}([^0-9]|$)/\1PORT\2/g' -e 's/kill -INT [0-9]+/kill -INT PID/'
}

# --- calls: README diagram against strace ------------------------------------

syscalls='^(socket|setsockopt|bind|listen|accept|getsockname|send|recv|connect|shutdown|close)$'

# The diagram's calls: "server NAME" or "client NAME", in order.
diagram_calls() {
    block_with "diagram: call-sequence" | awk '
    !col && /server/ && /client/ { col = index($0, "client"); next }
    col {
        line = $0; offset = 0
        while (match(line, /[a-z_]+\(\)/)) {
            side = (offset + RSTART < col) ? "server" : "client"
            print side, substr(line, RSTART, RLENGTH - 2)
            offset += RSTART + RLENGTH - 1; line = substr(line, RSTART + RLENGTH)
        }
    }'
}

# collapse: one word per line in, the same with repeats in a row merged, out
# on one line.  setsockopt twice is one step; so is a recv loop.
collapse() { uniq | paste -s -d ' ' -; }

# traced_calls SIDE N: the calls of the Nth server run (N=1) or Nth client run
# in make trace output on stdin, with glibc's names mapped to the C calls.
traced_calls() {
    awk -v side="$1" -v want="$2" '
    /^\$ strace \.\/client/ { clients++ }
    index($0, side " | ") == 1 && (side == "server" || clients == want) {
        call = substr($0, length(side) + 4); sub(/\(.*/, "", call)
        if (call ~ /^(---|\+\+\+)/) next
        if (call == "sendto") call = "send"
        if (call == "recvfrom") call = "recv"
        if (call == "accept4") call = "accept"
        print call
    }' | grep -E "$syscalls" | collapse
}

# check_trace NAME FILE CLIENTS: the calls in FILE follow the diagram.
check_trace() {
    local name=$1 file=$2 clients=$3 want_server want_client got repeat i
    want_server=$(diagram_calls | awk '$1 == "server" { print $2 }' | grep -E "$syscalls" | collapse)
    want_client=$(diagram_calls | awk '$1 == "client" { print $2 }' | grep -E "$syscalls" | collapse)
    if [[ $want_server != *accept* ]] || [[ $want_client != *connect* ]]; then
        fail "$name" "the README diagram lacks accept() or connect(): '$want_server' / '$want_client'"
        return
    fi
    # The server repeats what follows its first accept for every client.
    repeat=${want_server#* accept }
    got=$(traced_calls server 0 <"$file")
    local expect=$want_server
    for ((i = 1; i < clients; i++)); do expect+=" $repeat"; done
    if [ "$got" != "$expect" ]; then
        fail "$name" "server calls: strace shows '$got', the README diagram says '$expect'" "$file"
        return
    fi
    for ((i = 1; i <= clients; i++)); do
        got=$(traced_calls client "$i" <"$file")
        if [ "$got" != "$want_client" ]; then
            fail "$name" "client $i calls: strace shows '$got', the README diagram says '$want_client'" "$file"
            return
        fi
    done
    pass "$name"
}

# --- packets -----------------------------------------------------------------

# check_packets NAME FILE CONNECTIONS: in the labelled tcpdump lines of FILE,
# every connection shakes hands before data, carries 26 bytes from the
# server, and the server's FIN comes before the client's.
check_packets() {
    local name=$1 file=$2 want=$3 verdict
    verdict=$(awk -v want="$want" '
    / Flags \[/ {
        for (i = 1; i <= NF; i++) if ($i == "IP" || $i == "IP6") break
        src = $(i + 1); dst = $(i + 3); sub(/:$/, "", dst)
        flags = $0; sub(/.*Flags \[/, "", flags); sub(/\].*/, "", flags)
        len = $0; sub(/.*length /, "", len); len += 0
        if (flags == "S") { server[src] = dst; conns[src] = 1; order[++n] = src }
        if (src in server) { client = src; from_server = 0 } else { client = dst; from_server = 1 }
        if (!(client in conns)) { print "a packet of a connection whose SYN was not captured: " $0; bad = 1; exit }
        step[client]++
        if (flags ~ /R/) { print "a reset: " $0; bad = 1; exit }
        if (flags == "S." && from_server) synack[client] = step[client]
        if (flags == "." && !from_server && synack[client] && !hsack[client]) hsack[client] = step[client]
        if (len > 0) {
            if (!from_server) { print "data from the client: " $0; bad = 1; exit }
            if (!firstdata[client]) firstdata[client] = step[client]
            bytes[client] += len
        }
        if (flags ~ /F/ && from_server && !sfin[client]) sfin[client] = step[client]
        if (flags ~ /F/ && !from_server && !cfin[client]) cfin[client] = step[client]
    }
    END {
        if (bad) exit
        if (n != want) { print "captured " n " connections, not " want; exit }
        for (k = 1; k <= n; k++) {
            c = order[k]
            if (!(synack[c] == 2 && hsack[c] == 3)) { print c ": no SYN, SYN-ACK, ACK at the start"; exit }
            if (!(firstdata[c] > hsack[c])) { print c ": data before the handshake ended, or none"; exit }
            if (bytes[c] != 26) { print c ": " bytes[c] + 0 " bytes from the server, not 26"; exit }
            if (!(sfin[c] > firstdata[c] && cfin[c] > sfin[c])) { print c ": the server FIN must follow the data and precede the client FIN"; exit }
        }
        print "ok"
    }' "$file")
    if [ "$verdict" = ok ]; then pass "$name"; else fail "$name" "$verdict" "$file"; fi
}

# --- the tests ---------------------------------------------------------------

test_demo_greets_over_ipv4_and_ipv6_and_leaves_nothing_running() {
    local name=${FUNCNAME[0]} out=$tmp/demo.out
    need_netns "$name" || return 0
    # ps lists what is still running in the namespace once make demo is done.
    printf 'make -s demo > %q 2>&1; echo "exit $?" >> %q; ps -e -o comm= >> %q\n' \
        "$out" "$out" "$out" >"$tmp/demo.sh"
    in_netns 60 "$tmp/demo.sh" >/dev/null 2>&1 || true
    if ! grep -q '^exit 0$' "$out"; then
        fail "$name" "make demo failed" "$out"
    elif ! grep -qE '^server \| Listening on \[::\]:[0-9]+$' "$out" ||
        ! grep -qE '^server \| Got a connection from 127\.0\.0\.1:[0-9]+$' "$out" ||
        ! grep -qE '^server \| Got a connection from \[::1\]:[0-9]+$' "$out" ||
        [ "$(grep -c '^client | Thank you for connecting$' "$out")" -ne 2 ]; then
        fail "$name" "missing lines: a listening server, an IPv4 and an IPv6 client greeted" "$out"
    elif [ "$(grep -A1 '^server | Got a connection' "$out" | grep -c '^client | Thank you')" -ne 2 ]; then
        fail "$name" "each client's greeting must follow the server's log of it" "$out"
    elif sed -n '/^exit 0$/,$p' "$out" | grep -qE '^(server|client|strace|tcpdump|sleep|timeout)$'; then
        fail "$name" "processes were left running" "$out"
    else
        pass "$name"
    fi
}

ptrace_ok() { command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; }

test_trace_shows_the_calls_in_the_order_of_the_readme_diagram() {
    local name=${FUNCNAME[0]} out=$tmp/trace.out clients
    need_netns "$name" || return 0
    if ! ptrace_ok; then skip "$name" "strace is missing or may not trace here"; return 0; fi
    printf 'make -s trace > %q 2>&1; echo "exit $?" >> %q\n' "$out" "$out" >"$tmp/trace.sh"
    in_netns 60 "$tmp/trace.sh" >/dev/null 2>&1 || true
    if ! grep -q '^exit 0$' "$out"; then fail "$name" "make trace failed" "$out"; return 0; fi
    clients=$(grep -c '^\$ strace \./client' "$out")
    check_trace "$name" "$out" "$clients"
}

test_readme_trace_sample_follows_the_diagram() {
    block_with "sample: trace" >"$tmp/trace.sample"
    check_trace "${FUNCNAME[0]}" "$tmp/trace.sample" 1
}

test_trace_all_shows_the_calls_before_the_first_socket() {
    local name=${FUNCNAME[0]} out=$tmp/trace_all.out
    need_netns "$name" || return 0
    if ! ptrace_ok; then skip "$name" "strace is missing or may not trace here"; return 0; fi
    printf 'make -s trace TRACE_ALL=1 > %q 2>&1; echo "exit $?" >> %q\n' "$out" "$out" >"$tmp/trace_all.sh"
    in_netns 60 "$tmp/trace_all.sh" >/dev/null 2>&1 || true
    if ! grep -q '^exit 0$' "$out"; then
        fail "$name" "make trace TRACE_ALL=1 failed" "$out"
    elif grep -q 'left out' "$out" ||
        grep -m 1 '^server | ' "$out" | grep -qE 'socket\(AF_INET6?, SOCK_STREAM'; then
        fail "$name" "the calls before the server's first TCP socket are still left out" "$out"
    else
        pass "$name"
    fi
}

test_packets_show_handshake_then_data_then_server_fin_first() {
    local name=${FUNCNAME[0]} out=$tmp/packets.out conns
    need_netns "$name" || return 0
    if ! command -v tcpdump >/dev/null; then skip "$name" "tcpdump is missing"; return 0; fi
    printf 'make -s packets > %q 2>&1; echo "exit $?" >> %q\n' "$out" "$out" >"$tmp/packets.sh"
    in_netns 60 "$tmp/packets.sh" >/dev/null 2>&1 || true
    if grep -q 'cannot capture' "$out"; then skip "$name" "no privilege to capture packets"; return 0; fi
    if ! grep -q '^exit 0$' "$out"; then fail "$name" "make packets failed" "$out"; return 0; fi
    if ! grep -q '^tcpdump | 0 packets dropped by kernel$' "$out"; then
        fail "$name" "tcpdump did not report 0 packets dropped" "$out"
        return 0
    fi
    if ! grep -qE 'ffff:127\.0\.0\.1\]?:[0-9]+ |127\.0\.0\.1:[0-9]+ ' <(sed -n '/state time-wait/,/^$/p' "$out"); then
        fail "$name" "ss shows no connection in TIME_WAIT on the server side" "$out"
        return 0
    fi
    conns=$(grep -c '^client | Thank you for connecting$' "$out")
    check_packets "$name" "$out" "$conns"
}

test_readme_capture_is_a_valid_exchange() {
    block_with "sample: packets" >"$tmp/packets.sample"
    check_packets "${FUNCNAME[0]}" "$tmp/packets.sample" 1
}

# Commands of the README not run as a README session, and why.
declare -A covered=(
    ["make demo"]="run by test_demo_greets_over_ipv4_and_ipv6_and_leaves_nothing_running"
    ["make trace"]="run by test_trace_shows_the_calls_in_the_order_of_the_readme_diagram"
    ["make trace TRACE_ALL=1"]="run by test_trace_all_shows_the_calls_before_the_first_socket"
    ["make packets"]="run by test_packets_show_handshake_then_data_then_server_fin_first"
    ["make"]="run by test_readme_build_commands_work"
    ["make clean"]="run by test_readme_build_commands_work"
    ["make CC=clang"]="run by test_readme_build_commands_work"
    ["make CFLAGS='-g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined'"]="run by test_readme_build_commands_work"
)
declare -A exempt=(
    ["sudo apt-get update"]="refreshes the package lists: CI's .ci/run does that"
    ["sudo apt-get install -y build-essential"]="installs packages: CI's .ci/run does that"
    ["sudo apt-get install -y build-essential libcmocka-dev"]="installs packages: CI's .ci/run does that"
    ["make test"]="this test is part of make test: running it here would recurse (CI runs it)"
    ["make bench"]="slow, and owned by the benchmark"
    ["make abuse"]="slow, and owned by the abuse suite (CI runs it)"
    ["./client 192.0.2.10"]="needs a second machine; the same code connects to 127.0.0.1 and ::1 here"
)

test_every_readme_command_is_run_or_exempt() {
    local name=${FUNCNAME[0]} kind rest marker="" part unknown=()
    while IFS= read -r line; do
        kind=${line%% *} rest=${line#* }
        case $kind in
            B) marker=$(cut -d' ' -f3- <<<"$rest") ;;
            C)
                [[ $marker == check:* ]] && continue
                while IFS= read -r part; do
                    part=$(sed -E 's/^ +//; s/ +$//' <<<"$part")
                    [ -n "${covered[$part]:-}" ] || [ -n "${exempt[$part]:-}" ] || unknown+=("$part")
                done <<<"${rest//&&/$'\n'}"
                ;;
        esac
    done < <(readme_records)
    if [ ${#unknown[@]} -gt 0 ]; then
        fail "$name" "README commands no test runs: $(printf "'%s' " "${unknown[@]}")"
    else
        pass "$name"
    fi
    for part in "${!exempt[@]}"; do printf '    not run: %s (%s)\n' "$part" "${exempt[$part]}"; done
}

test_readme_build_commands_work() {
    local name=${FUNCNAME[0]} dir=$tmp/build step
    mkdir -p "$dir"
    # The Makefile and the parts it includes, nothing else.
    # shellcheck disable=SC2046 # one word per included file
    cp --parents server.c client.c Makefile $(awk '$1 == "include" { print $2 }' Makefile) "$dir/"
    for step in "make" "make clean" "make CC=clang" "make clean" \
        "make CFLAGS='-g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined'"; do
        if [[ $step == *clang* ]] && ! command -v clang >/dev/null; then
            # One step of this test, not a test: say so, but count nothing.
            printf '    not tried: %s (clang is not installed)\n' "$step"
            continue
        fi
        if ! (cd "$dir" && eval "$step -s") >"$tmp/build.log" 2>&1; then
            fail "$name" "'$step' failed" "$tmp/build.log"
            return 0
        fi
        if grep -q 'warning:' "$tmp/build.log"; then
            fail "$name" "'$step' warned" "$tmp/build.log"
            return 0
        fi
        if [ "$step" = "make clean" ]; then
            if [ -e "$dir/server" ] || [ -e "$dir/client" ]; then
                fail "$name" "make clean left the programs behind"
                return 0
            fi
        elif ! "$dir/server" -h >/dev/null || ! "$dir/client" -h >/dev/null; then
            fail "$name" "after '$step' the programs do not run"
            return 0
        fi
    done
    pass "$name"
}

# start_given NAME: what a session's "given:" starts before its commands
# (as lines of the session script).
start_given() {
    # shellcheck disable=SC2016 # these lines are for the session script
    case $1 in
        server) echo 'given ./server' ;;
        server-b-127.0.0.1) echo 'given ./server -b 127.0.0.1' ;;
        stopped-server) echo 'given ./server; kill -STOP "${bg[-1]}"' ;;
        *) return 1 ;;
    esac
}

# The start of every session script: background helpers and the final stop.
session_prelude() {
    cat <<'EOF'
bg=()
ready() { local i; for ((i = 0; i < 50; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
given() { "$@" >"$dir/given.out" 2>&1 & bg+=($!); ready "$dir/given.out"; }
background() { bash -c "exec $1" >"$2" 2>&1 & bg+=($!); ready "$2"; }
finish() {
    local pid i
    for pid in "${bg[@]}"; do kill -CONT "$pid"; kill -INT "$pid"; done
    for pid in "${bg[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; [ "$(ps -o stat= -p "$pid")" = Z ] && break; sleep 0.1; done
        wait "$pid"; echo "$pid $?" >>"$dir/stopped"
    done
}
EOF
}

name_is_loopback() {
    local addresses
    addresses=$(getent ahosts "$(hostname)" | awk '{ print $1 }' | sort -u)
    [ -n "$addresses" ] && ! grep -qvE '^(127\.|::1$)' <<<"$addresses"
}

test_readme_examples_print_what_the_readme_shows() {
    local name=${FUNCNAME[0]} kind rest marker session given i=0 dir s
    need_netns "$name" || return 0
    local -A seen=()
    local sessions=()
    # Build one script per session, and the expected output of each command.
    while IFS= read -r line; do
        kind=${line%% *} rest=${line#* }
        case $kind in
            B)
                marker=$(cut -d' ' -f3- <<<"$rest")
                [[ $marker == check:* ]] || { session=""; continue; }
                session=$(awk '{ print $2 }' <<<"$marker")
                given=$(sed -n 's/.* given: *\([^ ]*\).*/\1/p' <<<"$marker")
                dir=$tmp/session/$session
                if [ -z "${seen[$session]:-}" ]; then
                    seen[$session]=1
                    sessions+=("$session")
                    mkdir -p "$dir"
                    { printf 'dir=%q\n' "$dir"; session_prelude; } >"$dir/script"
                fi
                if [ -n "$given" ]; then
                    if ! start_given "$given" >>"$dir/script"; then
                        fail "$name" "README session $session: unknown given '$given'"
                        return 0
                    fi
                fi
                ;;
            C)
                [ -n "$session" ] || continue
                i=$((i + 1))
                printf '%s\n' "$rest" >"$dir/$i.cmd"
                : >"$dir/$i.want"
                echo "$i" >>"$dir/commands"
                ;;
            O)
                [ -n "$session" ] && printf '%s\n' "$rest" >>"$dir/$i.want"
                ;;
        esac
    done < <(readme_records)
    if [ ${#sessions[@]} -eq 0 ]; then fail "$name" "the README has no checked examples"; return 0; fi

    for s in "${sessions[@]}"; do
        dir=$tmp/session/$s
        # A client without HOST connects to this machine's name, which only
        # a loopback address reaches from inside the namespace.
        if grep -qxE '\./client( -t [0-9]+)?' "$dir"/*.cmd && ! name_is_loopback; then
            skip "$name (session $s)" "this machine's name, $(hostname), is not a loopback address"
            continue
        fi
        while read -r i; do
            if [ "$(tail -n 1 "$dir/$i.want")" = '^C' ]; then
                printf 'background %q %q\n' "$(cat "$dir/$i.cmd")" "$dir/$i.got" >>"$dir/script"
            else
                printf '%s >%q 2>&1 </dev/null\n' "$(cat "$dir/$i.cmd")" "$dir/$i.got" >>"$dir/script"
            fi
        done <"$dir/commands"
        echo finish >>"$dir/script"
        in_netns 60 "$dir/script" >"$dir/log" 2>&1 || true
        while read -r i; do
            if ! diff <(sed '/^^C$/d' "$dir/$i.want" | normalize) <(normalize <"$dir/$i.got" 2>/dev/null) \
                >"$dir/$i.diff"; then
                fail "$name" "session $s: '$(cat "$dir/$i.cmd")' printed something else (< README, > real)" "$dir/$i.diff"
                return 0
            fi
        done <"$dir/commands"
        if [ -f "$dir/stopped" ] && awk '$2 != 0 { bad = 1 } END { exit !bad }' "$dir/stopped"; then
            fail "$name" "session $s: a background program did not exit 0 after SIGINT" "$dir/stopped"
            return 0
        fi
    done
    pass "$name (${#sessions[@]} sessions, $(cat "$tmp"/session/*/commands | wc -l) commands)"
}

if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
[ ${#netns[@]} -gt 0 ] || echo "NOTE: no network namespace: the tests that run the pair will SKIP"

# bash tests/lesson_test.sh [TEST...] runs the named tests only.
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(
    test_every_readme_command_is_run_or_exempt
    test_readme_examples_print_what_the_readme_shows
    test_demo_greets_over_ipv4_and_ipv6_and_leaves_nothing_running
    test_trace_shows_the_calls_in_the_order_of_the_readme_diagram
    test_readme_trace_sample_follows_the_diagram
    test_trace_all_shows_the_calls_before_the_first_socket
    test_packets_show_handshake_then_data_then_server_fin_first
    test_readme_capture_is_a_valid_exchange
    test_readme_build_commands_work
)
for t in "${tests[@]}"; do "$t"; done

printf 'lesson: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
