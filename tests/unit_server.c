/*
 * unit_server.c - what the real network will not do on demand: a send()
 * that takes only part of what it is given, or fails.  server.c is included
 * whole (main renamed) so send_all can be called; send is replaced at link
 * time (-Wl,--wrap=send) by the scripted version below.
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
    };
    return cmocka_run_group_tests_name("unit_server", tests, NULL, NULL);
}
