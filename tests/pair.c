/*
 * pair.c - the real ./server against clients scripted here, and the real
 * ./client against scripted servers, over loopback on ports the kernel picks.
 * Each test is a short transcript: start, talk, check what came out.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

static struct proc server;
static int port;

static int start_dual_stack_server(void **state)
{
    (void)state;
    port = start_server(&server, ARGS("0"), 0);
    return port > 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    return stop(&server, SIGTERM) == 128 + SIGTERM ? 0 : -1;
}

/* Reads what fd receives until the server's FIN: it must be the greeting. */
static void expect_greeting_then_eof(int fd)
{
    char buf[64];
    assert_string_equal((read_for(fd, buf, sizeof buf, 3000, 0), buf), GREETING);
}

static void expect_line(int fd, const char *format, ...)
{
    char want[256], got[256];
    va_list ap;
    va_start(ap, format);
    vsnprintf(want, sizeof want, format, ap);
    va_end(ap);
    read_for(fd, got, sizeof got, 3000, 1);
    assert_string_equal(got, want);
}

static int local_port(int fd)
{
    struct sockaddr_in6 sa;  /* the port sits at the same place for IPv4 */
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin6_port);
}

static void set_linger_zero(int fd)  /* close() will then send a RST */
{
    struct linger reset = { 1, 0 };
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
}

/* Whether a plain bind (no SO_REUSEADDR) to the port fails: TIME_WAIT holds
 * it.  A kernel whose TIME_WAIT table is full keeps none. */
static int held_by_time_wait(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int held = bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno == EADDRINUSE;
    close(fd);
    return held;
}

/* ---- ./server against scripted clients ---- */

static void test_server_greets_ipv4_and_ipv6_clients_and_logs_each(void **state)
{
    (void)state;
    int fd = tcp_connect("127.0.0.1", port);
    expect_greeting_then_eof(fd);
    expect_line(server.out, "Got a connection from 127.0.0.1:%d\n", local_port(fd));
    close(fd);
    if (!have_ipv6()) {
        print_message("    SKIP the IPv6 client: no ::1 on this machine\n");
        skip();
    }
    fd = tcp_connect("::1", port);
    expect_greeting_then_eof(fd);
    expect_line(server.out, "Got a connection from [::1]:%d\n", local_port(fd));
    close(fd);
}

static void test_clients_that_speak_first_get_the_greeting_then_eof(void **state)
{
    (void)state;
    static char request[1 << 20];  /* as nc -N sends a file before it reads */
    const size_t sizes[] = { 1, 18, sizeof request };
    memset(request, 'x', sizeof request);
    if (!have_ipv6())
        print_message("    SKIP the IPv6 clients: no ::1 on this machine\n");
    for (int v6 = 0; v6 <= have_ipv6(); v6++)
        for (int later = 0; later <= 1; later++)
            for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
                int fd = tcp_connect(v6 ? "::1" : "127.0.0.1", port);
                if (later)
                    poll(NULL, 0, 20);
                assert_int_equal(send(fd, request, sizes[i], 0), (ssize_t)sizes[i]);
                expect_greeting_then_eof(fd);
                close(fd);
            }
}

static void test_server_drains_a_talking_client_and_ends_without_reset(void **state)
{
    (void)state;
    int so_error = -1;
    socklen_t len = sizeof so_error;
    kill(server.pid, SIGSTOP);  /* so the request is queued before accept */
    int talker = tcp_connect("127.0.0.1", port);
    assert_int_equal(send(talker, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
    kill(server.pid, SIGCONT);
    expect_greeting_then_eof(talker);
    int next = tcp_connect("127.0.0.1", port);  /* served once talker is done */
    expect_greeting_then_eof(next);
    assert_int_equal(getsockopt(talker, SOL_SOCKET, SO_ERROR, &so_error, &len), 0);
    assert_int_equal(so_error, 0);  /* no RST came after the FIN */
    close(talker);
    close(next);
}

static void test_no_client_holds_up_the_next(void **state)
{
    (void)state;
    static char flood[1 << 16];
    int silent = tcp_connect("127.0.0.1", port);
    int one_byte = tcp_connect("127.0.0.1", port);
    int streamer = tcp_connect("127.0.0.1", port);
    assert_int_equal(send(one_byte, "x", 1, 0), 1);
    fcntl(streamer, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 64 && send(streamer, flood, sizeof flood, 0) > 0; i++)
        ;  /* fills the server's receive buffer: more than it will read */
    int next = tcp_connect("127.0.0.1", port);
    expect_greeting_then_eof(next);
    close(silent);
    close(one_byte);
    close(streamer);
    close(next);
}

static void test_server_survives_sigpipe_from_a_client_that_sent_fin_then_rst(void **state)
{
    (void)state;
    char line[256];
    kill(server.pid, SIGSTOP);
    int gone = tcp_connect("127.0.0.1", port);
    shutdown(gone, SHUT_WR);  /* FIN, then RST: the socket we accept is broken */
    set_linger_zero(gone);
    close(gone);
    kill(server.pid, SIGCONT);
    int next = tcp_connect("127.0.0.1", port);
    expect_greeting_then_eof(next);
    read_for(server.err, line, sizeof line, 3000, 1);
    assert_string_equal(line, "server: sending the greeting: Broken pipe\n");
    close(next);
}

static void test_sigint_and_sigterm_end_the_server_by_their_default_action(void **state)
{
    (void)state;
    struct proc p;
    assert_true(start_server(&p, ARGS("-b", "127.0.0.1", "0"), 0) > 0);
    assert_int_equal(stop(&p, SIGINT), 128 + SIGINT);
    assert_true(start_server(&p, ARGS("-b", "127.0.0.1", "0"), 0) > 0);
    assert_int_equal(stop(&p, SIGTERM), 128 + SIGTERM);
}

static void test_sigint_ignored_by_the_parent_stays_ignored(void **state)
{
    (void)state;
    struct proc p;
    int here = start_server(&p, ARGS("-b", "127.0.0.1", "0"), IGNORE_SIGINT);
    kill(p.pid, SIGINT);
    int fd = tcp_connect("127.0.0.1", here);
    expect_greeting_then_eof(fd);
    close(fd);
    assert_int_equal(stop(&p, SIGTERM), 128 + SIGTERM);
}

static void test_server_restarts_at_once_on_the_port_it_just_served(void **state)
{
    (void)state;
    struct proc p;
    char here[8];
    int served = start_server(&p, ARGS("-b", "127.0.0.1", "0"), 0);
    for (int i = 0; i < 3; i++) {  /* each leaves a connection in TIME_WAIT */
        int fd = tcp_connect("127.0.0.1", served);
        expect_greeting_then_eof(fd);
        close(fd);
    }
    stop(&p, SIGTERM);
    if (!held_by_time_wait(served))
        skip();
    snprintf(here, sizeof here, "%d", served);
    assert_int_equal(start_server(&p, ARGS("-b", "127.0.0.1", here), 0), served);
    stop(&p, SIGTERM);
}

static void test_busy_port_hint_names_time_wait_left_by_another_program(void **state)
{
    (void)state;
    int busy, listener = tcp_listen("127.0.0.1", &busy);  /* no SO_REUSEADDR */
    int client = tcp_connect("127.0.0.1", busy);
    char eof[8];
    close(accept(listener, NULL, NULL));  /* closing first: TIME_WAIT here */
    read_for(client, eof, sizeof eof, 1000, 0);
    close(client);
    close(listener);
    if (!held_by_time_wait(busy))
        skip();
    char out[64], err[512], here[8];
    snprintf(here, sizeof here, "%d", busy);
    struct proc p;
    assert_int_equal(start(&p, "server", ARGS("-b", "127.0.0.1", here), 0), 0);
    read_for(p.err, err, sizeof err, 3000, 0);
    read_for(p.out, out, sizeof out, 100, 0);
    assert_int_equal(finish(&p, 2000), 1);
    assert_non_null(strstr(err, "Address already in use (another server? If not, "
                                "wait a minute: TIME_WAIT)"));
}

static void test_server_reads_a_slow_talker_to_the_end_then_closes_without_reset(void **state)
{
    (void)state;
    char got[64];
    int so_error = -1;
    socklen_t len = sizeof so_error;
    int talker = tcp_connect("127.0.0.1", port);
    assert_string_equal((read_for(talker, got, 27, 3000, 0), got), GREETING);
    for (int i = 0; i < 12; i++) {  /* one byte a read, however the kernel splits */
        assert_int_equal(send(talker, "x", 1, 0), 1);
        poll(NULL, 0, 25);
    }
    shutdown(talker, SHUT_WR);
    assert_int_equal(read_for(talker, got, sizeof got, 3000, 0), 0);  /* the FIN */
    poll(NULL, 0, 50);
    assert_int_equal(getsockopt(talker, SOL_SOCKET, SO_ERROR, &so_error, &len), 0);
    assert_int_equal(so_error, 0);  /* no RST came for the bytes it sent */
    close(talker);
}

/* ---- ./client against scripted servers ---- */

struct peer {
    int listener, conn, port;
    char portname[8];
    struct proc client;
};

/* Listens, starts ./client -t 2 against it, and accepts it. */
static void client_connects(struct peer *s, int how)
{
    s->listener = tcp_listen("127.0.0.1", &s->port);
    snprintf(s->portname, sizeof s->portname, "%d", s->port);
    assert_int_equal(start(&s->client, "client", ARGS("-t", "2", "127.0.0.1", s->portname), how), 0);
    s->conn = accept(s->listener, NULL, NULL);
    assert_true(s->conn >= 0);
}

/* Ends the script: the client's status, stdout and first stderr line. */
static void client_ends(struct peer *s, int status, const char *out, size_t out_len,
                        const char *err)
{
    char got[2048], line[512] = "";
    size_t n = read_for(s->client.out, got, sizeof got, 4000, 0);
    if (err[0] != '\0') {
        read_for(s->client.err, line, sizeof line, 1000, 1);
        char want[512];
        snprintf(want, sizeof want, err, s->port);
        assert_string_equal(line, want);
    }
    assert_int_equal(finish(&s->client, 4000), status);
    assert_int_equal(n, out_len);
    assert_memory_equal(got, out, out_len);
    if (s->conn != -1)
        close(s->conn);
    close(s->listener);
}

static void test_client_prints_only_the_first_1024_bytes(void **state)
{
    (void)state;
    struct peer s;
    char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    client_connects(&s, 0);
    assert_int_equal(send(s.conn, big, sizeof big, 0), (ssize_t)sizeof big);
    shutdown(s.conn, SHUT_WR);
    client_ends(&s, 0, big, 1024, "");
}

static void test_client_prints_each_piece_as_it_arrives(void **state)
{
    (void)state;
    struct peer s;
    char got[64];
    client_connects(&s, 0);
    assert_int_equal(send(s.conn, "Thank ", 6, 0), 6);
    assert_int_equal(read_for(s.client.out, got, 7, 2000, 0), 6);  /* before the rest */
    assert_int_equal(send(s.conn, "you for connecting\r\n", 20, 0), 20);
    shutdown(s.conn, SHUT_WR);
    client_ends(&s, 0, "you for connecting\r\n", 20, "");
}

static void test_client_keeps_nuls_and_every_byte_value(void **state)
{
    (void)state;
    struct peer s;
    char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (char)i;
    client_connects(&s, 0);
    assert_int_equal(send(s.conn, bytes, sizeof bytes, 0), 256);
    shutdown(s.conn, SHUT_WR);
    client_ends(&s, 0, bytes, sizeof bytes, "");
}

static void test_client_prints_a_banner_then_times_out_waiting(void **state)
{
    (void)state;
    struct peer s;
    client_connects(&s, 0);
    assert_int_equal(send(s.conn, "SSH-2.0-Banner\r\n", 16, 0), 16);
    client_ends(&s, 1, "SSH-2.0-Banner\r\n", 16, "client: reading the reply: "
                "Connection timed out\n");
}

static void test_client_prints_the_greeting_then_reports_a_reset(void **state)
{
    (void)state;
    struct peer s;
    char got[64];
    client_connects(&s, 0);
    assert_int_equal(send(s.conn, GREETING, 26, 0), 26);
    assert_int_equal(read_for(s.client.out, got, 27, 2000, 0), 26);
    set_linger_zero(s.conn);
    close(s.conn);
    s.conn = -1;
    client_ends(&s, 1, "", 0, "client: reading the reply: "
                "Connection reset by peer\n");
}

static void test_client_says_when_the_server_hung_up_without_a_word(void **state)
{
    (void)state;
    struct peer s;
    client_connects(&s, 0);
    shutdown(s.conn, SHUT_WR);
    client_ends(&s, 1, "", 0, "client: the server hung up without sending anything\n");
}

/* A server that replies and resets at once: the reply and the RST may both
 * be there before the client has looked whether its connect() worked. */
static void test_client_keeps_a_reply_that_came_with_a_reset(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct peer s;
        client_connects(&s, 0);
        assert_int_equal(send(s.conn, GREETING, 26, 0), 26);
        set_linger_zero(s.conn);
        close(s.conn);
        s.conn = -1;
        client_ends(&s, 1, GREETING, 26, "client: reading the reply: "
                    "Connection reset by peer\n");
    }
}

static void test_client_to_a_closed_port_says_refused(void **state)
{
    (void)state;
    char out[64], err[256], want[256], here[8];
    int closed = free_port("127.0.0.1");
    snprintf(here, sizeof here, "%d", closed);
    assert_int_equal(run_client(ARGS("127.0.0.1", here), out, sizeof out, err, sizeof err), 1);
    snprintf(want, sizeof want, "client: cannot connect to 127.0.0.1 port %d: "
             "Connection refused (is the server running?)\n", closed);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define WITH_SERVER(t) cmocka_unit_test_setup_teardown(t, start_dual_stack_server, stop_server)
        WITH_SERVER(test_server_greets_ipv4_and_ipv6_clients_and_logs_each),
        WITH_SERVER(test_clients_that_speak_first_get_the_greeting_then_eof),
        WITH_SERVER(test_server_drains_a_talking_client_and_ends_without_reset),
        WITH_SERVER(test_no_client_holds_up_the_next),
        WITH_SERVER(test_server_survives_sigpipe_from_a_client_that_sent_fin_then_rst),
        cmocka_unit_test(test_sigint_and_sigterm_end_the_server_by_their_default_action),
        cmocka_unit_test(test_sigint_ignored_by_the_parent_stays_ignored),
        cmocka_unit_test(test_server_restarts_at_once_on_the_port_it_just_served),
        cmocka_unit_test(test_busy_port_hint_names_time_wait_left_by_another_program),
        WITH_SERVER(test_server_reads_a_slow_talker_to_the_end_then_closes_without_reset),
        cmocka_unit_test(test_client_prints_only_the_first_1024_bytes),
        cmocka_unit_test(test_client_prints_each_piece_as_it_arrives),
        cmocka_unit_test(test_client_keeps_nuls_and_every_byte_value),
        cmocka_unit_test(test_client_prints_a_banner_then_times_out_waiting),
        cmocka_unit_test(test_client_prints_the_greeting_then_reports_a_reset),
        cmocka_unit_test(test_client_says_when_the_server_hung_up_without_a_word),
        cmocka_unit_test(test_client_keeps_a_reply_that_came_with_a_reset),
        cmocka_unit_test(test_client_to_a_closed_port_says_refused),
    };
    signal(SIGPIPE, SIG_IGN);  /* a test writing to a dead peer fails, not dies */
    return cmocka_run_group_tests_name("pair", tests, NULL, NULL);
}
