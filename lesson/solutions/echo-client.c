/* lesson/solutions/echo-client.c - exercise 1, from lesson/first/client.c:
 * send standard input, end our side, print the echo to its end.  It writes
 * everything before it reads: with a large input it waits for ever. */
#include <netdb.h>
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
    int s = socket(AF_INET, SOCK_STREAM, 0);
    check(s, "socket");
    char host[256] = "";
    check(gethostname(host, sizeof host - 1), "gethostname");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *address;
    int error = getaddrinfo(host, "9999", &hints, &address);
    if (error != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(error));
        return 1;
    }
    check(connect(s, address->ai_addr, address->ai_addrlen), "connect");

    char buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0)
        check(send_all(s, buf, (size_t)n), "send");
    check((int)n, "read");
    check(shutdown(s, SHUT_WR), "shutdown"); /* our FIN: the server's recv returns 0 */

    while ((n = recv(s, buf, sizeof buf, 0)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    check((int)n, "recv");
    close(s);
    return fflush(stdout) == 0 ? 0 : 1;
}
