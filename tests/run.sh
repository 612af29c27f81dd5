#!/usr/bin/env bash
# tests/run.sh [test|abuse] - make test (or make abuse): every suite, each one
# even if one before it failed, in network namespaces of their own
# (tests/isolated.sh), each check one line:
#
#   ok SUITE: NAME
#   FAIL SUITE: NAME          with below it what explains it, the programs'
#                             error output included (hidden when all is well)
#   SKIP SUITE: NAME (WHY)    WHY: exactly what is missing
#
# The last line is the total over all of them; the status is 0 only if none
# failed.  cmocka's programs report in TAP, turned into the same lines.
set -u
[ -n "${ISOLATED:-}" ] || exec "$(dirname "$0")/isolated.sh" bash "$0" "$@"
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

# relay SUITE STATUS LOG: LOG's checks, each named SUITE: NAME, and the lines
# after a FAIL; a suite that ended badly but reported no FAIL, or no check
# at all, is a FAIL with the end of its LOG.
relay() {
    local suite=$1 status=$2 log=$3 line show=0 checks=0 before=$failed
    while IFS= read -r line; do
        case $line in
            'ok '*) pass "$suite: ${line#ok }"; show=0 ;;
            'FAIL '*) fail "$suite: ${line#FAIL }"; show=1 ;;
            'SKIP '*) skip "$suite: ${line#SKIP }"; show=0 ;;
            [[:space:]]*) [ "$show" = 0 ] || echo "$line"; continue ;;
            *) [ "$show" = 0 ] || echo "    $line"; continue ;;
        esac
        checks=$((checks + 1))
    done <"$log"
    if [ "$checks" = 0 ] || { [ "$status" != 0 ] && [ "$failed" = "$before" ]; }; then
        fail "$suite: ended with status $status after $checks checks"
        tail -n 20 "$log" | sed 's/^/    /'
    fi
}

# script SUITE CMD...: a script of checks (tests/lib.sh's lines).
script() {
    local suite=$1 status=0
    shift
    "$@" >"$work/log" 2>&1 </dev/null || status=$?
    relay "$suite" "$status" "$work/log"
}

# meanwhile SUITE CMD...: starts a script of checks that keeps to namespaces
# of its own, beside the others; its lines come where reported SUITE says.
meanwhile() {
    local suite=$1
    shift
    { "$@" >"$work/$suite.log" 2>&1 </dev/null; echo $? >"$work/$suite.status"; } &
}
reported() { wait; relay "$1" "$(cat "$work/$1.status")" "$work/$1.log"; }

# cmocka SUITE PROGRAM: a cmocka program's TAP as checks.  What a test printed
# before a SKIP says why; after a failure, its messages, then the program's
# standard error.
cmocka() {
    local suite=$1 status=0 before=$failed
    CMOCKA_MESSAGE_OUTPUT=TAP "$2" >"$work/tap" 2>"$work/stderr" </dev/null || status=$?
    awk 'function name(s) { sub(/^test_/, "", s); return s }
        /^1\.\.[0-9]+$/ { planned = substr($0, 4); next }
        /^ok [0-9]+ - / { sub(/^ok [0-9]+ - /, ""); print "ok " name($0); said = ""; n++; next }
        /^not ok [0-9]+ # SKIP / {
            sub(/^not ok [0-9]+ # SKIP /, "")
            print "SKIP " name($0) " (" (said == "" ? "the test gives no reason" : said) ")"
            said = ""; n++; next
        }
        /^not ok [0-9]+ - / {
            sub(/^not ok [0-9]+ - /, ""); print "FAIL " name($0)
            if (said != "") print "    " said
            said = ""; n++; failing = 1; next
        }
        /^# (not )?ok - / { next }
        /^# / { if (failing) print "    " substr($0, 3); next }
        { failing = 0; line = $0; sub(/^[ \t]*(SKIP )?/, "", line); said = said == "" ? line : said "; " line }
        END { if (n < planned + 0) print "FAIL stopped after " n " of " planned " tests" }' \
        "$work/tap" >"$work/log"
    relay "$suite" "$status" "$work/log"
    if [ "$failed" != "$before" ] && [ -s "$work/stderr" ]; then
        echo "    $2 on standard error:"
        tail -n 40 "$work/stderr" | sed 's/^/    /'
    fi
}

case ${1:-test} in
test)
    meanwhile lesson tests/lesson.sh   # the longest: a network, a hosts file of its own
    cmocka unit_server tests/unit_server
    cmocka unit_client tests/unit_client
    script cli tests/cli.sh
    cmocka pair tests/pair
    script peers tests/peers.sh
    script netns tests/netns.sh
    reported lesson
    script bench bench/run.sh --smoke ;;
abuse)
    cmocka abuse tests/abuse
    script checkers tests/checkers.sh ;;
*) echo "usage: tests/run.sh [test|abuse]" >&2; exit 2 ;;
esac
finish total
