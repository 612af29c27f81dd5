/*
 * e2e.c - end-to-end tests: the real server and client, run through
 * harness.h, talking over loopback (127.0.0.1 and ::1) on ports the
 * kernel picks.
 *
 * Needs IPv6 on the loopback interface (::1), as the server's default
 * listener is dual-stack.  PAIR_DIR, RUN_UNDER and TIME_SCALE (harness.h)
 * choose which build runs and how; every wait goes through scaled_ms().
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 5000      /* for anything that should happen at once */
#define STOP_MS 2000      /* a signalled idle server must be gone by then */
#define QUIET_MS 300      /* how long "nothing more is printed" is watched */
#define TEXT_MAX 4096

static const char GREETING[] = "Thank you for connecting\r\n";

/* ---- helpers ----------------------------------------------------------- */

/* The port at the end of line, if line is exactly prefix + "PORT" with
 * PORT a plain decimal 1..65535; else -1. */
static int port_after(const char *line, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n) != 0)
        return -1;
    const char *digits = line + n;
    if (*digits < '1' || *digits > '9' || strlen(digits) > 5)
        return -1;
    long port = 0;
    for (const char *d = digits; *d != '\0'; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        port = port * 10 + (*d - '0');
    }
    return port <= 65535 ? (int)port : -1;
}

static const char *text_of(int port)
{
    static char text[4][8];
    static int next;
    char *t = text[next++ % 4];
    snprintf(t, sizeof text[0], "%d", port);
    return t;
}

/* Starts the server with args and reads its first line into line; on
 * failure shows what it said on stderr. */
static void start_server(struct proc *p, const char *const args[], char *line,
                         size_t size)
{
    assert_int_equal(proc_start(p, "server", args), 0);
    if (read_line(p->out, line, size, scaled_ms(WAIT_MS)) < 0) {
        char err[TEXT_MAX];
        read_all(p->err, err, sizeof err - 1, scaled_ms(WAIT_MS));
        fail_msg("server printed no first line; stderr: '%s'", err);
    }
}

/* Starts "server -b address 0" (harness) and returns its port. */
static int start_bound_server(struct proc *p, const char *address)
{
    int port = server_start(p, address);
    if (port <= 0 || port > 65535)
        fail_msg("server -b %s 0 did not start (port %d)", address, port);
    return port;
}

/* The next stdout line of a running server must be "Got a connection
 * from PEER:PORT" with a real port number (PEER NULL: any address);
 * returns that port. */
static int expect_connection_line(struct proc *server, const char *peer)
{
    char line[256], prefix[128];
    snprintf(prefix, sizeof prefix, "Got a connection from %s:", peer ? peer : "ADDRESS");
    if (read_line(server->out, line, sizeof line, scaled_ms(WAIT_MS)) < 0)
        fail_msg("no log line from the server (wanted '%sPORT')", prefix);
    int port = -1;
    if (peer != NULL) {
        port = port_after(line, prefix);
    } else if (strncmp(line, prefix, 22) == 0) {  /* "Got a connection from " */
        const char *colon = strrchr(line, ':');
        port = colon != NULL && colon > line + 22 ? port_after(colon + 1, "") : -1;
    }
    if (port == -1)
        fail_msg("server logged '%s', wanted '%sPORT'", line, prefix);
    return port;
}

/* Runs the client with args; it must print exactly the greeting, nothing
 * on stderr, and exit 0. */
static void expect_greeting(const char *const args[])
{
    char out[TEXT_MAX], err[TEXT_MAX];
    size_t len;
    int status = client_run(args, out, sizeof out, &len, err, sizeof err,
                            scaled_ms(WAIT_MS));
    if (status != 0 || len != sizeof GREETING - 1 ||
        memcmp(out, GREETING, sizeof GREETING - 1) != 0 || err[0] != '\0')
        fail_msg("client: status %d, %zu bytes on stdout '%s', stderr '%s'",
                 status, len, out, err);
}

static void greet_at(const char *host, int port)
{
    expect_greeting((const char *const[]){host, text_of(port), NULL});
}

static void stop_server(struct proc *server, int sig)
{
    int status = proc_stop(server, sig, scaled_ms(STOP_MS));
    if (status != 0)
        fail_msg("server stopped by signal %d: status %d, wanted 0", sig, status);
}

/* What a program printed when run to completion. */
struct finished {
    int status;
    char out[TEXT_MAX];
    char err[TEXT_MAX];
};

static void run_to_end(const char *program, const char *const args[],
                       struct finished *f)
{
    struct proc p;
    assert_int_equal(proc_start(&p, program, args), 0);
    read_all(p.out, f->out, sizeof f->out - 1, scaled_ms(WAIT_MS));
    read_all(p.err, f->err, sizeof f->err - 1, scaled_ms(WAIT_MS));
    f->status = proc_wait(&p, scaled_ms(WAIT_MS));
}

static int is_one_line(const char *text)
{
    const char *newline = strchr(text, '\n');
    return newline != NULL && newline[1] == '\0';
}

/* Exit 2, nothing on stdout (for the server: no "Listening" line), and on
 * stderr a "program: " message naming the bad value, then the usage. */
struct bad_case {
    const char *args[5];
    const char *named;
};

static void expect_rejected(const char *program, const struct bad_case *c)
{
    struct finished f;
    char message[64], usage[64];
    snprintf(message, sizeof message, "%s: ", program);
    snprintf(usage, sizeof usage, "\nusage: %s ", program);
    run_to_end(program, c->args, &f);
    if (f.status != 2 || f.out[0] != '\0' || strncmp(f.err, message, strlen(message)) != 0 ||
        strstr(f.err, c->named) == NULL || strstr(f.err, usage) == NULL)
        fail_msg("%s %s: status %d, stdout '%s', stderr '%s' (wanted status 2 "
                 "and a message naming %s)", program, args_text(c->args),
                 f.status, f.out, f.err, c->named);
}

/* A port on 127.0.0.1 where nothing listens: bound (so no one else takes
 * it while the test runs) but not listening, so connecting is refused. */
static int closed_port(int *fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd != -1);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* ---- the greeting and the log ------------------------------------------ */

static void test_greeting_over_ipv4_is_26_bytes_exactly(void **state)
{
    (void)state;
    struct proc server;
    int port = start_bound_server(&server, "127.0.0.1");
    greet_at("127.0.0.1", port);
    expect_connection_line(&server, "127.0.0.1");
    stop_server(&server, SIGTERM);
}

static void test_greeting_over_ipv6_is_26_bytes_exactly(void **state)
{
    (void)state;
    struct proc server;
    int port = start_bound_server(&server, "::1");
    greet_at("::1", port);
    expect_connection_line(&server, "[::1]");
    stop_server(&server, SIGTERM);
}

static void test_server_logs_listening_address_and_port(void **state)
{
    (void)state;
    struct proc server;
    char line[256];
    start_server(&server, (const char *const[]){"-b", "127.0.0.1", "0", NULL},
                 line, sizeof line);
    int port = port_after(line, "Listening on 127.0.0.1:");
    if (port == -1)
        fail_msg("first line '%s', wanted 'Listening on 127.0.0.1:PORT'", line);
    greet_at("127.0.0.1", port);  /* it is that port */
    expect_connection_line(&server, "127.0.0.1");
    stop_server(&server, SIGTERM);

    start_server(&server, (const char *const[]){"-b", "::1", "0", NULL},
                 line, sizeof line);
    if (port_after(line, "Listening on [::1]:") == -1)
        fail_msg("first line '%s', wanted 'Listening on [::1]:PORT'", line);
    stop_server(&server, SIGTERM);
}

/* The port in the log is the client's own, as its socket sees it. */
static void test_server_logs_the_clients_real_port(void **state)
{
    (void)state;
    struct proc server;
    int port = start_bound_server(&server, "127.0.0.1");
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd != -1);
    int ms = scaled_ms(WAIT_MS);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    int logged = expect_connection_line(&server, "127.0.0.1");
    assert_int_equal(logged, ntohs(sin.sin_port));
    char buf[64];
    size_t got = 0;
    for (int i = 0; i < 64 && got < sizeof buf; i++) {  /* until EOF */
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n == -1 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    assert_int_equal(got, sizeof GREETING - 1);
    assert_memory_equal(buf, GREETING, sizeof GREETING - 1);
    assert_int_equal(close(fd), 0);
    stop_server(&server, SIGTERM);
}

static void test_default_listener_is_dual_stack_and_logs_ipv4_plainly(void **state)
{
    (void)state;
    struct proc server;
    char line[256];
    start_server(&server, (const char *const[]){"0", NULL}, line, sizeof line);
    int port = port_after(line, "Listening on [::]:");
    if (port == -1)
        fail_msg("first line '%s', wanted 'Listening on [::]:PORT'", line);
    greet_at("127.0.0.1", port);
    expect_connection_line(&server, "127.0.0.1");  /* not ::ffff:127.0.0.1 */
    greet_at("::1", port);
    expect_connection_line(&server, "[::1]");
    stop_server(&server, SIGTERM);
}

/* stdout is a pipe here, so an unflushed line would sit in the server's
 * buffer until it exits. */
static void test_log_lines_arrive_while_the_server_still_runs(void **state)
{
    (void)state;
    struct proc server;
    int status;
    int port = start_bound_server(&server, "127.0.0.1");
    greet_at("127.0.0.1", port);
    expect_connection_line(&server, "127.0.0.1");
    assert_int_equal(waitpid(server.pid, &status, WNOHANG), 0);  /* running */
    greet_at("127.0.0.1", port);
    expect_connection_line(&server, "127.0.0.1");
    assert_int_equal(waitpid(server.pid, &status, WNOHANG), 0);
    stop_server(&server, SIGTERM);
}

static void test_several_clients_in_a_row_each_get_greeting_and_one_log_line(void **state)
{
    (void)state;
    struct proc server;
    char rest[TEXT_MAX];
    int port = start_bound_server(&server, "127.0.0.1");
    for (int i = 0; i < 5; i++) {
        greet_at(i % 2 ? "localhost" : "127.0.0.1", port);
        expect_connection_line(&server, "127.0.0.1");
    }
    /* Nothing else: after SIGTERM the log ends where it stands. */
    assert_int_equal(kill(server.pid, SIGTERM), 0);
    ssize_t n = read_all(server.out, rest, sizeof rest - 1, scaled_ms(STOP_MS));
    if (n != 0)
        fail_msg("server printed more than one line per client: '%s'", rest);
    assert_int_equal(proc_wait(&server, scaled_ms(STOP_MS)), 0);
}

/* ---- command lines ----------------------------------------------------- */

static void test_server_rejects_bad_command_lines_with_status_2_and_usage(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {{"", NULL}, "''"},
        {{"abc", NULL}, "'abc'"},
        {{"99999", NULL}, "'99999'"},
        {{"65536", NULL}, "'65536'"},
        {{"-1", NULL}, "-1"},
        {{"12x", NULL}, "'12x'"},
        {{" 7", NULL}, "' 7'"},
        {{"+7", NULL}, "'+7'"},
        {{"-x", NULL}, "-x"},
        {{"-b", "", "0", NULL}, "-b"},
        {{"-b", NULL}, "-b"},
        {{"0", "extra", NULL}, "'extra'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_rejected("server", &cases[i]);
}

static void test_client_rejects_bad_command_lines_with_status_2_and_usage(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {{"-t", "0", "127.0.0.1", NULL}, "'0'"},
        {{"-t", "abc", "127.0.0.1", NULL}, "'abc'"},
        {{"-t", "86401", "127.0.0.1", NULL}, "'86401'"},
        {{"-t", NULL}, "-t"},
        {{"127.0.0.1", "0", NULL}, "'0'"},
        {{"127.0.0.1", "65536", NULL}, "'65536'"},
        {{"127.0.0.1", "abc", NULL}, "'abc'"},
        {{"127.0.0.1", "+7", NULL}, "'+7'"},
        {{"", NULL}, "HOST"},
        {{"-x", "127.0.0.1", NULL}, "-x"},
        {{"127.0.0.1", "9", "extra", NULL}, "'extra'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_rejected("client", &cases[i]);
}

static void expect_help(const char *program)
{
    struct finished f;
    char usage[64];
    snprintf(usage, sizeof usage, "usage: %s ", program);
    run_to_end(program, (const char *const[]){"-h", NULL}, &f);
    if (f.status != 0 || strncmp(f.out, usage, strlen(usage)) != 0 || f.err[0] != '\0')
        fail_msg("%s -h: status %d, stdout '%s', stderr '%s'", program, f.status,
                 f.out, f.err);
}

static void test_server_h_prints_usage_on_stdout_and_exits_0(void **state)
{
    (void)state;
    expect_help("server");
}

static void test_client_h_prints_usage_on_stdout_and_exits_0(void **state)
{
    (void)state;
    expect_help("client");
}

/* ---- failures a newcomer meets ----------------------------------------- */

static void test_second_server_on_a_busy_port_exits_1_with_a_hint(void **state)
{
    (void)state;
    struct proc first;
    struct finished f;
    int port = start_bound_server(&first, "127.0.0.1");
    run_to_end("server", (const char *const[]){"-b", "127.0.0.1", text_of(port), NULL}, &f);
    /* One line: "server: ... Address already in use (what to do)". */
    if (f.status != 1 || f.out[0] != '\0' || strncmp(f.err, "server: ", 8) != 0 ||
        !is_one_line(f.err) || strstr(f.err, "Address already in use (") == NULL ||
        strstr(f.err, ")\n") == NULL)
        fail_msg("second server: status %d, stdout '%s', stderr '%s'", f.status,
                 f.out, f.err);
    greet_at("127.0.0.1", port);  /* the first one is unharmed */
    expect_connection_line(&first, "127.0.0.1");
    stop_server(&first, SIGTERM);
}

static void test_client_to_a_closed_port_says_connection_refused(void **state)
{
    (void)state;
    struct finished f;
    int fd;
    int port = closed_port(&fd);
    run_to_end("client", (const char *const[]){"127.0.0.1", text_of(port), NULL}, &f);
    assert_int_equal(close(fd), 0);
    if (f.status != 1 || f.out[0] != '\0' || strncmp(f.err, "client: ", 8) != 0 ||
        !is_one_line(f.err) || strstr(f.err, "Connection refused") == NULL ||
        strstr(f.err, "is the server running?") == NULL)
        fail_msg("client to closed port %d: status %d, stdout '%s', stderr '%s'",
                 port, f.status, f.out, f.err);
}

static void test_client_to_an_unknown_host_exits_1(void **state)
{
    (void)state;
    struct finished f;
    /* .invalid never resolves (RFC 6761), and a 64-letter label is not a
     * valid DNS name, so the lookup fails without asking any name server. */
    static const char host[] =
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid";
    run_to_end("client", (const char *const[]){host, "9", NULL}, &f);
    if (f.status != 1 || f.out[0] != '\0' || strncmp(f.err, "client: ", 8) != 0 ||
        !is_one_line(f.err) || strstr(f.err, host) == NULL)
        fail_msg("client to unknown host: status %d, stdout '%s', stderr '%s'",
                 f.status, f.out, f.err);
}

/* ---- stopping and restarting ------------------------------------------- */

static void test_sigint_stops_an_idle_server_with_status_0(void **state)
{
    (void)state;
    struct proc server;
    start_bound_server(&server, "127.0.0.1");
    stop_server(&server, SIGINT);
}

static void test_sigterm_stops_an_idle_server_with_status_0(void **state)
{
    (void)state;
    struct proc server;
    int port = start_bound_server(&server, "::1");
    greet_at("::1", port);  /* idle again after a client */
    expect_connection_line(&server, "[::1]");
    stop_server(&server, SIGTERM);
}

/* The server closes first, so its side of each connection lingers in
 * TIME_WAIT; without SO_REUSEADDR the new bind would fail. */
static void test_server_restarts_at_once_on_the_port_it_just_served(void **state)
{
    (void)state;
    struct proc server;
    char line[256], want[64];
    int port = start_bound_server(&server, "127.0.0.1");
    for (int i = 0; i < 3; i++) {
        greet_at("127.0.0.1", port);
        expect_connection_line(&server, "127.0.0.1");
    }
    stop_server(&server, SIGTERM);
    start_server(&server, (const char *const[]){"-b", "127.0.0.1", text_of(port), NULL},
                 line, sizeof line);
    snprintf(want, sizeof want, "Listening on 127.0.0.1:%d", port);
    assert_string_equal(line, want);
    greet_at("127.0.0.1", port);
    expect_connection_line(&server, "127.0.0.1");
    stop_server(&server, SIGTERM);
}

/* ---- this machine's name ----------------------------------------------- */

/* The tests that use this machine's own name need it to resolve without
 * asking DNS (they talk to loopback only): Debian lists it in /etc/hosts.
 * Where it is not listed, such a test is skipped, visibly. */
static void skip_unless_name_in_etc_hosts(const char *name)
{
    char line[512];
    int found = 0;
    FILE *hosts = fopen("/etc/hosts", "r");
    while (hosts != NULL && !found && fgets(line, sizeof line, hosts) != NULL) {
        line[strcspn(line, "#")] = '\0';
        char *word = strtok(line, " \t\n");  /* the address */
        while (!found && word != NULL && (word = strtok(NULL, " \t\n")) != NULL)
            found = strcmp(word, name) == 0;
    }
    if (hosts != NULL)
        fclose(hosts);
    if (!found) {
        print_message("this machine's name '%s' is not in /etc/hosts: test skipped\n",
                      name);
        skip();
    }
}

static void test_client_reaches_the_server_by_this_machines_name(void **state)
{
    (void)state;
    struct proc server;
    char line[256], name[256];
    assert_int_equal(gethostname(name, sizeof name), 0);
    name[sizeof name - 1] = '\0';
    skip_unless_name_in_etc_hosts(name);
    start_server(&server, (const char *const[]){"0", NULL}, line, sizeof line);
    int port = port_after(line, "Listening on [::]:");
    if (port == -1)
        fail_msg("first line '%s', wanted 'Listening on [::]:PORT'", line);
    greet_at(name, port);
    expect_connection_line(&server, NULL);  /* whichever address the name has */
    stop_server(&server, SIGTERM);
}

/* With no HOST the client asks for this machine's name on port 9999, so
 * this test needs that port: it is skipped if something else holds it. */
static void test_client_without_arguments_reaches_default_server_here(void **state)
{
    (void)state;
    struct proc server;
    char line[256], name[256];
    assert_int_equal(gethostname(name, sizeof name), 0);
    name[sizeof name - 1] = '\0';
    skip_unless_name_in_etc_hosts(name);
    assert_int_equal(proc_start(&server, "server", (const char *const[]){NULL}), 0);
    if (read_line(server.out, line, sizeof line, scaled_ms(WAIT_MS)) < 0) {
        char err[TEXT_MAX];
        read_all(server.err, err, sizeof err - 1, scaled_ms(WAIT_MS));
        int status = proc_wait(&server, scaled_ms(WAIT_MS));
        if (status == 1 && strstr(err, "Address already in use") != NULL) {
            print_message("port 9999 is in use here: test skipped\n");
            skip();
        }
        fail_msg("server with no arguments: status %d, stderr '%s'", status, err);
    }
    assert_string_equal(line, "Listening on [::]:9999");
    expect_greeting((const char *const[]){NULL});
    expect_connection_line(&server, NULL);
    stop_server(&server, SIGTERM);
}

int main(void)
{
    harness_guard(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_over_ipv4_is_26_bytes_exactly),
        cmocka_unit_test(test_greeting_over_ipv6_is_26_bytes_exactly),
        cmocka_unit_test(test_server_logs_listening_address_and_port),
        cmocka_unit_test(test_server_logs_the_clients_real_port),
        cmocka_unit_test(test_default_listener_is_dual_stack_and_logs_ipv4_plainly),
        cmocka_unit_test(test_log_lines_arrive_while_the_server_still_runs),
        cmocka_unit_test(test_several_clients_in_a_row_each_get_greeting_and_one_log_line),
        cmocka_unit_test(test_server_rejects_bad_command_lines_with_status_2_and_usage),
        cmocka_unit_test(test_client_rejects_bad_command_lines_with_status_2_and_usage),
        cmocka_unit_test(test_server_h_prints_usage_on_stdout_and_exits_0),
        cmocka_unit_test(test_client_h_prints_usage_on_stdout_and_exits_0),
        cmocka_unit_test(test_second_server_on_a_busy_port_exits_1_with_a_hint),
        cmocka_unit_test(test_client_to_a_closed_port_says_connection_refused),
        cmocka_unit_test(test_client_to_an_unknown_host_exits_1),
        cmocka_unit_test(test_sigint_stops_an_idle_server_with_status_0),
        cmocka_unit_test(test_sigterm_stops_an_idle_server_with_status_0),
        cmocka_unit_test(test_server_restarts_at_once_on_the_port_it_just_served),
        cmocka_unit_test(test_client_reaches_the_server_by_this_machines_name),
        cmocka_unit_test(test_client_without_arguments_reaches_default_server_here),
    };
    return cmocka_run_group_tests_name("server and client end to end", tests, NULL, NULL);
}
