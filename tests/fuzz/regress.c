/* regress.c -- run one fuzz target's entry point over its kept inputs, without
 * libFuzzer, as a cmocka test per file (so `make test` and `make test-asan` run every
 * input that ever crashed a target, with gcc or clang).
 *
 * Built by the Makefile once per target, linked with tests/fuzz/fuzz_<target>.c and
 * compiled with -DFUZZ_TARGET='"<target>"'. Runs, from the repository root:
 *   tests/fuzz/crashes/<target>-...   inputs that crashed the target once
 *   tests/fuzz/corpus/<target>/...    the seed corpus
 * Each input runs in a child process (the targets abort() on a broken invariant, and
 * AddressSanitizer ends the process), from a buffer of exactly its size so a read
 * past the end is caught under ASan. A child that dies or exits non-zero fails its
 * test, named by the file. No inputs at all is a failure too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET='\"event\"' (or config)"
#endif

#define REGRESS_MAX_FILES 4096
#define REGRESS_MAX_BYTES (1024 * 1024) /* libFuzzer runs use -max_len=65536 */
#define REGRESS_PATH_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *paths[REGRESS_MAX_FILES];
static size_t npaths;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add every regular file in dir whose name starts with prefix ("" for all). */
static void collect(const char *dir, const char *prefix)
{
    char path[REGRESS_PATH_MAX];
    struct dirent *de;
    DIR *d = opendir(dir);
    size_t first = npaths;

    if (!d)
        return;
    while ((de = readdir(d)) != NULL && npaths < REGRESS_MAX_FILES) {
        int n;
        if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (!(paths[npaths] = strdup(path)))
            break;
        npaths++;
    }
    closedir(d);
    qsort(paths + first, npaths - first, sizeof(paths[0]), cmp_str);
}

/* One input through the target in a child process. */
static void run_file(void **state)
{
    const char *path = *state;
    char err[512];
    size_t len = 0;
    char *text = util_read_file(path, REGRESS_MAX_BYTES, &len, err, sizeof(err));
    uint8_t *exact;
    pid_t pid;
    int status;

    if (!text)
        fail_msg("%s", err);
    /* Exactly len bytes (malloc(0) may return NULL: keep one byte then). */
    exact = malloc(len ? len : 1);
    assert_non_null(exact);
    memcpy(exact, text, len);
    free(text);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        LLVMFuzzerTestOneInput(exact, len);
        _exit(0);
    }
    free(exact);
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFSIGNALED(status))
        fail_msg("%s: fuzz_%s died of signal %d (reproduce: make fuzz builds "
                 "build-fuzz/fuzz_%s; run it with this file)",
                 path, FUZZ_TARGET, WTERMSIG(status), FUZZ_TARGET);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: fuzz_%s exited with status %d", path, FUZZ_TARGET,
                 WEXITSTATUS(status));
}

static void no_inputs(void **state)
{
    (void)state;
    fail_msg("no inputs for fuzz_%s under tests/fuzz/ (run from the repository root)",
             FUZZ_TARGET);
}

int main(void)
{
    static struct CMUnitTest tests[REGRESS_MAX_FILES];
    int rc;

    collect("tests/fuzz/crashes", FUZZ_TARGET "-");
    collect("tests/fuzz/corpus/" FUZZ_TARGET, "");
    for (size_t i = 0; i < npaths; i++)
        tests[i] = (struct CMUnitTest){paths[i], run_file, NULL, NULL, paths[i]};
    if (npaths == 0) {
        tests[0] = (struct CMUnitTest){"no inputs", no_inputs, NULL, NULL, NULL};
        npaths = 1;
    }
    rc = _cmocka_run_group_tests("fuzz_" FUZZ_TARGET " kept inputs", tests, npaths, NULL,
                                 NULL);
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    return rc;
}
