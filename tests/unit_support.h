/*
 * unit_support.h - what the unit tests of server.c and client.c share:
 * capturing what a function prints, and handing getopt a fresh argv.
 *
 * Include after cmocka.h.  Everything here is static inline so that each
 * test program uses only what it needs without unused-function warnings.
 */
#ifndef UNIT_SUPPORT_H
#define UNIT_SUPPORT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Enough for any message or usage text, and for a 1024-byte reply. */
#define CAPTURED_MAX 4096

/* One captured stream: fd now writes to a temporary file; saved is a copy
 * of what fd was before, put back by capture_stop.  Kept here, not on the
 * test's stack, so a teardown can still undo it after a failed assertion. */
struct capture {
    int saved;
    FILE *file;
};

static struct capture captures[3];  /* by fd: stdin (unused), stdout, stderr */

static inline void capture_start(int fd)
{
    struct capture *c = &captures[fd];
    assert_true(fd == STDOUT_FILENO || fd == STDERR_FILENO);
    assert_null(c->file);
    /* Whatever stdio holds for the real stream must go there, not to the file. */
    assert_int_equal(fflush(NULL), 0);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(fd);
    assert_true(c->saved != -1);
    assert_true(dup2(fileno(c->file), fd) != -1);
}

/* Puts fd back and returns what was written to it, NUL-ended in buf. */
static inline size_t capture_stop(int fd, char *buf, size_t size)
{
    struct capture *c = &captures[fd];
    FILE *file = c->file;
    assert_non_null(file);
    c->file = NULL;
    assert_int_equal(fflush(NULL), 0);
    assert_true(dup2(c->saved, fd) != -1);
    assert_int_equal(close(c->saved), 0);
    rewind(file);
    size_t n = fread(buf, 1, size - 1, file);
    buf[n] = '\0';
    assert_int_equal(fclose(file), 0);
    return n;
}

/* For a teardown: if a test failed while capturing, put the streams back
 * and show what was captured, so the failure is not silent. */
static inline void capture_abandon(void)
{
    char text[CAPTURED_MAX];
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
        if (captures[fd].file != NULL) {
            size_t n = capture_stop(fd, text, sizeof text);
            fprintf(stderr, "captured %s (%zu bytes): %s\n",
                    fd == STDOUT_FILENO ? "stdout" : "stderr", n, text);
        }
}

/* getopt keeps its place in globals: start each parse afresh.  The
 * strings are copied, because a program may keep pointers into argv. */
struct argv_copy {
    char text[16][128];
    char *argv[17];
    int argc;
};

static inline void argv_build(struct argv_copy *a, const char *program,
                              const char *const args[])
{
    a->argc = 0;
    snprintf(a->text[0], sizeof a->text[0], "%s", program);
    a->argv[a->argc++] = a->text[0];
    for (int i = 0; args[i] != NULL; i++) {
        assert_true(a->argc < 16);
        snprintf(a->text[a->argc], sizeof a->text[0], "%s", args[i]);
        a->argv[a->argc] = a->text[a->argc];
        a->argc++;
    }
    a->argv[a->argc] = NULL;
#ifdef __GLIBC__
    /* glibc also remembers where it was inside an argument ("-hx"), and
     * forgets that only when optind is set to 0. */
    optind = 0;
#else
    optind = 1;
#endif
}

#endif
