#!/usr/bin/env bash
# tests/checkers.sh - the programs through the static checkers, then the pair
# tests again with the programs built under ASan+UBSan and run under
# valgrind.  A checker that is not installed is a visible SKIP.
set -u
source "$(dirname "$0")/lib.sh"
sources=(server.c client.c)
language=(-std=c11 -D_POSIX_C_SOURCE=200809L)

# check NAME CMD...: CMD must succeed (its output is shown if it does not).
check() {
    local name=$1
    shift
    if ! command -v "$1" >/dev/null; then skip "$name: $1 is not installed"
    elif "$@" >"$work/log" 2>&1; then pass "$name"
    else cat "$work/log"; fail "$name"; fi
}

check "cppcheck" cppcheck --enable=warning,style,performance,portability \
    --std=c11 --error-exitcode=1 --quiet "${sources[@]}"
check "clang-tidy" clang-tidy --quiet --warnings-as-errors='*' \
    --checks='clang-analyzer-*,bugprone-*,cert-*,-cert-err33-c,-bugprone-easily-swappable-parameters,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
    "${sources[@]}" -- "${language[@]}"
for f in "${sources[@]}"; do
    check "gcc -fanalyzer $f" gcc "${language[@]}" -Wall -Wextra -Werror -fanalyzer -c "$f" -o /dev/null
done

# under LABEL DIR ENV...: the pair tests with the programs in DIR; no report
# the tool left in $work/report.* may hold a finding (==PID== lines or a
# runtime error: a program started with stdout closed writes there too).
under() {
    local label=$1 dir=$2 report
    shift 2
    if ! env PAIR_DIR="$dir" "$@" tests/bin/pair >"$work/log" 2>&1; then
        cat "$work/log"; fail "$label: tests/bin/pair"; return
    fi
    for report in "$work"/report.*; do
        grep -Eqs '^==[0-9]+==|runtime error' "$report" && { cat "$report"; fail "$label: $report"; return; }
    done
    pass "$label: tests/bin/pair, no reports"
}

mkdir -p build/asan build/valgrind
for p in server client; do
    cc "${language[@]}" -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
       -fno-sanitize-recover=all -o "build/asan/$p" "$p.c"
    cc "${language[@]}" -g -gdwarf-4 -O1 -o "build/valgrind/$p" "$p.c"
done
under "ASan+UBSan" build/asan TIME_SCALE=3 \
    ASAN_OPTIONS="detect_leaks=1:log_path=$work/report" UBSAN_OPTIONS="log_path=$work/report"
if command -v valgrind >/dev/null; then
    under "valgrind" build/valgrind TIME_SCALE=10 \
        RUN_UNDER="valgrind -q --leak-check=full --errors-for-leak-kinds=all --log-file=$work/report.%p"
else skip "valgrind: not installed"; fi
finish checkers
