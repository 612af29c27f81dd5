# lesson.mk - the teaching targets (included by the Makefile).
#   make demo      the whole exchange in one terminal, each line labelled
#   make trace     the same exchange under strace: the socket system calls
#   make packets   the same exchange captured on loopback with tcpdump (root)
# test-lesson (a step of make test) checks them and every command in README.md.

demo: all
	@bash tests/demo.sh

trace: all
	@bash tests/trace.sh

packets: all
	@bash tests/packets.sh

test-lesson: all
	@bash tests/lesson_test.sh

TESTS += test-lesson

.PHONY: demo trace packets
