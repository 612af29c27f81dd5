/* harness.c - see harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 512
#define MAX_ARGS 64

static pid_t children[MAX_CHILDREN];

static void remember(pid_t pid)
{
    static int registered;
    if (!registered) {
        atexit(harness_cleanup);
        registered = 1;
    }
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
}

static void forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

void harness_cleanup(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            while (waitpid(children[i], NULL, 0) == -1 && errno == EINTR)
                ;
            children[i] = 0;
        }
}

static void on_guard(int sig)
{
    (void)sig;
    static const char msg[] = "harness: the test ran past its time limit\n";
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(1);
}

void harness_guard(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_guard;
    sigaction(SIGALRM, &sa, NULL);
    /* A child that dies while a test writes to it must fail the write, not the run. */
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)scaled_ms((int)seconds * 1000) / 1000);
}

int scaled_ms(int ms)
{
    const char *scale = getenv("TIME_SCALE");
    int k = scale != NULL ? atoi(scale) : 1;
    return ms * (k > 0 ? k : 1);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until fd is readable or the deadline passes: 1, 0 (timeout), -1. */
static int wait_readable(int fd, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc == -1 && errno == EINTR)
            continue;
        return rc > 0 ? 1 : rc;
    }
}

static int spawn(struct proc *p, char *const argv[])
{
    int out[2], err[2];
    if (pipe(out) == -1)
        return -1;
    if (pipe(err) == -1) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == -1)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null == -1 || dup2(null, 0) == -1 || dup2(out[1], 1) == -1 ||
            dup2(err[1], 2) == -1)
            _exit(127);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        close(null);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    p->pid = pid;
    p->out = out[0];
    p->err = err[0];
    remember(pid);
    return 0;
}

int proc_start(struct proc *p, const char *program, const char *const args[])
{
    static char path[4096], under[1024];
    char *argv[MAX_ARGS];
    int n = 0;
    const char *run_under = getenv("RUN_UNDER");
    if (run_under != NULL && *run_under != '\0') {
        snprintf(under, sizeof under, "%s", run_under);
        for (char *w = strtok(under, " "); w != NULL && n < MAX_ARGS - 2; w = strtok(NULL, " "))
            argv[n++] = w;
    }
    const char *dir = getenv("PAIR_DIR");
    snprintf(path, sizeof path, "%s/%s", dir != NULL && *dir ? dir : ".", program);
    argv[n++] = path;
    for (int i = 0; args != NULL && args[i] != NULL && n < MAX_ARGS - 1; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return spawn(p, argv);
}

int proc_start_raw(struct proc *p, const char *const argv[])
{
    return spawn(p, (char *const *)argv);
}

ssize_t read_line(int fd, char *buf, size_t size, int ms)
{
    long deadline = now_ms() + ms;
    size_t len = 0;
    while (len + 1 < size) {
        if (wait_readable(fd, deadline) != 1)
            return -1;
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (c == '\n') {
            buf[len] = '\0';
            return (ssize_t)len;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t read_all(int fd, char *buf, size_t size, int ms)
{
    long deadline = now_ms() + ms;
    size_t len = 0;
    while (len < size) {
        if (wait_readable(fd, deadline) != 1)
            break;
        ssize_t n = read(fd, buf + len, size - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len < size)
        buf[len] = '\0';
    return (ssize_t)len;
}

static void close_pipes(struct proc *p)
{
    if (p->out != -1)
        close(p->out);
    if (p->err != -1)
        close(p->err);
    p->out = p->err = -1;
}

int proc_wait(struct proc *p, int ms)
{
    long deadline = now_ms() + ms;
    int status;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            break;
        if (r == -1 && errno != EINTR) {
            close_pipes(p);
            return PROC_TIMEOUT;
        }
        if (now_ms() >= deadline) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
                ;
            forget(p->pid);
            close_pipes(p);
            return PROC_TIMEOUT;
        }
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    forget(p->pid);
    close_pipes(p);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return PROC_SIGNALLED(WTERMSIG(status));
}

int proc_stop(struct proc *p, int sig, int ms)
{
    kill(p->pid, sig);
    return proc_wait(p, ms);
}

int server_start(struct proc *p, const char *address)
{
    const char *args[] = {"-b", address, "0", NULL};
    char line[256];
    if (proc_start(p, "server", args) == -1)
        return -1;
    if (read_line(p->out, line, sizeof line, scaled_ms(5000)) < 0 ||
        strncmp(line, "Listening on ", 13) != 0) {
        proc_stop(p, SIGKILL, scaled_ms(5000));
        return -1;
    }
    const char *colon = strrchr(line, ':');
    return colon != NULL ? atoi(colon + 1) : -1;
}

int client_run(const char *const args[], char *out, size_t out_size,
               size_t *out_len, char *err, size_t err_size, int ms)
{
    struct proc p;
    if (proc_start(&p, "client", args) == -1)
        return PROC_TIMEOUT;
    ssize_t n = read_all(p.out, out, out_size - 1, ms);
    out[n < 0 ? 0 : n] = '\0';
    if (out_len != NULL)
        *out_len = n < 0 ? 0 : (size_t)n;
    ssize_t e = read_all(p.err, err, err_size - 1, ms);
    err[e < 0 ? 0 : e] = '\0';
    return proc_wait(&p, ms);
}

const char *args_text(const char *const args[])
{
    static char text[512];
    size_t len = 0;
    text[0] = '\0';
    for (int i = 0; args[i] != NULL && len < sizeof text; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s'%s'",
                                i ? " " : "", args[i]);
    return text;
}
