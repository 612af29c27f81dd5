# make          builds ./server and ./client
# make test     builds them and runs every test (needs cmocka: libcmocka-dev)
# make demo     one server, two clients, in one terminal
# make trace    the same under strace; make packets: under tcpdump (root)
# make bench    ./server against a bare server under the same load
# make abuse    hostile peers, exhaustion, soak, sanitizers, valgrind, two hosts
# make clean    removes what make built
#
# CC, CFLAGS and LDFLAGS may be set on the command line, e.g. a sanitizer build:
#   make CFLAGS='-g -fsanitize=address,undefined' LDFLAGS='-fsanitize=address,undefined'

CFLAGS = -O2 -g
STD    = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic

all: server client

server: server.c
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -o $@ server.c

client: client.c
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -o $@ client.c

# Each part below adds its targets, its steps of `make test` to TESTS and of
# `make clean` to CLEAN.
include tests/tests.mk
include tests/abuse/abuse.mk
include bench/bench.mk
include tests/lesson.mk

test: all $(TESTS)

clean: $(CLEAN)
	rm -f server client

.PHONY: all test clean $(TESTS) $(CLEAN)
