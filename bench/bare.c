/*
 * bare.c - the least a correct greeting server can be, as a yardstick.
 *
 * The benchmark runs ./server and this under the same load: whatever
 * ./server costs beyond this loop (its log line, the address formatting,
 * the signal handling) shows up as the difference.  No log, nothing that
 * isn't needed to be correct: SO_REUSEADDR, the same backlog as ./server,
 * SIGPIPE ignored, every byte sent, accept errors that would spin slowed.
 *
 *     usage: bare [-b ADDRESS] [PORT]      (PORT default 9999, 0: any)
 *
 * Prints "Listening on ADDRESS:PORT" once, as ./server does, so a script
 * can find the port the kernel picked.  Stop it with SIGTERM or SIGINT.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 128   /* as in ./server */

static const char GREETING[] = "Thank you for connecting\r\n";

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

static int listen_on(const char *address, const char *port)
{
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(address, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "bare: %s: %s\n", address ? address : "(any)",
                gai_strerror(rc));
        return -1;
    }
    int on = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
        listen(fd, BACKLOG) == -1) {
        perror("bare: cannot listen");
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static int announce(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char host[128], port[8];
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1 ||
        getnameinfo((struct sockaddr *)&addr, len, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "bare: cannot tell the address it listens on\n");
        return -1;
    }
    int v6 = strchr(host, ':') != NULL;
    if (printf("Listening on %s%s%s:%s\n", v6 ? "[" : "", host, v6 ? "]" : "",
               port) < 0 ||
        fflush(stdout) == EOF) {
        perror("bare: stdout");
        return -1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    const char *address = NULL, *port = "9999";
    int opt;
    while ((opt = getopt(argc, argv, "b:")) != -1) {
        if (opt != 'b') {
            fprintf(stderr, "usage: bare [-b ADDRESS] [PORT]\n");
            return 2;
        }
        address = optarg;
    }
    if (optind < argc)
        port = argv[optind];
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("bare: signal");
        return 1;
    }
    int listener = listen_on(address, port);
    if (listener == -1 || announce(listener) == -1)
        return 1;
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client == -1) {
            if (errno != EINTR && errno != ECONNABORTED) {
                perror("bare: accept");  /* EMFILE and the like: don't spin */
                sleep(1);
            }
            continue;
        }
        /* A client that left early is its own problem: no log, just close. */
        (void)send_all(client, GREETING, sizeof GREETING - 1);
        if (close(client) == -1)
            perror("bare: close");
    }
}
