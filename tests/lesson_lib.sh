# shellcheck shell=bash
# lesson_lib.sh - what demo.sh, trace.sh and packets.sh share (sourced, not run).
#
# Starts ./server on a free port, runs ./client against it, prints what each
# says with a label, and stops the server with SIGINT.  Every wait is bounded,
# and the EXIT trap kills and reaps whatever is still running, so nothing is
# left behind even when a step fails or the user presses Ctrl-C.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/lesson.XXXXXX")
started=()     # pids of what we put in the background
server_pid=    # the server process itself (under strace: strace's child)
runner_pid=    # what we started for it: the server, or strace running it
port=

lesson_cleanup() {
    local status=$?
    local pid
    # The server first: killing strace alone would leave its tracee running.
    [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
    for pid in ${started[@]+"${started[@]}"}; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in ${started[@]+"${started[@]}"}; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap lesson_cleanup EXIT
# Without these, a signal would end the script without the EXIT trap: a
# closed terminal (HUP), Ctrl-C (INT), kill (TERM), or a reader that went
# away, as in make demo | head (PIPE).
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# forget PID: PID has been waited for, so the cleanup must not kill it (the
# number may already belong to another process).
forget() {
    local pid kept=()
    for pid in ${started[@]+"${started[@]}"}; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    started=("${kept[@]}")
}

die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

# wait_until TENTHS COMMAND...: retries COMMAND every 0.1 s, TENTHS times at most.
wait_until() {
    local tries=$1
    shift
    while ! "$@"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

# running PID: PID exists and has not ended (an ended child not yet waited
# for still answers kill -0, so ask ps for its state).
running() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}
stopped() { ! running "$1"; }

# show LABEL FILE: prints the lines of FILE not shown yet, each after "LABEL | ".
# A last line without its newline (still being written) waits for next time.
declare -A shown
show() {
    local label=$1 file=$2 from=$(( ${shown[$2]:-0} + 1 )) complete
    [ -f "$file" ] || return 0
    complete=$(grep -c '' "$file" || true)
    if [ -s "$file" ] && [ "$(tail -c 1 "$file" | od -An -c | tr -d ' ')" != '\n' ]; then
        complete=$((complete - 1))
    fi
    [ "$complete" -ge "$from" ] || return 0
    sed -n "${from},${complete}p" "$file" | tr -d '\r' | sed "s/^/$label | /"
    shown[$file]=$complete
}

# say COMMAND: shows a command the way a terminal would.
say() { printf '$ %s\n' "$*"; }

# start_server COMMAND...: runs COMMAND (ending in "./server 0") in the
# background and waits for its "Listening on" line; sets port, server_pid.
start_server() {
    "$@" >"$work/server.out" 2>"$work/server.err" &
    runner_pid=$!
    started+=("$runner_pid")
    server_pid=$runner_pid
    if [ "$1" != ./server ]; then   # run under another program: find its child
        wait_until 50 child_of "$runner_pid" >/dev/null ||
            die "the server did not start: $(cat "$work/server.err")"
        server_pid=$(child_of "$runner_pid")
    fi
    if ! wait_until 50 grep -q '^Listening on ' "$work/server.out"; then
        cat "$work/server.err" >&2
        die "the server did not say 'Listening on' within 5 s"
    fi
    port=$(sed -n 's/^Listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
    [ -n "$port" ] || die "no port in: $(head -n 1 "$work/server.out")"
}

child_of() { ps -o pid= --ppid "$1" | tr -d ' ' | grep .; }

# run_client OUTFILE COMMAND...: runs a client to the end (10 s at most), its
# stdout to OUTFILE and stderr to OUTFILE.err, and waits for the server to log
# it; fails unless the client got the 26-byte greeting.
clients=0
run_client() {
    local out=$1 status=0
    shift
    timeout 10 "$@" >"$out" 2>"$out.err" || status=$?
    clients=$((clients + 1))
    wait_until 30 logged "$clients" || die "the server logged no connection"
    if [ "$status" -ne 0 ] || [ "$(wc -c <"$out")" -ne 26 ]; then
        cat "$out.err" >&2
        die "the client exited with status $status after printing" \
            "$(wc -c <"$out") bytes, not the 26 of the greeting"
    fi
}

# logged N: the server has logged N connections.
logged() { [ "$(grep -c '^Got a connection from ' "$work/server.out")" -ge "$1" ]; }

# stop_server: SIGINT, as Ctrl-C would; the server must exit 0 within 5 s.
stop_server() {
    local status=0
    kill -INT "$server_pid"
    if ! wait_until 50 stopped "$runner_pid"; then
        kill -KILL "$runner_pid" 2>/dev/null || true
        die "the server did not stop within 5 s of SIGINT"
    fi
    wait "$runner_pid" || status=$?
    forget "$runner_pid"
    server_pid=
    [ "$status" -eq 0 ] || die "the server exited with status $status after SIGINT, not 0"
}

# ipv6_ok: the server listens on [::] and this machine has ::1.
ipv6_ok() {
    grep -q '^Listening on \[' "$work/server.out" &&
        grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}
