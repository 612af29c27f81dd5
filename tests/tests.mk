# tests/tests.mk - the core tests (needs cmocka: libcmocka-dev).
#
#   make test-unit   unit tests of server.c and client.c, with mocked calls
#   make test-e2e    end-to-end tests of ./server and ./client over loopback
#   make tests/bin/e2e
#                    builds the end-to-end tests alone, to run them against
#                    another build or under valgrind, e.g.
#       PAIR_DIR=/tmp/asan tests/bin/e2e
#       TIME_SCALE=10 RUN_UNDER="valgrind -q --error-exitcode=99 --leak-check=full" tests/bin/e2e

# The unit tests replace these calls with scripted ones (GNU ld --wrap).
UNIT_SERVER_WRAPS = -Wl,--wrap=send,--wrap=accept,--wrap=sleep
UNIT_CLIENT_WRAPS = -Wl,--wrap=recv
# Fortified headers may turn recv into __recv_chk, which the wrap would miss.
UNIT_FLAGS = -U_FORTIFY_SOURCE

tests/bin/unit_server: tests/unit_server.c tests/unit_support.h tests/parse_number_tests.h server.c \
                       tests/harness.c tests/harness.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ \
	    tests/unit_server.c tests/harness.c $(UNIT_SERVER_WRAPS) -lcmocka

tests/bin/unit_client: tests/unit_client.c tests/unit_support.h tests/parse_number_tests.h client.c \
                       tests/harness.c tests/harness.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ \
	    tests/unit_client.c tests/harness.c $(UNIT_CLIENT_WRAPS) -lcmocka

tests/bin/e2e: tests/e2e.c tests/harness.c tests/harness.h
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -o $@ tests/e2e.c tests/harness.c -lcmocka

test-unit: tests/bin/unit_server tests/bin/unit_client
	tests/bin/unit_server
	tests/bin/unit_client

# Runs ./server and ./client (PAIR_DIR, RUN_UNDER, TIME_SCALE: see harness.h).
test-e2e: tests/bin/e2e server client
	tests/bin/e2e

clean-tests:
	rm -f tests/bin/unit_server tests/bin/unit_client tests/bin/e2e

TESTS += test-unit test-e2e
CLEAN += clean-tests
