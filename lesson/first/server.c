/* lesson/first/server.c - the Python lesson's server, written in C as
 * directly as C allows.  The first version: README.md's "From the first
 * version to server.c" shows, one command each, where it fails. */
#include <arpa/inet.h>
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
    int serversocket = socket(AF_INET, SOCK_STREAM, 0);
    check(serversocket, "socket");

    /* Get local machine name */
    char host[256] = "";
    check(gethostname(host, sizeof host - 1), "gethostname");
    const char *port = "9999";

    /* Bind to the port (C turns the name into an address first) */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *address;
    int error = getaddrinfo(host, port, &hints, &address);
    if (error != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(error));
        return 1;
    }
    check(bind(serversocket, address->ai_addr, address->ai_addrlen), "bind");

    /* Queue up to 5 requests */
    check(listen(serversocket, 5), "listen");
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out at once, even into a pipe */

    while (1) {
        /* Establish a connection */
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        int clientsocket = accept(serversocket, (struct sockaddr *)&addr, &len);
        check(clientsocket, "accept");
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
        printf("Got a connection from ('%s', %d)\n", ip, ntohs(addr.sin_port));
        const char msg[] = "Thank you for connecting\r\n";
        check((int)send(clientsocket, msg, sizeof msg - 1, 0), "send");
        close(clientsocket);
    }
}
