/* lesson/solutions/raced-client.c - exercise 3: connect to a name's
 * addresses as Happy Eyeballs does (RFC 8305, section 5): start the first,
 * start the next 250 ms later or as soon as one fails, keep every attempt
 * going, and take whichever connects first.  Usage: raced-client HOST PORT.
 * The whole run, the reply included, is bounded by 5 s. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_TRIES = 16, STEP_MS = 250, LIMIT_MS = 5000 };

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Starts a non-blocking connect to ai; returns its socket, or -1. */
static int start(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd == -1)
        return -1;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
        (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Races the addresses of list; returns the first connected socket, or -1. */
static int race(const struct addrinfo *list, long long deadline)
{
    struct pollfd tries[MAX_TRIES];
    int n = 0, winner = -1;
    const struct addrinfo *next = list;
    long long next_at = now_ms();
    while (winner == -1 && now_ms() < deadline) {
        if (next && n < MAX_TRIES && now_ms() >= next_at) {
            int fd = start(next);
            next = next->ai_next;
            next_at = now_ms() + STEP_MS;
            if (fd != -1)
                tries[n++] = (struct pollfd){.fd = fd, .events = POLLOUT};
        }
        if (n == 0 && !next)
            break;
        long long wake = next && n < MAX_TRIES && next_at < deadline ? next_at : deadline;
        int wait = wake > now_ms() ? (int)(wake - now_ms()) : 0;
        if (poll(tries, (nfds_t)n, n == 0 && !next ? 0 : wait) == -1 && errno != EINTR)
            break;
        for (int i = 0; i < n && winner == -1; i++) {
            if (!tries[i].revents)
                continue;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(tries[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) {
                winner = tries[i].fd;
                tries[i].fd = -1;
            } else { /* this one failed: drop it, start the next at once */
                close(tries[i].fd);
                tries[i--] = tries[--n];
                next_at = now_ms();
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (tries[i].fd != -1)
            close(tries[i].fd);
    return winner;
}

int main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "usage: raced-client HOST PORT\n");
        return 2;
    }
    long long deadline = now_ms() + LIMIT_MS;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list;
    int error = getaddrinfo(argv[1], argv[2], &hints, &list);
    if (error != 0) {
        fprintf(stderr, "raced-client: %s: %s\n", argv[1], gai_strerror(error));
        return 1;
    }
    int fd = race(list, deadline);
    freeaddrinfo(list);
    if (fd == -1) {
        fprintf(stderr, "raced-client: cannot connect to %s port %s\n", argv[1], argv[2]);
        return 1;
    }
    char buf[1024];
    size_t got = 0;
    ssize_t n = 1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < sizeof buf && n > 0 && now_ms() < deadline &&
           poll(&p, 1, (int)(deadline - now_ms())) == 1) {
        n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == -1 && (errno == EAGAIN || errno == EINTR))
            n = 1;
    }
    close(fd);
    fwrite(buf, 1, got, stdout);
    if (n != 0 && got < sizeof buf) {
        fprintf(stderr, "raced-client: no complete reply from %s port %s\n", argv[1], argv[2]);
        return 1;
    }
    return got > 0 ? 0 : 1;
}
