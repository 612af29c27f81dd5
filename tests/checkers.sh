#!/usr/bin/env bash
# tests/checkers.sh - the programs through the static checkers, then the pair
# tests again with the programs built under ASan+UBSan and run under
# valgrind.  A checker that is not installed is a visible SKIP.
set -u
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
sources=(server.c client.c)
language=(-std=c11 -D_POSIX_C_SOURCE=200809L)

# checker NAME PACKAGE CMD...: CMD must succeed (its output is shown under a
# FAIL); skipped, saying which PACKAGE to install, if CMD is not there.
checker() {
    if command -v "$3" >/dev/null; then check "$1" "${@:3}"
    else skip "$1" "$3 is not installed: apt-get install $2"; fi
}

checker cppcheck cppcheck cppcheck --enable=warning,style,performance,portability \
    --std=c11 --error-exitcode=1 --quiet "${sources[@]}"
checker clang-tidy clang-tidy clang-tidy --quiet --warnings-as-errors='*' \
    --checks='clang-analyzer-*,bugprone-*,cert-*,-cert-err33-c,-bugprone-easily-swappable-parameters,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
    "${sources[@]}" -- "${language[@]}"
for f in "${sources[@]}"; do
    checker "gcc -fanalyzer $f" gcc gcc "${language[@]}" -Wall -Wextra -Werror -fanalyzer -c "$f" -o /dev/null
done

# under LABEL DIR ENV...: the pair tests with the programs in DIR; no report
# the tool left in $work/report.* may hold a finding (==PID== lines or a
# runtime error: a program started with stdout closed writes there too).
under() {
    local label=$1 dir=$2 report
    shift 2
    if ! env PAIR_DIR="$dir" "$@" tests/pair >"$work/log" 2>&1; then
        fail "$label: tests/pair"; sed 's/^/    /' "$work/log"; return
    fi
    for report in "$work"/report.*; do
        grep -Eqs '^==[0-9]+==|runtime error' "$report" && { fail "$label: $report"; sed 's/^/    /' "$report"; return; }
    done
    pass "$label: tests/pair, no reports"
}

mkdir "$work/asan" "$work/valgrind"
for p in server client; do
    cc "${language[@]}" -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
       -fno-sanitize-recover=all -o "$work/asan/$p" "$p.c"
    cc "${language[@]}" -g -gdwarf-4 -O1 -o "$work/valgrind/$p" "$p.c"
done
under "ASan+UBSan" "$work/asan" TIME_SCALE=3 \
    ASAN_OPTIONS="detect_leaks=1:log_path=$work/report" UBSAN_OPTIONS="log_path=$work/report"
if command -v valgrind >/dev/null; then
    under "valgrind" "$work/valgrind" TIME_SCALE=10 \
        RUN_UNDER="valgrind -q --leak-check=full --errors-for-leak-kinds=all --log-file=$work/report.%p"
else skip "valgrind" "valgrind is not installed: apt-get install valgrind"; fi
finish checkers
