/* lesson/solutions/fork-server.c - exercise 2, from echo-server.c: a child
 * process per client, so that a slow client holds up no one else, and a
 * SIGCHLD handler that reaps the children so that none stays a zombie. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(int result, const char *call)
{
    if (result == -1) {
        perror(call);
        exit(1);
    }
}

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

static void echo(int clientsocket)
{
    char buf[65536];
    ssize_t n;
    while ((n = recv(clientsocket, buf, sizeof buf, 0)) > 0)
        if (send_all(clientsocket, buf, (size_t)n) == -1)
            break;
    if (n == -1)
        perror("recv");
}

/* Several children may end while the handler runs once: reap all that have
 * ended.  waitpid may change errno, which the interrupted code may be using. */
static void reap(int sig)
{
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* sigaction, not signal(): in a POSIX build glibc's signal() runs the
     * handler once, then restores the default, and does not restart accept. */
    struct sigaction sa = {.sa_handler = reap, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    check(sigaction(SIGCHLD, &sa, NULL), "sigaction");

    int serversocket = socket(AF_INET, SOCK_STREAM, 0);
    check(serversocket, "socket");
    int on = 1;
    check(setsockopt(serversocket, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt");
    char host[256] = "";
    check(gethostname(host, sizeof host - 1), "gethostname");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *address;
    int error = getaddrinfo(host, "9999", &hints, &address);
    if (error != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(error));
        return 1;
    }
    check(bind(serversocket, address->ai_addr, address->ai_addrlen), "bind");
    check(listen(serversocket, 5), "listen");

    while (1) {
        int clientsocket = accept(serversocket, NULL, NULL);
        if (clientsocket == -1 && errno == EINTR)
            continue; /* a system without SA_RESTART for accept */
        check(clientsocket, "accept");
        pid_t child = fork();
        if (child == 0) { /* the child: this client only */
            close(serversocket);
            echo(clientsocket);
            _exit(0);
        }
        if (child == -1)
            perror("fork"); /* this client goes without an echo */
        close(clientsocket); /* the parent: the child has its own descriptor */
    }
}
