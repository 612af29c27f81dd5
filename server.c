/*
 * server.c - a TCP server that greets every client, then hangs up.
 *
 * The C version of the classic first socket lesson: socket, bind, listen,
 * then accept, send and close for each client in turn.  Unlike the lesson it
 * listens on IPv6 and IPv4, sends every byte of its greeting, restarts at
 * once on the same port, ends each connection with a FIN even when the
 * client spoke first, and lets no client stop it.
 *
 *     usage: server [-b ADDRESS] [PORT]        (see README.md)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT "9999"
#ifndef BACKLOG
#define BACKLOG 128       /* the lesson's 5 overflows in a burst (README) */
#endif
#define DRAIN_READS 5     /* before hanging up: at most 5 reads ... */
#define DRAIN_WAIT_MS 100 /* ... each waiting at most 0.1 s */

static const char GREETING[] = "Thank you for connecting\r\n";

static int usage(FILE *out, int status)
{
    fprintf(out, "usage: server [-b ADDRESS] [PORT]\n"
                 "Greets every TCP client that connects to PORT (default "
                 DEFAULT_PORT "; 0 picks a free one).\n"
                 "  -b ADDRESS  listen on ADDRESS only (default: every IPv6 "
                 "and IPv4 address)\n"
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

/* Returns -1 if the server should start, or else the exit status:
 * 0 after -h, 2 after a bad command line (explained on stderr). */
static int parse_args(int argc, char *argv[], const char **address,
                      const char **port)
{
    unsigned long number;
    int opt;
    opterr = 0;  /* our messages, not getopt's */
    while ((opt = getopt(argc, argv, ":b:h")) != -1) {
        switch (opt) {
        case 'h':
            return usage(stdout, 0);
        case 'b':
        case ':':  /* -b last, with nothing after it */
            if (opt == ':' || *optarg == '\0') {
                fprintf(stderr, "server: -b needs an ADDRESS\n");
                return usage(stderr, 2);
            }
            *address = optarg;
            break;
        default:
            fprintf(stderr, "server: unknown option -%c\n", optopt);
            return usage(stderr, 2);
        }
    }
    if (optind < argc)
        *port = argv[optind++];
    if (parse_number(*port, 65535, &number) == -1)
        fprintf(stderr, "server: bad port '%s': use a number from 0 to 65535\n",
                *port);
    else if (optind < argc)
        fprintf(stderr, "server: unexpected argument '%s'\n", argv[optind]);
    else
        return -1;
    return usage(stderr, 2);
}

/* Started with stdin, stdout or stderr closed, our first socket would get
 * that number, and the log would go to a client.  /dev/null fills the gap. */
static int open_standard_fds(void)
{
    int fd;
    do
        fd = open("/dev/null", O_RDWR);
    while (fd >= 0 && fd <= 2);
    return fd == -1 ? -1 : close(fd);
}

/* What to do about the errors a newcomer meets at startup. */
static const char *hint(int err)
{
    return err == EADDRINUSE ? " (is another server running? If not, the "
                               "last one's connections are in TIME_WAIT: wait "
                               "a minute or pick another port)"
         : err == EACCES ? " (ports below 1024 need privileges: pick a higher port)"
         : err == EADDRNOTAVAIL ? " (is that an address of this machine?)" : "";
}

/* socket, setsockopt, bind, listen: the server's side of TCP, in order.
 * On failure returns -1 with errno set and *failed naming the call. */
static int listen_on(const struct addrinfo *ai, int dual_stack,
                     const char **failed)
{
    int on = 1, off = 0;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd == -1) {
        *failed = "socket";
        return -1;
    }
    /* The server closes first, so its side of each connection waits in
     * TIME_WAIT for a minute; this lets a restarted server bind meanwhile. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
        *failed = "setsockopt SO_REUSEADDR";
    /* Dual stack: the IPv6 wildcard takes IPv4 clients too (OpenBSD refuses:
     * then we fall back to IPv4); any other IPv6 address, IPv6 only. */
    else if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
             IPV6_V6ONLY, dual_stack ? &off : &on, sizeof on) == -1)
        *failed = "setsockopt IPV6_V6ONLY";
    else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
        *failed = "bind";
    else if (listen(fd, BACKLOG) == -1)
        *failed = "listen";
    else
        return fd;
    int saved = errno;
    close(fd);  /* never used: nothing to lose if it fails */
    errno = saved;
    return -1;
}

/* Beej's way: ask getaddrinfo, try its answers until one works.  IPv6
 * first, because one IPv6 socket serves both; IPv4 where there's no IPv6. */
static int open_listener(const char *address, const char *port)
{
    struct addrinfo hints, *list;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;  /* no -b: the wildcard */
    int rc = getaddrinfo(address, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, "server: cannot use address '%s': %s\n",
                address ? address : "(wildcard)",
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    const char *failed = "socket";   /* set again below: getaddrinfo */
    int fd = -1, err = EAFNOSUPPORT; /* returns one address at least */
    for (int want_v6 = 1; want_v6 >= 0 && fd == -1; want_v6--)
        for (struct addrinfo *ai = list; ai != NULL && fd == -1; ai = ai->ai_next)
            if ((ai->ai_family == AF_INET6) == want_v6) {
                fd = listen_on(ai, address == NULL, &failed);
                err = errno;
            }
    freeaddrinfo(list);
    if (fd == -1)
        fprintf(stderr, "server: cannot listen on port %s%s%s: %s: %s%s\n",
                port, address ? " of " : "", address ? address : "", failed,
                strerror(err), hint(err));
    return fd;
}

/* Prints "WHAT 127.0.0.1:36648" or "WHAT [::1]:51890" and pushes it out at
 * once, even into a pipe or a file.  An IPv4 client of our IPv6 socket
 * arrives as ::ffff:127.0.0.1: shown as the plain IPv4 address it is. */
static int log_address(const char *what, const struct sockaddr *sa,
                       socklen_t len)
{
    char host[128], port[8];  /* a numeric IPv6%scope fits */
    if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        host[0] = port[0] = '\0';  /* not for an address the kernel gave */
    const char *shown = strncmp(host, "::ffff:", 7) == 0 &&
                        strchr(host, '.') != NULL ? host + 7 : host;
    int v6 = strchr(shown, ':') != NULL;
    if (printf("%s %s%s%s:%s\n", what, v6 ? "[" : "", shown, v6 ? "]" : "",
               port) < 0 || fflush(stdout) == EOF) {
        fprintf(stderr, "server: cannot write the log: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* The kernel chose the port if we asked for 0: getsockname tells which. */
static int announce(int listener)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == -1) {
        fprintf(stderr, "server: getsockname: %s\n", strerror(errno));
        return -1;
    }
    return log_address("Listening on", (struct sockaddr *)&addr, len);
}

/* Waits for the next client and returns its own new socket. */
static int accept_client(int listener, struct sockaddr_storage *addr,
                         socklen_t *len)
{
    for (;;) {
        *len = sizeof *addr;
        int client = accept(listener, (struct sockaddr *)addr, len);
        if (client != -1)
            return client;
        if (errno == EINTR || errno == ECONNABORTED)  /* BSD: it gave up */
            continue;
        /* EMFILE, ENFILE: the client stays queued; retrying at once would spin. */
        fprintf(stderr, "server: accept: %s (trying again in 1 s)\n",
                strerror(errno));
        sleep(1);
    }
}

/* send() may take only part of what we hand it, so loop until all is sent. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* close() with unread bytes sends a RST, not a FIN, and a RST can make the
 * client drop the greeting: clients that speak first (curl, telnet, nc)
 * leave such bytes, sometimes a moment after we look.  So unless the client
 * is silent and the next one already queued (a first look that does not
 * wait), we send our FIN with shutdown() and read what the client sends until
 * it hangs up too.  Briefly: we serve one client at a time, so never past
 * DRAIN_WAIT_MS of silence or DRAIN_READS reads, nor once the next one waits. */
static void hang_up(int listener, int client)
{
    struct pollfd fds[2] = { { .fd = client, .events = POLLIN },
                             { .fd = listener, .events = POLLIN } };
    int busy = poll(fds, 2, 0) > 0 && fds[0].revents == 0 && fds[1].revents != 0;
    if (!busy && shutdown(client, SHUT_WR) == 0) {  /* fails only if it is gone */
        char junk[16384];
        for (int reads = 0; reads < DRAIN_READS; reads++)
            if (poll(fds, 2, DRAIN_WAIT_MS) < 1 || fds[0].revents == 0 ||
                recv(client, junk, sizeof junk, 0) <= 0)
                break;  /* silent, the next client woke us, or it has left */
    }
    if (close(client) == -1)
        fprintf(stderr, "server: close: %s\n", strerror(errno));
}

int main(int argc, char *argv[])
{
    const char *address = NULL, *port = DEFAULT_PORT;
    int status = parse_args(argc, argv, &address, &port);
    if (status != -1)
        return status;
    /* A write to a connection already known to be broken raises SIGPIPE,
     * which kills.  Ignored, send() fails with EPIPE, and we carry on.
     * SIGINT and SIGTERM keep their default: the kernel closes our sockets. */
    if (open_standard_fds() == -1 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "server: cannot open /dev/null or ignore SIGPIPE: %s\n",
                strerror(errno));
        return 1;
    }
    int listener = open_listener(address, port);
    if (listener == -1 || announce(listener) == -1)
        return 1;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len;
        int client = accept_client(listener, &addr, &len);
        if (log_address("Got a connection from", (struct sockaddr *)&addr, len) == -1)
            return 1;
        if (send_all(client, GREETING, sizeof GREETING - 1) == -1)
            fprintf(stderr, "server: sending the greeting: %s\n", strerror(errno));
        hang_up(listener, client);
    }
}
