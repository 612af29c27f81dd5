/*
 * unit_server.c - unit tests of server.c's own functions.
 *
 * server.c is included whole (its main renamed) so its static functions can
 * be called.  send, accept and sleep are wrapped at link time
 * (-Wl,--wrap=send,--wrap=accept,--wrap=sleep): a test that arms a wrapper
 * scripts what the call returns with will_return; an unarmed wrapper passes
 * the call on to the real function.
 */
#define main server_main
#include "../server.c"
#undef main

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/time.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "unit_support.h"

/* ---- the wrapped calls ------------------------------------------------- */

static struct {
    int send, accept, sleep;
} armed;

static char sent[256];         /* every byte the armed send took */
static size_t sent_length;
static int sleep_calls;
static unsigned slept_for;
static off_t stderr_at_sleep;  /* bytes on the captured stderr by then */

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
int __real_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
unsigned __real_sleep(unsigned seconds);
unsigned __wrap_sleep(unsigned seconds);

/* will_return(__wrap_send, n): take at most n bytes; -E: fail with errno E. */
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    if (!armed.send)
        return __real_send(fd, buf, len, flags);
    long step = mock_type(long);
    if (step < 0) {
        errno = (int)-step;
        return -1;
    }
    size_t n = (size_t)step < len ? (size_t)step : len;
    assert_true(sent_length + n <= sizeof sent);
    memcpy(sent + sent_length, buf, n);
    sent_length += n;
    return (ssize_t)n;
}

/* will_return(__wrap_accept, fd) to succeed, or -E to fail with errno E. */
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!armed.accept)
        return __real_accept(fd, addr, len);
    int result = mock_type(int);
    if (result < 0) {
        errno = -result;
        return -1;
    }
    return result;
}

/* Armed, sleep only counts: the test need not wait. */
unsigned __wrap_sleep(unsigned seconds)
{
    if (!armed.sleep)
        return __real_sleep(seconds);
    sleep_calls++;
    slept_for = seconds;
    stderr_at_sleep = lseek(STDERR_FILENO, 0, SEEK_CUR);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&armed, 0, sizeof armed);
    sent_length = 0;
    sleep_calls = 0;
    slept_for = 0;
    stderr_at_sleep = -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    memset(&armed, 0, sizeof armed);
    capture_abandon();
    return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const char GREETING_TEXT[] = "Thank you for connecting\r\n";

/* ---- parse_number ------------------------------------------------------ */

#include "parse_number_tests.h"

/* ---- parse_args -------------------------------------------------------- */

struct parsed {
    int status;
    const char *address;
    const char *port;
    char out[CAPTURED_MAX];
    char err[CAPTURED_MAX];
};

static struct argv_copy argv_store;  /* parse_args keeps pointers into it */

static void parse(const char *const args[], struct parsed *p)
{
    argv_build(&argv_store, "server", args);
    p->address = NULL;       /* main's defaults */
    p->port = DEFAULT_PORT;
    capture_start(STDOUT_FILENO);
    capture_start(STDERR_FILENO);
    p->status = parse_args(argv_store.argc, argv_store.argv, &p->address, &p->port);
    capture_stop(STDERR_FILENO, p->err, sizeof p->err);
    capture_stop(STDOUT_FILENO, p->out, sizeof p->out);
}

static void expect_accepted(const char *const args[], const char *address,
                            const char *port)
{
    struct parsed p;
    parse(args, &p);
    if (p.status != -1 || p.out[0] != '\0' || p.err[0] != '\0')
        fail_msg("server %s: status %d, stdout '%s', stderr '%s'",
                 args_text(args), p.status, p.out, p.err);
    if (address == NULL)
        assert_null(p.address);
    else
        assert_string_equal(p.address, address);
    assert_string_equal(p.port, port);
}

/* Exit status 2, a message naming what is wrong, the usage, all on stderr. */
static void expect_rejected(const char *const args[], const char *named)
{
    struct parsed p;
    parse(args, &p);
    if (p.status != 2 || p.out[0] != '\0' || strncmp(p.err, "server: ", 8) != 0 ||
        strstr(p.err, named) == NULL || strstr(p.err, "usage: server") == NULL)
        fail_msg("server %s: status %d, stdout '%s', stderr '%s' (wanted %s)",
                 args_text(args), p.status, p.out, p.err, named);
}

static void test_server_args_default_to_every_address_on_port_9999(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){NULL}, NULL, "9999");
}

static void test_server_args_take_a_port(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){"8080", NULL}, NULL, "8080");
    expect_accepted((const char *const[]){"0", NULL}, NULL, "0");
    expect_accepted((const char *const[]){"65535", NULL}, NULL, "65535");
}

static void test_server_args_take_an_address(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){"-b", "127.0.0.1", NULL}, "127.0.0.1", "9999");
    expect_accepted((const char *const[]){"-b", "::1", "7", NULL}, "::1", "7");
    expect_accepted((const char *const[]){"-b::1", "7", NULL}, "::1", "7");
    expect_accepted((const char *const[]){"-b", "::1", "--", "7", NULL}, "::1", "7");
}

static void test_server_args_h_prints_usage_on_stdout_and_returns_0(void **state)
{
    (void)state;
    struct parsed p;
    parse((const char *const[]){"-h", NULL}, &p);
    assert_int_equal(p.status, 0);
    assert_true(strncmp(p.out, "usage: server [-b ADDRESS] [PORT]\n", 34) == 0);
    assert_string_equal(p.err, "");
}

static void test_server_args_reject_bad_ports(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"", NULL}, "bad port ''");
    expect_rejected((const char *const[]){"abc", NULL}, "bad port 'abc'");
    expect_rejected((const char *const[]){"99999", NULL}, "bad port '99999'");
    expect_rejected((const char *const[]){"65536", NULL}, "bad port '65536'");
    expect_rejected((const char *const[]){"12x", NULL}, "bad port '12x'");
    expect_rejected((const char *const[]){" 7", NULL}, "bad port ' 7'");
    expect_rejected((const char *const[]){"+7", NULL}, "bad port '+7'");
    expect_rejected((const char *const[]){"-b", "::1", "abc", NULL}, "bad port 'abc'");
}

static void test_server_args_reject_negative_port_as_an_option(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-1", NULL}, "-1");
}

static void test_server_args_reject_unknown_option(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-x", NULL}, "unknown option -x");
    expect_rejected((const char *const[]){"-p", "7", NULL}, "unknown option -p");
}

static void test_server_args_reject_b_without_address(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-b", NULL}, "-b needs an ADDRESS");
    expect_rejected((const char *const[]){"-b", "", NULL}, "-b needs an ADDRESS");
    expect_rejected((const char *const[]){"-b", "", "7", NULL}, "-b needs an ADDRESS");
}

static void test_server_args_reject_extra_argument(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"1", "2", NULL}, "unexpected argument '2'");
    expect_rejected((const char *const[]){"-b", "::1", "7", "x", NULL},
                    "unexpected argument 'x'");
    /* POSIX getopt: options come before PORT, not after. */
    expect_rejected((const char *const[]){"7", "-b", "::1", NULL},
                    "unexpected argument '-b'");
}

/* ---- format_address ---------------------------------------------------- */

static void format_ipv4(const char *ip, unsigned short port, char *text, size_t size)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    format_address((struct sockaddr *)&sin, sizeof sin, text, size);
}

static void format_ipv6(const char *ip, unsigned short port, char *text, size_t size)
{
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
    format_address((struct sockaddr *)&sin6, sizeof sin6, text, size);
}

static void test_format_address_writes_ipv4_as_address_colon_port(void **state)
{
    (void)state;
    char text[ADDRESS_TEXT];
    format_ipv4("192.0.2.7", 9999, text, sizeof text);
    assert_string_equal(text, "192.0.2.7:9999");
    format_ipv4("0.0.0.0", 0, text, sizeof text);
    assert_string_equal(text, "0.0.0.0:0");
}

static void test_format_address_puts_ipv6_in_brackets(void **state)
{
    (void)state;
    char text[ADDRESS_TEXT];
    format_ipv6("::1", 65535, text, sizeof text);
    assert_string_equal(text, "[::1]:65535");
    format_ipv6("2001:db8::42", 80, text, sizeof text);
    assert_string_equal(text, "[2001:db8::42]:80");
    format_ipv6("::", 9999, text, sizeof text);
    assert_string_equal(text, "[::]:9999");
}

static void test_format_address_shows_ipv4_mapped_address_as_plain_ipv4(void **state)
{
    (void)state;
    char text[ADDRESS_TEXT];
    format_ipv6("::ffff:127.0.0.1", 40000, text, sizeof text);
    assert_string_equal(text, "127.0.0.1:40000");
}

static void test_format_address_explains_an_address_it_cannot_show(void **state)
{
    (void)state;
    char text[ADDRESS_TEXT];
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_UNSPEC;
    format_address((struct sockaddr *)&sin, sizeof sin, text, sizeof text);
    assert_true(strncmp(text, "(unknown address: ", 18) == 0);
    assert_true(text[strlen(text) - 1] == ')');
}

/* ---- listening and accepting (real sockets) ----------------------------- */

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int loopback_listener(unsigned short *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd != -1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static int connect_loopback(unsigned short port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd != -1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static unsigned short local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static void test_announce_prints_the_port_the_kernel_picked(void **state)
{
    (void)state;
    unsigned short port;
    int listener = loopback_listener(&port);
    char out[CAPTURED_MAX], want[64];
    capture_start(STDOUT_FILENO);
    int rc = announce(listener);
    capture_stop(STDOUT_FILENO, out, sizeof out);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want, "Listening on 127.0.0.1:%u\n", port);
    assert_string_equal(out, want);
    assert_int_equal(close(listener), 0);
}

static void test_accept_client_returns_socket_and_address_of_a_real_client(void **state)
{
    (void)state;
    unsigned short port;
    int listener = loopback_listener(&port);
    int peer = connect_loopback(port);
    struct sockaddr_storage addr;
    socklen_t len = 0;
    int client = accept_client(listener, &addr, &len);
    assert_true(client >= 0);
    assert_int_equal(addr.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&addr)->sin_port), local_port(peer));
    assert_int_equal(close(client), 0);
    assert_int_equal(close(peer), 0);
    assert_int_equal(close(listener), 0);
}

static void expect_silent_retry(int err)
{
    struct sockaddr_storage addr;
    socklen_t len;
    char text[CAPTURED_MAX];
    armed.accept = armed.sleep = 1;
    will_return(__wrap_accept, -err);
    capture_start(STDERR_FILENO);
    int client = accept_client(3, &addr, &len);
    int saved = errno;
    capture_stop(STDERR_FILENO, text, sizeof text);
    assert_int_equal(client, -1);
    assert_int_equal(saved, err);
    assert_string_equal(text, "");
    assert_int_equal(sleep_calls, 0);
}

static void test_accept_interrupted_by_signal_retries_silently_at_once(void **state)
{
    (void)state;
    expect_silent_retry(EINTR);
}

static void test_accept_of_aborted_connection_retries_silently_at_once(void **state)
{
    (void)state;
    expect_silent_retry(ECONNABORTED);
}

static void expect_logged_pause(int err)
{
    struct sockaddr_storage addr;
    socklen_t len;
    char text[CAPTURED_MAX], want[256];
    armed.accept = armed.sleep = 1;
    will_return(__wrap_accept, -err);
    capture_start(STDERR_FILENO);
    int client = accept_client(3, &addr, &len);
    capture_stop(STDERR_FILENO, text, sizeof text);
    assert_int_equal(client, -1);
    snprintf(want, sizeof want, "server: accept: %s", strerror(err));
    if (strncmp(text, want, strlen(want)) != 0 || strchr(text, '\n') != text + strlen(text) - 1)
        fail_msg("stderr '%s', wanted one line starting '%s'", text, want);
    assert_int_equal(sleep_calls, 1);
    assert_int_equal(slept_for, 1);
    assert_int_equal(stderr_at_sleep, strlen(text));  /* said so first */
}

static void test_accept_out_of_descriptors_is_logged_then_waits_a_second(void **state)
{
    (void)state;
    expect_logged_pause(EMFILE);
}

static void test_accept_out_of_system_descriptors_is_logged_then_waits_a_second(void **state)
{
    (void)state;
    expect_logged_pause(ENFILE);
}

static void test_accept_out_of_buffers_is_logged_then_waits_a_second(void **state)
{
    (void)state;
    expect_logged_pause(ENOBUFS);
}

/* ---- sending ----------------------------------------------------------- */

static void test_send_all_sends_the_rest_after_a_partial_send(void **state)
{
    (void)state;
    armed.send = 1;
    will_return(__wrap_send, 1);
    will_return(__wrap_send, 10);
    will_return(__wrap_send, 100);  /* takes the 15 bytes left */
    assert_int_equal(send_all(5, GREETING_TEXT, 26), 0);
    assert_int_equal(sent_length, 26);
    assert_memory_equal(sent, GREETING_TEXT, 26);
}

static void test_send_all_retries_after_eintr(void **state)
{
    (void)state;
    armed.send = 1;
    will_return(__wrap_send, -EINTR);
    will_return(__wrap_send, 4);
    will_return(__wrap_send, -EINTR);
    will_return(__wrap_send, 100);
    assert_int_equal(send_all(5, GREETING_TEXT, 26), 0);
    assert_int_equal(sent_length, 26);
    assert_memory_equal(sent, GREETING_TEXT, 26);
}

static void test_send_all_gives_up_on_epipe(void **state)
{
    (void)state;
    armed.send = 1;
    will_return(__wrap_send, 3);
    will_return(__wrap_send, -EPIPE);  /* no further call is scripted */
    errno = 0;
    assert_int_equal(send_all(5, GREETING_TEXT, 26), -1);
    assert_int_equal(errno, EPIPE);
}

static void set_receive_timeout(int fd)
{
    int ms = scaled_ms(2000);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

static void test_greet_sends_the_26_byte_greeting_and_closes(void **state)
{
    (void)state;
    int pair[2];
    char buf[64];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    set_receive_timeout(pair[1]);  /* a socket left open must fail, not hang */
    greet(pair[0]);
    size_t got = 0;
    for (int i = 0; i < 10 && got < sizeof buf; i++) {  /* until EOF */
        ssize_t n = read(pair[1], buf + got, sizeof buf - got);
        assert_true(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    assert_int_equal(got, 26);
    assert_memory_equal(buf, GREETING_TEXT, 26);
    assert_int_equal(close(pair[1]), 0);
}

static void test_greet_logs_a_failed_send_and_still_closes(void **state)
{
    (void)state;
    int pair[2];
    char text[CAPTURED_MAX];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    armed.send = 1;
    will_return(__wrap_send, -EPIPE);
    capture_start(STDERR_FILENO);
    greet(pair[0]);
    capture_stop(STDERR_FILENO, text, sizeof text);
    assert_string_equal(text, "server: send: Broken pipe\n");
    errno = 0;
    assert_int_equal(fcntl(pair[0], F_GETFD), -1);  /* closed */
    assert_int_equal(errno, EBADF);
    assert_int_equal(close(pair[1]), 0);
}

int main(void)
{
    harness_guard(30);
    const struct CMUnitTest tests[] = {
        PARSE_NUMBER_TESTS,
        TEST(test_server_args_default_to_every_address_on_port_9999),
        TEST(test_server_args_take_a_port),
        TEST(test_server_args_take_an_address),
        TEST(test_server_args_h_prints_usage_on_stdout_and_returns_0),
        TEST(test_server_args_reject_bad_ports),
        TEST(test_server_args_reject_negative_port_as_an_option),
        TEST(test_server_args_reject_unknown_option),
        TEST(test_server_args_reject_b_without_address),
        TEST(test_server_args_reject_extra_argument),
        TEST(test_format_address_writes_ipv4_as_address_colon_port),
        TEST(test_format_address_puts_ipv6_in_brackets),
        TEST(test_format_address_shows_ipv4_mapped_address_as_plain_ipv4),
        TEST(test_format_address_explains_an_address_it_cannot_show),
        TEST(test_announce_prints_the_port_the_kernel_picked),
        TEST(test_accept_client_returns_socket_and_address_of_a_real_client),
        TEST(test_accept_interrupted_by_signal_retries_silently_at_once),
        TEST(test_accept_of_aborted_connection_retries_silently_at_once),
        TEST(test_accept_out_of_descriptors_is_logged_then_waits_a_second),
        TEST(test_accept_out_of_system_descriptors_is_logged_then_waits_a_second),
        TEST(test_accept_out_of_buffers_is_logged_then_waits_a_second),
        TEST(test_send_all_sends_the_rest_after_a_partial_send),
        TEST(test_send_all_retries_after_eintr),
        TEST(test_send_all_gives_up_on_epipe),
        TEST(test_greet_sends_the_26_byte_greeting_and_closes),
        TEST(test_greet_logs_a_failed_send_and_still_closes),
    };
    return cmocka_run_group_tests_name("server.c", tests, NULL, NULL);
}
