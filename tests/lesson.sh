#!/usr/bin/env bash
# tests/lesson.sh - checks make demo, make trace, make packets and README.md.
#
#   <!-- check: NAME [given: WHAT] --> before a ```console block: its "$ "
#       lines run in order (blocks of one NAME share a session), and each must
#       print what the README shows, ports and pids aside.  One whose output
#       ends in ^C is the session's server, stopped at the end by SIGINT; given:
#       starts one first (run_session).  "make X" runs lesson/X.sh, as the
#       Makefile does, and the rest of the block is its output.
#   <!-- order: SIDE: CALL... --> the diagram's calls strace sees, in order:
#       make trace's server and each client must make them in that order.
#   <!-- sample: trace|packets --> real output, checked as a live run is.
# Every other command in a code block must be run here or listed in `exempt`.
set -u
# As root, in a network of its own: port 9999 free, whatever else runs here.
[ -n "${LESSON_ISOLATED:-}" ] || LESSON_ISOLATED=1 exec "$(dirname "$0")/isolated.sh" bash "$0"
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
unset MAKELEVEL MAKEFLAGS MFLAGS  # the build checks run make as a user would
if [ ! -x ./server ] || [ ! -x ./client ]; then echo "build first: make" >&2; exit 1; fi
declare -A ran=() given=() session_of=()
sessions=() cmd=() other=()

# ---- README.md, read once -----------------------------------------------------
n=0 name='' block='' rest_is_output=0
while IFS= read -r line; do
    case $block$line in
        '<!-- check: '*) read -r _ _ name _ g _ <<<"$line"; given[$name]=${g:-} ;;
        '```'*)
            block=${line#\`\`\`} rest_is_output=0
            if [ -n "$name" ] && [ "$block" = console ]; then
                block=check
                [[ " ${sessions[*]} " == *" $name "* ]] || sessions+=("$name")
            fi
            block=${block:-other} ;;
        ?*'```') block='' name='' ;;
        check'$ '*)
            if [ "$rest_is_output" = 1 ]; then echo "$line" >>"$work/want.$n"; continue; fi
            n=$((n + 1)) cmd[n]=${line#\$ } session_of[$name]+=" $n" ran[${line#\$ }]=1
            : >"$work/want.$n"
            [[ ${cmd[n]} != make\ * ]] || rest_is_output=1 ;;
        check*) echo "$line" >>"$work/want.$n" ;;
        'console$ '*) other+=("${line#\$ }") ;;
        sh[!#]*) other+=("$line") ;;
        '<!--'*) ;;
        ?*) name='' ;;
    esac
done <README.md

normalize() { sed -E 's/\r$//; s/(kill -INT) [0-9]+/\1 PID/; s/\b[0-9]{5}\b/PORT/g'; }

# run_session NAME: runs its commands, then compares what each printed.
run_session() {
    local s=$1 i status=0 bg=''
    for i in ${session_of[$s]}; do
        if grep -q ::1 - "$work/want.$i" <<<"${cmd[i]}" && ! grep -qs '^0*1 ' /proc/net/if_inet6; then
            skip "README $s: no IPv6 loopback here"; return
        elif [[ ${cmd[i]} =~ ^\./client( -t [1-9][0-9]*)?$ && $(getent ahosts "$(hostname)") != 127.* ]]; then
            skip "README $s: this machine's name, $(hostname), is not on 127.0.0.0/8 here"; return
        fi
    done
    case ${given[$s]} in
        '') ;;
        server) start_server ./server ;;
        server-b-127.0.0.1) start_server ./server -b 127.0.0.1 ;;
        stopped-server) start_server ./server && kill -STOP "$server_pid" ;;
        *) fail "README $s: no such given: ${given[$s]}"; return ;;
    esac
    for i in ${session_of[$s]}; do
        if [ "$(tail -n 1 "$work/want.$i")" = '^C' ]; then
            bg=$i
            # shellcheck disable=SC2086 # a plain command line: words
            start_server ${cmd[i]}
        elif [[ ${cmd[i]} == make\ * ]]; then
            read -r _ target settings <<<"${cmd[i]}"
            # shellcheck disable=SC2086 # VAR=VALUE words
            env $settings timeout 60 "lesson/$target.sh" >"$work/got.$i" 2>&1
        else
            timeout 20 bash -c "(exit $status); ${cmd[i]}" >"$work/got.$i" 2>&1 </dev/null
            status=$?
        fi
    done
    if [ -n "$server_pid" ]; then kill -CONT "$server_pid"; stop_server INT; fi
    if [ -n "$bg" ]; then
        { cat "$work/server.out" "$work/server.err"; echo '^C'; } >"$work/got.$bg"
        [ "$server_status" = 130 ] || echo "(the server's status after SIGINT: $server_status, not 130)" >>"$work/got.$bg"
    fi
    for i in ${session_of[$s]}; do
        if ! diff <(normalize <"$work/want.$i") <(normalize <"$work/got.$i") >"$work/diff"; then
            fail "README $s: '${cmd[i]}' printed something else (< README, > real)"
            sed 's/^/    /' "$work/diff" | head -n 30
            return
        fi
    done
    pass "README $s"
}

# calls SIDE FILE: the calls SIDE made in make trace output, in C's names.
calls() {
    sed -n "s/^.* $1 | \([a-z0-9_]*\)(.*/\1/p" "$2" |
        sed 's/^sendto$/send/; s/^recvfrom$/recv/; s/^accept4$/accept/; s/^ppoll$/poll/' | tr '\n' ' '
}

# follows_order FILE: the server, and each client in turn, make the calls of
# the README's order lists in that order (calls not listed may come between).
follows_order() {
    local side want got w k runs
    for side in server client; do
        want=$(sed -n "s/^<!-- order: $side: \(.*\) -->$/\1/p" README.md)
        [ -n "$want" ] || { echo "README.md has no order list for the $side"; return 1; }
        runs=1
        [ "$side" = server ] || runs=$(grep -c 'client | +++ exited' "$1")
        got=" $(calls "$side" "$1")"
        for ((k = 0; k < runs; k++)); do
            for w in $want; do
                [[ $got == *" $w "* ]] || { echo "$side: not in the order '$want': $(calls "$side" "$1")"; return 1; }
                got=" ${got#*" $w "}"
            done
        done
    done
}

# packets_in_order FILE: in make packets output (its labels, not tcpdump's
# lines), every connection shakes hands, then the server sends, then the
# server's FIN comes before the client's, with no reset and no client data.
packets_in_order() {
    awk '/^[0-9]+ .* \| IP/ {
        c = $1; l = substr($0, 1, index($0, " | ")); s = ""
        if (l ~ /SYN-ACK/) s = "A"; else if (l ~ /SYN:/) s = "S"; else if (l ~ /connect\(\) returns/) s = "H"
        if (l ~ /send\(\)/) s = l ~ /server/ ? "D" : "X"
        if (l ~ /server FIN|server send.*FIN/) s = s "F"; else if (l ~ /client FIN/) s = "C"
        if (l ~ /RST/) s = "R"
        if (!(c in seq)) n++
        seq[c] = seq[c] s
    }
    END {
        for (c in seq) if (seq[c] !~ /^SAH[^RX]*D[^RX]*F[^RX]*C[^RX]*$/) { print "connection " c ": " seq[c]; bad = 1 }
        if (!n) print "no packets"
        exit bad || !n
    }' "$1"
}

# check NAME VERDICT-COMMAND...: pass or fail NAME, with what went wrong.
check() {
    local name=$1
    shift
    if "$@" >"$work/why" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$work/why" | head -n 30; fi
}
sample() { sed -n "/^<!-- sample: $1 -->$/,/^\`\`\`$/p" README.md >"$work/sample.$1"; echo "$work/sample.$1"; }
# live OUT CMD...: runs a lesson script, its output in $work/OUT, shown if it fails.
live() { local out=$work/$1; shift; timeout 120 "$@" >"$out" 2>&1 || { cat "$out"; return 1; }; }
trace_ok() { live trace.out lesson/trace.sh && follows_order "$work/trace.out"; }
trace_all_ok() { live all.out env TRACE_ALL=1 lesson/trace.sh && grep -q 'server | execve(' "$work/all.out"; }
packets_ok() { live packets.out lesson/packets.sh && packets_in_order "$work/packets.out"; }
# build STEP VERDICT: STEP in the copy, without warnings; then VERDICT holds.
build() { (cd "$work/build" && eval "$1 -s" >build.log 2>&1 && ! grep -A3 warning: build.log && eval "$2" >/dev/null); }

# ---- the checks ---------------------------------------------------------------
if awk 'NR > 2 && $1 != "lo:" { exit 1 }' /proc/net/dev || ! (: <>/dev/tcp/127.0.0.1/9999) 2>/dev/null; then
    for s in "${sessions[@]}"; do run_session "$s"; done
else
    skip "README sessions: port 9999 is in use here (as root they run in a network of their own)"
fi

ran["make trace"]=1 ran["make trace TRACE_ALL=1"]=1
if ! strace -o /dev/null true 2>/dev/null; then
    for c in "make trace" "make trace TRACE_ALL=1"; do skip "$c: strace is missing or may not trace here"; done
else
    check "make trace follows the README's order lists" trace_ok
    check "make trace TRACE_ALL=1 shows every call" trace_all_ok
fi
check "README trace sample follows the order lists" follows_order "$(sample trace)"

ran["make packets"]=1
if ! command -v tcpdump >/dev/null || [ "$(id -u)" != 0 ]; then
    skip "make packets: needs tcpdump ($(command -v tcpdump || echo missing)) and root (uid $(id -u))"
else
    check "make packets: handshake, data, the server's FIN first" packets_ok
fi
check "README capture: handshake, data, the server's FIN first" packets_in_order "$(sample packets)"

# The README's build commands, in a copy: no warnings, and make clean cleans.
mkdir "$work/build" && cp Makefile ./*.c "$work/build/"
for step in make "make clean" "make CC=clang" "make clean" \
    "make CFLAGS='-g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined'"; do
    ran[$step]=1
    if [[ $step == *clang* ]] && ! command -v clang >/dev/null; then skip "$step: clang is not installed"; continue; fi
    if [ "$step" = "make clean" ]; then verdict='[ ! -e server ] && [ ! -e client ]'; else verdict='./server -h && ./client -h'; fi
    check "$step" build "$step" "$verdict"
done

# shellcheck disable=SC2016 # the README's words, not to be expanded
declare -A exempt=(
    ['$(command -v sudo) apt-get update']="changes the system: .ci/run installs what CI needs"
    ['$(command -v sudo) apt-get install -y build-essential']="changes the system: .ci/run installs what CI needs"
    ['$(command -v sudo) apt-get install -y build-essential libcmocka-dev']="changes the system: .ci/run installs what CI needs"
    ["make test"]="runs this test: it would recurse"
    ["make bench"]="slow (about four minutes); make test runs bench/run.sh --smoke"
    ["make abuse"]="slow (minutes); CI runs it"
    ["./client 192.0.2.10"]="needs a second machine: make two-hosts shows one"
)
unrun=()
for c in "${other[@]}"; do
    while read -r part; do
        [ -n "${ran[$part]:-}${exempt[$part]:-}" ] || unrun+=("'$part'")
    done <<<"${c//&&/$'\n'}"
done
all_run() { [ ${#unrun[@]} = 0 ] || { echo "not run: ${unrun[*]}"; return 1; }; }
check "every README command is run here or exempt" all_run
for c in "${!exempt[@]}"; do echo "    not run: $c (${exempt[$c]})"; done
finish lesson
