/*
 * harness.h - run the real ./server and ./client from C tests, with deadlines.
 *
 * Every process started here is killed at exit if still running, so no test
 * leaves one behind.  Environment:
 *   PAIR_DIR    where the programs are (default: the current folder)
 *   RUN_UNDER   a command to run them under, split on spaces (valgrind ...)
 *   TIME_SCALE  multiplies every deadline (default 1)
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <sys/types.h>

#define GREETING "Thank you for connecting\r\n"
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

struct proc {
    pid_t pid;
    int out, err;  /* read ends of its stdout and stderr */
};

/* How to start it, besides stdin on /dev/null. */
enum { IGNORE_SIGINT = 1 };

int scaled(int ms);
long long now_ms(void);

/* Starts PAIR_DIR/program with args; returns 0 or -1. */
int start(struct proc *p, const char *program, const char *const args[], int how);

/* Waits at most ms for p to end, then kills it.  Returns its exit status,
 * 128 + the signal that ended it (as a shell does), or -1 at the deadline. */
int finish(struct proc *p, int ms);

/* Sends sig, then finish(p, 2000). */
int stop(struct proc *p, int sig);

/* Starts ./server with args and reads its "Listening on" line: returns the
 * port, or -1. */
int start_server(struct proc *p, const char *const args[], int how);

/* Reads into buf (NUL-ended) until EOF, a full buffer, a line end if
 * one_line, or ms.  Returns the count. */
size_t read_for(int fd, char *buf, size_t size, int ms, int one_line);

/* Runs ./client with args to the end; out and err get what it printed. */
int run_client(const char *const args[], char *out, size_t out_size,
               char *err, size_t err_size);

/* Blocking loopback helpers: a connected socket, or a listener on a port
 * the kernel picks (*port).  Both fail the test on error. */
int tcp_connect(const char *address, int port);
int tcp_listen(const char *address, int *port);

/* A port that was free a moment ago (bound, then released). */
int free_port(const char *address);

/* Whether this machine has IPv6 on loopback (not in every container). */
int have_ipv6(void);

#endif
