/* lesson/solutions/echo-client-poll.c - exercise 1's way out: send and
 * receive at once, so neither side's buffers can fill for good.  poll()
 * says which can go on; the socket is non-blocking, so that a send()
 * larger than the free room takes what fits instead of waiting. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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
    check(fcntl(s, F_SETFL, O_NONBLOCK), "fcntl");

    char out[65536], in[65536];
    size_t start = 0, end = 0; /* out[start..end) is read from stdin, not sent yet */
    int input_done = 0;
    for (;;) {
        struct pollfd fds[2] = {
            {.fd = input_done || end > start ? -1 : STDIN_FILENO, .events = POLLIN},
            {.fd = s, .events = POLLIN | (end > start ? POLLOUT : 0)},
        };
        if (poll(fds, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            check(-1, "poll");
        }
        if (fds[0].revents) { /* stdin: more to send, or its end */
            ssize_t n = read(STDIN_FILENO, out, sizeof out);
            check((int)n, "read");
            start = 0;
            end = (size_t)n;
            if (n == 0) {
                input_done = 1;
                check(shutdown(s, SHUT_WR), "shutdown");
            }
        }
        if (fds[1].revents & POLLOUT) { /* room to send: as much as fits */
            ssize_t n = send(s, out + start, end - start, 0);
            if (n == -1 && errno != EAGAIN && errno != EINTR)
                check(-1, "send");
            if (n > 0)
                start += (size_t)n;
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) { /* the echo */
            ssize_t n = recv(s, in, sizeof in, 0);
            if (n == 0)
                break; /* the server ended its side: all came back */
            if (n == -1 && errno != EAGAIN && errno != EINTR)
                check(-1, "recv");
            if (n > 0)
                fwrite(in, 1, (size_t)n, stdout);
        }
    }
    close(s);
    return fflush(stdout) == 0 ? 0 : 1;
}
