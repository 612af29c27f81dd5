/*
 * unit_server.c - what the real network will not do on demand: a send()
 * that takes only part of the greeting, a signal in the middle, and accept()
 * out of descriptors.  server.c is included whole (main renamed) so its
 * static functions can be called; send, accept and sleep are replaced at link
 * time (-Wl,--wrap=...) by the scripted versions below.
 */
#define main server_main
#include "../server.c"
#undef main

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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

/* will_return(__wrap_accept, FD) to succeed; -E: fail with errno E. */
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    (void)fd, (void)addr, (void)len;
    int result = mock_type(int);
    errno = result < 0 ? -result : 0;
    return result < 0 ? -1 : result;
}

/* Records the wait instead of waiting. */
unsigned __wrap_sleep(unsigned seconds);
unsigned __wrap_sleep(unsigned seconds)
{
    check_expected(seconds);
    return 0;
}

static void test_send_all_sends_the_rest_after_a_partial_send(void **state)
{
    (void)state;
    sent_length = 0;
    will_return(__wrap_send, 10);      /* the kernel takes 10 bytes ... */
    will_return(__wrap_send, 100);     /* ... then the other 16 */
    assert_int_equal(send_all(3, GREETING, 26), 0);
    assert_int_equal(sent_length, 26);
    assert_memory_equal(sent, GREETING, 26);
}

static void test_send_all_carries_on_after_a_signal(void **state)
{
    (void)state;
    sent_length = 0;
    will_return(__wrap_send, 5);
    will_return(__wrap_send, -EINTR);  /* a signal arrived before any byte went */
    will_return(__wrap_send, 100);
    assert_int_equal(send_all(3, GREETING, 26), 0);
    assert_memory_equal(sent, GREETING, 26);
}

static void test_send_all_gives_up_when_the_client_is_gone(void **state)
{
    (void)state;
    will_return(__wrap_send, -EPIPE);  /* the connection is broken */
    assert_int_equal(send_all(3, GREETING, 26), -1);
    assert_int_equal(errno, EPIPE);
}

static void test_accept_retries_at_once_after_a_signal_or_an_aborted_client(void **state)
{
    (void)state;
    struct sockaddr_storage addr;
    socklen_t len;
    will_return(__wrap_accept, -EINTR);
    will_return(__wrap_accept, -ECONNABORTED);  /* BSD: it left while queued */
    will_return(__wrap_accept, 7);
    assert_int_equal(accept_client(3, &addr, &len), 7);  /* and no sleep */
}

static void test_accept_out_of_descriptors_waits_a_second_then_retries(void **state)
{
    (void)state;
    struct sockaddr_storage addr;
    socklen_t len;
    will_return(__wrap_accept, -EMFILE);  /* the client stays queued */
    expect_value(__wrap_sleep, seconds, 1);
    will_return(__wrap_accept, -ENFILE);
    expect_value(__wrap_sleep, seconds, 1);
    will_return(__wrap_accept, 7);
    assert_int_equal(accept_client(3, &addr, &len), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_all_sends_the_rest_after_a_partial_send),
        cmocka_unit_test(test_send_all_carries_on_after_a_signal),
        cmocka_unit_test(test_send_all_gives_up_when_the_client_is_gone),
        cmocka_unit_test(test_accept_retries_at_once_after_a_signal_or_an_aborted_client),
        cmocka_unit_test(test_accept_out_of_descriptors_waits_a_second_then_retries),
    };
    return cmocka_run_group_tests_name("unit_server", tests, NULL, NULL);
}
