/*
 * client.c - connect to the greeting server and print what it says.
 *
 * The Python lesson's client in C: connect, then recv and print until the
 * server hangs up, close.  README.md shows, step by step, what each part adds to the
 * lesson's first version.
 *
 *     usage: client [-t SECONDS] [HOST [PORT]]
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY 1024  /* the lesson's recv(1024) */

static struct timespec deadline;  /* -t bounds the whole run */

static int parse_args(int argc, char *argv[], const char **host, const char **port, int *seconds);
static int connect_to(const char *host, const char *port);
static int print_reply(int fd);
static int ms_left(void);

int main(int argc, char *argv[])
{
    const char *host = "localhost", *port = "9999";
    int seconds = 5;
    int status = parse_args(argc, argv, &host, &port, &seconds);
    if (status != -1)
        return status;
    clock_gettime(CLOCK_MONOTONIC, &deadline);  /* fails only for a bad clock */
    deadline.tv_sec += seconds;
    int fd = connect_to(host, port);
    if (fd == -1)
        return 1;
    status = print_reply(fd);
    if (close(fd) == -1)
        perror("client: close");
    return status;
}

/* connect() alone may wait minutes for an address that never answers:
 * started non-blocking, poll() stops waiting after ms (OpenBSD nc's way).
 * Then blocking again (a new socket has no other flags to keep), as code
 * that reads or writes it expects. */
static int connect_within(int fd, const struct addrinfo *ai, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    char byte;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS)
        return -1;
    int ready = poll(&pfd, 1, ms);  /* at once if the handshake is already done */
    if (ready == 0)
        errno = ETIMEDOUT;
    if (ready != 1)
        return -1;
    /* Did the handshake work?  A reply waiting, or none yet (EAGAIN), says
     * yes; else recv() says why not.  (SO_ERROR would take a reset that came
     * with the reply for a failed handshake.) */
    if (recv(fd, &byte, 1, MSG_PEEK) == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    return fcntl(fd, F_SETFL, 0);
}

/* Try each address of HOST (IPv6 and IPv4) until one connects (Beej's loop),
 * each with an equal share of the time left: one that never answers cannot
 * use it all up (the idea behind Happy Eyeballs, RFC 8305). */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *list, *ai;
    int fd = -1, err = 0, addresses_left = 0;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, "client: cannot find host '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (ai = list; ai != NULL; ai = ai->ai_next)
        addresses_left++;
    for (ai = list; ai != NULL && fd == -1; ai = ai->ai_next, addresses_left--) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd == -1 || connect_within(fd, ai, ms_left() / addresses_left) == -1) {
            err = errno;
            if (fd != -1)
                close(fd);  /* never connected: nothing to lose if it fails */
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd == -1)
        fprintf(stderr, "client: cannot connect to %s port %s: %s%s\n", host, port,
                strerror(err), err == ECONNREFUSED ? " (is the server running?)"
                : err == ETIMEDOUT ? " (is it up and reachable? Or try a larger -t)" : "");
    return fd;
}

/* TCP is a byte stream: one recv() may return any part of what was sent.
 * So print each piece as it comes, exactly as it came, until the server
 * hangs up (recv returns 0) or MAX_REPLY bytes have come.  Returns the
 * exit status. */
static int print_reply(int fd)
{
    char buf[MAX_REPLY];
    size_t got = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (got < sizeof buf) {
        int ready = poll(&pfd, 1, ms_left());  /* -t bounds the whole reply */
        if (ready == 0)
            errno = ETIMEDOUT;
        ssize_t n = ready == 1 ? recv(fd, buf, sizeof buf - got, 0) : -1;
        if (n == 0)
            break;
        if (n == -1 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) == EOF) {
            perror(n == -1 ? "client: reading the reply" : "client: writing the reply");
            return 1;
        }
        got += (size_t)n;
    }
    if (got == 0)
        fprintf(stderr, "client: the server hung up without sending anything\n");
    return got == 0;
}

static int ms_left(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (deadline.tv_sec - now.tv_sec) * 1000LL +
                   (deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int)ms : 0;
}

static int usage(int status)
{
    fputs("usage: client [-t SECONDS] [HOST [PORT]]\n"
          "Prints the first 1024 bytes the server on HOST (default localhost)\n"
          "and PORT (default 9999) sends; gives up after SECONDS (default 5).\n",
          status == 0 ? stdout : stderr);
    return status;
}

/* A plain decimal number from 1 to max, else 0: strtol alone would take
 * " 7", "+7" and "7x". */
static int number(const char *s, long max)
{
    char *end;
    long n = strtol(s, &end, 10);
    return *s >= '0' && *s <= '9' && *end == '\0' && n <= max ? (int)n : 0;
}

/* Returns -1 if the client should run, or else the exit status. */
static int parse_args(int argc, char *argv[], const char **host, const char **port, int *seconds)
{
    int opt;
    while ((opt = getopt(argc, argv, "t:h")) == 't')
        if ((*seconds = number(optarg, 86400)) == 0)
            break;
    if (opt == 't')
        fprintf(stderr, "client: bad timeout '%s': use 1 to 86400 seconds\n", optarg);
    if (opt != -1)  /* -h, a bad -t, or getopt has said what was wrong */
        return usage(opt == 'h' ? 0 : 2);
    if (optind < argc)
        *host = argv[optind++];
    if (optind < argc)
        *port = argv[optind++];
    /* "[::1]" or "127.0.0.1:9999" as the server prints them, not a HOST (an
     * IPv6 address has two colons or more) */
    const char *colon = strchr(*host, ':');
    if (**host == '\0' || strchr(*host, '[') || (colon && colon == strrchr(*host, ':')))
        fprintf(stderr, "client: bad HOST '%s': give the address without brackets,"
                " and the port apart: HOST PORT\n", *host);
    else if (number(*port, 65535) == 0)
        fprintf(stderr, "client: bad port '%s': use a number from 1 to 65535\n", *port);
    else if (optind < argc)
        fprintf(stderr, "client: unexpected argument '%s'\n", argv[optind]);
    else
        return -1;
    return usage(2);
}
