# tests/abuse: the pair against hostile peers, exhaustion, a soak, the
# sanitizers, valgrind, cppcheck and a real network hop between namespaces.
#
#   make abuse              everything below (a few minutes)
#   make test-abuse-quick   the client against misbehaving servers (seconds;
#                           also a step of `make test`)
#
# Needs libcmocka-dev; the checkers need valgrind and cppcheck, the
# descriptor test prlimit (util-linux), the namespace test iproute2 and root.

ABUSE_PROGRAMS = tests/bin/abuse-peers tests/bin/abuse-hostile tests/bin/abuse-soak
ABUSE_COMMON   = tests/harness.c tests/abuse/abuse.c
ABUSE_HEADERS  = tests/harness.h tests/abuse/abuse.h

# The sanitizer build of the pair, for tests/abuse/run-checkers.sh.
ASAN_FLAGS = -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all

$(ABUSE_PROGRAMS): tests/bin/abuse-%: tests/abuse/%.c $(ABUSE_COMMON) $(ABUSE_HEADERS)
	@mkdir -p tests/bin
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -Itests -Itests/abuse -o $@ $< $(ABUSE_COMMON) -lcmocka

build/asan/server build/asan/client: build/asan/%: %.c
	@mkdir -p build/asan
	$(CC) $(STD) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $<

# The pair for valgrind: its own copy, so a rebuild of ./server while the
# checkers run changes nothing, and DWARF 4, which every valgrind reads.
build/valgrind/server build/valgrind/client: build/valgrind/%: %.c
	@mkdir -p build/valgrind
	$(CC) $(STD) $(CFLAGS) -gdwarf-4 $(LDFLAGS) -o $@ $<

TESTS += test-abuse-quick
CLEAN += clean-abuse

test-abuse-quick: all tests/bin/abuse-peers
	tests/bin/abuse-peers

abuse: abuse-peers abuse-hostile abuse-soak abuse-two-hosts abuse-checkers

abuse-peers: all tests/bin/abuse-peers
	tests/bin/abuse-peers

abuse-hostile: all tests/bin/abuse-hostile
	tests/bin/abuse-hostile

abuse-soak: all tests/bin/abuse-soak
	tests/bin/abuse-soak

abuse-two-hosts: all
	tests/abuse/two_hosts.sh

# The end-to-end suite joins in when it exists (make tests/bin/e2e).
abuse-checkers: all tests/bin/abuse-peers tests/bin/abuse-hostile \
                build/asan/server build/asan/client build/valgrind/server build/valgrind/client
	MAKE='$(MAKE)' tests/abuse/run-checkers.sh

clean-abuse:
	rm -f $(ABUSE_PROGRAMS)
	rm -rf build/asan build/valgrind build/abuse

.PHONY: abuse abuse-peers abuse-hostile abuse-soak abuse-two-hosts abuse-checkers
