/* lesson/solutions/udp-client.c - exercise 4: ask for the greeting over UDP.
 * The client speaks first (the server cannot know it is there), and a lost
 * datagram, the request or the reply, is simply gone: no one sends it again
 * but us.  So: send, wait 1 s for the reply, and try again, 3 times at most. */
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
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    check(s, "socket");
    char host[256] = "";
    check(gethostname(host, sizeof host - 1), "gethostname");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *address;
    int error = getaddrinfo(host, "9999", &hints, &address);
    if (error != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(error));
        return 1;
    }

    for (int attempt = 1; attempt <= 3; attempt++) {
        /* An empty datagram is a request.  The socket is not connected, so
         * an ICMP "port unreachable" reaches no one: no server looks the
         * same as a lost datagram, a timeout. */
        check((int)sendto(s, "", 0, 0, address->ai_addr, address->ai_addrlen), "sendto");
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 1000) == 1) {
            char tm[1024];
            ssize_t n = recv(s, tm, sizeof tm, 0);
            check((int)n, "recv");
            printf("%.*s", (int)n, tm);
            return 0;
        }
        fprintf(stderr, "no reply within 1 s (attempt %d of 3)\n", attempt);
    }
    return 1;
}
