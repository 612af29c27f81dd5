#!/usr/bin/env bash
# run-checkers.sh - tools that check the code itself.
#
#  1. cppcheck, clang-tidy and gcc -fanalyzer on server.c and client.c;
#  2. the end-to-end suite (tests/bin/e2e, when it exists) and the abuse
#     tests against the AddressSanitizer + UBSan build in build/asan/;
#  3. the same under valgrind memcheck, with build/valgrind/.
# Any sanitizer or valgrind report, from any process, fails the run: every
# report goes to a file under build/abuse/, and those must all be empty.
#
# Run from `make abuse-checkers`, which builds build/asan/ and the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
make=${MAKE:-make}
logs=$PWD/build/abuse
sources=(server.c client.c)
std=(-std=c11 -D_POSIX_C_SOURCE=200809L)

passed=0
failed=0
skipped=0
pass() { echo "[       OK ] $1"; passed=$((passed + 1)); }
fail() { echo "[  FAILED  ] $1"; failed=$((failed + 1)); }
skip() { echo "[  SKIPPED ] $1: $2"; skipped=$((skipped + 1)); }

rm -rf "$logs"
mkdir -p "$logs"

# ---- static checks ---------------------------------------------------------

if command -v cppcheck >/dev/null; then
    if cppcheck --enable=warning,style,performance,portability --std=c11 \
        --error-exitcode=1 --quiet "${sources[@]}"; then
        pass "cppcheck server.c client.c"
    else
        fail "cppcheck server.c client.c"
    fi
else
    skip "cppcheck" "not installed"
fi

# Left out: cert-err33-c (wants the result of every fprintf to stderr used)
# and the Annex K "insecure API" check (memset_s, snprintf_s: not in glibc).
tidy_checks='clang-analyzer-*,bugprone-*,cert-*,-cert-err33-c'
tidy_checks+=',-bugprone-easily-swappable-parameters'
tidy_checks+=',-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
if command -v clang-tidy >/dev/null; then
    if clang-tidy --quiet --warnings-as-errors='*' --checks="$tidy_checks" \
        "${sources[@]}" -- "${std[@]}" 2>"$logs/clang-tidy.err"; then
        pass "clang-tidy server.c client.c"
    else
        cat "$logs/clang-tidy.err"
        fail "clang-tidy server.c client.c"
    fi
else
    skip "clang-tidy" "not installed"
fi

if gcc -fanalyzer -x c -c /dev/null -o /dev/null 2>/dev/null; then
    analyzer_ok=1
    for f in "${sources[@]}"; do
        gcc "${std[@]}" -Wall -Wextra -Wpedantic -Werror -O2 -fanalyzer \
            -c "$f" -o /dev/null || analyzer_ok=0
    done
    if [ "$analyzer_ok" -eq 1 ]; then
        pass "gcc -fanalyzer server.c client.c"
    else
        fail "gcc -fanalyzer server.c client.c"
    fi
else
    skip "gcc -fanalyzer" "this gcc has no -fanalyzer"
fi

# ---- the suites under the sanitizers and valgrind ---------------------------

suites=(tests/bin/abuse-peers tests/bin/abuse-hostile)
if "$make" -s tests/bin/e2e >"$logs/e2e-build.log" 2>&1 && [ -x tests/bin/e2e ]; then
    suites=(tests/bin/e2e "${suites[@]}")
else
    skip "end-to-end suite" "tests/bin/e2e cannot be built yet: $(tail -n 1 "$logs/e2e-build.log")"
fi

# run_suites LABEL REPORT-PREFIX NAME=VALUE...: runs every suite with that
# environment; passes if each suite passes and no report file has text.
run_suites() {
    local label=$1 prefix=$2 suite ok=1 report
    shift 2
    for suite in "${suites[@]}"; do
        echo "== $label: $suite"
        if ! env "$@" "$suite"; then
            ok=0
            echo "$label: $suite failed"
        fi
    done
    local count=0
    for report in "$prefix".*; do
        [ -e "$report" ] || continue
        count=$((count + 1))
        if [ -s "$report" ]; then
            ok=0
            echo "---- $report"
            head -n 60 "$report"
        fi
    done
    echo "$label: $count report file(s) checked, $( (cat "$prefix".* 2>/dev/null || true) | wc -l) line(s) reported"
    [ "$ok" -eq 1 ]
}

if [ -x build/asan/server ] && [ -x build/asan/client ]; then
    if run_suites "ASan+UBSan" "$logs/asan" PAIR_DIR=build/asan TIME_SCALE=3 \
        ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:log_path=$logs/asan" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/asan"; then
        pass "ASan+UBSan: ${suites[*]}"
    else
        fail "ASan+UBSan: ${suites[*]}"
    fi
else
    skip "ASan+UBSan" "build/asan/server and client are missing (make abuse-checkers builds them)"
fi

if ! command -v valgrind >/dev/null; then
    skip "valgrind" "not installed"
elif [ ! -x build/valgrind/server ] || [ ! -x build/valgrind/client ]; then
    skip "valgrind" "build/valgrind/server and client are missing (make abuse-checkers builds them)"
else
    # --run-libc-freeres=no: at exit valgrind runs glibc's cleanup, which
    # flushes stdio, so a server stopped by _exit() in its signal handler in
    # the middle of fflush() would print its last log line twice, as it never
    # does without valgrind.
    vg="valgrind -q --error-exitcode=99 --leak-check=full --run-libc-freeres=no"
    vg+=" --show-leak-kinds=definite,indirect,possible"
    vg+=" --errors-for-leak-kinds=definite,indirect,possible"
    vg+=" --log-file=$logs/valgrind.%p"
    if run_suites "valgrind memcheck" "$logs/valgrind" PAIR_DIR=build/valgrind TIME_SCALE=10 \
        RUN_UNDER="$vg"; then
        pass "valgrind memcheck: ${suites[*]}"
    else
        fail "valgrind memcheck: ${suites[*]}"
    fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
