/*
 * soak.c - one server, tens of thousands of connections, eight at a time.
 *
 * Every greeting must arrive byte-exact, the log must hold exactly one line
 * per connection, and the server must end with the descriptors and memory
 * it had when the soak began: nothing leaks per connection.
 */
#include "abuse.h"
#include "harness.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define WARM_UP 500           /* first uses: stdio's buffer, lazily mapped pages */
#define SOAK 20000
#define AT_ONCE 8

struct usage {
    int fds;
    long rss_kib, anon_kib;
};

static struct usage usage_of(pid_t pid)
{
    struct usage u = {proc_fd_count(pid), proc_status_kib(pid, "VmRSS"),
                      proc_status_kib(pid, "RssAnon")};
    return u;
}

static void run_load(struct load *l, int count)
{
    l->total = count;
    l->concurrency = AT_ONCE;
    l->deadline_ms = scaled_ms(180000);
    assert_int_equal(load_run(l), 0);
    load_drain(l, 0);
}

static void test_server_greets_20000_clients_and_keeps_its_descriptors_and_memory(void **state)
{
    (void)state;
    if (access("/proc/self/fd", R_OK) != 0 ||
        proc_status_kib(getpid(), "VmRSS") < 0) {
        print_message("    SKIPPED: no /proc to count descriptors and memory with\n");
        skip();
    }
    struct proc p;
    int port = server_start(&p, "127.0.0.1");
    assert_true(port > 0);
    struct load l;
    memset(&l, 0, sizeof l);
    l.port = port;
    l.log_fd = p.out;
    l.err_fd = p.err;

    run_load(&l, WARM_UP);
    assert_int_equal(l.greeted, WARM_UP);
    struct usage before = usage_of(p.pid);

    long t0 = now_ms();
    run_load(&l, SOAK);
    long elapsed = now_ms() - t0;
    struct usage after = usage_of(p.pid);

    print_message("    %d connections (%d at a time) in %ld ms: %d greeted, %d empty, "
                  "%d refused, %d partial, %d wrong, %d unfinished; %d log lines "
                  "(warm-up included)\n",
                  l.started - WARM_UP, AT_ONCE, elapsed, l.greeted - WARM_UP,
                  l.empty, l.refused, l.partial, l.wrong, l.unfinished, l.log_lines);
    print_message("    server after %d warm-up connections: %d descriptors, "
                  "VmRSS %ld KiB, RssAnon %ld KiB\n", WARM_UP, before.fds,
                  before.rss_kib, before.anon_kib);
    print_message("    server after %d more:              %d descriptors, "
                  "VmRSS %ld KiB, RssAnon %ld KiB\n", SOAK, after.fds,
                  after.rss_kib, after.anon_kib);
    if (l.err_bytes > 0)
        print_message("    server stderr: %s\n", l.err_text);

    assert_int_equal(l.started, WARM_UP + SOAK);
    assert_int_equal(l.greeted, WARM_UP + SOAK);
    assert_int_equal(l.log_lines, WARM_UP + SOAK);
    assert_int_equal(l.other_lines, 0);
    assert_int_equal(l.err_bytes, 0);
    assert_true(before.fds > 0);
    assert_int_equal(after.fds, before.fds);
    assert_true(before.rss_kib > 0 && before.anon_kib >= 0);
    assert_int_equal(after.anon_kib, before.anon_kib);
    assert_int_equal(after.rss_kib, before.rss_kib);
    assert_int_equal(proc_stop(&p, SIGTERM, scaled_ms(5000)), 0);
}

int main(void)
{
    harness_guard(300);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_greets_20000_clients_and_keeps_its_descriptors_and_memory),
    };
    return cmocka_run_group_tests_name("abuse: soak", tests, NULL, NULL);
}
