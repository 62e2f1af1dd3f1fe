/* test_input.c -- ProwJob documents from files and streams (common/input.c, with
 * common/jsonstream.c, yamljson.c and prowlog.c): every layout real clients print,
 * the 410 ERROR event, lists of any length, UTF-8 repair, YAML, bucket artifacts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "event.h"
#include "input.h"
#include "jsonstream.h"
#include "util.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-test-input-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write text to tmpdir/name (making folders); returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[1024];
    char dir[1200];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    snprintf(dir, sizeof(dir), "mkdir -p \"$(dirname '%.1000s')\"", path);
    assert_int_equal(system(dir), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

/* A ProwJob with name, job and state; pretty-printed when `pretty`. */
static char *prowjob(const char *name, const char *state, bool pretty)
{
    char buf[2048];
    snprintf(
        buf, sizeof(buf),
        "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":"
        "\"%s\",\"annotations\":{\"testgrid-num-failures-to-alert\":\"3\"}},\"spec\":{"
        "\"type\":\"periodic\",\"job\":\"job-%s\"},\"status\":{\"state\":\"%s\","
        "\"startTime\":\"2026-11-24T10:00:00Z\"}}",
        name, name, state);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    char *out = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

struct got {
    int ok, bad;
    char names[64][64];
    char errs[16][512];
    char wheres[64][128];
};

static void read_all(const char *path, struct got *g)
{
    char err[512], where[512];
    struct input *in = input_open(path, err, sizeof(err));
    const cJSON *pj;
    int rc;

    memset(g, 0, sizeof(*g));
    assert_non_null(in);
    while ((rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err))) != 0) {
        if (rc < 0) {
            if (g->bad < 16)
                snprintf(g->errs[g->bad], sizeof(g->errs[0]), "%.200s: %.300s", where,
                         err);
            g->bad++;
            continue;
        }
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(pj, "metadata"), "name");
        if (g->ok < 64) {
            snprintf(g->names[g->ok], sizeof(g->names[0]), "%s",
                     cJSON_IsString(n) ? n->valuestring : "?");
            snprintf(g->wheres[g->ok], sizeof(g->wheres[0]), "%.120s", where);
        }
        g->ok++;
    }
    input_close(in);
}

/* kubectl get -o json --watch: pretty-printed objects one after another. */
static void test_pretty_printed_sequence(void **state)
{
    struct buf b;
    struct got g;
    (void)state;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 3; i++) {
        char name[16], *pj;
        snprintf(name, sizeof(name), "pj%d", i);
        pj = prowjob(name, "pending", true);
        assert_int_equal(buf_puts(&b, pj), 0);
        assert_int_equal(buf_puts(&b, "\n"), 0);
        free(pj);
    }
    read_all(write_file("pretty.json", b.data, b.len), &g);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.ok, 3);
    assert_string_equal(g.names[2], "pj2");
    buf_release(&b);
}

/* --output-watch-events, pretty: {"type":"ADDED","object":{...}} values. */
static void test_pretty_watch_events_and_410(void **state)
{
    const char *text =
        "{\n  \"type\": \"ADDED\",\n  \"object\": {\"metadata\":{\"name\":\"a\"},"
        "\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":"
        "\"pending\"}}\n}\n{\n  \"type\": \"BOOKMARK\",\n  \"object\": {"
        "\"metadata\":{\"resourceVersion\":\"12\"}}\n}\n"
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
        "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (9)\","
        "\"reason\":\"Expired\",\"code\":410}}\n";
    struct got g;
    (void)state;
    read_all(write_file("watch.json", text, strlen(text)), &g);
    assert_int_equal(g.ok, 1);
    assert_int_equal(g.bad, 1);
    assert_non_null(strstr(g.errs[0], "410"));
    assert_non_null(strstr(g.errs[0], "too old resource version"));
    assert_non_null(strstr(g.errs[0], ":9:")); /* the line the ERROR event is on */
}

/* gsutil cat, or cat of several prowjob.json: files with no newline between them. */
static void test_concatenated_without_newlines(void **state)
{
    char *a = prowjob("a", "success", true), *b = prowjob("b", "failure", false);
    struct buf t;
    struct got g;
    (void)state;
    buf_init(&t, 1 << 20);
    buf_puts(&t, a);
    buf_puts(&t, b);
    buf_puts(&t, b);
    read_all(write_file("cat.json", t.data, t.len), &g);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.ok, 3);
    free(a);
    free(b);
    buf_release(&t);
}

/* A Deck response larger than the old 4 MiB whole-document cap, and an item over the
 * per-ProwJob cap in the middle: only that item is lost. */
static void test_big_list_item_by_item(void **state)
{
    struct buf t;
    struct got g;
    char err[512], where[512];
    const cJSON *pj;
    (void)state;
    buf_init(&t, (size_t)64 << 20);
    buf_puts(&t, "{\"items\":[");
    for (int i = 0; i < 5000; i++) {
        char name[32], *p;
        snprintf(name, sizeof(name), "deck-%d", i);
        p = prowjob(name, "success", false);
        /* pad every item to about 1 kB, as Deck's are */
        p[strlen(p) - 1] = '\0';
        buf_printf(&t, "%s%s,\"pad\":\"%0900d\"}", i ? "," : "", p, 0);
        free(p);
        if (i == 2500) {
            buf_puts(&t, ",{\"huge\":\"");
            for (int k = 0; k < INPUT_MAX_VALUE / 1024 + 1; k++)
                buf_printf(&t, "%01024d", 0);
            buf_puts(&t, "\"}");
        }
    }
    buf_puts(&t, "],\"metadata\":{\"resourceVersion\":\"7\"}}");
    assert_true(t.len > 9u << 20);
    const char *path = write_file("deck.json", t.data, t.len);
    buf_release(&t);
    struct input *in = input_open(path, err, sizeof(err));
    int ok = 0, bad = 0, rc;
    memset(&g, 0, sizeof(g));
    while ((rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err))) != 0) {
        if (rc > 0)
            ok++;
        else {
            bad++;
            assert_non_null(strstr(where, "items[2501]"));
            assert_non_null(strstr(err, "larger than"));
        }
    }
    input_close(in);
    assert_int_equal(ok, 5000);
    assert_int_equal(bad, 1);
}

/* One invalid byte in one item: the item is kept with U+FFFD, nothing is lost. */
static void test_invalid_utf8_repaired(void **state)
{
    const char *text =
        "{\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"a\"},\"spec\":{"
        "\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":\"failure\","
        "\"description\":\"bad \xff byte\"}},{\"metadata\":{\"name\":\"b\"},"
        "\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":"
        "\"success\"}}]}";
    char err[512], where[512];
    const cJSON *pj;
    (void)state;
    struct input *in =
        input_open(write_file("utf8.json", text, strlen(text)), err, sizeof(err));
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 1);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pj, "status"), "description");
    assert_string_equal(d->valuestring, "bad \xef\xbf\xbd byte");
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 1);
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 0);
    input_close(in);
}

/* NDJSON with broken lines in the middle: each costs only itself. */
static void test_ndjson_bad_lines_resync(void **state)
{
    char *a = prowjob("a", "success", false), *b = prowjob("b", "failure", false);
    struct buf t;
    struct got g;
    (void)state;
    buf_init(&t, 1 << 20);
    buf_printf(&t, "%s\n{\"truncated\": \"li\n%s\n{not json at all\n%.60s\n%s\n", a, b, a,
               a);
    read_all(write_file("mixed.ndjson", t.data, t.len), &g);
    assert_int_equal(g.ok, 3);
    assert_int_equal(g.bad, 3);
    assert_non_null(strstr(g.errs[0], "mixed.ndjson:2:"));
    assert_non_null(strstr(g.errs[1], "mixed.ndjson:4:"));
    assert_non_null(strstr(g.errs[2], "mixed.ndjson:5:"));
    assert_string_equal(g.wheres[2] + strlen(g.wheres[2]) - 2, ":6");
    free(a);
    free(b);
    buf_release(&t);
}

static void test_truncated_stream(void **state)
{
    char *a = prowjob("a", "success", true);
    struct got g;
    (void)state;
    a[strlen(a) / 2] = '\0';
    read_all(write_file("trunc.json", a, strlen(a)), &g);
    assert_int_equal(g.ok, 0);
    assert_int_equal(g.bad, 1);
    assert_non_null(strstr(g.errs[0], "truncated"));
    free(a);
}

/* kubectl get prowjobs -o yaml: a List, and a single ProwJob document. */
static void test_yaml(void **state)
{
    const char *list =
        "apiVersion: v1\nitems:\n- apiVersion: prow.k8s.io/v1\n  kind: ProwJob\n"
        "  metadata:\n    name: y1\n    annotations:\n"
        "      testgrid-num-failures-to-alert: \"6\"\n  spec:\n"
        "    job: ci-job\n    type: periodic\n    report: true\n  status:\n"
        "    state: failure\n    startTime: \"2022-07-18T20:30:22Z\"\n"
        "    build_id: \"1549129474832863232\"\n"
        "- metadata: {name: y2}\n  spec: {job: ci-job, type: periodic}\n"
        "  status: {state: success}\nkind: List\n";
    const char *two = "# Deck /prowjob?prowjob=\nmetadata:\n  name: y3\nspec:\n  job: j\n"
                      "  type: postsubmit\nstatus:\n  state: pending\n---\nmetadata:\n"
                      "  name: y4\nspec:\n  job: j\n  type: postsubmit\nstatus:\n"
                      "  state: success\n";
    struct got g;
    (void)state;
    read_all(write_file("list.yaml", list, strlen(list)), &g);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.ok, 2);
    assert_string_equal(g.names[0], "y1");
    assert_string_equal(g.names[1], "y2");
    read_all(write_file("two.yaml", two, strlen(two)), &g);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.ok, 2);
    assert_string_equal(g.names[1], "y4");
    /* a YAML error names its line */
    read_all(write_file("bad.yaml", "metadata:\n  name: [oops\nspec: {}\n", 33), &g);
    assert_int_equal(g.bad, 1);
    assert_non_null(strstr(g.errs[0], "YAML"));
}

/* An older bucket: finished.json and started.json, named by their path. */
static void test_bucket_artifacts(void **state)
{
    const char *started = "{\"timestamp\":1715096561,\"repos\":{\"aws-controllers-k8s/"
                          "lambda-controller\":\"main:8e1b2c\"}}";
    const char *finished =
        "{\"timestamp\":1715097161,\"passed\":false,\"result\":\"FAILURE\"}";
    char err[512], where[512];
    const cJSON *pj;
    struct event ev;
    (void)state;
    write_file("bucket/logs/lambda-post-submit/1787870678901329920/started.json", started,
               strlen(started));
    const char *path = write_file("bucket/logs/lambda-post-submit/1787870678901329920/"
                                  "finished.json",
                                  finished, strlen(finished));
    struct input *in = input_open(path, err, sizeof(err));
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 1);
    assert_int_equal(event_from_prowjob(&ev, pj, 1, err, sizeof(err)), 0);
    assert_string_equal(ev.job, "lambda-post-submit");
    assert_string_equal(ev.type, "postsubmit");
    assert_string_equal(ev.state, "failure");
    assert_string_equal(ev.org, "aws-controllers-k8s");
    assert_string_equal(ev.repo, "lambda-controller");
    assert_string_equal(ev.base_ref, "main");
    assert_string_equal(ev.build_id, "1787870678901329920");
    assert_true(ev.start_ms == 1715096561000LL);
    assert_true(ev.event_ms == 1715097161000LL);
    event_release(&ev);
    input_close(in);

    /* a presubmit's started.json alone: pending, with the PR from the path */
    path =
        write_file("b2/pr-logs/pull/aws-controllers-k8s_s3-controller/312/s3-unit-test/"
                   "1787870678901329921/started.json",
                   started, strlen(started));
    in = input_open(path, err, sizeof(err));
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 1);
    assert_int_equal(event_from_prowjob(&ev, pj, 1, err, sizeof(err)), 0);
    assert_string_equal(ev.type, "presubmit");
    assert_string_equal(ev.state, "pending");
    assert_string_equal(ev.repo, "s3-controller");
    assert_int_equal(ev.npulls, 1);
    assert_int_equal(ev.pulls[0].number, 312);
    event_release(&ev);
    input_close(in);

    /* without a path that names the run: a clear error */
    in = input_open(write_file("finished.json", finished, strlen(finished)), err,
                    sizeof(err));
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "logs/JOB/BUILD"));
    input_close(in);
}

/* A stream: a value is handed over as soon as it is complete, before EOF. */
static void test_stream_value_before_eof(void **state)
{
    int fds[2], saved;
    char err[512], where[512], *a = prowjob("live", "pending", true);
    const cJSON *pj;
    (void)state;
    assert_int_equal(pipe(fds), 0);
    saved = dup(0);
    dup2(fds[0], 0);
    close(fds[0]);
    struct input *in = input_open("-", err, sizeof(err));
    assert_int_equal(write(fds[1], a, strlen(a)), (ssize_t)strlen(a));
    assert_int_equal(write(fds[1], "\n{\"partial\":", 12), 12);
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 1);
    assert_string_equal(where, "<stdin>:1");
    close(fds[1]);
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(input_next(in, &pj, where, sizeof(where), err, sizeof(err)), 0);
    input_close(in);
    dup2(saved, 0);
    close(saved);
    free(a);
}

static void test_utf8_repair_function(void **state)
{
    char out[64];
    size_t rep;
    (void)state;
    assert_int_equal(jstream_utf8_repair("a\xc3\xa9z", 4, out, sizeof(out), &rep), 4);
    assert_int_equal(rep, 0);
    /* stray continuation, truncated sequence, overlong, surrogate */
    long n = jstream_utf8_repair("\x80x\xe2\x82y\xc0\xafz\xed\xa0\x80", 12, out,
                                 sizeof(out), &rep);
    assert_true(n > 0);
    assert_true(util_utf8_valid(out, (size_t)n));
    assert_true(rep >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretty_printed_sequence),
        cmocka_unit_test(test_pretty_watch_events_and_410),
        cmocka_unit_test(test_concatenated_without_newlines),
        cmocka_unit_test(test_big_list_item_by_item),
        cmocka_unit_test(test_invalid_utf8_repaired),
        cmocka_unit_test(test_ndjson_bad_lines_resync),
        cmocka_unit_test(test_truncated_stream),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_bucket_artifacts),
        cmocka_unit_test(test_stream_value_before_eof),
        cmocka_unit_test(test_utf8_repair_function),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
