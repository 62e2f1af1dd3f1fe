/* bucket.c -- see bucket.h. */
#include "bucket.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "http.h"
#include "jsonstream.h"
#include "log.h"
#include "prowlog.h"
#include "store.h"
#include "util.h"

enum task_kind {
    T_JOBS,  /* list a folder whose sub-folders are jobs */
    T_REPOS, /* pr-logs/pull/: sub-folders are <org_repo> (or batch) */
    T_PRS,   /* pr-logs/pull/<org_repo>/: sub-folders are PRs */
    T_JOB,   /* a job: sub-folders are runs */
    T_RUN,   /* a run: read it */
};

#define HAS_PROWJOB 1
#define HAS_STARTED 2
#define HAS_FINISHED 4
#define HAS_KNOWN 8 /* the listing said which of the three the run has */

struct task {
    enum task_kind kind;
    bool top;  /* logs/ or pr-logs/pull/ itself */
    int files; /* T_RUN from a recursive listing: HAS_* */
    struct task *next;
    char path[];
};

struct walk {
    const struct bucket_opts *o;
    struct store *st;
    struct replay *r;
    struct publisher *p;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *head, *tail;
    int busy;
    bool full, failed;
    char err[512];
    long listed, runs_found, runs_read, events, rejected;
};

static void push_task(struct walk *w, enum task_kind kind, const char *path, bool top,
                      int files)
{
    size_t n = strlen(path) + 1;
    struct task *t = malloc(sizeof(*t) + n);

    if (!t)
        return;
    t->kind = kind;
    t->top = top;
    t->files = files;
    t->next = NULL;
    memcpy(t->path, path, n);
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = t;
    else
        w->head = t;
    w->tail = t;
    if (kind == T_RUN)
        w->runs_found++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void push(struct walk *w, enum task_kind kind, const char *path)
{
    push_task(w, kind, path, false, 0);
}

static void reject(struct walk *w, const char *key, const char *why)
{
    char where[2048];
    if (store_kind(w->st)[0] == 'f')
        snprintf(where, sizeof(where), "bucket %s/%s", w->o->url, key);
    else
        snprintf(where, sizeof(where), "bucket %s://%s/%s", store_kind(w->st),
                 store_bucket(w->st), key);
    publisher_reject(w->p, where, why);
    pthread_mutex_lock(&w->mu);
    w->rejected++;
    pthread_mutex_unlock(&w->mu);
}

struct list_ctx {
    struct walk *w;
    enum task_kind kind;
    long entries;
    char last_run[STORE_MAX_KEY + 1]; /* recursive listing: the run of the last key */
    int last_files;                   /* ... and the HAS_* files seen in it */
};

static int in_range(struct walk *w, const char *build);

/* Recursive listing: the run whose keys are all seen. */
static void flush_run(struct list_ctx *c)
{
    struct prowlog_path pp;

    if (c->last_run[0] && c->last_files && prowlog_path_parse(c->last_run, &pp) &&
        in_range(c->w, pp.build) == 1)
        push_task(c->w, T_RUN, c->last_run, false, c->last_files | HAS_KNOWN);
    c->last_run[0] = '\0';
    c->last_files = 0;
}

/* Is a run of this build id in --since/--until? 1 yes, 0 no, -1 no and every later one
 * is out too. */
static int in_range(struct walk *w, const char *build)
{
    int64_t ms;

    if (prowlog_snowflake_ms(build, &ms) == 0) {
        if (w->o->until_ms && ms >= w->o->until_ms)
            return strlen(build) == 19 ? -1 : 0;
        return !(w->o->since_ms && ms < w->o->since_ms);
    }
    return !(w->o->since_ms || w->o->until_ms); /* no start time to filter by */
}

/* A recursive listing (servers that do not list sub-folders): every key, grouped by
 * the run folder it is in. */
static int on_key(void *opaque, const char *name, bool is_prefix)
{
    struct list_ctx *c = opaque;
    struct prowlog_path pp;

    (void)is_prefix;
    c->entries++;
    pthread_mutex_lock(&c->w->mu);
    c->w->listed++;
    pthread_mutex_unlock(&c->w->mu);
    if (!prowlog_path_parse(name, &pp) || pp.dir_len > STORE_MAX_KEY)
        return 0;
    if (strlen(c->last_run) != pp.dir_len ||
        strncmp(c->last_run, name, pp.dir_len) != 0) {
        flush_run(c);
        snprintf(c->last_run, sizeof(c->last_run), "%.*s", (int)pp.dir_len, name);
    }
    const char *file = name + pp.dir_len;
    c->last_files |= strcmp(file, "prowjob.json") == 0    ? HAS_PROWJOB
                     : strcmp(file, "started.json") == 0  ? HAS_STARTED
                     : strcmp(file, "finished.json") == 0 ? HAS_FINISHED
                                                          : 0;
    return 0;
}

static int on_entry(void *opaque, const char *name, bool is_prefix)
{
    struct list_ctx *c = opaque;
    struct walk *w = c->w;

    c->entries++;
    pthread_mutex_lock(&w->mu);
    w->listed++;
    pthread_mutex_unlock(&w->mu);
    if (!is_prefix)
        return 0;
    switch (c->kind) {
    case T_JOBS:
        push(w, T_JOB, name);
        break;
    case T_PRS:
        push(w, T_JOBS, name);
        break;
    case T_REPOS: {
        size_t n = strlen(name);
        bool batch = n >= 6 && strcmp(name + n - 6, "batch/") == 0;
        push(w, batch ? T_JOBS : T_PRS, name);
        break;
    }
    case T_JOB: {
        struct prowlog_path pp;
        if (!prowlog_path_parse(name, &pp))
            return 0;
        int r = in_range(w, pp.build);
        if (r < 0)
            return 1; /* ids are in order: the rest is later */
        if (r > 0)
            push(w, T_RUN, name);
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Parse an object's text (repaired to UTF-8); NULL with a reason if not JSON. */
static cJSON *parse_object(struct walk *w, const char *key, struct buf *b)
{
    cJSON *doc;
    char *fixed = NULL;
    const char *text = b->data ? b->data : "";
    size_t len = b->len;

    if (!util_utf8_valid(text, len) && (fixed = malloc(3 * len + 1))) {
        long n = jstream_utf8_repair(text, len, fixed, 3 * len + 1, NULL);
        text = fixed;
        len = n > 0 ? (size_t)n : 0;
    }
    if (event_json_depth(text, len) > EVENT_MAX_DEPTH ||
        !(doc = cJSON_ParseWithLength(text, len))) {
        char why[128];
        snprintf(why, sizeof(why), "not JSON (%zu bytes)", b->len);
        reject(w, key, why);
        doc = NULL;
    }
    free(fixed);
    return doc;
}

static void read_run(struct walk *w, const char *dir, int files, struct buf *b)
{
    char key[STORE_MAX_KEY + 32], err[512];
    cJSON *pj = NULL, *started = NULL, *finished = NULL;
    struct event ev;
    int rc;

    snprintf(key, sizeof(key), "%sprowjob.json", dir);
    bool known = files & HAS_KNOWN;
    if (known && !(files & HAS_PROWJOB))
        rc = 1; /* the listing said it has none */
    else if ((rc = store_get(w->st, key, b, err, sizeof(err))) < 0) {
        reject(w, key, err);
        goto out;
    }
    if (rc == 0) {
        if (!(pj = parse_object(w, key, b)))
            goto out;
    } else {
        struct prowlog_path pp;
        snprintf(key, sizeof(key), "%sstarted.json", dir);
        if (known && !(files & HAS_STARTED))
            rc = 1;
        else if ((rc = store_get(w->st, key, b, err, sizeof(err))) < 0)
            reject(w, key, err);
        else if (rc == 0 && !(started = parse_object(w, key, b)))
            goto out;
        snprintf(key, sizeof(key), "%sfinished.json", dir);
        if (known && !(files & HAS_FINISHED))
            rc = 1;
        else if ((rc = store_get(w->st, key, b, err, sizeof(err))) < 0)
            reject(w, key, err);
        else if (rc == 0 && !(finished = parse_object(w, key, b)))
            goto out;
        if (!started && !finished)
            goto out; /* not a run (or nothing in it yet) */
        snprintf(key, sizeof(key), "%s", dir);
        if (!prowlog_path_parse(dir, &pp) ||
            !(pj = prowlog_make_prowjob(&pp, dir, started, finished, w->o->link_base, err,
                                        sizeof(err)))) {
            reject(w, key, err);
            goto out;
        }
    }
    if (event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
        reject(w, key, err);
        goto out;
    }
    pthread_mutex_lock(&w->mu);
    rc = w->full ? -1 : replay_add(w->r, &ev, err, sizeof(err));
    if (rc == -1 && !w->full) {
        w->full = true;
        snprintf(w->err, sizeof(w->err), "%s", err);
    } else if (rc == 0) {
        w->events++;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == -2)
        reject(w, key, err);
    event_release(&ev);
out:
    cJSON_Delete(pj);
    cJSON_Delete(started);
    cJSON_Delete(finished);
    atomic_fetch_add(&w->p->read, 1);
    pthread_mutex_lock(&w->mu);
    w->runs_read++;
    pthread_mutex_unlock(&w->mu);
}

static void run_task(struct walk *w, struct task *t, struct buf *b)
{
    char err[512], after[STORE_MAX_KEY + 32];
    struct list_ctx c = {.w = w, .kind = t->kind};
    const char *start = NULL;

    if (t->kind == T_RUN) {
        read_run(w, t->path, t->files, b);
        return;
    }
    if (t->kind == T_JOB && w->o->since_ms) {
        uint64_t id = prowlog_snowflake_at(w->o->since_ms);
        snprintf(after, sizeof(after), "%s%llu", t->path,
                 (unsigned long long)(id ? id - 1 : 0));
        start = after;
    }
    if (store_list(w->st, t->path, start, false, on_entry, &c, err, sizeof(err)) < 0) {
        reject(w, t->path, err);
        return;
    }
    if (t->top && c.entries == 0 && strcmp(store_kind(w->st), "s3") == 0) {
        /* Nothing one level down: a server that does not list the sub-folders of nested
         * keys (s3rver) lists them all instead. Real S3 never gets here with data. */
        c.last_run[0] = '\0';
        c.last_files = 0;
        if (store_list(w->st, t->path, NULL, true, on_key, &c, err, sizeof(err)) < 0)
            reject(w, t->path, err);
        else if (c.entries)
            log_info("%s: listed below %s key by key (the server lists no sub-folders)",
                     w->o->url, t->path);
        flush_run(&c);
    }
}

static void *worker(void *arg)
{
    struct walk *w = arg;
    struct buf b;
    sigset_t stop;

    sigemptyset(&stop); /* signals are the main thread's */
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    buf_init(&b, STORE_MAX_OBJECT);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && w->busy > 0 && *w->o->run && !w->full)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head || !*w->o->run || w->full)
            break;
        struct task *t = w->head;
        w->head = t->next;
        if (!w->head)
            w->tail = NULL;
        w->busy++;
        pthread_mutex_unlock(&w->mu);
        run_task(w, t, &b);
        free(t);
        pthread_mutex_lock(&w->mu);
        w->busy--;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    buf_release(&b);
    http_thread_done();
    return NULL;
}

static void progress(struct walk *w, int64_t started, bool last)
{
    double s = (double)(util_mono_ms() - started) / 1000.0;
    long left;

    pthread_mutex_lock(&w->mu);
    left = w->runs_found - w->runs_read;
    double rate = s > 0 ? (double)w->runs_read / s : 0;
    fprintf(stderr,
            "herald-producer: bucket %s: %ld listed, %ld/%ld runs read, %ld events, %ld "
            "rejected, %.0f runs/s, %s %.1f s\n",
            w->o->url, w->listed, w->runs_read, w->runs_found, w->events, w->rejected,
            rate, last ? "took" : "ETA", last ? s : (rate > 0 ? (double)left / rate : 0));
    pthread_mutex_unlock(&w->mu);
}

int bucket_read(struct replay *r, struct publisher *p, const struct bucket_opts *o,
                char *errstr, size_t errstr_size)
{
    struct walk w = {.o = o, .r = r, .p = p};
    const char *prefix;
    char path[STORE_MAX_KEY + 32];
    int n = o->parallel > 0 ? o->parallel : 1, started_n = 0, rc = 0;
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    int64_t t0 = util_mono_ms(), last = t0;

    if (!th || !(w.st = store_open(o->url, &prefix, errstr, errstr_size))) {
        free(th);
        return -1;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    snprintf(path, sizeof(path), "%slogs/", prefix);
    push_task(&w, T_JOBS, path, true, 0);
    snprintf(path, sizeof(path), "%spr-logs/pull/", prefix);
    push_task(&w, T_REPOS, path, true, 0);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, worker, &w) == 0)
            started_n++;
    pthread_mutex_lock(&w.mu);
    while ((w.head || w.busy > 0) && *o->run && !w.full) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w.cv, &w.mu, &ts);
        if (util_mono_ms() - last >= 1000) {
            last = util_mono_ms();
            pthread_mutex_unlock(&w.mu);
            progress(&w, t0, false);
            pthread_mutex_lock(&w.mu);
        }
    }
    pthread_cond_broadcast(&w.cv);
    pthread_mutex_unlock(&w.mu);
    for (int i = 0; i < started_n; i++)
        pthread_join(th[i], NULL);
    progress(&w, t0, true);
    if (w.full) {
        snprintf(errstr, errstr_size, "%s", w.err);
        rc = -1;
    }
    while (w.head) {
        struct task *t = w.head;
        w.head = t->next;
        free(t);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    store_close(w.st);
    free(th);
    return rc;
}
