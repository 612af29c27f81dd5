/* abuse.c - see abuse.h. */
#include "abuse.h"
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        return 0;
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void sleep_ms(int ms)
{
    struct timespec left = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

int listen_loopback(int backlog, int *port)
{
    struct sockaddr_in sa = loopback(0);
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
        listen(fd, backlog) == -1 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static int wait_for(int fd, short events, int ms)
{
    long deadline = now_ms() + ms;
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (rc == -1 && errno == EINTR)
            continue;
        return rc;
    }
}

int accept_within(int listener, int ms)
{
    if (wait_for(listener, POLLIN, ms) != 1)
        return -1;
    return accept(listener, NULL, NULL);
}

int connect_start(int port)
{
    struct sockaddr_in sa = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
        (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
         errno != EINPROGRESS)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* 1 connected, -1 failed; reads the outcome of a finished connect. */
static int connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 1;
}

int connect_wait(int fd, int ms)
{
    int rc = wait_for(fd, POLLOUT, ms);
    if (rc <= 0)
        return rc;
    return connect_result(fd);
}

int set_linger_zero(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

ssize_t recv_all(int fd, char *buf, size_t size, int ms, int *eof)
{
    long deadline = now_ms() + ms;
    size_t got = 0;
    *eof = 0;
    while (got < size) {
        long left = deadline - now_ms();   /* 0 or less: only what is there */
        if (wait_for(fd, POLLIN, left > 0 ? (int)left : 0) != 1)
            break;
        ssize_t n = recv(fd, buf + got, size - got, 0);
        if (n == -1 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n == -1)
            return got > 0 ? (ssize_t)got : -1;
        if (n == 0) {
            *eof = 1;
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int on_path(const char *program)
{
    const char *path = getenv("PATH");
    char dirs[4096], file[4200];
    snprintf(dirs, sizeof dirs, "%s", path != NULL ? path : "/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir != NULL;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(file, sizeof file, "%s/%s", dir, program);
        if (access(file, X_OK) == 0)
            return 1;
    }
    return 0;
}

int run_command(const char *const argv[], int ms)
{
    struct proc p;
    char sink[4096];
    if (proc_start_raw(&p, argv) == -1)
        return PROC_TIMEOUT;
    read_all(p.out, sink, sizeof sink, ms);
    read_all(p.err, sink, sizeof sink, ms);
    return proc_wait(&p, ms);
}

int child_running(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    /* WNOWAIT: look without reaping, so proc_wait still gets the status. */
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == -1)
        return 0;
    return info.si_pid == 0;
}

static FILE *open_proc(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
    return fopen(path, "r");
}

int proc_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    int count = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        if (e->d_name[0] != '.')
            count++;
    closedir(dir);
    return count;
}

int proc_lowest_free_fd(pid_t pid)
{
    enum { MAX_SEEN = 4096 };
    static unsigned char used[MAX_SEEN];
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    memset(used, 0, sizeof used);
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        long n = strtol(e->d_name, NULL, 10);
        if (e->d_name[0] != '.' && n >= 0 && n < MAX_SEEN)
            used[n] = 1;
    }
    closedir(dir);
    for (int n = 0; n < MAX_SEEN; n++)
        if (!used[n])
            return n;
    return -1;
}

long proc_status_kib(pid_t pid, const char *field)
{
    FILE *f = open_proc(pid, "status");
    if (f == NULL)
        return -1;
    char line[256];
    size_t len = strlen(field);
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kib = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

long proc_cpu_ticks(pid_t pid)
{
    FILE *f = open_proc(pid, "stat");
    if (f == NULL)
        return -1;
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* The name (field 2) may hold spaces: count fields after its ')'. */
    char *p = strrchr(text, ')');
    if (p == NULL)
        return -1;
    unsigned long utime = 0;
    int field = 2;
    for (char *save = NULL, *tok = strtok_r(p + 1, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            utime = strtoul(tok, NULL, 10);
        if (field == 15)   /* stime */
            return (long)(utime + strtoul(tok, NULL, 10));
    }
    return -1;
}

long proc_soft_nofile(pid_t pid)
{
    FILE *f = open_proc(pid, "limits");
    if (f == NULL)
        return -1;
    char line[256];
    long soft = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Max open files", 14) == 0) {
            soft = strtol(line + 14, NULL, 10);
            break;
        }
    fclose(f);
    return soft;
}

/* ---- the load ---------------------------------------------------------- */

struct slot {
    int fd;               /* -1: free */
    int connected;
    size_t got;
    char buf[GREETING_LEN + 16];
};

static void count_line(struct load *l)
{
    l->line[l->line_len] = '\0';
    if (strncmp(l->line, LOG_PREFIX, sizeof LOG_PREFIX - 1) == 0)
        l->log_lines++;
    else
        l->other_lines++;
    l->line_len = 0;
}

/* Reads one chunk of stdout or stderr; returns 0 at EOF or error. */
static int drain_once(struct load *l, int fd)
{
    char chunk[8192];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n == -1 && errno == EINTR)
        return 1;
    if (n <= 0)
        return 0;
    if (fd == l->err_fd) {
        size_t have = l->err_bytes < sizeof l->err_text - 1 ? l->err_bytes
                                                              : sizeof l->err_text - 1;
        size_t room = sizeof l->err_text - 1 - have;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(l->err_text + have, chunk, take);
        l->err_text[have + take] = '\0';
        l->err_bytes += (size_t)n;
        return 1;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n')
            count_line(l);
        else if (l->line_len < sizeof l->line - 1)
            l->line[l->line_len++] = chunk[i];
    }
    return 1;
}

void load_drain(struct load *l, int ms)
{
    long deadline = now_ms() + ms;
    for (;;) {
        struct pollfd pfd[2];
        int n = 0;
        if (l->log_fd != -1 && !l->log_eof)
            pfd[n++] = (struct pollfd){.fd = l->log_fd, .events = POLLIN};
        if (l->err_fd != -1)
            pfd[n++] = (struct pollfd){.fd = l->err_fd, .events = POLLIN};
        long left = deadline - now_ms();
        if (n == 0)
            return;
        int rc = poll(pfd, (nfds_t)n, left > 0 ? (int)left : 0);
        if (rc == -1 && errno == EINTR)
            continue;
        if (rc <= 0)
            return;
        for (int i = 0; i < n; i++)
            if (pfd[i].revents != 0 && !drain_once(l, pfd[i].fd)) {
                if (pfd[i].fd == l->err_fd)
                    l->err_fd = -1;
                else
                    l->log_eof = 1;
            }
        if (l->log_eof && l->log_fd != -1)
            return;
    }
}

/* Sorts a finished connection into its result. */
static void finish(struct load *l, struct slot *s)
{
    if (s->got > GREETING_LEN || memcmp(s->buf, GREETING, s->got) != 0)
        l->wrong++;
    else if (s->got == GREETING_LEN)
        l->greeted++;
    else if (s->got == 0)
        l->empty++;
    else
        l->partial++;
    close(s->fd);
    s->fd = -1;
}

static void slot_event(struct load *l, struct slot *s)
{
    if (!s->connected) {
        if (connect_result(s->fd) != 1) {
            l->refused++;
            close(s->fd);
            s->fd = -1;
            return;
        }
        s->connected = 1;
        return;
    }
    ssize_t n = recv(s->fd, s->buf + s->got, sizeof s->buf - s->got, 0);
    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        s->got += (size_t)n;
        if (s->got == sizeof s->buf)   /* far too much: stop reading */
            finish(l, s);
        return;
    }
    finish(l, s);  /* EOF, or an error such as a reset */
}

int load_run(struct load *l)
{
    struct slot slots[LOAD_MAX_SLOTS];
    struct pollfd pfd[LOAD_MAX_SLOTS + 2];
    int map[LOAD_MAX_SLOTS + 2];
    int width = l->concurrency < LOAD_MAX_SLOTS ? l->concurrency : LOAD_MAX_SLOTS;
    int started = 0, finished = 0, hooked = 0;
    long deadline = now_ms() + l->deadline_ms;

    for (int i = 0; i < width; i++)
        slots[i].fd = -1;
    for (;;) {
        for (int i = 0; i < width && started < l->total; i++)
            if (slots[i].fd == -1) {
                int fd = connect_start(l->port);
                started++;
                l->started++;
                if (fd == -1) {
                    l->refused++;
                    continue;
                }
                slots[i] = (struct slot){.fd = fd};
            }
        int n = 0, busy = 0;
        for (int i = 0; i < width; i++)
            if (slots[i].fd != -1) {
                map[n] = i;
                pfd[n++] = (struct pollfd){
                    .fd = slots[i].fd,
                    .events = slots[i].connected ? POLLIN : POLLOUT};
                busy++;
            }
        if (busy == 0 && started >= l->total)
            break;
        if (now_ms() >= deadline || (l->stop_at_ms != 0 && now_ms() >= l->stop_at_ms))
            break;
        int fixed = n;
        if (l->log_fd != -1 && !l->log_eof) {
            map[n] = -1;
            pfd[n++] = (struct pollfd){.fd = l->log_fd, .events = POLLIN};
        }
        if (l->err_fd != -1) {
            map[n] = -2;
            pfd[n++] = (struct pollfd){.fd = l->err_fd, .events = POLLIN};
        }
        int rc = poll(pfd, (nfds_t)n, 100);
        if (rc == -1 && errno != EINTR)
            return -1;
        for (int k = 0; rc > 0 && k < n; k++) {
            if (pfd[k].revents == 0)
                continue;
            if (k >= fixed) {
                if (!drain_once(l, pfd[k].fd)) {
                    if (map[k] == -2)
                        l->err_fd = -1;
                    else
                        l->log_eof = 1;
                }
                continue;
            }
            struct slot *s = &slots[map[k]];
            slot_event(l, s);
            if (s->fd == -1)
                finished++;
        }
        if (!hooked && l->hook != NULL && l->hook_after > 0 &&
            finished >= l->hook_after)
            hooked = !l->hook(l, finished);
    }
    for (int i = 0; i < width; i++)
        if (slots[i].fd != -1 && slots[i].got > 0) {
            finish(l, &slots[i]);       /* cut short: partial, or wrong */
        } else if (slots[i].fd != -1) {
            l->unfinished++;
            close(slots[i].fd);
        }
    return 0;
}
