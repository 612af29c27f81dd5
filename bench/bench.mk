# bench/bench.mk - included by the Makefile.
#
# make bench              compare ./server with a bare accept/send/close loop
#                         under the same load; prints the table for README.md
# make test-bench-smoke   the same pipeline, tiny and quick (a step of make test)
#
# The load generator and the bare server are built into bench/bin/, and so is
# server_backlog5, ./server with the lesson's listen(5) for the backlog
# experiment (built from a copy: server.c itself has no such option).

BENCH_BIN = bench/bin

$(BENCH_BIN)/loadgen: bench/loadgen.c
	@mkdir -p $(BENCH_BIN)
	$(CC) $(STD) $(CFLAGS) -pthread $(LDFLAGS) -o $@ bench/loadgen.c

$(BENCH_BIN)/bare: bench/bare.c
	@mkdir -p $(BENCH_BIN)
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -o $@ bench/bare.c

# Exactly one line may change, or the experiment would not be measuring
# what it claims to: stop loudly if server.c no longer has that line.
$(BENCH_BIN)/server_backlog5: server.c
	@mkdir -p $(BENCH_BIN)
	sed -e 's/^#define BACKLOG 128$$/#define BACKLOG 5/' \
	    -e 's/^#define BACKLOG 128\([[:space:]]\)/#define BACKLOG 5\1/' \
	    server.c > $(BENCH_BIN)/server_backlog5.c
	@changed=$$(diff server.c $(BENCH_BIN)/server_backlog5.c | grep -c '^>' || true); \
	if [ "$$changed" != 1 ]; then \
	    echo "bench: expected sed to change exactly one line of server.c" \
	         "('#define BACKLOG 128'), it changed $$changed" >&2; \
	    rm -f $(BENCH_BIN)/server_backlog5.c; exit 1; \
	fi
	$(CC) $(STD) $(CFLAGS) $(LDFLAGS) -o $@ $(BENCH_BIN)/server_backlog5.c

bench: server client $(BENCH_BIN)/loadgen $(BENCH_BIN)/bare $(BENCH_BIN)/server_backlog5
	bench/run.sh

test-bench-smoke: server client $(BENCH_BIN)/loadgen $(BENCH_BIN)/bare
	bench/run.sh --smoke

clean-bench:
	rm -rf $(BENCH_BIN)

TESTS += test-bench-smoke
CLEAN += clean-bench

.PHONY: bench
