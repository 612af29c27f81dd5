#!/usr/bin/env bash
# tests/cli.sh - every command line a program must refuse, and -h: one row
# each of exit status, program, arguments and the first line it must print.
# A refused command line also prints the usage.
set -u
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

# expect STATUS "FIRST LINE" PROGRAM ARGS...  A FIRST LINE of "getopt: X"
# is getopt's own message, worded by the C library: it must name X.
expect() {
    local status=$1 line=$2 program=$3 got first
    shift 3
    "./$program" "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$status" -eq 0 ]; then first=$(head -n 1 "$work/out"); else first=$(head -n 1 "$work/err"); fi
    [[ $line != "getopt: "* || $first != *"${line#getopt: }"* ]] || line=$first
    if [ "$got" -eq "$status" ] && [ "$first" = "$line" ] &&
       { [ "$status" -eq 0 ] || grep -q "^usage: $program " "$work/err"; }; then
        pass "$program $* -> $status"
    else
        fail "$program $* -> $got, wanted $status: $first"
    fi
}

usage_server='usage: server [-b ADDRESS] [PORT]'
usage_client='usage: client [-t SECONDS] [HOST [PORT]]'
expect 0 "$usage_server" server -h
expect 2 "server: bad port '': use a number from 0 to 65535" server ''
expect 2 "server: bad port 'abc': use a number from 0 to 65535" server abc
expect 2 "server: bad port '65536': use a number from 0 to 65535" server 65536
expect 2 "server: bad port '+7': use a number from 0 to 65535" server +7
expect 2 "server: bad port '12x': use a number from 0 to 65535" server 12x
expect 2 "getopt: x" server -x
expect 2 "getopt: b" server -b
expect 2 "server: -b needs an ADDRESS" server -b ''
expect 2 "server: unexpected argument 'extra'" server 9999 extra

expect 0 "$usage_client" client -h
expect 2 "client: bad timeout '0': use 1 to 86400 seconds" client -t 0
expect 2 "client: bad timeout '86401': use 1 to 86400 seconds" client -t 86401
expect 2 "client: bad timeout '1.5': use 1 to 86400 seconds" client -t 1.5
expect 2 "getopt: t" client -t
expect 2 "getopt: x" client -x
expect 2 "client: bad port '0': use a number from 1 to 65535" client 127.0.0.1 0
expect 2 "client: bad port ' 7': use a number from 1 to 65535" client 127.0.0.1 ' 7'
# Options come first: getopt stops at HOST, so this -t is taken for the PORT.
expect 2 "client: bad port '-t': use a number from 1 to 65535" client 127.0.0.1 -t 2
expect 2 "client: unexpected argument 'extra'" client 127.0.0.1 9999 extra
hint='give the address without brackets, and the port apart: HOST PORT'
expect 2 "client: bad HOST '': $hint" client ''
expect 2 "client: bad HOST '[::1]': $hint" client '[::1]'
expect 2 "client: bad HOST '127.0.0.1:9999': $hint" client 127.0.0.1:9999
finish cli
