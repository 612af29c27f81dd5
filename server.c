/*
 * server.c - a TCP server that greets every client, then hangs up.
 *
 * The C version of the classic first socket lesson: socket, bind, listen,
 * then accept, send and close for each client in turn.  Unlike the lesson it
 * listens on IPv6 and IPv4, sends every byte of its greeting, restarts at
 * once on the same port, and lets no client stop it.
 *
 *     usage: server [-b ADDRESS] [PORT]        (see README.md)
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT "9999"
#define BACKLOG 128        /* the lesson's 5 turns clients away under a burst */
#define ADDRESS_TEXT 160   /* room for "[IPv6%scope]:port" */

static const char GREETING[] = "Thank you for connecting\r\n";

static void usage(FILE *out)
{
    fprintf(out, "usage: server [-b ADDRESS] [PORT]\n"
                 "Greets every TCP client that connects to PORT (default "
                 DEFAULT_PORT "; 0 picks a free one).\n"
                 "  -b ADDRESS  listen on ADDRESS only (default: every IPv6 "
                 "and IPv4 address)\n"
                 "  -h          show this help\n");
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
 * 0 after -h, 2 after a bad command line (already explained on stderr). */
static int parse_args(int argc, char *argv[], const char **address,
                      const char **port)
{
    unsigned long number;
    int opt;
    opterr = 0;  /* our messages, not getopt's */
    while ((opt = getopt(argc, argv, ":b:h")) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        } else if (opt == 'b' && *optarg != '\0') {
            *address = optarg;
        } else {
            if (opt == 'b' || opt == ':')
                fprintf(stderr, "server: -b needs an ADDRESS\n");
            else
                fprintf(stderr, "server: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
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
    usage(stderr);
    return 2;
}

/* "127.0.0.1:9999" or "[::1]:9999".  An IPv4 client of our IPv6 socket
 * arrives as ::ffff:127.0.0.1; show it as the plain IPv4 address it is. */
static void format_address(const struct sockaddr *sa, socklen_t len,
                           char *text, size_t size)
{
    char host[128], port[8];  /* numeric IPv6 with a %scope fits easily */
    int rc = getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                         NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0) {
        snprintf(text, size, "(unknown address: %s)", gai_strerror(rc));
        return;
    }
    const char *shown = host;
    if (strncmp(host, "::ffff:", 7) == 0 && strchr(host, '.') != NULL)
        shown = host + 7;
    if (strchr(shown, ':') != NULL)
        snprintf(text, size, "[%s]:%s", shown, port);
    else
        snprintf(text, size, "%s:%s", shown, port);
}

/* What to do about the errors a newcomer meets at startup. */
static const char *hint(int err)
{
    return err == EADDRINUSE ? " (is another server running? stop it or pick another port)"
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
    /* Without SO_REUSEADDR a restarted server can't bind for a minute or two
     * while the last run's connections linger in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
        *failed = "setsockopt SO_REUSEADDR";
    /* Dual stack: the IPv6 wildcard takes IPv4 clients too (not on
     * OpenBSD, which refuses; then we fall back to IPv4). */
    else if (dual_stack && ai->ai_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == -1)
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
    const char *failed = "socket";   /* these two stand only if the list */
    int fd = -1, err = EAFNOSUPPORT; /* held no address we could try */
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

/* Prints one log line and pushes it out at once, even into a pipe or file. */
static int log_address(const char *what, const struct sockaddr *sa,
                       socklen_t len)
{
    char text[ADDRESS_TEXT];
    format_address(sa, len, text, sizeof text);
    if (printf("%s %s\n", what, text) < 0 || fflush(stdout) == EOF) {
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

/* Waits for the next client: returns its own new socket and fills in its
 * address, or returns -1 to try again. */
static int accept_client(int listener, struct sockaddr_storage *addr,
                         socklen_t *len)
{
    *len = sizeof *addr;
    int client = accept(listener, (struct sockaddr *)addr, len);
    if (client == -1 && errno != EINTR && errno != ECONNABORTED) {
        /* EMFILE, ENFILE, ENOBUFS: the client stays queued, so trying again
         * at once would spin.  Say so and give the system a second. */
        fprintf(stderr, "server: accept: %s (trying again in 1 s)\n",
                strerror(errno));
        sleep(1);
    }
    return client;
}

/* Greets one client.  One that hung up early costs a log line, nothing more. */
static void greet(int client)
{
    if (send_all(client, GREETING, sizeof GREETING - 1) == -1)
        fprintf(stderr, "server: send: %s\n", strerror(errno));
    if (close(client) == -1)
        fprintf(stderr, "server: close: %s\n", strerror(errno));
}

/* Ctrl-C is how a user stops the server, so it counts as success: exit 0
 * (dying of the signal would not).  The kernel closes the sockets.  _exit is
 * safe in a handler; setting a flag instead would be missed if the signal
 * came just before accept() blocked, and the server would sleep on. */
static void on_stop(int sig)
{
    (void)sig;
    _exit(0);
}

static int install_signal_handlers(void)
{
    struct sigaction sa;
    sigset_t stops;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* A client that hangs up early must make send() fail with EPIPE, not
     * kill the whole server with SIGPIPE. */
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) == -1)
        return -1;
    sa.sa_handler = on_stop;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    /* A blocked signal mask survives exec(): unblock, or Ctrl-C may not work. */
    if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1
        || sigprocmask(SIG_UNBLOCK, &stops, NULL) == -1)
        return -1;
    return 0;
}

int main(int argc, char *argv[])
{
    const char *address = NULL, *port = DEFAULT_PORT;
    int status = parse_args(argc, argv, &address, &port);
    if (status != -1)
        return status;
    if (install_signal_handlers() == -1) {
        fprintf(stderr, "server: cannot set up signals: %s\n", strerror(errno));
        return 1;
    }
    int listener = open_listener(address, port);
    if (listener == -1 || announce(listener) == -1)
        return 1;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len;
        int client = accept_client(listener, &addr, &len);
        if (client == -1)
            continue;
        if (log_address("Got a connection from", (struct sockaddr *)&addr, len) == -1)
            return 1;
        greet(client);
    }
}
