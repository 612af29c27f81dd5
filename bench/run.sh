#!/usr/bin/env bash
# bench/run.sh - measure ./server against bench/bin/bare under the same load.
#
#   bench/run.sh           the full benchmark (make bench), a few minutes
#   bench/run.sh --smoke   the same comparison, tiny and unpinned, as a test
#                          (make test-bench-smoke): fails if any connection
#                          fails, the bytes are wrong, or the log is off
#
# Everything runs on loopback with servers on ports the kernel picks.
# ./server's log goes to a file, as in `./server > server.log`.  Every
# server started here is stopped here, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
if [ "${1:-}" = --smoke ]; then
    MODE=smoke
elif [ $# -gt 0 ]; then
    echo "usage: bench/run.sh [--smoke]" >&2
    exit 2
fi

if [ "$MODE" = smoke ]; then
    ROUNDS=1; N1=200; N32=200; WARMUP=0
else
    ROUNDS=5; N1=30000; N32=100000; WARMUP=2000
fi
# c=32 needs more than one loadgen thread to keep up with bare (measured: one
# thread held bare to ~70k conn/s, two let it reach ~90k on 2 cores); the
# bottleneck check below shows that twice as many threads add nothing.
THREADS=$(nproc)
[ "$THREADS" -gt 8 ] && THREADS=8
BURSTS="256 512"      # backlog experiment: connections started at once
BURST_ROUNDS=3
BURST_TIMEOUT_MS=5000 # as long as ./client waits by default

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
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
BIN=$WORK/bin
mkdir "$BIN"
programs=(server client bench/bin/loadgen bench/bin/bare)
[ "$MODE" = full ] && programs+=(bench/bin/server_backlog5)
for f in "${programs[@]}"; do
    [ -x "$f" ] || { echo "bench: $f is missing (run make bench)" >&2; exit 1; }
    cp "$f" "$BIN/"
done
LOADGEN=$BIN/loadgen

PIN=(taskset -c 0)
if ! command -v taskset >/dev/null; then
    echo "bench: taskset (util-linux) not found: c=1 runs unpinned, expect noise" >&2
    PIN=()
fi

# start_server PROGRAM LOG [PIN...]: sets server_pid and port.
start_server() {
    local program=$1 log=$2 line i
    shift 2
    "$@" "$program" -b 127.0.0.1 0 >"$log" 2>"$log.err" &
    server_pid=$!
    for ((i = 0; i < 100; i++)); do            # up to 5 s
        line=$(head -n 1 "$log")
        if [[ $line == "Listening on 127.0.0.1:"* ]]; then
            port=${line##*:}
            return 0
        fi
        sleep 0.05
    done
    echo "bench: $program did not start:" >&2
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

# CPU seconds (user + system) the server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13) / hz}' \
        "/proc/$server_pid/stat"
}

# key=value lookup in a line of loadgen -k output.
kv() {
    awk -v k="$1" '{for (i = 1; i <= NF; i++) if (index($i, k "=") == 1)
                        print substr($i, length(k) + 2)}' <<<"$2"
}

# median FILE KEY FILTER...: the median of KEY over lines holding every FILTER.
median() {
    local file=$1 key=$2
    shift 2
    local pattern line values=()
    while IFS= read -r line; do
        for pattern in "$@"; do [[ " $line " == *" $pattern "* ]] || continue 2; done
        values+=("$(kv "$key" "$line")")
    done <"$file"
    printf '%s\n' "${values[@]}" | sort -g | awk '{v[NR] = $1}
        END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
             else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# total FILE KEY FILTER...: the sum instead.
total() {
    local file=$1 key=$2
    shift 2
    local pattern line sum=0
    while IFS= read -r line; do
        for pattern in "$@"; do [[ " $line " == *" $pattern "* ]] || continue 2; done
        sum=$((sum + $(kv "$key" "$line")))
    done <"$file"
    echo "$sum"
}

passed=0
failed=0
check() {  # check NAME CONDITION-STATUS
    if [ "$2" = 0 ]; then
        passed=$((passed + 1)); echo "  ok    $1"
    else
        failed=$((failed + 1)); echo "  FAIL  $1"
    fi
}

# One measured run: who (server|bare), concurrency, count, pinned (yes|no).
# Appends "who=.. conc=.. pinned=.. <loadgen's key=value line> log_ok=..
# server_cpu_s=.." to $WORK/runs.  Returns 0 if all went well, 1 if any
# connection failed or the log is off, 2 if the server died under us (the
# run is then not recorded).
measure() {
    local who=$1 conc=$2 count=$3 pinned=$4 program log before after line status=0
    local threads=1
    [ "$conc" -gt 1 ] && threads=$THREADS
    local lg=("$LOADGEN" -k -c "$conc" -T "$threads" -d 120 -t 5000)
    local pin=()
    [ "$pinned" = yes ] && pin=("${PIN[@]}")
    program=$BIN/server
    [ "$who" = bare ] && program=$BIN/bare
    log=$WORK/$who.log
    start_server "$program" "$log" "${pin[@]}"
    if [ "$WARMUP" -gt 0 ]; then
        "${pin[@]}" "${lg[@]}" -n "$WARMUP" 127.0.0.1 "$port" >/dev/null || status=1
    fi
    before=$(server_cpu)
    line=$("${pin[@]}" "${lg[@]}" -n "$count" 127.0.0.1 "$port") || status=1
    after=$(server_cpu)
    stop_server || return 2
    local log_ok=1
    if [ "$who" = server ]; then
        # One "Got a connection" line per connection, after "Listening on".
        local lines
        lines=$(grep -c '^Got a connection from 127\.1\.' "$log" || true)
        [ "$lines" = $((WARMUP + count)) ] || { log_ok=0; status=1; }
        [ ! -s "$log.err" ] || { log_ok=0; status=1; cat "$log.err" >&2; }
    fi
    echo "who=$who conc=$conc pinned=$pinned $line log_ok=$log_ok" \
         "server_cpu_s=$(awk -v a="$before" -v b="$after" 'BEGIN {print b - a}')" \
         >>"$WORK/runs"
    return $status
}

[ "$MODE" = smoke ] && PIN=()   # a test: quick, pinning is for measuring
echo "== ./server vs bare: $ROUNDS round(s), servers interleaved, medians"
echo "   c=1: $N1 connections, server and loadgen pinned (${PIN[*]:-not pinned});" \
     "c=32: $N32 connections, not pinned, $THREADS loadgen threads; warm-up $WARMUP connections"
: >"$WORK/runs"
for ((round = 1; round <= ROUNDS; round++)); do
    for conc in 1 32; do
        count=$N1 pinned=yes
        [ "$conc" = 32 ] && count=$N32 pinned=no
        for who in server bare; do
            for _ in 1 2 3; do      # again only if the server died
                rc=0
                measure "$who" "$conc" "$count" "$pinned" || rc=$?
                [ "$rc" = 2 ] || break
            done
            if [ "$MODE" = smoke ]; then
                what="$who greets $count connections at c=$conc with the exact bytes"
                [ "$who" = server ] && what="$what, one log line each"
                check "$what" "$rc"
            elif [ "$rc" = 1 ]; then
                echo "bench: round $round, $who, c=$conc: connections failed or log is off:" >&2
                tail -n 1 "$WORK/runs" >&2
            elif [ "$rc" = 2 ]; then
                echo "bench: round $round, $who, c=$conc: no usable run (server died 3 times)" >&2
            fi
        done
    done
done

R=$WORK/runs
declare -A ratio p99ratio server_failures
printf '\n%-4s %-6s | %9s %9s %6s | %7s %7s | %7s %7s %6s | %s\n' \
    c pinned "server/s" "bare/s" ratio "p50 s" "p50 b" "p99 s" "p99 b" ratio "failed s/b"
for conc in 1 32; do
    pinned=yes
    [ "$conc" = 32 ] && pinned=no
    [ ${#PIN[@]} -eq 0 ] && [ "$conc" = 1 ] && pinned=no
    sr=$(median "$R" conn_per_s who=server "conc=$conc")
    br=$(median "$R" conn_per_s who=bare "conc=$conc")
    s50=$(median "$R" p50_us who=server "conc=$conc")
    b50=$(median "$R" p50_us who=bare "conc=$conc")
    s99=$(median "$R" p99_us who=server "conc=$conc")
    b99=$(median "$R" p99_us who=bare "conc=$conc")
    sf=$(total "$R" failed who=server "conc=$conc")
    bf=$(total "$R" failed who=bare "conc=$conc")
    printf '%-4s %-6s | %9.0f %9.0f %6.2f | %7.1f %7.1f | %7.1f %7.1f %6.2f | %s/%s\n' \
        "$conc" "$pinned" "$sr" "$br" "$(awk -v a="$sr" -v b="$br" 'BEGIN {print a / b}')" \
        "$s50" "$b50" "$s99" "$b99" "$(awk -v a="$s99" -v b="$b99" 'BEGIN {print a / b}')" \
        "$sf" "$bf"
    ratio[$conc]=$(awk -v a="$sr" -v b="$br" 'BEGIN {print a / b}')
    p99ratio[$conc]=$(awk -v a="$s99" -v b="$b99" 'BEGIN {print a / b}')
    server_failures[$conc]=$sf
done
echo "(conn/s and latency in microseconds: medians over $ROUNDS round(s); failed: sums; s = ./server, b = bare)"

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
    [ "$st" = 1 ] && [ "$(kv refused "$line")" = 20 ] && [ "$(kv ok "$line")" = 0 ] && rc=0
    check "loadgen counts connections refused by a closed port as failures" "$rc"
    echo "bench smoke: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
fi

# Is the load generator the bottleneck?  Whether more loadgen threads make
# bare any faster at c=32, and its CPU against the server's.
echo
echo "== is loadgen the bottleneck? (c=32 against bare, 3 rounds each, interleaved)"
: >"$WORK/threads"
for ((round = 1; round <= 3; round++)); do
    for threads in 1 "$THREADS" $((2 * THREADS)); do
        start_server "$BIN/bare" "$WORK/bare.log"
        "$LOADGEN" -c 32 -n "$WARMUP" 127.0.0.1 "$port" >/dev/null || true
        before=$(server_cpu)
        line=$("$LOADGEN" -k -c 32 -T "$threads" -n "$N32" 127.0.0.1 "$port") || true
        after=$(server_cpu)
        stop_server || continue
        echo "threads=$threads $line server_cpu_s=$(awk -v a="$before" -v b="$after" 'BEGIN {print b - a}')" >>"$WORK/threads"
    done
done
for threads in 1 "$THREADS" $((2 * THREADS)); do
    rate=$(median "$WORK/threads" conn_per_s "threads=$threads")
    el=$(median "$WORK/threads" elapsed_s "threads=$threads")
    lcpu=$(median "$WORK/threads" cpu_s "threads=$threads")
    scpu=$(median "$WORK/threads" server_cpu_s "threads=$threads")
    printf '   loadgen threads %2s: %6.0f conn/s; CPU busy: loadgen %3.0f%%, bare %3.0f%% of one core\n' \
        "$threads" "$rate" "$(awk -v c="$lcpu" -v e="$el" 'BEGIN {print 100 * c / e}')" \
        "$(awk -v c="$scpu" -v e="$el" 'BEGIN {print 100 * c / e}')"
done
for who in server bare; do
    el=$(median "$R" elapsed_s "who=$who" conc=32)
    lcpu=$(median "$R" cpu_s "who=$who" conc=32)
    scpu=$(median "$R" server_cpu_s "who=$who" conc=32)
    printf '   main runs, c=32 against %-6s CPU busy: loadgen %3.0f%%, %s %3.0f%% of one core\n' \
        "$who:" "$(awk -v c="$lcpu" -v e="$el" 'BEGIN {print 100 * c / e}')" "$who" \
        "$(awk -v c="$scpu" -v e="$el" 'BEGIN {print 100 * c / e}')"
done
echo "   ($(nproc) CPUs; on loopback much of the TCP work of both ends is charged to whichever side triggers it)"

echo
echo "== peak resident memory of ./server (VmHWM), c=32"
start_server "$BIN/server" "$WORK/mem.log"
"$LOADGEN" -c 32 -n 1000 127.0.0.1 "$port" >/dev/null || echo "bench: connections failed in the memory run" >&2
hwm1=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status" || true)
"$LOADGEN" -c 32 -n 99000 127.0.0.1 "$port" >/dev/null || echo "bench: connections failed in the memory run" >&2
hwm2=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status" || true)
stop_server || echo "bench: the memory numbers above are not usable" >&2
growth=unknown
[ -n "$hwm1" ] && [ -n "$hwm2" ] && growth="grew by $((hwm2 - hwm1)) kB"
[ "$growth" = "grew by 0 kB" ] && growth=flat
echo "   after 1,000 connections: ${hwm1:-?} kB; after 100,000: ${hwm2:-?} kB ($growth)"

echo
echo "== backlog experiment: a burst of connections started at once, $BURST_ROUNDS rounds, medians"
echo "   (failed: connections not greeted within $((BURST_TIMEOUT_MS / 1000)) s, ./client's default timeout;" \
     "overflows: the kernel's ListenOverflows counter, machine-wide)"
listen_overflows() {
    awk '/^TcpExt:/ {if (!seen) {for (i = 1; i <= NF; i++) name[i] = $i; seen = 1}
                     else for (i = 1; i <= NF; i++) if (name[i] == "ListenOverflows") print $i}' \
        /proc/net/netstat
}
: >"$WORK/bursts"
for ((round = 1; round <= BURST_ROUNDS; round++)); do
    for burst in $BURSTS; do
        for backlog in 5 128; do
            program=$BIN/server
            [ "$backlog" = 5 ] && program=$BIN/server_backlog5
            start_server "$program" "$WORK/burst.log"
            before=$(listen_overflows)
            line=$("$LOADGEN" -k -n "$burst" -c "$burst" -t "$BURST_TIMEOUT_MS" 127.0.0.1 "$port") || true
            after=$(listen_overflows)
            stop_server || continue
            echo "burst=$burst backlog=$backlog $line overflows=$((after - before))" >>"$WORK/bursts"
        done
    done
done
# maximum FILE KEY FILTER...: the largest value (one bad round matters here).
maximum() {
    local file=$1 key=$2
    shift 2
    local pattern line max=0 v
    while IFS= read -r line; do
        for pattern in "$@"; do [[ " $line " == *" $pattern "* ]] || continue 2; done
        v=$(kv "$key" "$line")
        [ "$v" -gt "$max" ] && max=$v
    done <"$file"
    echo "$max"
}
printf '   %-6s %-8s | %9s %9s %9s | %-14s | %s\n' burst backlog "p50 ms" "p99 ms" "max ms" \
    "failed med/max" "overflows med"
for burst in $BURSTS; do
    for backlog in 5 128; do
        printf '   %-6s %-8s | %9.1f %9.1f %9.1f | %-14s | %s\n' "$burst" "$backlog" \
            "$(awk -v v="$(median "$WORK/bursts" p50_us "burst=$burst" "backlog=$backlog")" 'BEGIN {print v / 1000}')" \
            "$(awk -v v="$(median "$WORK/bursts" p99_us "burst=$burst" "backlog=$backlog")" 'BEGIN {print v / 1000}')" \
            "$(awk -v v="$(median "$WORK/bursts" max_us "burst=$burst" "backlog=$backlog")" 'BEGIN {print v / 1000}')" \
            "$(median "$WORK/bursts" failed "burst=$burst" "backlog=$backlog")/$(maximum "$WORK/bursts" failed "burst=$burst" "backlog=$backlog")" \
            "$(median "$WORK/bursts" overflows "burst=$burst" "backlog=$backlog")"
    done
done

echo
echo "== one ./client run (a whole process) against a running ./server, vs /bin/true (hyperfine, 300 runs each)"
if command -v hyperfine >/dev/null; then
    start_server "$BIN/server" "$WORK/client.log"
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
echo "== targets (information, not a pass/fail of make bench)"
target() { awk -v v="$2" -v t="$3" -v op="$4" -v name="$1" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t
    printf "   %-38s %s %-5s %s (measured %.2f)\n", name, op, t, ok ? "met" : "MISSED", v}'; }
target "c=1 conn/s, server / bare" "${ratio[1]}" 0.90 ">="
target "c=32 conn/s, server / bare" "${ratio[32]}" 0.85 ">="
target "c=1 p99, server / bare" "${p99ratio[1]}" 1.5 "<="
target "c=32 p99, server / bare" "${p99ratio[32]}" 1.5 "<="
echo "   failed connections to ./server: $((server_failures[1] + server_failures[32])) (target 0)"
echo "   peak RSS 1k -> 100k connections: $hwm1 kB -> $hwm2 kB (target: flat)"
echo
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "command: make bench   (took $SECONDS s)"
