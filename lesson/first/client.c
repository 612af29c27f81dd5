/* lesson/first/client.c - the Python lesson's client, written in C as
 * directly as C allows.  The first version: README.md's "From the first
 * version to server.c" shows, one command each, where it fails. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A call that fails ends the program, as an uncaught exception does in Python. */
static void check(int result, const char *call)
{
    if (result == -1) {
        perror(call);
        exit(1);
    }
}

int main(void)
{
    /* Create a socket object */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    check(s, "socket");

    /* Get local machine name */
    char host[256] = "";
    check(gethostname(host, sizeof host - 1), "gethostname");
    const char *port = "9999";

    /* Connection to hostname on the port (C turns the name into an address first) */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *address;
    int error = getaddrinfo(host, port, &hints, &address);
    if (error != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(error));
        return 1;
    }
    check(connect(s, address->ai_addr, address->ai_addrlen), "connect");

    /* Receive no more than 1024 bytes */
    char tm[1024];
    ssize_t n = recv(s, tm, sizeof tm, 0);
    check((int)n, "recv");

    close(s);

    printf("The time got from the server is %.*s\n", (int)n, tm);
    return 0;
}
