# shellcheck shell=bash disable=SC2034 # the variables set here are read by the scripts
# tests/lib.sh - the one shell library of the tests, the lesson scripts and the
# bench: how a script starts a server and reads its port, bounded waits, and
# how a check reports.  Whatever is started here is killed on the way out.
#
#   start_server CMD...   runs CMD (./server 0, or ip netns exec NS ./server 0)
#                         in the background, its stdout in $work/server.out;
#                         waits for its "Listening on" and sets $server_pid
#                         and $port (from this server's output, never an
#                         older one's); returns 1, the server killed, if it
#                         has not said so within 10 s
#   stop_server [SIG]     sends SIG (default TERM), waits, sets $server_status;
#                         under a wrapper (strace), SIG goes to the server too
#   wait_until TENTHS CMD...  retries CMD every 0.1 s, TENTHS times at most
#   pass NAME, fail NAME, skip NAME [WHY]  one line each: ok NAME, FAIL NAME,
#                         SKIP NAME (WHY); what explains a FAIL goes below it
#   check NAME CMD...     ok if CMD succeeds; if not, FAIL and CMD's output
#   finish SUITE          prints the suite's totals; fails if a check failed
#   at_exit FUNCTION      runs FUNCTION on the way out, after the server is killed
#   $work                 a private folder, removed on the way out
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

# listening: the port of the server just started, once it has said it, or
# false; stops the wait (status 2) if the server has ended meanwhile.
listening() {
    port=$(sed -n '1s/^Listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
    [ -z "$port" ] || return 0
    ! stopped || return 2
    return 1
}
server_state() { sed 's/.*) //; s/ .*//' "/proc/$server_pid/stat" 2>/dev/null; }

start_server() {
    local tries=100 status   # 10 s: the line comes in milliseconds, even on a busy machine
    # The file is emptied here, before the server starts, so what is read
    # below can only be what this server wrote.
    : >"$work/server.out"
    : >"$work/server.err"
    # A script's background job ignores SIGINT: undone, as Ctrl-C would find it.
    (trap - INT; exec "$@") >"$work/server.out" 2>"$work/server.err" &
    server_pid=$! port=''
    until listening; do
        status=$? tries=$((tries - 1))
        if [ "$status" -eq 2 ] || [ "$tries" -le 0 ]; then
            echo "cannot start $*: $(cat "$work/server.err")" >&2
            { signal_server KILL; wait "$server_pid"; } 2>/dev/null || :   # none left behind
            server_pid=''
            return 1
        fi
        sleep 0.1
    done
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

# stopped: the server has ended (a zombie until waited for).
stopped() { [ ! -d "/proc/$server_pid" ] || [ "$(server_state)" = Z ]; }
stop_server() {
    signal_server "${1:-TERM}" 2>/dev/null || :
    # A server that outlives SIG for 10 s is killed: its status then says so.
    wait_until 100 stopped || signal_server KILL 2>/dev/null || :
    server_status=0
    wait "$server_pid" || server_status=$?
    server_pid=''
}

pass() { passed=$((passed + 1)); echo "ok $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1${2:+ ($2)}"; }
check() {
    local name=$1
    shift
    if "$@" >"$work/check.log" 2>&1; then pass "$name"
    else fail "$name"; sed 's/^/    /' "$work/check.log" | head -n 40; fi
}
finish() {
    echo "$1: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}
