/*
 * loadgen.c - a load generator for the greeting server, loopback only.
 *
 * Makes COUNT connections, at most CONCURRENCY at a time.  Each one
 * connects, reads until the server hangs up, checks that the bytes are
 * exactly the greeting, and closes.  Reports connections per second, the
 * latency from just before connect() to EOF (p50, p90, p99, max), and every
 * connection that went wrong, by kind.
 *
 *     usage: loadgen [-n COUNT] [-c CONCURRENCY] [-T THREADS] [-t MS]
 *                    [-d SECONDS] [-s SOURCES] [-k] ADDRESS PORT
 *
 * Built so that it is not the bottleneck: non-blocking sockets and poll(),
 * so one thread keeps CONCURRENCY connections in flight without a thread
 * (and a context switch) per connection; -T spreads them over more threads
 * to show that more load generator does not make the server faster.
 *
 * Bounded: never more than COUNT connections, each given up after -t
 * milliseconds ("timeout"), and the whole run stopped at the -d deadline
 * (connections not finished by then are "unfinished").
 *
 * Loopback only: ADDRESS must be a numeric address in 127.0.0.0/8 or ::1,
 * so it can never be pointed at someone else's machine.
 *
 * Source addresses (IPv4): the server closes first, so the TIME_WAIT state
 * (60 s on Linux) lands on the server's side, one entry per
 * (client address, client port) pair; our own ports are free again as soon
 * as we close.  From one client address there are only about 28,000
 * ephemeral ports (32768-60999), so above ~470 connections/s sustained for a
 * minute every new connection reuses a pair the server still holds in
 * TIME_WAIT.  Linux lets such a SYN in when its timestamp is newer, but
 * that is a special path (and other systems refuse it).  So by default each
 * connection binds, before connect(), to one of SOURCES addresses
 * 127.1.0.1, 127.1.0.2, ... in turn (all of 127.0.0.0/8 is this machine),
 * which multiplies the pairs by SOURCES.  IP_BIND_ADDRESS_NO_PORT (Linux)
 * makes that bind() choose the address only, leaving the port to connect(),
 * which can then reuse a port that is busy towards other destinations.
 * -s 1 turns this off: no bind(), the kernel picks address and port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char GREETING[] = "Thank you for connecting\r\n";
#define GREETING_LENGTH (sizeof GREETING - 1)

#define MAX_COUNT 10000000UL
#define MAX_CONCURRENCY 4096UL
#define MAX_THREADS 64UL
#define MAX_SOURCES 65000UL
#define SOURCE_BASE 0x7F010001UL     /* 127.1.0.1 */

enum outcome { OK, REFUSED, RESET, TIMED_OUT, WRONG_BYTES, OTHER, OUTCOMES };

struct config {
    unsigned long count, concurrency, threads, timeout_ms, deadline_s, sources;
    int key_value;
    struct sockaddr_storage target;
    socklen_t target_length;
};

/* One connection in flight; fd == -1 when the slot is free. */
struct slot {
    int fd;
    int64_t start, deadline;                 /* ns, CLOCK_MONOTONIC */
    size_t length;
    char buf[GREETING_LENGTH + 1];           /* one spare byte shows "too long" */
};

struct worker {
    pthread_t thread;
    unsigned long slots;                     /* its share of CONCURRENCY */
    unsigned long outcomes[OUTCOMES];
    const char *other_call;                  /* the first "other" failure */
    int other_errno;
};

static struct config cfg;
static int64_t run_deadline;                 /* ns */
static atomic_ulong issued;                  /* connections started, all threads */
static atomic_ulong succeeded;               /* next free index in latencies */
static uint64_t *latencies;                  /* ns, one per good connection */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);     /* cannot fail with this clock */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loadgen [-n COUNT] [-c CONCURRENCY] [-T THREADS] [-t MS]\n"
        "               [-d SECONDS] [-s SOURCES] [-k] ADDRESS PORT\n"
        "Connects COUNT times to the greeting server at ADDRESS (127.0.0.0/8 or\n"
        "::1 only) and PORT, checks every greeting, reports rate and latency.\n"
        "  -n COUNT        connections in all (default 1000, at most %lu)\n"
        "  -c CONCURRENCY  at most this many at a time (default 1, at most %lu)\n"
        "  -T THREADS      threads sharing them (default 1, at most %lu)\n"
        "  -t MS           give up on one connection after MS ms (default 5000)\n"
        "  -d SECONDS      stop the whole run after SECONDS (default 60)\n"
        "  -s SOURCES      IPv4: spread connections over SOURCES client addresses\n"
        "                  127.1.0.1... (default 64; 1: let the kernel choose)\n"
        "  -k              print one key=value line (for scripts)\n",
        MAX_COUNT, MAX_CONCURRENCY, MAX_THREADS);
}

/* Plain decimal only, from min to max. */
static int parse_number(const char *s, unsigned long min, unsigned long max,
                        unsigned long *value)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *value = strtoul(s, &end, 10);
    return (errno != 0 || *end != '\0' || *value < min || *value > max) ? -1 : 0;
}

/* Numeric loopback addresses only: 127.0.0.0/8, ::1, ::ffff:127.x.y.z. */
static int set_target(const char *address, unsigned long port)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&cfg.target;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&cfg.target;
    memset(&cfg.target, 0, sizeof cfg.target);
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            return -1;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        cfg.target_length = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        const unsigned char *b = v6->sin6_addr.s6_addr;
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) &&
            !(IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && b[12] == 127))
            return -1;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        cfg.target_length = sizeof *v6;
        return 0;
    }
    return -1;
}

/* Returns -1 to run, or else the exit status (2: bad command line). */
static int parse_args(int argc, char *argv[])
{
    unsigned long port;
    int opt;
    cfg = (struct config){.count = 1000, .concurrency = 1, .threads = 1,
                          .timeout_ms = 5000, .deadline_s = 60, .sources = 64};
    opterr = 0;
    while ((opt = getopt(argc, argv, ":n:c:T:t:d:s:kh")) != -1) {
        int bad = 0;
        switch (opt) {
        case 'n': bad = parse_number(optarg, 1, MAX_COUNT, &cfg.count); break;
        case 'c': bad = parse_number(optarg, 1, MAX_CONCURRENCY, &cfg.concurrency); break;
        case 'T': bad = parse_number(optarg, 1, MAX_THREADS, &cfg.threads); break;
        case 't': bad = parse_number(optarg, 1, 600000, &cfg.timeout_ms); break;
        case 'd': bad = parse_number(optarg, 1, 3600, &cfg.deadline_s); break;
        case 's': bad = parse_number(optarg, 1, MAX_SOURCES, &cfg.sources); break;
        case 'k': cfg.key_value = 1; break;
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "loadgen: -%c needs a value\n", optopt);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "loadgen: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "loadgen: bad value '%s' for -%c\n", optarg, opt);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "loadgen: need ADDRESS and PORT\n");
        usage(stderr);
        return 2;
    }
    if (parse_number(argv[optind + 1], 1, 65535, &port) == -1) {
        fprintf(stderr, "loadgen: bad port '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (set_target(argv[optind], port) == -1) {
        fprintf(stderr, "loadgen: refusing '%s': only numeric loopback "
                "addresses (127.0.0.0/8, ::1) may be targets\n", argv[optind]);
        return 2;
    }
    if (cfg.threads > cfg.concurrency)
        cfg.threads = cfg.concurrency;
    if (cfg.target.ss_family != AF_INET)
        cfg.sources = 1;  /* ::1 is the only IPv6 loopback address */
    return -1;
}

static enum outcome kind_of(int err)
{
    return err == ECONNREFUSED ? REFUSED
         : err == ECONNRESET ? RESET
         : err == ETIMEDOUT ? TIMED_OUT : OTHER;
}

/* Ends the connection in slot s (if any) and counts how it went. */
static void finish(struct worker *w, struct slot *s, enum outcome how,
                   const char *call, int err)
{
    int64_t end = now_ns();
    if (s->fd != -1 && close(s->fd) == -1 && how == OK) {
        how = OTHER;
        call = "close";
        err = errno;
    }
    s->fd = -1;
    if (how == OTHER && w->other_call == NULL) {
        w->other_call = call;
        w->other_errno = err;
    }
    w->outcomes[how]++;
    if (how == OK)
        latencies[atomic_fetch_add(&succeeded, 1)] = (uint64_t)(end - s->start);
}

/* Connection number k: socket, (bind), connect, without waiting. */
static void start(struct worker *w, struct slot *s, unsigned long k)
{
    s->fd = socket(cfg.target.ss_family, SOCK_STREAM, 0);
    s->length = 0;
    if (s->fd == -1) {
        finish(w, s, OTHER, "socket", errno);
        return;
    }
    if (fcntl(s->fd, F_SETFL, O_NONBLOCK) == -1) {
        finish(w, s, OTHER, "fcntl", errno);
        return;
    }
    if (cfg.sources > 1) {
        struct sockaddr_in source;
        memset(&source, 0, sizeof source);
        source.sin_family = AF_INET;
        source.sin_addr.s_addr = htonl((uint32_t)(SOURCE_BASE + k % cfg.sources));
#ifdef IP_BIND_ADDRESS_NO_PORT
        int on = 1;
        if (setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on) == -1) {
            finish(w, s, OTHER, "setsockopt", errno);
            return;
        }
#endif
        if (bind(s->fd, (struct sockaddr *)&source, sizeof source) == -1) {
            finish(w, s, OTHER, "bind", errno);
            return;
        }
    }
    s->start = now_ns();
    s->deadline = s->start + (int64_t)cfg.timeout_ms * 1000000;
    /* Non-blocking: EINPROGRESS; EINTR means the same (it goes on). */
    if (connect(s->fd, (struct sockaddr *)&cfg.target, cfg.target_length) == -1 &&
        errno != EINPROGRESS && errno != EINTR)
        finish(w, s, kind_of(errno), "connect", errno);
}

/* Reads what has arrived; on EOF checks it is exactly the greeting. */
static void receive(struct worker *w, struct slot *s)
{
    for (;;) {
        ssize_t n = read(s->fd, s->buf + s->length, sizeof s->buf - s->length);
        if (n > 0) {
            s->length += (size_t)n;
            if (s->length > GREETING_LENGTH) {
                finish(w, s, WRONG_BYTES, NULL, 0);
                return;
            }
        } else if (n == 0) {
            int right = s->length == GREETING_LENGTH &&
                        memcmp(s->buf, GREETING, GREETING_LENGTH) == 0;
            finish(w, s, right ? OK : WRONG_BYTES, NULL, 0);
            return;
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                finish(w, s, kind_of(errno), "read", errno);
            return;
        }
    }
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct slot *slots = calloc(w->slots, sizeof *slots);
    struct pollfd *fds = calloc(w->slots, sizeof *fds);
    unsigned long *which = calloc(w->slots, sizeof *which);
    if (slots == NULL || fds == NULL || which == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    for (unsigned long i = 0; i < w->slots; i++)
        slots[i].fd = -1;
    int more = 1;  /* connections left to start */
    for (;;) {
        int64_t now = now_ns();
        if (now >= run_deadline)
            break;  /* what is still in flight is "unfinished" */
        for (unsigned long i = 0; more && i < w->slots; i++)
            if (slots[i].fd == -1) {
                unsigned long k = atomic_fetch_add(&issued, 1);
                if (k < cfg.count)
                    start(w, &slots[i], k);
                else
                    more = 0;
            }
        nfds_t n = 0;
        int64_t wake = run_deadline;
        for (unsigned long i = 0; i < w->slots; i++)
            if (slots[i].fd != -1) {
                fds[n] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
                which[n++] = i;
                if (slots[i].deadline < wake)
                    wake = slots[i].deadline;
            }
        if (n == 0 && !more)
            break;
        if (n == 0)
            continue;  /* every start failed at once: start more */
        int64_t wait_ms = (wake - now + 999999) / 1000000;
        int rc = poll(fds, n, wait_ms > 0 ? (int)wait_ms : 0);
        if (rc == -1 && errno != EINTR) {
            fprintf(stderr, "loadgen: poll: %s\n", strerror(errno));
            exit(1);
        }
        for (nfds_t j = 0; rc > 0 && j < n; j++)
            if (fds[j].revents != 0)
                receive(w, &slots[which[j]]);
        now = now_ns();
        for (unsigned long i = 0; i < w->slots; i++)
            if (slots[i].fd != -1 && now >= slots[i].deadline)
                finish(w, &slots[i], TIMED_OUT, NULL, 0);
    }
    for (unsigned long i = 0; i < w->slots; i++)
        if (slots[i].fd != -1)
            close(slots[i].fd);  /* abandoned at the deadline, not counted */
    free(slots);
    free(fds);
    free(which);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted latencies, in microseconds. */
static double percentile_us(unsigned long n, double p)
{
    if (n == 0)
        return 0.0;
    unsigned long rank = (unsigned long)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)latencies[rank - 1] / 1000.0;
}

int main(int argc, char *argv[])
{
    int status = parse_args(argc, argv);
    if (status != -1)
        return status;
    latencies = malloc(cfg.count * sizeof *latencies);
    struct worker *workers = calloc(cfg.threads, sizeof *workers);
    if (latencies == NULL || workers == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    int64_t begin = now_ns();
    run_deadline = begin + (int64_t)cfg.deadline_s * 1000000000;
    for (unsigned long i = 0; i < cfg.threads; i++) {
        workers[i].slots = cfg.concurrency / cfg.threads +
                           (i < cfg.concurrency % cfg.threads);
        int rc = pthread_create(&workers[i].thread, NULL, work, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    unsigned long total[OUTCOMES] = {0};
    const char *other_call = NULL;
    int other_errno = 0;
    for (unsigned long i = 0; i < cfg.threads; i++) {
        int rc = pthread_join(workers[i].thread, NULL);
        if (rc != 0) {
            fprintf(stderr, "loadgen: pthread_join: %s\n", strerror(rc));
            return 1;
        }
        for (int o = 0; o < OUTCOMES; o++)
            total[o] += workers[i].outcomes[o];
        if (other_call == NULL && workers[i].other_call != NULL) {
            other_call = workers[i].other_call;
            other_errno = workers[i].other_errno;
        }
    }
    double elapsed = (double)(now_ns() - begin) / 1e9;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == -1) {
        fprintf(stderr, "loadgen: getrusage: %s\n", strerror(errno));
        return 1;
    }
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

    unsigned long ok = total[OK], done = 0;
    for (int o = 0; o < OUTCOMES; o++)
        done += total[o];
    unsigned long unfinished = cfg.count - done;
    unsigned long failed = cfg.count - ok;
    qsort(latencies, ok, sizeof *latencies, by_value);
    double rate = elapsed > 0 ? (double)ok / elapsed : 0.0;
    double p50 = percentile_us(ok, 50), p90 = percentile_us(ok, 90),
           p99 = percentile_us(ok, 99), max = percentile_us(ok, 100);

    if (cfg.key_value) {
        printf("ok=%lu failed=%lu refused=%lu reset=%lu timeout=%lu wrong=%lu "
               "other=%lu unfinished=%lu elapsed_s=%.4f conn_per_s=%.1f "
               "p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f cpu_s=%.3f "
               "concurrency=%lu threads=%lu sources=%lu\n",
               ok, failed, total[REFUSED], total[RESET], total[TIMED_OUT],
               total[WRONG_BYTES], total[OTHER], unfinished, elapsed, rate,
               p50, p90, p99, max, cpu, cfg.concurrency, cfg.threads, cfg.sources);
    } else {
        printf("loadgen: %lu connections, %lu at a time, %lu thread(s), "
               "%lu source address(es)\n", cfg.count, cfg.concurrency,
               cfg.threads, cfg.sources);
        printf("  ok %lu in %.3f s: %.0f connections/s\n", ok, elapsed, rate);
        printf("  latency (us): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
               p50, p90, p99, max);
        printf("  failed %lu: refused %lu, reset %lu, timed out %lu, "
               "wrong bytes %lu, other %lu, unfinished %lu\n", failed,
               total[REFUSED], total[RESET], total[TIMED_OUT],
               total[WRONG_BYTES], total[OTHER], unfinished);
        printf("  loadgen CPU: %.2f s (%.0f%% of one core)\n", cpu,
               elapsed > 0 ? 100.0 * cpu / elapsed : 0.0);
    }
    if (other_call != NULL)
        fprintf(stderr, "loadgen: first other failure: %s: %s\n", other_call,
                strerror(other_errno));
    if (fflush(stdout) == EOF) {
        fprintf(stderr, "loadgen: cannot write the report: %s\n", strerror(errno));
        return 1;
    }
    free(latencies);
    free(workers);
    return failed == 0 ? 0 : 1;
}
