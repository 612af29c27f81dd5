/*
 * abuse.h - raw sockets, /proc readings and a many-connection load for the
 * abuse tests (tests that the server and client survive hostile peers).
 *
 * Everything talks to 127.0.0.1 only.  Every wait has a deadline.
 */
#ifndef ABUSE_H
#define ABUSE_H

#include <stddef.h>
#include <sys/types.h>

#define GREETING "Thank you for connecting\r\n"
#define GREETING_LEN (sizeof GREETING - 1)
#define LOG_PREFIX "Got a connection from "

/* Milliseconds on the monotonic clock. */
long now_ms(void);

/* Sleeps ms milliseconds (a signal does not cut it short). */
void sleep_ms(int ms);

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel.
 * Returns the socket and sets *port, or -1. */
int listen_loopback(int backlog, int *port);

/* Accepts one connection, waiting at most ms.  Returns it or -1. */
int accept_within(int listener, int ms);

/* A non-blocking socket connecting to 127.0.0.1:port.  Returns it or -1. */
int connect_start(int port);

/* Waits at most ms for connect_start's connection: 1 connected,
 * 0 still connecting at the deadline, -1 failed (errno says why). */
int connect_wait(int fd, int ms);

/* Makes the next close() send a reset (RST) instead of a normal FIN. */
int set_linger_zero(int fd);

/* Reads from a socket until EOF, size bytes or ms pass (0: only what has
 * already arrived).  Returns the byte count (-1 if nothing came before an
 * error); *eof tells if EOF was seen. */
ssize_t recv_all(int fd, char *buf, size_t size, int ms, int *eof);

/* 1 if program is an executable file in a folder of PATH. */
int on_path(const char *program);

/* Runs argv (argv[0] found on PATH) to completion, at most ms; its output
 * is read and dropped.  Returns its exit status as proc_wait does. */
int run_command(const char *const argv[], int ms);

/* 1 if the child pid is still running (not exited, not a zombie). */
int child_running(pid_t pid);

/* Readings from /proc; -1 where /proc or the field is missing. */
int proc_fd_count(pid_t pid);
int proc_lowest_free_fd(pid_t pid);
long proc_status_kib(pid_t pid, const char *field);   /* "VmRSS", "RssAnon" */
long proc_cpu_ticks(pid_t pid);                       /* utime + stime */
long proc_soft_nofile(pid_t pid);                     /* soft RLIMIT_NOFILE */

/* A load of many short connections, several at a time, each reading the
 * greeting to EOF; it can also drain the server's stdout and stderr. */
struct load {
    /* set by the caller */
    int port;
    int total;            /* connections to start in this run */
    int concurrency;      /* at most this many at once (<= LOAD_MAX_SLOTS) */
    int deadline_ms;      /* the run stops here, finished or not */
    long stop_at_ms;      /* or at this now_ms() time, if not 0 */
    int log_fd;           /* server stdout to drain and count, or -1 */
    int err_fd;           /* server stderr to drain, or -1 */
    int hook_after;       /* once this many have finished (0: never), call */
    int (*hook)(struct load *l, int finished);   /* ...until it returns 0 */
    void *user;
    /* results, added to (zero them before the first run) */
    int started;
    int greeted;          /* got exactly the greeting, then EOF */
    int empty;            /* connected, then EOF or reset before any byte */
    int refused;          /* connect failed */
    int partial;          /* some of the greeting, then EOF or reset */
    int wrong;            /* bytes that are not (a prefix of) the greeting */
    int unfinished;       /* still open at the deadline, not a byte read */
    int log_lines;        /* lines starting with LOG_PREFIX */
    int other_lines;      /* any other stdout line */
    int log_eof;          /* stdout reached EOF */
    size_t err_bytes;     /* stderr bytes seen */
    char err_text[512];   /* the first of them */
    char line[256];       /* a stdout line being assembled */
    size_t line_len;
};

#define LOAD_MAX_SLOTS 64

/* Runs the load; returns 0, or -1 if a system call failed. */
int load_run(struct load *l);

/* Reads whatever the server's stdout and stderr hold, waiting at most ms
 * (0: only what is already there), stopping early at stdout EOF. */
void load_drain(struct load *l, int ms);

#endif
