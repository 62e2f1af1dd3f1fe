/* test_storm.c -- storm control (common/storm.c) against a real redis-server, which
 * the test starts itself on a free loopback port and stops at the end (the server
 * also dies with this process: PR_SET_PDEATHSIG). No redis-server in PATH is a
 * failure, not a skip: CI installs it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis.h>

#include "log.h"
#include "rconn.h"
#include "storm.h"
#include "util.h"

#define T0 1795600800000LL /* 2026-11-25T10:00:00Z: simulated wall time */
#define P "t:"             /* key prefix */

static pid_t server_pid = -1;
static int server_port;
static char server_dir[64];
static redisContext *raw;   /* for looking at the keys */
static struct rconn c1, c2; /* two consumers */

/* ---- the redis-server ---- */

static bool in_path(const char *prog, char *out, size_t size)
{
    const char *path = getenv("PATH");
    char dir[1024];

    while (path && *path) {
        size_t len = strcspn(path, ":");
        int w;
        if (len > 0 && len < sizeof(dir)) {
            memcpy(dir, path, len);
            dir[len] = '\0';
            w = snprintf(out, size, "%s/%s", dir, prog);
            if (w > 0 && (size_t)w < size && access(out, X_OK) == 0)
                return true;
        }
        path += len;
        if (*path == ':')
            path++;
    }
    return false;
}

/* A port that was free a moment ago. */
static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void stop_server(void)
{
    int status;

    if (server_pid <= 0)
        return;
    kill(server_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
            server_pid = -1;
            return;
        }
        usleep(20000);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &status, 0);
    server_pid = -1;
}

/* Start redis-server on a free port; true once it answers PING. */
static bool start_server(const char *exe)
{
    char port[16], logfile[128];
    int status;

    if ((server_port = free_port()) < 0)
        return false;
    snprintf(port, sizeof(port), "%d", server_port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", server_dir);
    server_pid = fork();
    if (server_pid < 0)
        return false;
    if (server_pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
        }
        execl(exe, exe, "--port", port, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", "--dir", server_dir, "--logfile",
              logfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) { /* 5 s */
        struct timeval tv = {0, 200000};
        redisContext *ctx;
        if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
            server_pid = -1;
            return false;
        }
        ctx = redisConnectWithTimeout("127.0.0.1", server_port, tv);
        if (ctx && !ctx->err) {
            redisReply *rep = redisCommand(ctx, "PING");
            bool ok = rep && rep->type == REDIS_REPLY_STATUS;
            if (rep)
                freeReplyObject(rep);
            if (ok) {
                raw = ctx;
                return true;
            }
        }
        if (ctx)
            redisFree(ctx);
        usleep(20000);
    }
    stop_server();
    return false;
}

static int group_setup(void **state)
{
    char exe[1024];

    (void)state;
    log_init("test_storm", LOG_ERROR, LOG_TEXT);
    if (!in_path("redis-server", exe, sizeof(exe))) {
        fprintf(stderr,
                "test_storm: FAILED: redis-server is not installed (not in PATH); "
                "this test needs a real Redis: apt-get install redis-server\n");
        return -1;
    }
    snprintf(server_dir, sizeof(server_dir), "/tmp/test_storm.XXXXXX");
    if (!mkdtemp(server_dir)) {
        fprintf(stderr, "test_storm: FAILED: mkdtemp\n");
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) /* the port may be taken meanwhile */
        if (start_server(exe))
            return 0;
    fprintf(stderr, "test_storm: FAILED: %s did not start; see %s/redis.log\n", exe,
            server_dir);
    return -1;
}

static int group_teardown(void **state)
{
    char path[128];

    (void)state;
    if (raw)
        redisFree(raw);
    raw = NULL;
    stop_server();
    snprintf(path, sizeof(path), "%s/redis.log", server_dir);
    unlink(path);
    rmdir(server_dir);
    return 0;
}

/* Each test: an empty Redis and two consumer connections. */
static int setup(void **state)
{
    redisReply *rep;

    (void)state;
    rep = redisCommand(raw, "FLUSHALL");
    if (!rep)
        return -1;
    freeReplyObject(rep);
    rconn_init(&c1, "127.0.0.1", server_port, 0, NULL, 2000);
    rconn_init(&c2, "127.0.0.1", server_port, 0, NULL, 2000);
    if (storm_setup(&c1) < 0 || storm_setup(&c2) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rconn_release(&c1);
    rconn_release(&c2);
    return 0;
}

/* An integer reply to a raw command (asserts it is one). */
static long long raw_int(int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(raw, argc, argv, NULL);
    long long v;

    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static long long digest_len(const char *rcv)
{
    char key[STORM_MAX_KEY];
    const char *argv[] = {"LLEN", key};

    snprintf(key, sizeof(key), P "storm:{%s}:digest", rcv);
    return raw_int(2, argv);
}

static bool is_pending(const char *rcv)
{
    const char *argv[] = {"SISMEMBER", P "storm:pending", rcv};

    return raw_int(3, argv) == 1;
}

/* Fold n lines "<tag> <i>" at now. */
static void fold_n(struct rconn *r, const char *rcv, const char *tag, int n, int64_t now)
{
    char err[256];
    char(*text)[64] = calloc((size_t)n, sizeof(*text));
    const char **lines = calloc((size_t)n, sizeof(*lines));

    assert_non_null(text);
    assert_non_null(lines);
    for (int i = 0; i < n; i++) {
        snprintf(text[i], sizeof(text[i]), "%s %d", tag, i);
        lines[i] = text[i];
    }
    assert_int_equal(storm_fold(r, P, rcv, (const char *const *)lines, (size_t)n, now,
                                err, sizeof(err)),
                     0);
    free(lines);
    free(text);
}

/* ---- the token bucket ---- */

static void test_burst_then_rate(void **state)
{
    const struct storm_limit lim = {1.0, 3};
    char err[256];

    (void)state;
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0, 30, err, sizeof(err)), 3);
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0, 30, err, sizeof(err)), 0);
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 900, 1, err, sizeof(err)), 0);
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 1100, 30, err, sizeof(err)), 1);
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 1100, 30, err, sizeof(err)), 0);
    /* 0.1 left + 0.9 s */
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 2000, 30, err, sizeof(err)), 1);
    /* a long pause refills to the burst, not beyond */
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 600000, 30, err, sizeof(err)),
                     3);
    /* a clock behind the bucket's refills nothing */
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 500000, 30, err, sizeof(err)),
                     0);
    /* receivers have separate buckets; want 0 takes nothing */
    assert_int_equal(storm_take(&c1, P, "s3", &lim, T0 + 600000, 0, err, sizeof(err)), 0);
    assert_int_equal(storm_take(&c1, P, "lambda", &lim, T0, 2, err, sizeof(err)), 2);
    assert_int_equal(storm_take(&c1, P, "lambda", &lim, T0, 2, err, sizeof(err)), 1);
    /* NULL limit: the defaults */
    assert_int_equal(storm_take(&c1, P, "dflt", NULL, T0, 30, err, sizeof(err)),
                     STORM_DEFAULT_BURST);
    /* fractional rates */
    const struct storm_limit slow = {0.5, 1};
    assert_int_equal(storm_take(&c1, P, "slow", &slow, T0, 5, err, sizeof(err)), 1);
    assert_int_equal(storm_take(&c1, P, "slow", &slow, T0 + 1999, 5, err, sizeof(err)),
                     0);
    assert_int_equal(storm_take(&c1, P, "slow", &slow, T0 + 2000, 5, err, sizeof(err)),
                     1);
}

/* The same on the wall clock, as the consumer calls it. */
static void test_burst_wall_clock(void **state)
{
    const struct storm_limit lim = {1.0, 3};
    int64_t t1, t2;
    char err[256];
    int expect;

    (void)state;
    t1 = util_now_ms();
    assert_int_equal(storm_take(&c1, P, "s3", &lim, t1, 30, err, sizeof(err)), 3);
    /* At least 1.1 s of wall-clock time (the sleep counts monotonic time, in steps) */
    while ((t2 = util_now_ms()) - t1 < 1100)
        util_sleep_ms(1100 - (t2 - t1), NULL);
    assert_true(t2 - t1 >= 1100);
    expect = (int)((t2 - t1) / 1000);
    if (expect > 3)
        expect = 3;
    assert_int_equal(storm_take(&c1, P, "s3", &lim, t2, 30, err, sizeof(err)), expect);
    assert_int_equal(expect, 1); /* unless the host stalled for a second */
}

static void test_two_connections_share(void **state)
{
    const struct storm_limit lim = {2.0, 4};
    char err[256];
    int total = 0, g;

    (void)state;
    /* 10 s in steps of 100 ms, the two consumers alternating, each wanting 2 */
    for (int step = 0; step <= 100; step++) {
        struct rconn *r = step % 2 ? &c2 : &c1;
        g = storm_take(r, P, "ci", &lim, T0 + step * 100, 2, err, sizeof(err));
        assert_true(g >= 0 && g <= 2);
        total += g;
    }
    /* burst + rate * seconds, exactly (the bucket never idles full) */
    assert_int_equal(total, 4 + 2 * 10);
}

struct hammer {
    struct rconn r;
    int granted, calls;
    int64_t first_ms, last_ms;
    int errors;
};

static void *hammer_run(void *arg)
{
    const struct storm_limit lim = {5.0, 3};
    struct hammer *h = arg;
    int64_t end;
    char err[256];

    h->first_ms = util_now_ms();
    end = h->first_ms + 1500;
    for (int64_t now = h->first_ms; now < end; now = util_now_ms()) {
        int g = storm_take(&h->r, P, "hammer", &lim, now, 1, err, sizeof(err));
        h->calls++;
        if (g < 0)
            h->errors++;
        else
            h->granted += g;
        h->last_ms = now;
    }
    return NULL;
}

/* Two threads on their own connections, as two consumer processes would. */
static void test_two_connections_concurrent(void **state)
{
    struct hammer h[2];
    pthread_t th[2];
    int64_t first, last;
    double bound;

    (void)state;
    memset(h, 0, sizeof(h));
    for (int i = 0; i < 2; i++) {
        rconn_init(&h[i].r, "127.0.0.1", server_port, 0, NULL, 2000);
        assert_int_equal(storm_setup(&h[i].r), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        rconn_release(&h[i].r);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(h[i].errors, 0);
        assert_true(h[i].calls > 0);
    }
    first = h[0].first_ms < h[1].first_ms ? h[0].first_ms : h[1].first_ms;
    last = h[0].last_ms > h[1].last_ms ? h[0].last_ms : h[1].last_ms;
    bound = 3 + 5.0 * (double)(last - first) / 1000.0;
    assert_true(h[0].granted + h[1].granted <= (int)bound);
    /* and the limit is not starved: at least the rate minus one refill step */
    assert_true(h[0].granted + h[1].granted >= (int)bound - 2);
}

/* ---- the digest ---- */

static void test_fold_claim_done(void **state)
{
    struct storm_digest d, d2;
    char err[256];
    char **names = NULL;
    size_t n = 0;

    (void)state;
    fold_n(&c1, "s3", "s3 · post-submit failed: s3-post-submit build", 20, T0);
    fold_n(&c2, "s3", "late", 7, T0 + 5);
    assert_int_equal(digest_len("s3"), 27);
    assert_true(is_pending("s3"));
    assert_int_equal(storm_pending(&c1, P, &names, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "s3");
    free(names[0]);
    free(names);

    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0 + 10, 30000, 20, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, 27);
    assert_int_equal(d.nlines, 20);
    assert_int_equal(d.first_ms, T0);
    assert_string_equal(d.lines[0], "s3 · post-submit failed: s3-post-submit build 0");
    assert_string_equal(d.lines[19], "s3 · post-submit failed: s3-post-submit build 19");
    assert_int_equal(strlen(d.lock), 32);

    /* another consumer: locked, so nothing (and no token taken) */
    assert_int_equal(
        storm_digest_claim(&c2, P, "s3", NULL, T0 + 10, 30000, 20, &d2, err, sizeof(err)),
        0);
    assert_int_equal(d2.nlines, 0);
    assert_null(d2.lines);

    assert_int_equal(storm_digest_done(&c1, P, "s3", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    storm_digest_release(&d); /* twice is harmless */
    storm_digest_release(NULL);
    assert_int_equal(digest_len("s3"), 0);
    assert_false(is_pending("s3"));
    assert_int_equal(storm_pending(&c2, P, &names, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_null(names);

    /* the lock is free and the digest empty: nothing to claim */
    assert_int_equal(
        storm_digest_claim(&c2, P, "s3", NULL, T0 + 20, 30000, 20, &d2, err, sizeof(err)),
        0);
    /* the claim took one token of the default 3, the locked one none */
    assert_int_equal(storm_take(&c1, P, "s3", NULL, T0 + 10, 30, err, sizeof(err)), 2);
}

static void test_claim_needs_token(void **state)
{
    const struct storm_limit lim = {1.0, 2};
    struct storm_digest d;
    char err[256];

    (void)state;
    assert_int_equal(storm_take(&c1, P, "ci", &lim, T0, 2, err, sizeof(err)), 2);
    fold_n(&c1, "ci", "over", 3, T0);
    assert_int_equal(
        storm_digest_claim(&c1, P, "ci", &lim, T0 + 500, 10000, 10, &d, err, sizeof(err)),
        0);
    assert_true(is_pending("ci"));
    assert_int_equal(storm_digest_claim(&c2, P, "ci", &lim, T0 + 1000, 10000, 10, &d, err,
                                        sizeof(err)),
                     1);
    assert_int_equal(d.total, 3);
    assert_int_equal(d.nlines, 3);
    assert_string_equal(d.lines[2], "over 2");
    assert_int_equal(storm_digest_done(&c2, P, "ci", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    /* max_lines 0: only the count */
    fold_n(&c1, "ci", "again", 4, T0 + 1500);
    assert_int_equal(
        storm_digest_claim(&c1, P, "ci", &lim, T0 + 3000, 10000, 0, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, 4);
    assert_int_equal(d.nlines, 0);
    assert_int_equal(d.first_ms, T0 + 1500);
    assert_int_equal(storm_digest_done(&c1, P, "ci", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    assert_int_equal(digest_len("ci"), 0);
}

static void test_fold_during_claim(void **state)
{
    struct storm_digest d;
    char err[256];

    (void)state;
    fold_n(&c1, "s3", "early", 5, T0);
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0 + 1, 30000, 20, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, 5);
    fold_n(&c2, "s3", "newer", 1, T0 + 2);
    assert_int_equal(storm_digest_done(&c1, P, "s3", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    assert_int_equal(digest_len("s3"), 1);
    assert_true(is_pending("s3"));

    assert_int_equal(
        storm_digest_claim(&c2, P, "s3", NULL, T0 + 3, 30000, 20, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, 1);
    assert_int_equal(d.nlines, 1);
    assert_string_equal(d.lines[0], "newer 0");
    assert_int_equal(d.first_ms, T0 + 2);
    assert_int_equal(storm_digest_done(&c2, P, "s3", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    assert_false(is_pending("s3"));
}

static void test_abort_and_lease(void **state)
{
    struct storm_digest a, b;
    char err[256];

    (void)state;
    fold_n(&c1, "s3", "x", 3, T0);
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0, 30000, 20, &a, err, sizeof(err)), 1);
    assert_int_equal(storm_digest_abort(&c1, P, "s3", &a, err, sizeof(err)), 0);
    storm_digest_release(&a);
    assert_int_equal(digest_len("s3"), 3);
    assert_true(is_pending("s3"));

    /* the lines stay for the next claim; this one dies holding a 200 ms lease */
    assert_int_equal(
        storm_digest_claim(&c2, P, "s3", NULL, T0 + 1000, 200, 20, &a, err, sizeof(err)),
        1);
    assert_int_equal(a.total, 3);
    assert_string_equal(a.lines[0], "x 0");
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0 + 2000, 200, 20, &b, err, sizeof(err)),
        0);
    util_sleep_ms(300, NULL);
    assert_int_equal(storm_digest_claim(&c1, P, "s3", NULL, T0 + 3000, 30000, 20, &b, err,
                                        sizeof(err)),
                     1);
    assert_int_equal(b.total, 3);
    assert_string_equal(b.lines[2], "x 2");
    assert_string_not_equal(a.lock, b.lock);

    /* one more alert while b is in flight; b delivers */
    fold_n(&c2, "s3", "y", 1, T0 + 3100);
    assert_int_equal(storm_digest_done(&c1, P, "s3", &b, err, sizeof(err)), 0);
    assert_int_equal(digest_len("s3"), 1);
    /* a comes back late: its lines are gone already, and "y" is nobody's yet */
    assert_int_equal(storm_digest_done(&c2, P, "s3", &a, err, sizeof(err)), 0);
    assert_int_equal(digest_len("s3"), 1);
    assert_true(is_pending("s3"));
    storm_digest_release(&a);
    storm_digest_release(&b);

    /* a late done before the new holder's done trims its own lines only once */
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0 + 5000, 200, 20, &a, err, sizeof(err)),
        1);
    util_sleep_ms(300, NULL);
    assert_int_equal(storm_digest_claim(&c2, P, "s3", NULL, T0 + 6000, 30000, 20, &b, err,
                                        sizeof(err)),
                     1);
    fold_n(&c1, "s3", "z", 2, T0 + 6100);
    assert_int_equal(storm_digest_done(&c1, P, "s3", &a, err, sizeof(err)), 0);
    storm_digest_release(&a);
    assert_int_equal(digest_len("s3"), 2);
    /* a did not release b's lock */
    assert_int_equal(storm_digest_claim(&c1, P, "s3", NULL, T0 + 9000, 30000, 20, &a, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(storm_digest_done(&c2, P, "s3", &b, err, sizeof(err)), 0);
    assert_int_equal(digest_len("s3"), 2);
    storm_digest_release(&b);
    assert_int_equal(storm_digest_claim(&c1, P, "s3", NULL, T0 + 9000, 30000, 20, &a, err,
                                        sizeof(err)),
                     1);
    assert_int_equal(a.total, 2);
    assert_string_equal(a.lines[0], "z 0");
    assert_int_equal(storm_digest_done(&c1, P, "s3", &a, err, sizeof(err)), 0);
    storm_digest_release(&a);
    assert_int_equal(digest_len("s3"), 0);
    assert_false(is_pending("s3"));
}

/* Past STORM_MAX_DIGEST lines alerts are counted only; the numbers still add up. */
static void test_digest_bounded(void **state)
{
    struct storm_digest d;
    char err[256];
    int left = STORM_MAX_DIGEST + 5;

    (void)state;
    while (left > 0) {
        int n = left > STORM_MAX_FOLD ? STORM_MAX_FOLD : left;
        fold_n(&c1, "big", "b", n, T0);
        left -= n;
    }
    assert_int_equal(digest_len("big"), STORM_MAX_DIGEST);
    assert_int_equal(
        storm_digest_claim(&c1, P, "big", NULL, T0, 30000, 5000, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, STORM_MAX_DIGEST + 5);
    assert_int_equal(d.nlines, STORM_MAX_CLAIM);
    assert_int_equal(d.first_ms, T0);
    fold_n(&c2, "big", "c", 1, T0 + 1); /* list still full: counted only */
    assert_int_equal(storm_digest_done(&c1, P, "big", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    assert_int_equal(digest_len("big"), 0);
    assert_true(is_pending("big"));
    assert_int_equal(
        storm_digest_claim(&c1, P, "big", NULL, T0 + 2, 30000, 10, &d, err, sizeof(err)),
        1);
    assert_int_equal(d.total, 1);
    assert_int_equal(d.nlines, 0);
    assert_int_equal(d.first_ms, T0 + 1);
    assert_int_equal(storm_digest_done(&c1, P, "big", &d, err, sizeof(err)), 0);
    storm_digest_release(&d);
    assert_false(is_pending("big"));

    /* too many lines in one call */
    const char *one[] = {"l"};
    const char **many = calloc(STORM_MAX_FOLD + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= STORM_MAX_FOLD; i++)
        many[i] = one[0];
    assert_int_equal(storm_fold(&c1, P, "big", (const char *const *)many,
                                STORM_MAX_FOLD + 1, T0, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "at most"));
    free(many);
}

/* A long line is cut at a character boundary. */
static void test_long_line(void **state)
{
    char *line = malloc(1 + 1500 * 2 + 1);
    const char *lines[1];
    struct storm_digest d;
    char err[256];

    (void)state;
    assert_non_null(line);
    line[0] = 'a';
    for (int i = 0; i < 1500; i++)
        memcpy(line + 1 + 2 * i, "\xc3\xa9", 2); /* é */
    line[1 + 3000] = '\0';
    lines[0] = line;
    assert_int_equal(storm_fold(&c1, P, "s3", lines, 1, T0, err, sizeof(err)), 0);
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0, 30000, 10, &d, err, sizeof(err)), 1);
    assert_int_equal(d.nlines, 1);
    assert_int_equal(strlen(d.lines[0]), STORM_MAX_LINE - 1);
    assert_true(util_utf8_valid(d.lines[0], strlen(d.lines[0])));
    assert_memory_equal(d.lines[0], line, STORM_MAX_LINE - 1);
    storm_digest_release(&d);
    free(line);
}

static void test_pending_many(void **state)
{
    char err[256];
    char **names = NULL;
    size_t n = 0;
    int seen = 0;

    (void)state;
    fold_n(&c1, "a", "x", 1, T0);
    fold_n(&c1, "b", "x", 1, T0);
    fold_n(&c2, "c", "x", 1, T0);
    assert_int_equal(storm_pending(&c1, P, &names, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(names[i], "a"))
            seen |= 1;
        else if (!strcmp(names[i], "b"))
            seen |= 2;
        else if (!strcmp(names[i], "c"))
            seen |= 4;
        free(names[i]);
    }
    free(names);
    assert_int_equal(seen, 7);
    /* another prefix is another namespace */
    assert_int_equal(storm_pending(&c1, "other:", &names, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
}

/* Redis restarted (scripts gone): reconnect, reload, retry once. */
static void test_noscript_retry(void **state)
{
    redisReply *rep;
    char err[256];

    (void)state;
    assert_int_equal(storm_take(&c1, P, "s3", NULL, T0, 1, err, sizeof(err)), 1);
    rep = redisCommand(raw, "SCRIPT FLUSH");
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(storm_take(&c1, P, "s3", NULL, T0, 1, err, sizeof(err)), 1);
    fold_n(&c1, "s3", "x", 1, T0);
    assert_int_equal(digest_len("s3"), 1);
}

static void test_errors(void **state)
{
    const struct storm_limit zero = {0.0, 3}, noburst = {1.0, 0};
    struct rconn bare, down;
    struct storm_digest d;
    char err[256], name[STORM_MAX_NAME + 2];
    const char *lines[] = {"x", NULL};
    int port;

    (void)state;
    err[0] = '\0';
    assert_int_equal(storm_take(&c1, P, "s3", &zero, T0, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "limit"));
    assert_int_equal(storm_take(&c1, P, "s3", &noburst, T0, 1, err, sizeof(err)), -1);
    assert_int_equal(storm_take(&c1, P, "", NULL, T0, 1, err, sizeof(err)), -1);
    assert_int_equal(storm_take(&c1, NULL, "s3", NULL, T0, 1, err, sizeof(err)), -1);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(storm_take(&c1, P, name, NULL, T0, 1, err, sizeof(err)), -1);
    assert_int_equal(storm_fold(&c1, P, "s3", lines, 2, T0, err, sizeof(err)), -1);
    assert_int_equal(digest_len("s3"), 0);
    assert_int_equal(
        storm_digest_claim(&c1, P, "s3", NULL, T0, 0, 10, &d, err, sizeof(err)), -1);
    assert_int_equal(d.nlines, 0);
    memset(&d, 0, sizeof(d));
    assert_int_equal(storm_digest_done(&c1, P, "s3", &d, err, sizeof(err)), -1);

    /* storm_setup() not called on this connection */
    rconn_init(&bare, "127.0.0.1", server_port, 0, NULL, 2000);
    err[0] = '\0';
    assert_int_equal(storm_take(&bare, P, "s3", NULL, T0, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "storm_setup"));
    assert_int_equal(storm_setup(&bare), 0);
    assert_int_equal(storm_setup(&bare), 0); /* once is enough */
    assert_int_equal(bare.nscripts, 1);
    rconn_release(&bare);

    /* Redis unreachable */
    port = free_port();
    assert_true(port > 0);
    rconn_init(&down, "127.0.0.1", port, 0, NULL, 500);
    assert_int_equal(storm_setup(&down), 0);
    err[0] = '\0';
    assert_int_equal(storm_take(&down, P, "s3", NULL, T0, 1, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(
        storm_digest_claim(&down, P, "s3", NULL, T0, 1000, 10, &d, err, sizeof(err)), -1);
    assert_null(d.lines);
    rconn_release(&down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_then_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_wall_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fold_claim_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_needs_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fold_during_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noscript_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
