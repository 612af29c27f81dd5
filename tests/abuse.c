/*
 * abuse.c - the slow proofs (make abuse): the server against storms of
 * misbehaving clients, against running out of descriptors, and through a
 * soak of 20,000 connections with nothing leaking.  Linux: reads /proc.
 */
#include "harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

static struct proc server;
static int port;

static int start_server_on_loopback(void **state)
{
    (void)state;
    port = start_server(&server, ARGS("-b", "127.0.0.1", "0"), 0);
    return port > 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    return stop(&server, SIGTERM) == 128 + SIGTERM ? 0 : -1;
}

static void expect_greeting(void)
{
    char buf[64];
    int fd = tcp_connect("127.0.0.1", port);
    read_for(fd, buf, sizeof buf, 5000, 0);
    close(fd);
    assert_string_equal(buf, GREETING);
}

/* Counts the server's log lines that arrive within ms. */
static int log_lines(int ms)
{
    static char log[1 << 20];
    int lines = 0;
    size_t n = read_for(server.out, log, sizeof log, ms, 0);
    for (size_t i = 0; i < n; i++)
        lines += log[i] == '\n';
    return lines;
}

/* A field of /proc/PID/status, in kB. */
static long proc_number(const char *field)
{
    char path[64], line[256];
    long value = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)server.pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            value = atol(line + strlen(field) + 1);
    fclose(f);
    return value;
}

static int open_fds(void)
{
    char command[64];
    snprintf(command, sizeof command, "ls /proc/%d/fd | wc -l", (int)server.pid);
    FILE *p = popen(command, "r");
    int n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* The descriptor number the server's next accept() would get. */
static int lowest_free_fd(void)
{
    char path[64];
    int fd = 0;
    do
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)server.pid, fd++);
    while (access(path, F_OK) == 0);
    return fd - 1;
}

static void test_server_outlives_storms_of_misbehaving_clients(void **state)
{
    (void)state;
    enum { RESET, CLOSE_UNREAD, JUNK, HOLD, KINDS };
    static int held[100];
    struct linger reset = { 1, 0 };
    for (int kind = 0; kind < KINDS; kind++)
        for (int i = 0; i < (kind == HOLD ? 100 : 300); i++) {
            int fd = tcp_connect("127.0.0.1", port);
            if (kind == RESET)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            if (kind == JUNK)
                send(fd, "junk\r\n\0\xff", 8, 0);
            if (kind == HOLD)
                held[i] = fd;
            else
                close(fd);
        }
    expect_greeting();
    print_message("    %d log lines for 1,001 connections\n", log_lines(500));
    for (int i = 0; i < 100; i++)
        close(held[i]);
    expect_greeting();
}

static void test_server_out_of_descriptors_waits_then_serves_again(void **state)
{
    (void)state;
    static char errors[1 << 20];
    char command[128], line[256];
    int next = lowest_free_fd(), retries = 0;
    /* The next descriptor it would get is now past its soft limit. */
    snprintf(command, sizeof command, "prlimit --pid %d --nofile=%d:", (int)server.pid, next);
    if (system(command) != 0)
        skip();
    /* An accept() already waiting has its descriptor: the first client may
     * still be served.  The second then waits in the queue. */
    int first = tcp_connect("127.0.0.1", port);
    int waiting = tcp_connect("127.0.0.1", port);
    read_for(server.err, line, sizeof line, 5000, 1);
    assert_string_equal(line, "server: accept: Too many open files\n");
    /* A server that retried at once would log thousands of lines by now. */
    for (size_t i = read_for(server.err, errors, sizeof errors, 2000, 0); i > 0; i--)
        retries += errors[i - 1] == '\n';
    print_message("    %d more accept errors in 2 s\n", retries);
    assert_true(retries <= 3);
    snprintf(command, sizeof command, "prlimit --pid %d --nofile=%d:", (int)server.pid, next + 8);
    assert_int_equal(system(command), 0);
    read_for(waiting, line, sizeof line, 5000, 0);  /* served within a retry */
    assert_string_equal(line, GREETING);
    close(waiting);
    close(first);
}

static void test_server_greets_20000_clients_and_keeps_its_descriptors_and_memory(void **state)
{
    (void)state;
    enum { WARM_UP = 1000, SOAK = 20000 };
    long rss[2];
    int fds[2], bad = 0, lines = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < (round == 0 ? WARM_UP : SOAK); i++) {
            char buf[64];
            int fd = tcp_connect("127.0.0.1", port);
            read_for(fd, buf, sizeof buf, 5000, 0);
            bad += strcmp(buf, GREETING) != 0;
            close(fd);
            if (i % 1000 == 999)
                lines += log_lines(10);  /* keep the log pipe from filling */
        }
        lines += log_lines(200);
        fds[round] = open_fds();
        rss[round] = proc_number("VmRSS");
    }
    print_message("    %d connections, %d not greeted exactly, %d log lines; descriptors "
                  "%d -> %d, VmRSS %ld -> %ld kB\n", WARM_UP + SOAK, bad, lines,
                  fds[0], fds[1], rss[0], rss[1]);
    assert_int_equal(bad, 0);
    assert_int_equal(lines, WARM_UP + SOAK);
    assert_int_equal(fds[1], fds[0]);
    assert_int_equal(rss[1], rss[0]);
}

int main(void)
{
#define WITH_SERVER(t) cmocka_unit_test_setup_teardown(t, start_server_on_loopback, stop_server)
    const struct CMUnitTest tests[] = {
        WITH_SERVER(test_server_outlives_storms_of_misbehaving_clients),
        WITH_SERVER(test_server_out_of_descriptors_waits_then_serves_again),
        WITH_SERVER(test_server_greets_20000_clients_and_keeps_its_descriptors_and_memory),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("abuse", tests, NULL, NULL);
}
