#!/usr/bin/env bash
# mutants.sh [NAME...] - do the tests catch real faults?  Each mutant is one
# fault made by a sed -E expression in a fresh copy of the tracked files (edits
# included).  It must change 1 or 2 lines (else STALE: update the table) and
# build without warnings (else BROKEN).  Then `make test`; if that passes,
# `make abuse`; if both pass, it is MISSED, or NOT CHECKED where the unmodified
# copy's runs skipped checks here (the reasons are shown): the check that would
# have caught it may be among them.  The unmodified copy must pass each suite
# first.  MUTANTS_SUITES=test: skip make abuse.  MUTANTS_LOGS=DIR: keep logs.
set -uo pipefail
[ -z "${MUTANTS_LOGS:-}" ] || MUTANTS_LOGS=$(realpath -m "$MUTANTS_LOGS")
cd "$(dirname "$0")/.." || exit 2
unset MAKELEVEL MAKEFLAGS MFLAGS   # the copies' make runs as if typed

names=() && declare -A file expr what
mutant() { names+=("$1"); file[$1]=$2; expr[$1]=$3; what[$1]=$4; }
while IFS=$'\t' read -r name f e w; do
    [[ -z $name || $name == \#* ]] || mutant "$name" "$f" "$e" "$w"
done <tests/mutants.txt

read -ra suites <<<"${MUTANTS_SUITES:-test abuse}"
declare -A limit=([test]=300 [abuse]=900) control=()
selected=("$@") && [ $# -gt 0 ] || selected=("${names[@]}")
for n in "${selected[@]}"; do [ -n "${file[$n]:-}" ] || { echo "no mutant '$n': ${names[*]}" >&2; exit 2; }; done
pid="" passed=0 failed=0 skipped=0 begin=$SECONDS work=$(mktemp -d "${TMPDIR:-/tmp}/mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap '[ -z "$pid" ] || { kill -TERM "$pid"; wait "$pid"; }; exit 130' INT TERM
copy() { mkdir -p "$1" && git ls-files -z | xargs -0 cp --parents -t "$1"; }
run() {   # run DIR SUITE: make -k SUITE in DIR, in its time limit, to DIR.SUITE.log
    (cd "$1" && exec timeout -k 10 "${limit[$2]}" make -k "$2") >"$1.$2.log" 2>&1 </dev/null &
    pid=$! && wait "$pid"; rc=$? pid=""
    [ -z "${MUTANTS_LOGS:-}" ] || { mkdir -p "$MUTANTS_LOGS" && cp "$1.$2.log" "$MUTANTS_LOGS/"; }
    return $rc
}
failures() {   # the FAIL lines of make test and make abuse, make's failed targets
    grep -aE '^FAIL |^make: \*\*\* ' "$1" |
        awk '!seen[$0]++ && ++k <= 15; END { if (k > 15) print "... and " k - 15 " more" }' |
        sed -E 's/^make: \*\*\* \[[^]]*: ([^]]+)\].*/target \1 failed/; s/^ */      /'
}
report() { printf '%-19s %-38s %4d s  %s\n' "$@"; }
check_control() {   # the unmodified code must pass the suite, or no verdict means anything
    [ -n "${control[$1]:-}" ] && return 0
    [ -d "$work/control" ] || copy "$work/control"
    local t=$SECONDS
    run "$work/control" "$1" || { echo "the unmodified code fails make $1:"; failures "$work/control.$1.log"; exit 2; }
    control[$1]=ok start=$((${start:-0} + SECONDS - t))   # not the mutant's time
    report "(unmodified)" "control: passes make $1" $((SECONDS - t)) ""
}

for n in "${selected[@]}"; do
    check_control "${suites[0]}"
    start=$SECONDS dir=$work/$n f=${file[$n]} log=""
    copy "$dir" && cp "$dir/$f" "$work/$n.orig" && sed -E -i -e "${expr[$n]}" "$dir/$f"
    lines=$(diff "$work/$n.orig" "$dir/$f" | awk '/^</ { r++ } /^>/ { a++ } END { print (r > a ? r : a) + 0 }')
    if [ "$lines" -eq 0 ] || [ "$lines" -gt 2 ]; then
        verdict="STALE: pattern did not apply" && [ "$lines" -eq 0 ] || verdict="STALE: pattern changed $lines lines"
    elif ! (cd "$dir" && make -s all CFLAGS='-O2 -g -Werror') >"$dir.build.log" 2>&1; then
        verdict="BROKEN: does not build without warnings" log=$dir.build.log
    else
        verdict="MISSED: passes make ${suites[*]}"
        skips=$(cat "$work"/control.*.log | grep -c '^SKIP ')
        [ "$skips" = 0 ] || verdict="NOT CHECKED: passes make ${suites[*]}, which skipped $skips checks here"
        for s in "${suites[@]}"; do
            check_control "$s" && t=$SECONDS
            run "$dir" "$s" && continue
            verdict="caught by make $s ($((SECONDS - t)) s)" log=$dir.$s.log
            [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || verdict+=" TIME LIMIT"
            break
        done
    fi
    case $verdict in caught*) passed=$((passed + 1)) ;; NOT*) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
    report "$n" "$verdict" $((SECONDS - start)) "${what[$n]}"
    [[ $verdict != NOT* ]] || grep -h '^SKIP ' "$work"/control.*.log | sed 's/^/      /' 
    [ -z "$log" ] || failures "$log"
    [[ $verdict != STALE* ]] || diff "$work/$n.orig" "$dir/$f" | head -n 8 | sed 's/^/      /'
    rm -rf "$dir" "$dir".*.log
done
echo "took $((SECONDS - begin)) s" && echo "mutants: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
