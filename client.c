/*
 * client.c - connect to the greeting server and print what it says.
 *
 * The C version of the classic first socket lesson: connect, recv, close,
 * print.  Unlike the lesson it tries IPv6 and IPv4, reads until the server
 * hangs up (one recv is not one message), and never waits forever.
 *
 *     usage: client [-t SECONDS] [HOST [PORT]]        (see README.md)
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT "9999"
#define DEFAULT_TIMEOUT 5     /* seconds */
#define MAX_TIMEOUT 86400
#define MAX_REPLY 1024        /* the lesson's recv(1024) */

static char timeout_message[512];
static size_t timeout_length;

static void usage(FILE *out)
{
    fprintf(out, "usage: client [-t SECONDS] [HOST [PORT]]\n"
                 "Connects to HOST (default: this machine's name) on PORT "
                 "(default " DEFAULT_PORT ")\n"
                 "and prints the first 1024 bytes the server sends.\n"
                 "  -t SECONDS  give up after SECONDS (1 to 86400, default 5)\n"
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

/* Returns -1 if the client should run, or else the exit status:
 * 0 after -h, 2 after a bad command line (already explained on stderr). */
static int parse_args(int argc, char *argv[], const char **host,
                      const char **port, unsigned *seconds)
{
    unsigned long number;
    int opt;
    opterr = 0;  /* our messages, not getopt's */
    while ((opt = getopt(argc, argv, ":t:h")) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        } else if (opt == 't' && parse_number(optarg, MAX_TIMEOUT, &number) == 0
                   && number > 0) {
            *seconds = (unsigned)number;
        } else {
            if (opt == 't')
                fprintf(stderr, "client: bad timeout '%s': use whole seconds "
                        "from 1 to 86400\n", optarg);
            else if (opt == ':')
                fprintf(stderr, "client: -t needs a number of SECONDS\n");
            else
                fprintf(stderr, "client: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        *host = argv[optind++];
    if (optind < argc)
        *port = argv[optind++];
    if (*host != NULL && **host == '\0')
        fprintf(stderr, "client: HOST is empty\n");
    else if (parse_number(*port, 65535, &number) == -1 || number == 0)
        fprintf(stderr, "client: bad port '%s': use a number from 1 to 65535\n",
                *port);
    else if (optind < argc)
        fprintf(stderr, "client: unexpected argument '%s'\n", argv[optind]);
    else
        return -1;
    usage(stderr);
    return 2;
}

/* Only async-signal-safe calls here, so the message was written in advance. */
static void on_timeout(int sig)
{
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, timeout_message, timeout_length);
    (void)ignored;  /* about to exit: nothing better to do if it failed */
    _exit(1);
}

/* One alarm bounds the whole exchange (name lookup, connect and every recv),
 * simpler and stricter than a timeout on each call.  The price: an address
 * that swallows packets uses up the budget, and later ones go untried. */
static int start_timer(unsigned seconds, const char *host, const char *port)
{
    struct sigaction sa;
    sigset_t alarm_only;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_timeout;
    snprintf(timeout_message, sizeof timeout_message,
             "client: timed out after %u s talking to %.255s port %s "
             "(is the server up and reachable? try a larger -t)\n",
             seconds, host, port);
    timeout_length = strlen(timeout_message);
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    /* A blocked signal mask survives exec(): unblock, or the alarm never rings. */
    if (sigaction(SIGALRM, &sa, NULL) == -1 ||
        sigprocmask(SIG_UNBLOCK, &alarm_only, NULL) == -1) {
        fprintf(stderr, "client: cannot set up the timer: %s\n", strerror(errno));
        return -1;
    }
    alarm(seconds);
    return 0;
}

/* Beej's way: ask getaddrinfo, try its answers (IPv6 and IPv4) in turn
 * until one connects.  Returns the connected socket, or -1 after saying why. */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *list;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, "client: cannot find host '%s': %s\n", host,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = EAFNOSUPPORT;
    for (struct addrinfo *ai = list; ai != NULL && fd == -1; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        /* Keep "refused" if any address said so: it has the useful hint. */
        if (fd == -1) {
            err = err == ECONNREFUSED ? err : errno;
        } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
            /* Not EINTR: our only handler, the timeout, never returns. */
            err = err == ECONNREFUSED ? err : errno;
            close(fd);  /* never connected: nothing to lose if it fails */
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd == -1)
        fprintf(stderr, "client: cannot connect to %s port %s: %s%s\n", host,
                port, strerror(err),
                err == ECONNREFUSED ? " (is the server running?)" : "");
    return fd;
}

/* TCP is a byte stream: one recv() may return any part of what was sent.
 * So read until the server hangs up (recv returns 0) or the buffer is full. */
static ssize_t receive_reply(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = recv(fd, buf + got, size - got, 0);
        if (n == 0)
            break;
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        got += (size_t)n;
    }
    return (ssize_t)got;
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

/* Prints the n bytes received exactly as they came (NULs and \r included),
 * or says why there are none.  Returns the exit status. */
static int print_reply(const char *host, const char *reply, ssize_t n, int err)
{
    if (n == -1) {
        fprintf(stderr, "client: receive from %s: %s\n", host, strerror(err));
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "client: %s closed the connection without sending "
                "anything\n", host);
        return 1;
    }
    if (fwrite(reply, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) == EOF) {
        fprintf(stderr, "client: cannot write the reply: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    char here[256], reply[MAX_REPLY];
    const char *host = NULL, *port = DEFAULT_PORT;
    unsigned seconds = DEFAULT_TIMEOUT;
    int status = parse_args(argc, argv, &host, &port, &seconds);
    if (status != -1)
        return status;
    if (host == NULL && (host = this_machine(here, sizeof here)) == NULL)
        return 1;
    if (start_timer(seconds, host, port) == -1)
        return 1;
    int fd = connect_to(host, port);
    if (fd == -1)
        return 1;
    ssize_t n = receive_reply(fd, reply, sizeof reply);
    int err = errno;
    alarm(0);  /* done with the network: writing the reply isn't timed */
    if (close(fd) == -1)
        fprintf(stderr, "client: close: %s\n", strerror(errno));
    return print_reply(host, reply, n, err);
}
