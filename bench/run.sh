#!/usr/bin/env bash
# bench/run.sh - measure ./server against bare servers under the same load.
#
#   bench/run.sh           the full benchmark (make bench): 1-2 minutes quiet
#   bench/run.sh --smoke   the same comparison, tiny and unpinned, as a test
#                          (a step of make test): fails if any connection
#                          fails, the bytes are wrong, or a log is off
#
# The yardstick for a logging server is "bare+log" (bench/bin/bare -l): the
# bare accept/send/close loop writing the same log line the same way.  Plain
# bare (no log) runs beside it for information.  Every server takes its turn
# in every round, at 1, 32 and 128 clients at a time; the table has medians.
#
# Knobs (full run only; --smoke always measures ./server, as a test should):
#   SERVER="PATH..."  the server(s) to measure, default ./server.  Several
#                     take turns in the same rounds, an A/B comparison under
#                     the same noise: SERVER="./server /tmp/new/server"
#   ROUNDS=5          rounds
#   CONNS=100000      connections per run at c=32 and c=128 (c=1: 3/10 of it)
#   MAIN_ONLY=1       stop after the main table and its targets
#
# Loopback only, on ports the kernel picks.  Every log goes to a file, as in
# `./server > server.log`.  Every server started here is stopped here, also
# on error or Ctrl-C.
set -euo pipefail

MODE=full
if [ "${1:-}" = --smoke ]; then
    MODE=smoke
elif [ $# -gt 0 ]; then
    echo "usage: [SERVER=... ROUNDS=... CONNS=... MAIN_ONLY=1] bench/run.sh [--smoke]" >&2
    exit 2
fi
servers=()   # SERVER's paths are the caller's: resolve them before the cd
[ "$MODE" = smoke ] || for s in ${SERVER:-}; do servers+=("$(readlink -f "$s")"); done
cd "$(dirname "$0")/.."
[ ${#servers[@]} -gt 0 ] || servers=("$PWD/server")

if [ "$MODE" = smoke ]; then
    ROUNDS=1; CONNS=200; N1=200; WARMUP=0
else
    ROUNDS=${ROUNDS:-5}; CONNS=${CONNS:-100000}; N1=$((CONNS * 3 / 10)); WARMUP=2000
fi
# One loadgen thread cannot keep up with bare at c=32 (the bottleneck check).
THREADS=$(nproc)
[ "$THREADS" -gt 8 ] && THREADS=8
BURSTS="256 512"      # backlog experiment: connections started at once
BURST_TIMEOUT_MS=5000 # as long as ./client waits by default

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX") R=$WORK/runs
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run copies, so that a `make clean` meanwhile cannot pull the programs away.
BIN=$WORK/bin SRV=$WORK/servers
mkdir "$BIN" "$SRV"
programs=(client bench/bin/loadgen bench/bin/bare)
[ "$MODE" = full ] && programs+=(server bench/bin/server_backlog5)
for f in "${programs[@]}"; do
    [ -x "$f" ] || { echo "bench: $f is missing (run make bench)" >&2; exit 1; }
    cp "$f" "$BIN/"
done
# Each server under test is named for its file, made unique: server, server2...
WHO=()
declare -A taken=([bare]=1 [bare+log]=1)
for s in "${servers[@]}"; do
    [ -x "$s" ] || { echo "bench: $s is missing or not executable" >&2; exit 1; }
    name=$(basename "$s") n=2
    while [ -n "${taken[$name]:-}" ]; do name=$(basename "$s")$n; n=$((n + 1)); done
    taken[$name]=1 WHO+=("$name")
    cp "$s" "$SRV/$name"
    echo "$name = $s" >>"$WORK/legend"
done
LOADGEN=$BIN/loadgen

PIN=(taskset -c 0) PINNED="pinned to CPU 0"
if [ "$MODE" = smoke ]; then
    PIN=() PINNED="not pinned"   # a test: quick, pinning is for measuring
elif ! command -v taskset >/dev/null; then
    echo "bench: taskset (util-linux) not found: c=1 runs unpinned, expect noise" >&2
    PIN=() PINNED="not pinned"
fi

# command_for WHO: sets CMD to the command that starts WHO.
command_for() {
    case $1 in
        bare) CMD=("$BIN/bare") ;;
        bare+log) CMD=("$BIN/bare" -l) ;;
        *) CMD=("$SRV/$1") ;;
    esac
}

# start_server LOG COMMAND...: sets server_pid and port.
start_server() {
    local log=$1 line i
    shift
    "$@" -b 127.0.0.1 0 >"$log" 2>"$log.err" &
    server_pid=$!
    for ((i = 0; i < 100; i++)); do            # up to 5 s
        line=$(head -n 1 "$log")
        if [[ $line == "Listening on 127.0.0.1:"* ]]; then
            port=${line##*:}
            return 0
        fi
        sleep 0.05
    done
    echo "bench: $* did not start:" >&2
    cat "$log.err" >&2
    return 1
}

# Stops the server.  Returns 1 if it had already exited by itself (a crash,
# or on a shared machine someone else's kill): its numbers are not usable.
stop_server() {
    local state status=0
    state=$(awk '{sub(/.*\) /, ""); print $1}' "/proc/$server_pid/stat" 2>/dev/null || echo gone)
    if [ "$state" = Z ] || [ "$state" = gone ]; then
        wait "$server_pid" 2>/dev/null || status=$?
        echo "bench: the server (pid $server_pid) exited during the run, status $status" >&2
        server_pid=
        return 1
    fi
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true     # bare dies of SIGTERM: fine
    server_pid=
}

# CPU seconds the server has used so far (schedstat: in ns, not clock ticks).
server_cpu() { awk '{print $1 / 1e9}' "/proc/$server_pid/schedstat"; }

# values FILE KEY FILTER...: KEY's value on each line holding every FILTER
# (whole key=value words); median, total, maximum of them; calc EXPRESSION.
values() {
    local file=$1 key=$2
    shift 2
    awk -v k="$key" -v want="$*" 'BEGIN {n = split(want, w, " ")}
        {for (i = 1; i <= n; i++) if (index(" " $0 " ", " " w[i] " ") == 0) next
         for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2)}' "$file"
}
median() {
    values "$@" | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan";
        else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
total() { values "$@" | awk '{s += $1} END {print s + 0}'; }
maximum() { values "$@" | sort -g | tail -n 1; }
calc() { awk "BEGIN {print $1}" 2>/dev/null || echo nan; }
# spread WHO CONC: the lowest and highest of the rounds' own ratios to bare+log.
spread() {
    local r a b
    for ((r = 1; r <= ROUNDS; r++)); do
        a=$(values "$R" conn_per_s "round=$r" "who=$1" "conc=$2")
        b=$(values "$R" conn_per_s "round=$r" who=bare+log "conc=$2")
        calc "$a / $b"
    done | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f\n", lo, hi}'
}

passed=0 failed=0
check() {  # check NAME CONDITION-STATUS
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "  ok    $1"
    else failed=$((failed + 1)); echo "  FAIL  $1"; fi
}

# One measured run: who, concurrency, count.  Appends "who=.. conc=..
# <loadgen's key=value line> server_us=.." (server CPU per connection) to
# $WORK/runs.  Returns 0 if all went well, 1 if any connection failed or the
# log is off, 2 if the server died under us (the run is then not recorded).
measure() {
    local who=$1 conc=$2 count=$3 before after line lines status=0 pin=() threads=1
    [ "$conc" = 1 ] && pin=("${PIN[@]}")
    [ "$conc" -gt 1 ] && threads=$THREADS
    local lg=("${pin[@]}" "$LOADGEN" -k -c "$conc" -T "$threads" -d 120 -t 5000)
    local log=$WORK/$who.log
    command_for "$who"
    start_server "$log" "${pin[@]}" "${CMD[@]}" || return 2
    if [ "$WARMUP" -gt 0 ]; then
        "${lg[@]}" -n "$WARMUP" 127.0.0.1 "$port" >/dev/null || status=1
    fi
    before=$(server_cpu)
    line=$("${lg[@]}" -n "$count" 127.0.0.1 "$port") || status=1
    after=$(server_cpu)
    stop_server || return 2
    # The logging servers: one line per connection, in ./server's format.
    lines=$(grep -cE '^Got a connection from 127\.1\.[0-9]+\.[0-9]+:[0-9]+$' "$log" || true)
    [ "$lines" = "$([ "$who" = bare ] && echo 0 || echo $((WARMUP + count)))" ] || status=1
    [ ! -s "$log.err" ] || { status=1; cat "$log.err" >&2; }
    echo "round=$round who=$who conc=$conc $line server_us=$(calc "($after - $before) * 1e6 / $count")" \
        >>"$R"
    return $status
}

ALL=("${WHO[@]}" bare+log bare)
echo "== ${WHO[*]} against bare+log (bare -l) and bare: $ROUNDS round(s), all interleaved, medians"
sed 's/^/   /' "$WORK/legend"
echo "   c=1: $N1 connections, server and loadgen $PINNED;" \
     "c=32, c=128: $CONNS, $THREADS loadgen threads, not pinned; warm-up $WARMUP"
: >"$R"
for ((round = 1; round <= ROUNDS; round++)); do
    for conc in 1 32 128; do
        count=$CONNS
        [ "$conc" = 1 ] && count=$N1
        # Turns rotate each round: no server always follows the same one.
        for ((i = 0; i < ${#ALL[@]}; i++)); do
            who=${ALL[(i + round) % ${#ALL[@]}]}
            for _ in 1 2 3; do      # again only if the server died
                rc=0
                measure "$who" "$conc" "$count" || rc=$?
                [ "$rc" = 2 ] || break
            done
            if [ "$MODE" = smoke ]; then
                what="$who greets $count connections at c=$conc with the exact bytes"
                [ "$who" = bare ] || what="$what, one log line each"
                check "$what" "$rc"
            elif [ "$rc" != 0 ]; then
                echo "bench: round $round, $who, c=$conc: connections failed, the log" \
                     "is off, or the server died 3 times:" >&2
                tail -n 1 "$R" >&2
            fi
        done
    done
done

printf '\n%-4s %-14s | %8s %9s %9s %6s | %7s %7s | %8s | %s\n' c who conn/s /bare+log \
    "per round" /bare "p50 us" "p99 us" "CPU us/c" failed
for conc in 1 32 128; do
    bl=$(median "$R" conn_per_s who=bare+log "conc=$conc")
    b=$(median "$R" conn_per_s who=bare "conc=$conc")
    bl99=$(median "$R" p99_us who=bare+log "conc=$conc")
    for who in "${ALL[@]}"; do
        r=$(median "$R" conn_per_s "who=$who" "conc=$conc")
        p99=$(median "$R" p99_us "who=$who" "conc=$conc")
        printf '%-4s %-14s | %8.0f %9.3f %9s %6.3f | %7.1f %7.1f | %8.2f | %s\n' "$conc" "$who" \
            "$r" "$(calc "$r / $bl")" "$(spread "$who" "$conc")" "$(calc "$r / $b")" \
            "$(median "$R" p50_us "who=$who" "conc=$conc")" "$p99" \
            "$(median "$R" server_us "who=$who" "conc=$conc")" "$(total "$R" failed "who=$who" "conc=$conc")"
        echo "who=$who conc=$conc rate=$(calc "$r / $bl") p99=$(calc "$p99 / $bl99")" >>"$WORK/ratios"
    done
done
echo "(medians over $ROUNDS round(s); per round: the range of the rounds' own ratios to bare+log;" \
     "failed: sums; CPU us/c: the server's CPU time per connection; c=1 $PINNED)"

if [ "$MODE" = smoke ]; then
    echo "== loadgen checks"
    rc=0
    for target in 192.0.2.1 10.0.0.1 2001:db8::1 localhost; do
        st=0
        "$LOADGEN" -n 1 "$target" 9 >/dev/null 2>&1 || st=$?
        [ "$st" = 2 ] || { rc=1; echo "  loadgen accepted $target (status $st)"; }
    done
    check "loadgen refuses non-loopback targets" "$rc"
    # A port nobody listens on: the one the last server used, now closed.
    st=0
    line=$("$LOADGEN" -k -n 20 -c 4 127.0.0.1 "$port" 2>/dev/null) || st=$?
    rc=1
    [ "$st" = 1 ] && [ "$(values - refused <<<"$line")" = 20 ] &&
        [ "$(values - ok <<<"$line")" = 0 ] && rc=0
    check "loadgen counts connections refused by a closed port as failures" "$rc"
    echo "bench smoke: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
fi

echo
echo "== targets (information, not a pass/fail of make bench)"
target() { awk -v v="$2" -v t="$3" -v op="$4" -v name="$1" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t
    printf "   %-40s %s %-5s %s (measured %.3f)\n", name, op, t, ok ? "met" : "MISSED", v}'; }
for who in "${WHO[@]}"; do
    for conc in 1 32 128; do
        target "c=$conc conn/s, $who / bare+log" "$(values "$WORK/ratios" rate "who=$who" "conc=$conc")" 0.95 ">="
    done
    for conc in 1 32 128; do
        target "c=$conc p99, $who / bare+log" "$(values "$WORK/ratios" p99 "who=$who" "conc=$conc")" 1.5 "<="
    done
    echo "   failed connections to $who: $(total "$R" failed "who=$who") (target 0)"
done
if [ "${MAIN_ONLY:-0}" = 1 ]; then
    echo "command: MAIN_ONLY=1 bench/run.sh   (took $SECONDS s)"
    exit
fi

# Is the load generator the bottleneck?  Whether more loadgen threads make
# bare any faster at c=32, and its CPU against the server's.
echo
echo "== is loadgen the bottleneck? (c=32 against bare, 3 rounds each, interleaved)"
for ((round = 1; round <= 3; round++)); do
    for threads in 1 "$THREADS" $((2 * THREADS)); do
        start_server "$WORK/bare.log" "$BIN/bare"
        "$LOADGEN" -c 32 -n "$WARMUP" 127.0.0.1 "$port" >/dev/null || true
        before=$(server_cpu)
        line=$("$LOADGEN" -k -c 32 -T "$threads" -n "$CONNS" 127.0.0.1 "$port") || true
        after=$(server_cpu)
        stop_server || continue
        echo "threads=$threads $line server_cpu_s=$(calc "$after - $before")" >>"$WORK/threads"
    done
done
for threads in 1 "$THREADS" $((2 * THREADS)); do
    el=$(median "$WORK/threads" elapsed_s "threads=$threads")
    printf '   loadgen threads %2s: %6.0f conn/s; CPU busy: loadgen %3.0f%%, bare %3.0f%% of one core\n' \
        "$threads" "$(median "$WORK/threads" conn_per_s "threads=$threads")" \
        "$(calc "100 * $(median "$WORK/threads" cpu_s "threads=$threads") / $el")" \
        "$(calc "100 * $(median "$WORK/threads" server_cpu_s "threads=$threads") / $el")"
done
echo "   ($(nproc) CPUs; on loopback much of the TCP work of both ends is charged to whichever side triggers it)"

echo
echo "== peak resident memory (VmHWM), c=32"
for who in "${WHO[@]}"; do
    start_server "$WORK/mem.log" "$SRV/$who"
    "$LOADGEN" -c 32 -n 1000 127.0.0.1 "$port" >/dev/null || echo "bench: connections failed in the memory run" >&2
    hwm1=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status" || true)
    "$LOADGEN" -c 32 -n 99000 127.0.0.1 "$port" >/dev/null || echo "bench: connections failed in the memory run" >&2
    hwm2=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status" || true)
    stop_server || echo "bench: the memory numbers below are not usable" >&2
    growth="grew by $((${hwm2:-0} - ${hwm1:-0})) kB"
    [ "$growth" = "grew by 0 kB" ] && growth="flat: target met"
    echo "   $who: after 1,000 connections ${hwm1:-?} kB; after 100,000 ${hwm2:-?} kB ($growth)"
done

echo
echo "== backlog experiment: ./server and a copy with listen(5), a burst of connections started at once, 3 rounds, medians"
echo "   (failed: connections not greeted within $((BURST_TIMEOUT_MS / 1000)) s, ./client's default timeout;" \
     "overflows: the kernel's ListenOverflows counter, machine-wide)"
listen_overflows() {
    awk '/^TcpExt:/ {if (!seen) {for (i = 1; i <= NF; i++) name[i] = $i; seen = 1}
                     else for (i = 1; i <= NF; i++) if (name[i] == "ListenOverflows") print $i}' \
        /proc/net/netstat
}
for ((round = 1; round <= 3; round++)); do
    for burst in $BURSTS; do
        for backlog in 5 128; do
            program=$BIN/server
            [ "$backlog" = 5 ] && program=$BIN/server_backlog5
            start_server "$WORK/burst.log" "$program"
            before=$(listen_overflows)
            line=$("$LOADGEN" -k -n "$burst" -c "$burst" -t "$BURST_TIMEOUT_MS" 127.0.0.1 "$port") || true
            after=$(listen_overflows)
            stop_server || continue
            echo "burst=$burst backlog=$backlog $line overflows=$((after - before))" >>"$WORK/bursts"
        done
    done
done
printf '   %-6s %-8s | %9s %9s %9s | %-14s | %s\n' burst backlog "p50 ms" "p99 ms" "max ms" \
    "failed med/max" "overflows med"
for burst in $BURSTS; do
    for backlog in 5 128; do
        f=("$WORK/bursts" "burst=$burst" "backlog=$backlog")
        printf '   %-6s %-8s | %9.1f %9.1f %9.1f | %-14s | %s\n' "$burst" "$backlog" \
            "$(calc "$(median "${f[0]}" p50_us "${f[@]:1}") / 1000")" \
            "$(calc "$(median "${f[0]}" p99_us "${f[@]:1}") / 1000")" \
            "$(calc "$(median "${f[0]}" max_us "${f[@]:1}") / 1000")" \
            "$(median "${f[0]}" failed "${f[@]:1}")/$(maximum "${f[0]}" failed "${f[@]:1}")" \
            "$(median "${f[0]}" overflows "${f[@]:1}")"
    done
done

echo
echo "== one ./client run (a whole process) against a running ./server, vs /bin/true (hyperfine, 300 runs each)"
if command -v hyperfine >/dev/null; then
    start_server "$WORK/client.log" "$BIN/server"
    if [ "$("$BIN/client" 127.0.0.1 "$port")" != "Thank you for connecting"$'\r' ]; then
        echo "bench: ./client did not print the greeting" >&2
    fi
    timeout 120 hyperfine -N --style none --warmup 20 --runs 300 \
        --export-csv "$WORK/client.csv" "$BIN/client 127.0.0.1 $port" /bin/true \
        >/dev/null 2>"$WORK/hyperfine.err" || cat "$WORK/hyperfine.err" >&2
    stop_server || echo "bench: the client timing below is not usable" >&2
    awk -F, 'NR == 2 {c = $4} NR == 3 {t = $4}
             END {printf "   median: ./client %.0f us, /bin/true %.0f us, ratio %.2f\n",
                         c * 1e6, t * 1e6, c / t}' "$WORK/client.csv"
else
    echo "   skipped: hyperfine is not installed (apt-get install hyperfine)"
fi

echo
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "command: make bench   (took $SECONDS s)"
