# shellcheck shell=bash
# tests/lib.sh - sourced by the shell tests and the lesson scripts: the one way
# to start a server from a script and read its port, bounded waits, and the
# count of results.  Whatever is started here is killed on the way out.
#
#   start_server CMD...   runs CMD (./server 0, or ip netns exec NS ./server 0)
#                         in the background, its stdout in $work/server.out;
#                         waits for "Listening on" and sets $server_pid, $port
#   stop_server [SIG]     sends SIG (default TERM), waits, sets $server_status;
#                         under a wrapper (strace), SIG goes to the server too
#   wait_until TENTHS CMD...  retries CMD every 0.1 s, TENTHS times at most
#   pass/fail/skip NAME   counts a result;  finish SUITE  prints the totals
#   at_exit FUNCTION      runs FUNCTION on the way out, after the server is killed
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/pair.XXXXXX")
server_pid='' port='' server_status='' passed=0 failed=0 skipped=0 exit_hooks=()

cleanup() {
    local status=$? hook
    [ -z "$server_pid" ] || { signal_server KILL; wait "$server_pid"; } 2>/dev/null || :
    for hook in ${exit_hooks[@]+"${exit_hooks[@]}"}; do "$hook"; done
    rm -rf "$work"
    exit "$status"
}
at_exit() { exit_hooks+=("$1"); }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

wait_until() {
    local tries=$1
    shift
    until "$@"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

start_server() {
    : >"$work/server.out"
    # A script's background job ignores SIGINT: undone, as Ctrl-C would find it.
    (trap - INT; exec "$@") >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    wait_until 50 grep -q '^Listening on' "$work/server.out" || {
        echo "cannot start $*: $(cat "$work/server.err")" >&2
        return 1
    }
    port=$(sed -n 's/^Listening on .*:\([0-9]*\)$/\1/p' "$work/server.out")
}

# children PID: its child processes (Linux /proc; no procps needed).
children() { tr ' ' '\n' <"/proc/$1/task/$1/children" 2>/dev/null; }
# signal_server SIG: to the server, and to its child if CMD was a wrapper:
# strace blocks most signals, and if killed leaves the server running.
signal_server() {
    local child
    for child in $(children "$server_pid"); do kill -"$1" "$child"; done
    kill -"$1" "$server_pid"
}

stop_server() {
    signal_server "${1:-TERM}" 2>/dev/null || :
    server_status=0
    wait "$server_pid" || server_status=$?
    server_pid=''
}

pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP  $*"; }
finish() {
    echo "$1: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}
