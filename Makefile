# make              builds ./server and ./client
# make test         builds them and runs the tests (make check is the same):
#                   one line a check, the total last; no sudo needed
# make abuse        the slow proofs: storms, descriptor exhaustion, a soak,
#                   the sanitizers, valgrind and the static checkers
# make mutants      one deliberate fault at a time: each must fail a test
# make demo         one server, two clients, in one terminal     (lesson/)
# make trace        the same under strace; make packets: under tcpdump
# make two-hosts    the pair between two network namespaces
# make bench        ./server against bare servers under the same load (bench/)
# make clean        removes what make built
#
# CC, CFLAGS and LDFLAGS may be set on the command line, e.g. a sanitizer build:
#   make CFLAGS='-g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined'

CFLAGS   = -O2 -g
LANGUAGE = -std=c11 -D_POSIX_C_SOURCE=200809L
WARNINGS = -Wall -Wextra -Wpedantic
BUILD    = $(CC) $(LANGUAGE) $(WARNINGS) $(CFLAGS)

all: server client

server: server.c
	$(BUILD) $(LDFLAGS) -o $@ server.c

client: client.c
	$(BUILD) $(LDFLAGS) -o $@ client.c

# The test programs need cmocka's header: without it, one line says so.
cmocka = $(if $(shell printf '\043include <%s>\n' stdarg.h stddef.h setjmp.h stdint.h cmocka.h | \
	       $(CC) -E -x c - >/dev/null 2>&1 && echo yes),,$(error the tests need cmocka: apt-get install libcmocka-dev))

# The unit tests include a program's source and replace a few calls with
# scripted ones (GNU ld --wrap); fortified headers would rename recv.
tests/unit_server: tests/unit_server.c server.c
	$(cmocka)$(BUILD) -U_FORTIFY_SOURCE $(LDFLAGS) -o $@ tests/unit_server.c \
	    -Wl,--wrap=send,--wrap=socket -lcmocka

tests/unit_client: tests/unit_client.c client.c tests/harness.c tests/harness.h
	$(cmocka)$(BUILD) $(LDFLAGS) -o $@ tests/unit_client.c tests/harness.c -lcmocka

tests/pair tests/abuse: tests/%: tests/%.c tests/harness.c tests/harness.h
	$(cmocka)$(BUILD) $(LDFLAGS) -o $@ $< tests/harness.c -lcmocka

bench/loadgen: bench/loadgen.c
	$(BUILD) -pthread $(LDFLAGS) -o $@ bench/loadgen.c

bench/bare: bench/bare.c
	$(BUILD) $(LDFLAGS) -o $@ bench/bare.c

# The backlog experiment: ./server with the lesson's listen(5), its BACKLOG
# line edited on the way to the compiler (grep: that the line is still there).
bench/server_backlog5: server.c
	grep -q '^#define BACKLOG 128 ' server.c
	sed 's/^#define BACKLOG 128 /#define BACKLOG 5 /' server.c | \
	    $(BUILD) $(LDFLAGS) -o $@ -x c -

# Every suite runs, even after one fails: tests/run.sh prints one line a
# check and the total, in network namespaces of its own (tests/isolated.sh).
test check: all tests/unit_server tests/unit_client tests/pair bench/loadgen bench/bare
	@tests/run.sh test

abuse: all tests/abuse tests/pair
	@tests/run.sh abuse

mutants:
	@tests/mutants.sh

# packets.sh and two-hosts.sh go into namespaces of their own: no sudo needed
# where a user may make them (see tests/isolated.sh).
demo trace packets two-hosts: all
	@lesson/$@.sh

bench: all bench/loadgen bench/bare bench/server_backlog5
	bench/run.sh

clean:
	rm -f server client tests/unit_server tests/unit_client tests/pair tests/abuse \
	      bench/loadgen bench/bare bench/server_backlog5 lesson/first/server lesson/first/client

.PHONY: all test check abuse mutants demo trace packets two-hosts bench clean
