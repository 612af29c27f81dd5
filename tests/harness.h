/*
 * harness.h - run the real ./server and ./client from tests, with deadlines.
 *
 * Every process started here is remembered, and killed if a test fails or
 * runs out of time, so no test can hang and none leaves a process behind.
 *
 * Environment:
 *   PAIR_DIR   where ./server and ./client are (default: the current folder)
 *   RUN_UNDER  a command to run them under, split on spaces, e.g.
 *              "valgrind -q --error-exitcode=99 --leak-check=full"
 *   TIME_SCALE multiply every deadline (default 1; 10 under valgrind)
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int out;     /* read end of the child's stdout, or -1 */
    int err;     /* read end of the child's stderr, or -1 */
};

/* Exit statuses proc_wait returns besides a program's own 0..255. */
#define PROC_TIMEOUT (-1)              /* still running at the deadline: killed */
#define PROC_SIGNALLED(sig) (256 + (sig))

/* Deadlines scaled by TIME_SCALE. */
int scaled_ms(int ms);

/* Kills every child and exits if the whole test binary runs past seconds. */
void harness_guard(unsigned seconds);

/* Starts PAIR_DIR/program (under RUN_UNDER) with args (NULL-ended), with
 * stdin from /dev/null and stdout/stderr on pipes.  Returns 0 or -1. */
int proc_start(struct proc *p, const char *program, const char *const args[]);

/* Like proc_start, but runs argv as given (argv[0] found on PATH), not under RUN_UNDER. */
int proc_start_raw(struct proc *p, const char *const argv[]);

/* Reads one line (without the newline) from fd, waiting at most ms.
 * Returns its length, or -1 on timeout, EOF before a newline, or error. */
ssize_t read_line(int fd, char *buf, size_t size, int ms);

/* Reads until EOF or size bytes, waiting at most ms in all.
 * Returns the count (possibly short on timeout); buf is NUL-ended if room. */
ssize_t read_all(int fd, char *buf, size_t size, int ms);

/* Waits at most ms for the child to end; kills it at the deadline.
 * Returns its exit status, PROC_SIGNALLED(sig) or PROC_TIMEOUT.
 * Closes its pipes. */
int proc_wait(struct proc *p, int ms);

/* Sends sig, then proc_wait(p, ms). */
int proc_stop(struct proc *p, int sig, int ms);

/* Starts "server -b address 0" and reads its "Listening on" line.
 * Returns the port it listens on, or -1 (the child is then killed). */
int server_start(struct proc *p, const char *address);

/* Runs client with args to completion (at most ms), capturing its output.
 * Returns its exit status as proc_wait does; out/err get what it printed
 * (NUL-ended), *out_len the byte count of stdout. */
int client_run(const char *const args[], char *out, size_t out_size,
               size_t *out_len, char *err, size_t err_size, int ms);

/* The arguments quoted, as "'-b' '' '7'", for messages about a failing case
 * (a static buffer: valid until the next call). */
const char *args_text(const char *const args[]);

/* Kills and reaps every child still running (also called at exit). */
void harness_cleanup(void);

#endif
