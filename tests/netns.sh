#!/usr/bin/env bash
# netns.sh - the pair across a real network hop, between two hosts made of
# network namespaces (tests/hosts.sh): the server on host A, the client on
# host B.  Each test is a short transcript of what B ran and what it printed,
# shown under a FAIL.  Needs no sudo where a user may make namespaces (see
# tests/isolated.sh); elsewhere it skips, saying what would allow it.  Every
# client run is bounded by timeout; all of it goes when the script ends.
set -u
[ -n "${ISOLATED:-}" ] || exec "$(dirname "$0")/isolated.sh" bash "$0"
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/hosts.sh
source tests/hosts.sh

[ "$ISOLATED" = yes ] || { skip "two hosts" "${ISOLATED#no: }"; finish netns; exit; }
check two_hosts_set_up hosts_up || { finish netns; exit; }
limit=15   # no client here has more than -t 4: a generous bound on each run
printf 'Thank you for connecting\r\n' >"$work/greeting"

# on_b CMD...: runs CMD on host B within $limit s and adds it to the transcript
# in $work/seen, with what the server on A logged meanwhile; CMD's stdout is
# in $work/out, its stderr in $work/err, its exit status in $status, how long
# it took (ms) in $took.
logged_lines=0
on_b() {
    local shown_as='' arg began
    for arg; do [[ $arg == *' '* ]] && arg="'$arg'"; shown_as+=" $arg"; done
    exec 3>>"$work/seen"
    echo "    B \$$shown_as" >&3
    status=0 began=$(date +%s%N)
    in_b timeout "$limit" "$@" >"$work/out" 2>"$work/err" ||
        status=$?
    took=$((($(date +%s%N) - began) / 1000000))
    tr -d '\r' <"$work/out" | cat - "$work/err" | sed 's/^/    /' >&3
    [ "$status" -eq 0 ] || echo "    (exit $status)" >&3
    [ -z "$server_pid" ] || { tail -n "+$((logged_lines + 1))" "$work/server.out" |
        sed 's/^/    A: /' >&3; logged_lines=$(wc -l <"$work/server.out"); }
    exec 3>&-
}
# greeted [WHO]: CMD printed the greeting, exit 0; A logged a client WHO:PORT.
greeted() {
    [ "$status" -eq 0 ] && cmp -s "$work/greeting" "$work/out" &&
        { [ $# -eq 0 ] || grep -Eq "^Got a connection from $1:[0-9]+\$" "$work/server.out"; }
}
# failed_with TEXT...: CMD printed nothing, said every TEXT on stderr, exit 1.
failed_with() {
    local text
    [ "$status" -eq 1 ] && [ ! -s "$work/out" ] || return 1
    for text; do grep -qF -- "$text" "$work/err" || return 1; done
}
# verdict NAME CMD...: ok if CMD succeeds, else FAIL and the transcript so far.
verdict() {
    if "${@:2}"; then pass "$1"; else fail "$1"; cat "$work/seen"; fi
    : >"$work/seen"
}

# Nothing listens on host A yet.
on_b ./client -t 3 192.0.2.1
verdict client_in_b_is_refused_by_a_port_nothing_listens_on_in_a \
    failed_with 'cannot connect to 192.0.2.1 port 9999: Connection refused'

check server_starts_in_a start_server ip netns exec "$ns_a" ./server 0 || { finish netns; exit; }

on_b ./client -t 3 192.0.2.1 "$port"
verdict client_in_b_gets_greeting_from_a_over_ipv4_and_a_logs_b \
    greeted '192\.0\.2\.2'

on_b ./client -t 3 2001:db8::1 "$port"
verdict client_in_b_gets_greeting_from_a_over_ipv6_and_a_logs_b \
    greeted '\[2001:db8::2\]'

# silent-first must start with an address that really is silent, or the
# next test would prove nothing.  glibc sorts a name's addresses by RFC 6724,
# which puts IPv6 first unless /etc/gai.conf says otherwise.
on_b ./client -t 1 2001:db8:1::7 "$port"
failed_with 'Connection timed out' && silent=yes || silent=no
on_b getent ahosts silent-first
first=$(awk 'NR == 1 { print $1 }' "$work/out")
verdict silent_first_starts_with_an_address_that_times_out \
    [ "$silent $first" = "yes 2001:db8:1::7" ]

# Two addresses, so the silent one gets half of -t: the working one is
# reached with about half the time still left, not at the deadline.
on_b ./client -t 4 silent-first "$port"
verdict client_gets_greeting_from_second_address_when_first_is_silent \
    greeted '192\.0\.2\.2'
verdict client_gives_the_silent_address_only_its_share_of_the_time \
    [ "$took" -lt 3000 ]

on_b ./client -t 2 all-silent "$port"
verdict client_gives_up_in_time_when_every_address_is_silent failed_with \
    "cannot connect to all-silent port $port: Connection timed out"

on_b ./client -t 3 no-such-host.invalid "$port"
verdict client_in_b_cannot_find_a_name_unknown_there \
    failed_with "client: cannot find host 'no-such-host.invalid': "

# B with a name of its own (a UTS namespace) that its hosts file lacks: the
# client's default HOST is localhost, not this machine's name.
on_b unshare --uts sh -c 'hostname host-b && exec ./client -t 3'
verdict client_without_host_tries_localhost_not_this_machines_name \
    failed_with "cannot connect to localhost port 9999: Connection refused"

finish netns
