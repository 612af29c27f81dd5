/*
 * unit_client.c - unit tests of client.c's own functions, and of its main
 * with a scripted recv.
 *
 * client.c is included whole (its main renamed) so its static functions can
 * be called.  recv is wrapped at link time (-Wl,--wrap=recv): a test that
 * arms it scripts each call with will_return; unarmed, it is the real recv.
 */
#define main client_main
#include "../client.c"
#undef main

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "unit_support.h"

#define GUARD_SECONDS 30

/* ---- the wrapped call -------------------------------------------------- */

static int recv_armed;
static const char *recv_data;   /* what the "server" has sent, not yet read */
static size_t recv_left;
static size_t recv_asked[16];   /* len of each armed call */
static int recv_calls;

ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);

/* will_return(__wrap_recv, n): hand out at most n of the bytes left in
 * recv_data (0 once they are gone: the server hung up); -E: fail with
 * errno E. */
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    if (!recv_armed)
        return __real_recv(fd, buf, len, flags);
    if (recv_calls < (int)(sizeof recv_asked / sizeof recv_asked[0]))
        recv_asked[recv_calls] = len;
    recv_calls++;
    long step = mock_type(long);
    if (step < 0) {
        errno = (int)-step;
        return -1;
    }
    size_t n = (size_t)step;
    if (n > len)
        n = len;
    if (n > recv_left)
        n = recv_left;
    memcpy(buf, recv_data, n);
    recv_data += n;
    recv_left -= n;
    return (ssize_t)n;
}

static void serve(const char *data, size_t len)
{
    recv_armed = 1;
    recv_data = data;
    recv_left = len;
}

static int setup(void **state)
{
    (void)state;
    recv_armed = 0;
    recv_calls = 0;
    memset(recv_asked, 0, sizeof recv_asked);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    recv_armed = 0;
    capture_abandon();
    return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static const char GREETING_TEXT[] = "Thank you for connecting\r\n";

/* 1500 bytes no two neighbouring 1024-byte windows of which look alike. */
static char long_reply[1500];

static void fill_long_reply(void)
{
    for (size_t i = 0; i < sizeof long_reply; i++)
        long_reply[i] = (char)('!' + (i * 7 + i / 94) % 94);
}

/* ---- parse_number ------------------------------------------------------ */

#include "parse_number_tests.h"

/* ---- parse_args -------------------------------------------------------- */

struct parsed {
    int status;
    const char *host;
    const char *port;
    unsigned seconds;
    char out[CAPTURED_MAX];
    char err[CAPTURED_MAX];
};

static struct argv_copy argv_store;  /* parse_args keeps pointers into it */

static void parse(const char *const args[], struct parsed *p)
{
    argv_build(&argv_store, "client", args);
    p->host = NULL;          /* main's defaults */
    p->port = DEFAULT_PORT;
    p->seconds = DEFAULT_TIMEOUT;
    capture_start(STDOUT_FILENO);
    capture_start(STDERR_FILENO);
    p->status = parse_args(argv_store.argc, argv_store.argv, &p->host, &p->port,
                           &p->seconds);
    capture_stop(STDERR_FILENO, p->err, sizeof p->err);
    capture_stop(STDOUT_FILENO, p->out, sizeof p->out);
}

static void expect_accepted(const char *const args[], const char *host,
                            const char *port, unsigned seconds)
{
    struct parsed p;
    parse(args, &p);
    if (p.status != -1 || p.out[0] != '\0' || p.err[0] != '\0')
        fail_msg("client %s: status %d, stdout '%s', stderr '%s'",
                 args_text(args), p.status, p.out, p.err);
    if (host == NULL)
        assert_null(p.host);
    else
        assert_string_equal(p.host, host);
    assert_string_equal(p.port, port);
    assert_int_equal(p.seconds, seconds);
}

/* Exit status 2, a message naming what is wrong, the usage, all on stderr. */
static void expect_rejected(const char *const args[], const char *named)
{
    struct parsed p;
    parse(args, &p);
    if (p.status != 2 || p.out[0] != '\0' || strncmp(p.err, "client: ", 8) != 0 ||
        strstr(p.err, named) == NULL || strstr(p.err, "usage: client") == NULL)
        fail_msg("client %s: status %d, stdout '%s', stderr '%s' (wanted %s)",
                 args_text(args), p.status, p.out, p.err, named);
}

static void test_client_args_default_to_this_machine_port_9999_and_5_s(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){NULL}, NULL, "9999", 5);
}

static void test_client_args_take_host_then_port(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){"localhost", NULL}, "localhost", "9999", 5);
    expect_accepted((const char *const[]){"::1", "8080", NULL}, "::1", "8080", 5);
    expect_accepted((const char *const[]){"127.0.0.1", "1", NULL}, "127.0.0.1", "1", 5);
    expect_accepted((const char *const[]){"h", "65535", NULL}, "h", "65535", 5);
}

static void test_client_args_take_a_timeout(void **state)
{
    (void)state;
    expect_accepted((const char *const[]){"-t", "1", NULL}, NULL, "9999", 1);
    expect_accepted((const char *const[]){"-t", "86400", "h", NULL}, "h", "9999", 86400);
    expect_accepted((const char *const[]){"-t30", "h", "7", NULL}, "h", "7", 30);
}

static void test_client_args_h_prints_usage_on_stdout_and_returns_0(void **state)
{
    (void)state;
    struct parsed p;
    parse((const char *const[]){"-h", NULL}, &p);
    assert_int_equal(p.status, 0);
    assert_true(strncmp(p.out, "usage: client [-t SECONDS] [HOST [PORT]]\n", 41) == 0);
    assert_string_equal(p.err, "");
}

static void test_client_args_reject_bad_timeouts(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-t", "0", NULL}, "bad timeout '0'");
    expect_rejected((const char *const[]){"-t", "abc", NULL}, "bad timeout 'abc'");
    expect_rejected((const char *const[]){"-t", "86401", NULL}, "bad timeout '86401'");
    expect_rejected((const char *const[]){"-t", "", NULL}, "bad timeout ''");
    expect_rejected((const char *const[]){"-t", "-1", NULL}, "bad timeout '-1'");
    expect_rejected((const char *const[]){"-t", "+7", NULL}, "bad timeout '+7'");
    expect_rejected((const char *const[]){"-t", " 7", NULL}, "bad timeout ' 7'");
    expect_rejected((const char *const[]){"-t", "18446744073709551616", NULL},
                    "bad timeout '18446744073709551616'");
}

static void test_client_args_reject_t_without_value(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-t", NULL}, "-t needs a number of SECONDS");
}

static void test_client_args_reject_bad_ports(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"h", "0", NULL}, "bad port '0'");
    expect_rejected((const char *const[]){"h", "", NULL}, "bad port ''");
    expect_rejected((const char *const[]){"h", "abc", NULL}, "bad port 'abc'");
    expect_rejected((const char *const[]){"h", "99999", NULL}, "bad port '99999'");
    expect_rejected((const char *const[]){"h", "65536", NULL}, "bad port '65536'");
    expect_rejected((const char *const[]){"h", "12x", NULL}, "bad port '12x'");
    expect_rejected((const char *const[]){"h", " 7", NULL}, "bad port ' 7'");
    expect_rejected((const char *const[]){"h", "+7", NULL}, "bad port '+7'");
    expect_rejected((const char *const[]){"--", "h", "-1", NULL}, "bad port '-1'");
}

static void test_client_args_reject_empty_host(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"", NULL}, "HOST is empty");
    expect_rejected((const char *const[]){"", "7", NULL}, "HOST is empty");
}

static void test_client_args_reject_unknown_option(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"-x", NULL}, "unknown option -x");
    expect_rejected((const char *const[]){"-p", "7", NULL}, "unknown option -p");
}

static void test_client_args_reject_extra_argument(void **state)
{
    (void)state;
    expect_rejected((const char *const[]){"h", "7", "x", NULL}, "unexpected argument 'x'");
    /* POSIX getopt: options come before HOST and PORT, not after. */
    expect_rejected((const char *const[]){"h", "7", "-t", "3", NULL},
                    "unexpected argument '-t'");
}

/* ---- receive_reply ----------------------------------------------------- */

static void test_receive_reply_joins_short_reads_until_the_server_hangs_up(void **state)
{
    (void)state;
    char buf[MAX_REPLY];
    serve(GREETING_TEXT, 26);
    will_return(__wrap_recv, 1);
    will_return(__wrap_recv, 9);
    will_return(__wrap_recv, 16);
    will_return(__wrap_recv, 100);  /* nothing left: 0, end of stream */
    assert_int_equal(receive_reply(5, buf, sizeof buf), 26);
    assert_memory_equal(buf, GREETING_TEXT, 26);
    assert_int_equal(recv_asked[1], MAX_REPLY - 1);
    assert_int_equal(recv_asked[2], MAX_REPLY - 10);
}

static void test_receive_reply_retries_after_eintr(void **state)
{
    (void)state;
    char buf[MAX_REPLY];
    serve(GREETING_TEXT, 26);
    will_return(__wrap_recv, -EINTR);
    will_return(__wrap_recv, 5);
    will_return(__wrap_recv, -EINTR);
    will_return(__wrap_recv, 100);
    will_return(__wrap_recv, 100);
    assert_int_equal(receive_reply(5, buf, sizeof buf), 26);
    assert_memory_equal(buf, GREETING_TEXT, 26);
}

static void test_receive_reply_reports_a_failed_recv(void **state)
{
    (void)state;
    char buf[MAX_REPLY];
    serve(GREETING_TEXT, 26);
    will_return(__wrap_recv, 10);
    will_return(__wrap_recv, -ECONNRESET);  /* no further call is scripted */
    errno = 0;
    assert_int_equal(receive_reply(5, buf, sizeof buf), -1);
    assert_int_equal(errno, ECONNRESET);
}

static void test_receive_reply_stops_at_1024_bytes_when_more_is_waiting(void **state)
{
    (void)state;
    char buf[MAX_REPLY];
    serve(long_reply, sizeof long_reply);
    will_return(__wrap_recv, 1000);
    will_return(__wrap_recv, 1000);  /* asked for 24: no third call scripted */
    assert_int_equal(receive_reply(5, buf, sizeof buf), 1024);
    assert_memory_equal(buf, long_reply, 1024);
    assert_int_equal(recv_asked[0], 1024);
    assert_int_equal(recv_asked[1], 24);
    assert_int_equal(recv_left, sizeof long_reply - 1024);
}

static void test_receive_reply_returns_0_when_the_server_hangs_up_at_once(void **state)
{
    (void)state;
    char buf[MAX_REPLY];
    serve("", 0);
    will_return(__wrap_recv, 100);
    assert_int_equal(receive_reply(5, buf, sizeof buf), 0);
    assert_int_equal(recv_calls, 1);
}

/* ---- client_main with a scripted recv ---------------------------------- */

/* A listening socket on 127.0.0.1 for client_main to connect to; the
 * connection waits in its queue, and the armed recv plays the server. */
static int loopback_listener(char *port, size_t size)
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
    snprintf(port, size, "%u", ntohs(sin.sin_port));
    return fd;
}

struct run {
    int status;
    size_t out_len;
    char out[CAPTURED_MAX];
    char err[CAPTURED_MAX];
};

/* client_main -t 5 127.0.0.1 PORT.  Its 5 s alarm bounds the call (and
 * replaces the guard's, which is set again afterwards). */
static void run_client(struct run *r)
{
    char port[8];
    int listener = loopback_listener(port, sizeof port);
    argv_build(&argv_store, "client",
               (const char *const[]){"-t", "5", "127.0.0.1", port, NULL});
    capture_start(STDOUT_FILENO);
    capture_start(STDERR_FILENO);
    r->status = client_main(argv_store.argc, argv_store.argv);
    capture_stop(STDERR_FILENO, r->err, sizeof r->err);
    r->out_len = capture_stop(STDOUT_FILENO, r->out, sizeof r->out);
    harness_guard(GUARD_SECONDS);
    assert_int_equal(close(listener), 0);
}

static void test_client_prints_the_greeting_it_receives_in_pieces(void **state)
{
    (void)state;
    struct run r;
    serve(GREETING_TEXT, 26);
    will_return(__wrap_recv, 3);
    will_return(__wrap_recv, 20);
    will_return(__wrap_recv, 3);
    will_return(__wrap_recv, 100);
    run_client(&r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, 26);
    assert_memory_equal(r.out, GREETING_TEXT, 26);
    assert_string_equal(r.err, "");
}

static void test_client_prints_only_first_1024_bytes(void **state)
{
    (void)state;
    struct run r;
    serve(long_reply, sizeof long_reply);
    will_return(__wrap_recv, 500);
    will_return(__wrap_recv, 500);
    will_return(__wrap_recv, 500);  /* asked for 24 */
    run_client(&r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, 1024);
    assert_memory_equal(r.out, long_reply, 1024);
    assert_string_equal(r.err, "");
}

static void test_client_reports_a_server_that_sent_nothing(void **state)
{
    (void)state;
    struct run r;
    serve("", 0);
    will_return(__wrap_recv, 100);
    run_client(&r);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.out_len, 0);
    assert_string_equal(r.err, "client: 127.0.0.1 closed the connection without "
                               "sending anything\n");
}

static void test_client_reports_a_failed_recv_and_prints_nothing(void **state)
{
    (void)state;
    struct run r;
    serve(GREETING_TEXT, 26);
    will_return(__wrap_recv, 10);
    will_return(__wrap_recv, -ECONNRESET);
    run_client(&r);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.out_len, 0);
    assert_string_equal(r.err, "client: receive from 127.0.0.1: Connection reset by peer\n");
}

int main(void)
{
    harness_guard(GUARD_SECONDS);
    fill_long_reply();
    const struct CMUnitTest tests[] = {
        PARSE_NUMBER_TESTS,
        TEST(test_client_args_default_to_this_machine_port_9999_and_5_s),
        TEST(test_client_args_take_host_then_port),
        TEST(test_client_args_take_a_timeout),
        TEST(test_client_args_h_prints_usage_on_stdout_and_returns_0),
        TEST(test_client_args_reject_bad_timeouts),
        TEST(test_client_args_reject_t_without_value),
        TEST(test_client_args_reject_bad_ports),
        TEST(test_client_args_reject_empty_host),
        TEST(test_client_args_reject_unknown_option),
        TEST(test_client_args_reject_extra_argument),
        TEST(test_receive_reply_joins_short_reads_until_the_server_hangs_up),
        TEST(test_receive_reply_retries_after_eintr),
        TEST(test_receive_reply_reports_a_failed_recv),
        TEST(test_receive_reply_stops_at_1024_bytes_when_more_is_waiting),
        TEST(test_receive_reply_returns_0_when_the_server_hangs_up_at_once),
        TEST(test_client_prints_the_greeting_it_receives_in_pieces),
        TEST(test_client_prints_only_first_1024_bytes),
        TEST(test_client_reports_a_server_that_sent_nothing),
        TEST(test_client_reports_a_failed_recv_and_prints_nothing),
    };
    return cmocka_run_group_tests_name("client.c", tests, NULL, NULL);
}
