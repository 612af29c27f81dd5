/* lesson/solutions/echo-server.c - exercise 1, from lesson/first/server.c:
 * send back everything a client sends, until it ends its side. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void check(int result, const char *call)
{
    if (result == -1) {
        perror(call);
        exit(1);
    }
}

/* send() may take only part of the buffer: send the rest until all is gone. */
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

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a client gone: send fails with EPIPE, the server goes on */
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
        check(clientsocket, "accept");
        char buf[65536];
        ssize_t n;
        /* recv returns 0 once the client has ended its side (its FIN). */
        while ((n = recv(clientsocket, buf, sizeof buf, 0)) > 0)
            if (send_all(clientsocket, buf, (size_t)n) == -1)
                break;
        if (n == -1)
            perror("recv");
        close(clientsocket);
    }
}
