/*
 * unit_server.c - what the real network will not do on demand: a send()
 * that takes only part of what it is given, or fails, and a system without
 * IPv6.  server.c is included whole (main renamed) so its functions can be
 * called; send and socket are replaced at link time (-Wl,--wrap=...) by the
 * scripted versions below.
 */
#define main server_main
#include "../server.c"
#undef main

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static const char MESSAGE[] = "any message, 30 bytes long.\r\n";
static char sent[64];  /* every byte the scripted send() took */
static size_t sent_length;

/* will_return(__wrap_send, N): take at most N bytes; -E: fail with errno E. */
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    (void)fd, (void)flags;
    long step = mock_type(long);
    if (step < 0) {
        errno = (int)-step;
        return -1;
    }
    size_t n = (size_t)step < len ? (size_t)step : len;
    memcpy(sent + sent_length, buf, n);
    sent_length += n;
    return (ssize_t)n;
}

/* With no_ipv6 set, socket(AF_INET6, ...) fails as on a kernel without IPv6. */
static int no_ipv6;
int __real_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol)
{
    if (no_ipv6 && domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return __real_socket(domain, type, protocol);
}

static void test_listener_falls_back_to_ipv4_where_there_is_no_ipv6(void **state)
{
    (void)state;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    no_ipv6 = 1;
    int fd = open_listener(NULL, "0", AF_INET6);  /* as main() calls it without -b */
    no_ipv6 = 0;
    assert_true(fd >= 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    assert_int_equal(addr.ss_family, AF_INET);
    close(fd);
}

static void test_send_all_sends_the_rest_after_a_partial_send(void **state)
{
    (void)state;
    sent_length = 0;
    will_return(__wrap_send, 10);      /* the kernel takes 10 bytes ... */
    will_return(__wrap_send, 1);       /* ... then 1 ... */
    will_return(__wrap_send, 100);     /* ... then the rest */
    assert_int_equal(send_all(3, MESSAGE, sizeof MESSAGE - 1), 0);
    assert_int_equal(sent_length, sizeof MESSAGE - 1);
    assert_memory_equal(sent, MESSAGE, sizeof MESSAGE - 1);
}

static void test_send_all_gives_up_when_the_client_is_gone(void **state)
{
    (void)state;
    sent_length = 0;
    will_return(__wrap_send, 5);
    will_return(__wrap_send, -EPIPE);  /* the connection is broken */
    assert_int_equal(send_all(3, MESSAGE, sizeof MESSAGE - 1), -1);
    assert_int_equal(errno, EPIPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_all_sends_the_rest_after_a_partial_send),
        cmocka_unit_test(test_send_all_gives_up_when_the_client_is_gone),
        cmocka_unit_test(test_listener_falls_back_to_ipv4_where_there_is_no_ipv6),
    };
    return cmocka_run_group_tests_name("unit_server", tests, NULL, NULL);
}
