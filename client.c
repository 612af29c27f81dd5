/*
 * client.c - connect to the greeting server and print what it says.
 *
 * The C version of the classic first socket lesson: connect, recv, close,
 * print.  Unlike the lesson it tries IPv6 and IPv4, prints the bytes as they
 * come until the server hangs up (one recv is not one message), and never
 * waits longer than its time limit.
 *
 *     usage: client [-t SECONDS] [HOST [PORT]]        (see README.md)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT "9999"
#define DEFAULT_TIMEOUT 5     /* seconds */
#define MAX_REPLY 1024        /* the lesson's recv(1024) */

static char lookup_timeout_message[512];
static int lookup_timeout_length;

static int usage(FILE *out, int status)
{
    fprintf(out, "usage: client [-t SECONDS] [HOST [PORT]]\n"
                 "Connects to HOST (default: this machine's name) on PORT "
                 "(default " DEFAULT_PORT ")\n"
                 "and prints the first 1024 bytes the server sends.\n"
                 "  -t SECONDS  give up after SECONDS (1 to 86400, default 5)\n"
                 "  -h          show this help\n");
    return status;
}

/* Plain decimal only: strtoul alone would take " 7", "+7", "-1" and "7x". */
static int parse_number(const char *s, unsigned long max, unsigned long *value)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *value = strtoul(s, &end, 10);
    return (errno != 0 || *end != '\0' || *value > max) ? -1 : 0;
}

/* "[::1]", "127.0.0.1:9999": an address as servers print it, not a HOST
 * (an IPv6 address has two colons or more). */
static int has_port_or_brackets(const char *host)
{
    const char *colon = strchr(host, ':');
    return strchr(host, '[') != NULL || (colon && colon == strrchr(host, ':'));
}

/* Returns -1 if the client should run, or else the exit status:
 * 0 after -h, 2 after a bad command line (explained on stderr). */
static int parse_args(int argc, char *argv[], const char **host,
                      const char **port, unsigned *seconds)
{
    unsigned long number;
    int opt;
    opterr = 0;  /* our messages, not getopt's */
    while ((opt = getopt(argc, argv, ":t:h")) != -1) {
        switch (opt) {
        case 'h':
            return usage(stdout, 0);
        case 't':
            if (parse_number(optarg, 86400, &number) == -1 || number == 0) {
                fprintf(stderr, "client: bad timeout '%s': use whole seconds "
                        "from 1 to 86400\n", optarg);
                return usage(stderr, 2);
            }
            *seconds = (unsigned)number;
            break;
        case ':':
            fprintf(stderr, "client: -t needs a number of SECONDS\n");
            return usage(stderr, 2);
        default:
            fprintf(stderr, "client: unknown option -%c\n", optopt);
            return usage(stderr, 2);
        }
    }
    if (optind < argc)
        *host = argv[optind++];
    if (optind < argc)
        *port = argv[optind++];
    if (*host != NULL && (**host == '\0' || has_port_or_brackets(*host)))
        fprintf(stderr, "client: bad HOST '%s': give a name or an address, "
                "without brackets, and the port apart: HOST PORT\n", *host);
    else if (parse_number(*port, 65535, &number) == -1 || number == 0)
        fprintf(stderr, "client: bad port '%s': use a number from 1 to 65535\n",
                *port);
    else if (optind < argc)
        fprintf(stderr, "client: unexpected argument '%s'\n", argv[optind]);
    else
        return -1;
    return usage(stderr, 2);
}

/* Started with stdin, stdout or stderr closed, our socket would get that
 * number, and an error message would go to the server.  /dev/null fills it. */
static int open_standard_fds(void)
{
    int fd;
    do
        fd = open("/dev/null", O_RDWR);
    while (fd >= 0 && fd <= 2);
    return fd == -1 ? -1 : close(fd);
}

/* Milliseconds until the deadline, on a clock that never jumps. */
static int ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);  /* fails only for a bad clock */
    long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
                   (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int)ms : 0;
}

/* Only async-signal-safe calls here, so the message was written in advance. */
static void on_lookup_timeout(int sig)
{
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, lookup_timeout_message,
                            (size_t)lookup_timeout_length);
    (void)ignored;  /* about to exit: nothing better to do if it failed */
    _exit(1);
}

/* getaddrinfo may ask a DNS server that never answers, and nothing but a
 * signal can cut it short: an alarm bounds the lookup.  Plain signal() is
 * enough, as the handler never returns. */
static struct addrinfo *look_up(const char *host, const char *port,
                                int own_name, unsigned seconds)
{
    struct addrinfo hints, *list;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    lookup_timeout_length = snprintf(lookup_timeout_message,
            sizeof lookup_timeout_message, "client: cannot find host '%.255s': "
            "timed out after %u s (is DNS reachable? try a larger -t)\n",
            host, seconds);
    if (signal(SIGALRM, on_lookup_timeout) == SIG_ERR) {
        fprintf(stderr, "client: cannot set up the timer: %s\n", strerror(errno));
        return NULL;
    }
    alarm(seconds);
    int rc = getaddrinfo(host, port, &hints, &list);
    alarm(0);
    if (rc != 0) {
        fprintf(stderr, "client: cannot find host '%s': %s%s\n", host,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc),
                own_name ? " (that is this machine's own name: try "
                           "./client localhost)" : "");
        return NULL;
    }
    return list;
}

/* A non-blocking connect() starts the handshake; poll() waits at most
 * wait_ms for it to finish.  Returns the socket, or -1 with errno set. */
static int connect_within(const struct addrinfo *ai, int wait_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd == -1)
        return -1;
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int err;
    socklen_t len = sizeof err;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) == 0) {  /* a new socket: no flags to keep */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            return fd;
        if (errno == EINPROGRESS) {
            int ready = poll(&pfd, 1, wait_ms);
            if (ready == 0)
                errno = ETIMEDOUT;
            else if (ready == 1 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
                     (errno = err) == 0)
                return fd;
        }
    }
    int saved = errno;
    close(fd);  /* never connected: nothing to lose if it fails */
    errno = saved;
    return -1;
}

/* Beej's way: try each address (IPv6 and IPv4) until one connects.  Each
 * gets an equal share of the time left, so an address that swallows packets
 * cannot use it all up: the idea behind Happy Eyeballs (RFC 8305). */
static int connect_to(const char *host, const char *port, struct addrinfo *list,
                      const struct timespec *deadline, unsigned seconds)
{
    int left = 0, fd = -1, err = EAFNOSUPPORT;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next)
        left++;
    for (struct addrinfo *ai = list; ai != NULL && fd == -1; ai = ai->ai_next) {
        fd = connect_within(ai, ms_left(deadline) / left--);
        if (fd == -1 && err != ECONNREFUSED)  /* "refused" has the best hint */
            err = errno;
    }
    freeaddrinfo(list);
    if (fd == -1 && err == ETIMEDOUT)  /* ours, or the kernel's own give-up */
        fprintf(stderr, "client: cannot connect to %s port %s: timed out after "
                "%u s (is the server up and reachable? try a larger -t)\n",
                host, port, seconds - (unsigned)ms_left(deadline) / 1000);
    else if (fd == -1)
        fprintf(stderr, "client: cannot connect to %s port %s: %s%s\n", host,
                port, strerror(err),
                err == ECONNREFUSED ? " (is the server running?)" : "");
    return fd;
}

/* TCP is a byte stream: one recv() may return any part of what was sent.
 * So print each piece as it comes, exactly as it came (NULs and \r too),
 * until the server hangs up (recv returns 0) or MAX_REPLY bytes have come.
 * Returns the exit status. */
static int print_reply(int fd, const char *host, const char *port,
                       const struct timespec *deadline)
{
    char buf[MAX_REPLY];
    size_t got = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (got < sizeof buf) {
        int ready = poll(&pfd, 1, ms_left(deadline));
        ssize_t n = ready == 1 ? recv(fd, buf, sizeof buf - got, 0) : -1;
        if (n == 0)
            break;
        if (n == -1 && ready == 1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            continue;  /* poll may wake us early: look again */
        if (n == -1) {
            fprintf(stderr, "client: waiting for %s port %s to finish: %s\n",
                    host, port, ready == 0 ? "timed out (try a larger -t)"
                                           : strerror(errno));
            return 1;
        }
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) == EOF) {
            fprintf(stderr, "client: cannot write the reply: %s\n", strerror(errno));
            return 1;
        }
        got += (size_t)n;
    }
    if (got == 0) {
        fprintf(stderr, "client: %s closed the connection without sending "
                "anything\n", host);
        return 1;
    }
    return 0;
}

/* As in the lesson, the default HOST is this machine's own name. */
static const char *this_machine(char *name, size_t size)
{
    if (gethostname(name, size) == -1) {
        fprintf(stderr, "client: gethostname: %s\n", strerror(errno));
        return NULL;
    }
    name[size - 1] = '\0';  /* POSIX leaves a cut name unended */
    return name;
}

int main(int argc, char *argv[])
{
    char here[256];
    const char *host = NULL, *port = DEFAULT_PORT;
    unsigned seconds = DEFAULT_TIMEOUT;
    struct timespec deadline;  /* one for the whole run, lookup included */
    int status = parse_args(argc, argv, &host, &port, &seconds);
    if (status != -1)
        return status;
    if (open_standard_fds() == -1) {
        fprintf(stderr, "client: cannot open /dev/null: %s\n", strerror(errno));
        return 1;
    }
    int own_name = host == NULL;
    if (own_name && (host = this_machine(here, sizeof here)) == NULL)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &deadline);  /* fails only for a bad clock */
    deadline.tv_sec += seconds;
    struct addrinfo *list = look_up(host, port, own_name, seconds);
    if (list == NULL)
        return 1;
    int fd = connect_to(host, port, list, &deadline, seconds);
    if (fd == -1)
        return 1;
    status = print_reply(fd, host, port, &deadline);
    if (close(fd) == -1)
        fprintf(stderr, "client: close: %s\n", strerror(errno));
    return status;
}
