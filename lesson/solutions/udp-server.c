/* lesson/solutions/udp-server.c - exercise 4: the greeting over UDP.  No
 * listen, no accept, no connection: each datagram that comes in is a
 * request, and the reply goes to the address it came from. */
#include <arpa/inet.h>
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
    check(bind(s, address->ai_addr, address->ai_addrlen), "bind");
    setvbuf(stdout, NULL, _IOLBF, 0);

    while (1) {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        char request[512];
        /* One datagram, whole, whatever its size (an empty one too). */
        check((int)recvfrom(s, request, sizeof request, 0, (struct sockaddr *)&addr, &len),
              "recvfrom");
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
        printf("Got a request from ('%s', %d)\n", ip, ntohs(addr.sin_port));
        const char msg[] = "Thank you for connecting\r\n";
        if (sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&addr, len) == -1)
            perror("sendto"); /* the next request may fare better */
    }
}
