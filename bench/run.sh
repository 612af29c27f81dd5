#!/usr/bin/env bash
# bench/run.sh - measure ./server against bare servers under the same load.
#   bench/run.sh           make bench: the comparison, then the backlog experiment
#   bench/run.sh --smoke   a step of make test: does the bench work?  Each server
#                          greets every connection with the exact bytes and logs
#                          one line each; loadgen refuses targets off loopback and
#                          counts refusals.  No figures.
# The yardstick for a logging server is "bare+log" (bench/bare -l): the bare
# accept/send/close loop writing the same log line the same way; plain bare
# runs beside it for information.  Every server takes its turn in every round,
# at 1, 32 and 128 clients at a time; the table has medians.
# Knobs (full run only; --smoke always measures ./server, as a test should):
#   SERVER="PATH..."  the server(s) to measure, default ./server.  Several take
#                     turns in the same rounds, an A/B comparison under the
#                     same noise: SERVER="./server /tmp/new/server"
#   ROUNDS=5  CONNS=100000 (per run at c=32 and c=128; c=1: 3/10 of it)
#   MAIN_ONLY=1       stop after the comparison
# Loopback only, on ports the kernel picks; tests/lib.sh starts and stops the
# servers, also on error or Ctrl-C.
set -euo pipefail
MODE=full && [ "${1:-}" != --smoke ] || MODE=smoke
[ $# = 0 ] || [ "$MODE" = smoke ] || { echo "usage: [SERVER=... ROUNDS=... CONNS=... MAIN_ONLY=1] bench/run.sh [--smoke]" >&2; exit 2; }
servers=()   # SERVER's paths are the caller's: resolved before lib.sh's cd
[ "$MODE" = smoke ] || for s in ${SERVER:-}; do servers+=("$(readlink -f "$s")"); done
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"
[ ${#servers[@]} -gt 0 ] || servers=("$PWD/server")

ROUNDS=${ROUNDS:-5} CONNS=${CONNS:-100000} WARMUP=2000
[ "$MODE" = full ] || ROUNDS=1 CONNS=200 WARMUP=0
N1=$((CONNS * 3 / 10)) && [ "$MODE" = full ] || N1=$CONNS
THREADS=$(nproc) && [ "$THREADS" -le 8 ] || THREADS=8   # one loadgen thread cannot keep up with bare
R=$work/runs BIN=$work/bin && : >"$R"

# Copies, so that a make clean meanwhile cannot pull the programs away; each
# server under test is named for its file, made unique: server, server2...
mkdir "$BIN" "$work/servers"
programs=(bench/loadgen bench/bare) && [ "$MODE" = smoke ] || programs+=(server bench/server_backlog5)
for f in "${programs[@]}"; do
    [ -x "$f" ] || { echo "bench: $f is missing (make bench builds it)" >&2; exit 1; }
    cp "$f" "$BIN/"
done
WHO=() && declare -A taken=([bare]=1 [bare+log]=1) path=()
for s in "${servers[@]}"; do
    [ -x "$s" ] || { echo "bench: $s is missing or not executable" >&2; exit 1; }
    name=$(basename "$s") n=2
    while [ -n "${taken[$name]:-}" ]; do name=$(basename "$s")$n n=$((n + 1)); done
    taken[$name]=1 WHO+=("$name") path[$name]=$s
    cp "$s" "$work/servers/$name"
done
ALL=("${WHO[@]}" bare+log bare)

PIN=(taskset -c 0) PINNED="pinned to CPU 0"
if [ "$MODE" = smoke ] || ! command -v taskset >/dev/null; then PIN=() PINNED="not pinned"; fi

# CPU seconds the server has used so far (schedstat: in ns, not clock ticks).
server_cpu() { awk '{print $1 / 1e9}' "/proc/$server_pid/schedstat"; }
# values FILE KEY FILTER...: KEY's value on each line holding every FILTER
# (whole key=value words); median and total of them; calc EXPRESSION.
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
calc() { awk "BEGIN {print $1}" 2>/dev/null || echo nan; }
# spread WHO CONC: the lowest and highest of the rounds' own ratios to bare+log.
spread() {
    local r
    for ((r = 1; r <= ROUNDS; r++)); do
        calc "$(values "$R" conn_per_s "round=$r" "who=$1" "conc=$2") / $(values "$R" conn_per_s "round=$r" who=bare+log "conc=$2")"
    done | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f\n", lo, hi}'
}

# measure WHO CONC COUNT: one run, appended to $R as "round=.. who=.. conc=..
# <loadgen's key=value line> server_us=.." (server CPU per connection).
# Returns 1 if a connection failed or the log is off, 2 if the server died
# under us (the run is then not recorded).
measure() {
    local who=$1 conc=$2 count=$3 pin=() cmd threads=$THREADS status=0 line before after want
    [ "$conc" != 1 ] || pin=("${PIN[@]}") threads=1
    local lg=("${pin[@]}" "$BIN/loadgen" -k -c "$conc" -T "$threads" -d 120 -t 5000)
    case $who in bare) cmd=("$BIN/bare") ;; bare+log) cmd=("$BIN/bare" -l) ;; *) cmd=("$work/servers/$who") ;; esac
    start_server "${pin[@]}" "${cmd[@]}" -b 127.0.0.1 0 || return 2
    [ "$WARMUP" = 0 ] || "${lg[@]}" -n "$WARMUP" 127.0.0.1 "$port" >/dev/null || status=1
    before=$(server_cpu)
    line=$("${lg[@]}" -n "$count" 127.0.0.1 "$port") || status=1
    after=$(server_cpu)
    [ "$(server_state)" != Z ] || { stop_server; echo "bench: $who ended by itself, status $server_status" >&2; return 2; }
    stop_server
    want=$((WARMUP + count)) && [ "$who" != bare ] || want=0
    [ "$(grep -cE '^Got a connection from 127\.1\.[0-9]+\.[0-9]+:[0-9]+$' "$work/server.out")" = "$want" ] || status=1
    [ ! -s "$work/server.err" ] || { status=1; cat "$work/server.err" >&2; }
    echo "round=$round who=$who conc=$conc $line server_us=$(calc "($after - $before) * 1e6 / $count")" >>"$R"
    return $status
}

[ "$MODE" = smoke ] || {
    echo "== ${WHO[*]} against bare+log (bare -l) and bare: $ROUNDS round(s), all interleaved, medians"
    for who in "${WHO[@]}"; do echo "   $who = ${path[$who]}"; done
    echo "   c=1: $N1 connections, server and loadgen $PINNED;" \
         "c=32, c=128: $CONNS, $THREADS loadgen threads, not pinned; warm-up $WARMUP"
}
for ((round = 1; round <= ROUNDS; round++)); do
    for conc in 1 32 128; do
        count=$CONNS && [ "$conc" != 1 ] || count=$N1
        for ((i = 0; i < ${#ALL[@]}; i++)); do
            who=${ALL[(i + round) % ${#ALL[@]}]}   # turns rotate: none always follows the same one
            for _ in 1 2 3; do rc=0 && measure "$who" "$conc" "$count" || rc=$? && [ "$rc" = 2 ] || break; done
            if [ "$MODE" = smoke ]; then
                what="$who greets $count connections at c=$conc with the exact bytes"
                [ "$who" = bare ] || what+=", one log line each"
                if [ "$rc" = 0 ]; then pass "$what"; else fail "$what"; tail -n 1 "$R" | sed 's/^/    /'; fi
            elif [ "$rc" != 0 ]; then
                echo "bench: round $round, $who, c=$conc: connections failed, the log is off," \
                     "or the server died 3 times: $(tail -n 1 "$R")" >&2
            fi
        done
    done
done

if [ "$MODE" = smoke ]; then
    refused=0 what="loadgen counts connections refused by a closed port as failures"
    for target in 192.0.2.1 10.0.0.1 2001:db8::1 localhost; do
        st=0 && "$BIN/loadgen" -n 1 "$target" 9 >/dev/null 2>&1 || st=$?
        [ "$st" = 2 ] || { refused=1; echo "    loadgen accepted $target (status $st)"; }
    done >"$work/refused"
    if [ "$refused" = 0 ]; then pass "loadgen refuses targets off loopback"
    else fail "loadgen refuses targets off loopback"; cat "$work/refused"; fi
    # A port nobody listens on: the one the last server used, now closed.
    st=0 && line=$("$BIN/loadgen" -k -n 20 -c 4 127.0.0.1 "$port" 2>/dev/null) || st=$?
    if [ "$st" = 1 ] && [ "$(values - refused <<<"$line")" = 20 ] && [ "$(values - ok <<<"$line")" = 0 ]
    then pass "$what"; else fail "$what"; echo "    status $st: $line"; fi
    finish bench; exit
fi

printf '\n%-4s %-14s | %8s %9s %9s %6s | %7s %7s | %8s | %s\n' c who conn/s /bare+log \
    "per round" /bare "p50 us" "p99 us" "CPU us/c" failed
for conc in 1 32 128; do
    bl=$(median "$R" conn_per_s who=bare+log "conc=$conc") b=$(median "$R" conn_per_s who=bare "conc=$conc")
    for who in "${ALL[@]}"; do
        f=("$R" "who=$who" "conc=$conc") r=$(median "$R" conn_per_s "who=$who" "conc=$conc")
        printf '%-4s %-14s | %8.0f %9.3f %9s %6.3f | %7.1f %7.1f | %8.2f | %s\n' "$conc" "$who" \
            "$r" "$(calc "$r / $bl")" "$(spread "$who" "$conc")" "$(calc "$r / $b")" \
            "$(median "${f[0]}" p50_us "${f[@]:1}")" "$(median "${f[0]}" p99_us "${f[@]:1}")" \
            "$(median "${f[0]}" server_us "${f[@]:1}")" "$(total "${f[0]}" failed "${f[@]:1}")"
    done
done
echo "(medians over $ROUNDS round(s); per round: the range of the rounds' own ratios to bare+log;" \
     "failed: sums; CPU us/c: the server's CPU time per connection; c=1 $PINNED)"

if [ "${MAIN_ONLY:-0}" != 1 ]; then
    echo
    echo "== backlog experiment: ./server and a copy with listen(5), a burst of connections started at once, 3 rounds, medians"
    echo "   (failed: connections not greeted within 5 s, ./client's default timeout;" \
         "overflows: the kernel's ListenOverflows counter, machine-wide)"
    overflows() {
        awk '/^TcpExt:/ {if (!seen) {for (i = 1; i <= NF; i++) name[i] = $i; seen = 1}
                         else for (i = 1; i <= NF; i++) if (name[i] == "ListenOverflows") print $i}' /proc/net/netstat
    }
    for ((round = 1; round <= 3; round++)); do
        for burst in 256 512; do
            for backlog in 5 128; do
                program=$BIN/server && [ "$backlog" != 5 ] || program=$BIN/server_backlog5
                start_server "$program" -b 127.0.0.1 0
                before=$(overflows)
                line=$("$BIN/loadgen" -k -n "$burst" -c "$burst" -t 5000 127.0.0.1 "$port") || true
                echo "burst=$burst backlog=$backlog $line overflows=$(($(overflows) - before))" >>"$work/bursts"
                stop_server
            done
        done
    done
    printf '   %-6s %-8s | %9s %9s %9s | %-14s | %s\n' burst backlog "p50 ms" "p99 ms" "max ms" \
        "failed med/max" "overflows med"
    for burst in 256 512; do
        for backlog in 5 128; do
            f=("$work/bursts" "burst=$burst" "backlog=$backlog")
            printf '   %-6s %-8s | %9.1f %9.1f %9.1f | %-14s | %s\n' "$burst" "$backlog" \
                "$(calc "$(median "${f[0]}" p50_us "${f[@]:1}") / 1000")" \
                "$(calc "$(median "${f[0]}" p99_us "${f[@]:1}") / 1000")" \
                "$(calc "$(median "${f[0]}" max_us "${f[@]:1}") / 1000")" \
                "$(median "${f[0]}" failed "${f[@]:1}")/$(values "${f[0]}" failed "${f[@]:1}" | sort -g | tail -n 1)" \
                "$(median "${f[0]}" overflows "${f[@]:1}")"
        done
    done
fi
echo
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "command: make bench   (took $SECONDS s)"
