/*
 * bare.c - the least a correct greeting server can be, as a yardstick.
 *
 *     usage: bare [-l] [-b ADDRESS] [PORT]     (PORT default 9999, 0: any)
 *
 * accept, send every byte, close; SO_REUSEADDR, ./server's backlog, SIGPIPE
 * ignored, and a pause after an accept error that would spin.  Nothing else.
 * With -l it also logs every client as ./server does, with the same code:
 * getnameinfo, "::ffff:" stripped, printf and fflush of "Got a connection
 * from ADDR:PORT" before the greeting.  A logging server is judged against
 * bare -l: what it costs beyond that is its own doing.
 *
 * Prints "Listening on ADDR:PORT" first, as ./server does, so a script can
 * find the port the kernel picked.  Stop it with SIGTERM or SIGINT.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char GREETING[] = "Thank you for connecting\r\n";

/* As ./server's log_address: "127.0.0.1:9999" or "[::1]:9999". */
static int log_address(const char *what, const struct sockaddr *sa,
                       socklen_t len)
{
    char host[128], port[8];
    if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        host[0] = port[0] = '\0';
    const char *shown = strncmp(host, "::ffff:", 7) == 0 &&
                        strchr(host, '.') != NULL ? host + 7 : host;
    int v6 = strchr(shown, ':') != NULL;
    if (printf("%s %s%s%s:%s\n", what, v6 ? "[" : "", shown, v6 ? "]" : "",
               port) < 0 || fflush(stdout) == EOF) {
        perror("bare: stdout");
        return -1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    const char *address = NULL, *port = "9999";
    int opt, log = 0, on = 1;
    while ((opt = getopt(argc, argv, "lb:")) != -1) {
        if (opt == 'l') {
            log = 1;
        } else if (opt == 'b') {
            address = optarg;
        } else {
            fprintf(stderr, "usage: bare [-l] [-b ADDRESS] [PORT]\n");
            return 2;
        }
    }
    if (optind < argc)
        port = argv[optind];
    signal(SIGPIPE, SIG_IGN);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(address, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "bare: %s: %s\n", address ? address : "(any)",
                gai_strerror(rc));
        return 1;
    }
    int listener = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (listener == -1 ||
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
        bind(listener, ai->ai_addr, ai->ai_addrlen) == -1 ||
        listen(listener, 128) == -1) {  /* ./server's BACKLOG */
        perror("bare: cannot listen");
        return 1;
    }
    freeaddrinfo(ai);

    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(listener, (struct sockaddr *)&addr, &len) == -1 ||
        log_address("Listening on", (struct sockaddr *)&addr, len) == -1)
        return 1;
    for (;;) {
        len = sizeof addr;
        int client = accept(listener, (struct sockaddr *)&addr, &len);
        if (client == -1) {
            if (errno != EINTR && errno != ECONNABORTED) {
                perror("bare: accept");  /* EMFILE and the like: don't spin */
                sleep(1);
            }
            continue;
        }
        if (log && log_address("Got a connection from",
                               (struct sockaddr *)&addr, len) == -1)
            return 1;
        /* A client that left early is its own problem: just close. */
        const char *p = GREETING;
        size_t left = sizeof GREETING - 1;
        while (left > 0) {
            ssize_t n = send(client, p, left, 0);
            if (n == -1 && errno == EINTR)
                continue;
            if (n == -1)
                break;
            p += n;
            left -= (size_t)n;
        }
        if (close(client) == -1)
            perror("bare: close");
    }
}
