/*
 * unit_client.c - what the real network will not do on demand: recv()
 * returning the reply in pieces of any size, or nothing when poll said "ready".
 * client.c is included whole (main renamed) so print_reply can be called;
 * recv is replaced at link time (-Wl,--wrap=recv) by the scripted one below.
 * poll() is real: it watches one end of a socket pair that always has a byte.
 */
#define main client_main
#include "../client.c"
#undef main

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static char reply[2048];  /* what the scripted server sends */
static size_t at;         /* how much of it recv() has returned */

/* will_return(__wrap_recv, N): N bytes of reply (0: the server hung up);
 * -E: fail with errno E.  It checks how much room the client offered. */
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    (void)fd, (void)flags;
    check_expected(len);
    long step = mock_type(long);
    if (step < 0) {
        errno = (int)-step;
        return -1;
    }
    memcpy(buf, reply + at, (size_t)step);
    at += (size_t)step;
    return step;
}

/* Runs print_reply on a socket that poll() always finds readable, with
 * stdout in a file; returns its status and what it printed. */
static int run_print_reply(char *printed, size_t size)
{
    int pair[2];
    struct timespec deadline;
    FILE *out = tmpfile();
    int saved = dup(STDOUT_FILENO);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    assert_int_equal(write(pair[1], "x", 1), 1);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 5;
    fflush(stdout);
    dup2(fileno(out), STDOUT_FILENO);
    int status = print_reply(pair[0], "host", "9999", &deadline);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    rewind(out);
    printed[fread(printed, 1, size - 1, out)] = '\0';
    fclose(out);
    close(saved), close(pair[0]), close(pair[1]);
    return status;
}

static void test_client_joins_the_pieces_recv_returns(void **state)
{
    (void)state;
    char printed[64];
    strcpy(reply, GREETING), at = 0;
    expect_value(__wrap_recv, len, 1024);
    will_return(__wrap_recv, 1);       /* "T" */
    expect_value(__wrap_recv, len, 1023);
    will_return(__wrap_recv, -EAGAIN); /* poll woke it early: look again */
    expect_value(__wrap_recv, len, 1023);
    will_return(__wrap_recv, 24);      /* "hank you ... connecting\r" */
    expect_value(__wrap_recv, len, 999);
    will_return(__wrap_recv, 1);       /* "\n" */
    expect_value(__wrap_recv, len, 998);
    will_return(__wrap_recv, 0);       /* the server hung up */
    assert_int_equal(run_print_reply(printed, sizeof printed), 0);
    assert_string_equal(printed, GREETING);
}

static void test_client_stops_at_1024_bytes_with_more_waiting(void **state)
{
    (void)state;
    char printed[2048];
    memset(reply, 'y', sizeof reply), at = 0;
    expect_value(__wrap_recv, len, 1024);
    will_return(__wrap_recv, 1000);
    expect_value(__wrap_recv, len, 24);  /* only the room that is left */
    will_return(__wrap_recv, 24);
    assert_int_equal(run_print_reply(printed, sizeof printed), 0);
    assert_int_equal(strlen(printed), 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_joins_the_pieces_recv_returns),
        cmocka_unit_test(test_client_stops_at_1024_bytes_with_more_waiting),
    };
    return cmocka_run_group_tests_name("unit_client", tests, NULL, NULL);
}
