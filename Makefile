# make              builds ./server and ./client
# make test         builds them and runs the tests (make check is the same);
#                   needs libcmocka-dev, and root for the namespace tests
# make abuse        the slow proofs: storms, descriptor exhaustion, a soak,
#                   the sanitizers, valgrind and the static checkers
# make mutants      one deliberate fault at a time: each must fail a test
# make demo         one server, two clients, in one terminal     (lesson/)
# make trace        the same under strace; make packets: under tcpdump (root)
# make two-hosts    the pair between two network namespaces (root)
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

# The unit tests include a program's source and replace a few calls with
# scripted ones (GNU ld --wrap); fortified headers would rename recv.
tests/bin/unit_server: tests/unit_server.c server.c
	@mkdir -p $(@D)
	$(BUILD) -U_FORTIFY_SOURCE $(LDFLAGS) -o $@ tests/unit_server.c \
	    -Wl,--wrap=send,--wrap=socket -lcmocka

tests/bin/unit_client: tests/unit_client.c client.c tests/harness.c tests/harness.h
	@mkdir -p $(@D)
	$(BUILD) $(LDFLAGS) -o $@ tests/unit_client.c tests/harness.c -lcmocka

tests/bin/pair tests/bin/abuse: tests/bin/%: tests/%.c tests/harness.c tests/harness.h
	@mkdir -p $(@D)
	$(BUILD) $(LDFLAGS) -o $@ $< tests/harness.c -lcmocka

bench/bin/loadgen: bench/loadgen.c
	@mkdir -p $(@D)
	$(BUILD) -pthread $(LDFLAGS) -o $@ bench/loadgen.c

bench/bin/bare: bench/bare.c
	@mkdir -p $(@D)
	$(BUILD) $(LDFLAGS) -o $@ bench/bare.c

# The backlog experiment: ./server with the lesson's listen(5).
bench/bin/server_backlog5: server.c
	@mkdir -p $(@D)
	$(BUILD) -DBACKLOG=5 $(LDFLAGS) -o $@ server.c

test check: all tests/bin/unit_server tests/bin/unit_client tests/bin/pair \
            bench/bin/loadgen bench/bin/bare
	tests/bin/unit_server
	tests/bin/unit_client
	tests/cli.sh
	tests/isolated.sh tests/bin/pair
	tests/peers.sh
	tests/netns.sh
	tests/lesson.sh
	bench/run.sh --smoke

abuse: all tests/bin/abuse tests/bin/pair
	tests/isolated.sh tests/bin/abuse
	tests/checkers.sh

mutants:
	tests/mutants.sh

demo trace packets two-hosts: all
	@lesson/$@.sh

bench: all bench/bin/loadgen bench/bin/bare bench/bin/server_backlog5
	bench/run.sh

clean:
	rm -rf server client tests/bin bench/bin build

.PHONY: all test check abuse mutants demo trace packets two-hosts bench clean
