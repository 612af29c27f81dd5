/*
 * server.c - greet every client that connects, then hang up.
 *
 * The Python lesson's server in C: socket, bind, listen, then for each client
 * accept, print who it is, send the greeting, close.  README.md shows, step
 * by step, what each part adds to the lesson's first version.
 *
 *     usage: server [-b ADDRESS] [PORT]
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 128   /* the lesson's 5 overflows in a burst (README: backlog) */
#define DRAIN_MS 1000 /* how long a client may go on talking after our FIN */

static const char GREETING[] = "Thank you for connecting\r\n";

static int parse_args(int argc, char *argv[], const char **address, const char **port);
static int open_listener(const char *address, const char *port, int family);
static int log_address(const char *what, const struct sockaddr *sa, socklen_t len);
static int send_all(int fd, const char *buf, size_t len);
static void hang_up(int listener, int client);

int main(int argc, char *argv[])
{
    const char *address = NULL, *port = "9999";
    int status = parse_args(argc, argv, &address, &port);
    if (status != -1)
        return status;
    /* send() to a client that has gone raises SIGPIPE, which kills:
     * ignored, send() fails with EPIPE instead, and we carry on. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("server: signal");
        return 1;
    }
    /* Without -b: the IPv6 wildcard, which takes IPv4 clients too. */
    int listener = open_listener(address, port, address ? AF_UNSPEC : AF_INET6);
    if (listener == -1)
        return 1;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int client = accept(listener, (struct sockaddr *)&addr, &len);
        if (client == -1) {
            int out_of_fds = errno == EMFILE || errno == ENFILE;
            perror("server: accept");
            if (out_of_fds)
                sleep(1);  /* the client stays queued: retrying at once would spin */
            continue;
        }
        if (log_address("Got a connection from", (struct sockaddr *)&addr, len) == -1)
            return 1;
        if (send_all(client, GREETING, sizeof GREETING - 1) == -1)
            perror("server: sending the greeting");
        hang_up(listener, client);
    }
}

/* socket, bind and listen on the first address that works (Beej's loop),
 * then say where.  Returns the listening socket, or -1. */
static int open_listener(const char *address, const char *port, int family)
{
    struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *list, *ai;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int fd = -1, err = 0, on = 1, off = 0;
    int rc = getaddrinfo(address, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, "server: cannot use '%s': %s\n", address, gai_strerror(rc));
        return -1;
    }
    for (ai = list; ai != NULL && fd == -1; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        /* SO_REUSEADDR: our old connections in TIME_WAIT must not stop a
         * restart.  IPV6_V6ONLY off: dual stack (the BSDs default to on). */
        if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
            (ai->ai_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == -1) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, BACKLOG) == -1) {
            err = errno;
            if (fd != -1)
                close(fd);  /* never used: nothing to lose if it fails */
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd == -1 && family == AF_INET6)  /* no IPv6 here, or no dual stack */
        return open_listener(NULL, port, AF_INET);
    if (fd == -1)
        fprintf(stderr, "server: cannot listen on port %s: %s%s\n", port, strerror(err),
                err == EADDRINUSE ? " (another server? If not, wait a minute: TIME_WAIT)"
                : err == EACCES ? " (ports below 1024 need privileges)" : "");
    else if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1)
        perror("server: getsockname");  /* which port the kernel chose for 0 */
    else if (log_address("Listening on", (struct sockaddr *)&addr, len) == 0)
        return fd;
    return -1;
}

/* Prints "WHAT 127.0.0.1:36648" or "WHAT [::1]:51890", flushed at once for
 * whoever reads a pipe.  An IPv4 client of the dual-stack socket comes as
 * ::ffff:127.0.0.1: shown as the IPv4 address it is. */
static int log_address(const char *what, const struct sockaddr *sa, socklen_t len)
{
    char host[64] = "", port[8] = "";
    int rc = getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                         NI_NUMERICHOST | NI_NUMERICSERV);
    const char *shown = strncmp(host, "::ffff:", 7) == 0 && strchr(host, '.') ? host + 7 : host;
    const char *format = strchr(shown, ':') ? "%s [%s]:%s\n" : "%s %s:%s\n";
    if (rc != 0 || printf(format, what, shown, port) < 0 || fflush(stdout) == EOF) {
        fprintf(stderr, "server: cannot write the log: %s\n",
                rc != 0 ? gai_strerror(rc) : strerror(errno));
        return -1;
    }
    return 0;
}

/* send() may take only part of what it is given: loop until all is sent. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);  /* fails only for a bad clock */
    return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* If the client sent bytes we never read, close() sends a RST (Linux), not a
 * FIN, and a client that talked first (curl, nc) may lose the greeting to
 * it.  So we send our FIN with shutdown(), then read and drop what the client
 * sends until it hangs up too: for DRAIN_MS at most, and no longer once it is
 * quiet and the next client waits (README: "A FIN, not a reset"). */
static void hang_up(int listener, int client)
{
    struct pollfd fds[2] = { { .fd = client, .events = POLLIN },
                             { .fd = listener, .events = POLLIN } };
    /* Only the listener ready: the client sent nothing, and close() alone
     * sends a FIN; the next client is served at once. */
    int only_next_waits = poll(fds, 2, 0) == 1 && fds[1].revents != 0;
    if (!only_next_waits && shutdown(client, SHUT_WR) == 0) {  /* fails if it is gone */
        char unread[4096];
        long long end = now_ms() + DRAIN_MS;
        for (int ms = DRAIN_MS; ms > 0 && poll(fds, 2, ms) > 0 && fds[0].revents != 0;
             ms = (int)(end - now_ms()))
            if (recv(client, unread, sizeof unread, 0) <= 0)
                break;  /* it hung up, or reset */
    }
    if (close(client) == -1)
        perror("server: close");
}

static int usage(int status)
{
    fputs("usage: server [-b ADDRESS] [PORT]\n"
          "Greets each TCP client on PORT (default 9999; 0: any free port), on\n"
          "every IPv6 and IPv4 address of this machine, or on ADDRESS only.\n",
          status == 0 ? stdout : stderr);
    return status;
}

/* Returns -1 if the server should start, or else the exit status. */
static int parse_args(int argc, char *argv[], const char **address, const char **port)
{
    int opt;
    char *end;
    while ((opt = getopt(argc, argv, "b:h")) == 'b')
        *address = optarg;
    if (opt != -1)  /* -h, or getopt has said what was wrong */
        return usage(opt == 'h' ? 0 : 2);
    if (optind < argc)
        *port = argv[optind++];
    /* Digits only: strtoul alone would take " 7", "+7" and "-1". */
    if (**port < '0' || **port > '9' || strtoul(*port, &end, 10) > 65535 || *end)
        fprintf(stderr, "server: bad port '%s': use a number from 0 to 65535\n", *port);
    else if (*address != NULL && **address == '\0')
        fprintf(stderr, "server: -b needs an ADDRESS\n");
    else if (optind < argc)
        fprintf(stderr, "server: unexpected argument '%s'\n", argv[optind]);
    else
        return -1;
    return usage(2);
}
