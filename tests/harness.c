/* harness.c - see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_CHILDREN 64

static pid_t children[MAX_CHILDREN];

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
        }
}

int scaled(int ms)
{
    const char *scale = getenv("TIME_SCALE");
    return scale != NULL && atoi(scale) > 0 ? ms * atoi(scale) : ms;
}

long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void in_child(int out[2], int err[2], char *argv[], int how)
{
    int null = open("/dev/null", O_RDONLY);
    if (null == -1 || dup2(null, 0) == -1 || dup2(out[1], 1) == -1 ||
        dup2(err[1], 2) == -1)
        _exit(127);
    for (int fd = 3; fd < 64; fd++)
        close(fd);
    signal(SIGINT, how & IGNORE_SIGINT ? SIG_IGN : SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    _exit(127);
}

int start(struct proc *p, const char *program, const char *const args[], int how)
{
    static char path[4096], under[1024];
    char *argv[64];
    int n = 0, fds[4] = { -1, -1, -1, -1 }, *out = fds, *err = fds + 2;
    const char *run_under = getenv("RUN_UNDER"), *dir = getenv("PAIR_DIR");
    snprintf(under, sizeof under, "%s", run_under ? run_under : "");
    for (char *word = strtok(under, " "); word && n < 32; word = strtok(NULL, " "))
        argv[n++] = word;
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", program);
    argv[n++] = path;
    for (int i = 0; args[i] != NULL && n < 63; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(NULL);  /* or the child would print our buffered output again */
    if (pipe(out) == -1 || pipe(err) == -1 || (p->pid = fork()) == -1) {
        for (int i = 0; i < 4; i++)
            if (fds[i] != -1)
                close(fds[i]);
        return -1;
    }
    if (p->pid == 0)
        in_child(out, err, argv, how);
    close(out[1]);
    close(err[1]);
    p->out = out[0];
    p->err = err[0];
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0) {
            children[i] = p->pid;
            break;
        }
    static int registered;
    if (!registered++)
        atexit(kill_children);
    return 0;
}

int finish(struct proc *p, int ms)
{
    int status;
    long long deadline = now_ms() + scaled(ms);
    pid_t done;
    while ((done = waitpid(p->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        poll(NULL, 0, 10);
    if (done == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
    }
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == p->pid)
            children[i] = 0;
    close(p->out);
    close(p->err);
    if (done == 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t read_for(int fd, char *buf, size_t size, int ms, int one_line)
{
    size_t got = 0;
    long long deadline = now_ms() + scaled(ms);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (got + 1 < size && now_ms() < deadline &&
           poll(&pfd, 1, (int)(deadline - now_ms())) == 1) {
        ssize_t n = read(fd, buf + got, one_line ? 1 : size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (one_line && buf[got - 1] == '\n')
            break;
    }
    buf[got] = '\0';
    return got;
}

int stop(struct proc *p, int sig)
{
    kill(p->pid, sig);
    return finish(p, 2000);
}

int start_server(struct proc *p, const char *const args[], int how)
{
    char line[256];
    const char *colon;
    if (start(p, "server", args, how) == -1)
        return -1;
    read_for(p->out, line, sizeof line, 5000, 1);
    if (strncmp(line, "Listening on ", 13) != 0 || (colon = strrchr(line, ':')) == NULL) {
        read_for(p->err, line, sizeof line, 100, 0);
        print_error("server did not start: %s\n", line);
        finish(p, 0);
        return -1;
    }
    return atoi(colon + 1);
}

int run_client(const char *const args[], char *out, size_t out_size,
               char *err, size_t err_size)
{
    struct proc p;
    if (start(&p, "client", args, 0) == -1)
        return -1;
    read_for(p.out, out, out_size, 10000, 0);
    read_for(p.err, err, err_size, 1000, 0);
    return finish(&p, 1000);
}

static socklen_t loopback(const char *address, int port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        return sizeof *v4;
    }
    assert_int_equal(inet_pton(AF_INET6, address, &v6->sin6_addr), 1);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)port);
    return sizeof *v6;
}

int tcp_connect(const char *address, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(address, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&ss, len) == -1)
        fail_msg("connect to %s port %d: %s", address, port, strerror(errno));
    return fd;
}

int tcp_listen(const char *address, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(address, 0, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

int free_port(const char *address)
{
    int port, fd = tcp_listen(address, &port);
    close(fd);
    return port;
}

int have_ipv6(void)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback("::1", 0, &ss);
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}
