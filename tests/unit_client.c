/*
 * unit_client.c - what a learner who extends the client relies on: after
 * connect_within(), the socket is blocking again, whether the handshake was
 * done at once or waited for.  client.c is included whole (main renamed).
 */
#define main client_main
#include "../client.c"
#undef main

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static void test_connect_within_leaves_the_socket_blocking(void **state)
{
    (void)state;
    int port, listener = tcp_listen("127.0.0.1", &port);
    char name[8];
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
    snprintf(name, sizeof name, "%d", port);
    assert_int_equal(getaddrinfo("127.0.0.1", name, &hints, &ai), 0);
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    assert_int_equal(connect_within(fd, ai, 2000), 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    freeaddrinfo(ai);
    close(fd);
    close(listener);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_within_leaves_the_socket_blocking),
    };
    return cmocka_run_group_tests_name("unit_client", tests, NULL, NULL);
}
