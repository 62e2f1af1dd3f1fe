/* fuzz_http.c -- libFuzzer target for the HTTP request parser (common/httpmsg.c),
 * which faces whatever reaches /metrics, /healthz and /readyz.
 *
 * Each input is a request head as it might arrive, in two pieces (the split point
 * comes from the first byte, so a replay is the same): httpmsg_head_end() must find
 * the same end whether it scans on from where it stopped or from the start, and
 * httpmsg_parse_head() must either refuse the head with one of its documented
 * statuses or return a head whose every string lies inside the buffer, with a path
 * starting with '/' and at most HTTPMSG_MAX_HEADERS headers. The input, cut at 100
 * bytes, is also parsed as a listen address. A broken invariant calls abort().
 *
 * Built and run by `make fuzz`; its kept inputs run in `make test`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpmsg.h"

#define FUZZ_HEAD_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* s must be a NUL-terminated string inside buf[0..len]. */
static void inside(const char *s, const char *buf, size_t len, const char *what)
{
    if (!s || s < buf || s > buf + len || !memchr(s, '\0', (size_t)(buf + len + 1 - s)))
        fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int refusals[] = {400, 413, 431, 501, 505};
    char *buf, addr[128], where[101];
    size_t n = size < FUZZ_HEAD_MAX ? size : FUZZ_HEAD_MAX, split, scan = 0, scan2 = 0;
    size_t end, end2;
    struct httpmsg_head h;
    unsigned alen = 0;
    int st;

    if (!(buf = malloc(n + 1)))
        return 0;
    memcpy(buf, data, n);
    buf[n] = '\0';
    split = size ? data[0] % (n + 1) : 0;
    if (!(end = httpmsg_head_end(buf, split, &scan)))
        end = httpmsg_head_end(buf, n, &scan);
    end2 = httpmsg_head_end(buf, n, &scan2);
    if (end != end2)
        fail("head end differs between a resumed and a fresh scan");
    if (end > n)
        fail("head end past the data");
    if (end) {
        st = httpmsg_parse_head(buf, end, 65536, &h);
        if (st == 0) {
            inside(h.method, buf, end, "method outside the buffer");
            inside(h.path, buf, end, "path outside the buffer");
            if (!h.query || (h.query[0] && (h.query < buf || h.query > buf + end)))
                fail("query outside the buffer"); /* "" when absent: a literal */
            if (h.path[0] != '/' || h.nheaders > HTTPMSG_MAX_HEADERS ||
                h.content_length > 65536)
                fail("accepted head breaks its promises");
            for (size_t i = 0; i < h.nheaders; i++) {
                inside(h.names[i], buf, end, "header name outside the buffer");
                inside(h.values[i], buf, end, "header value outside the buffer");
            }
        } else {
            size_t k;
            for (k = 0; k < sizeof(refusals) / sizeof(refusals[0]); k++)
                if (st == refusals[k])
                    break;
            if (k == sizeof(refusals) / sizeof(refusals[0]))
                fail("undocumented refusal status");
        }
    }
    free(buf);

    memcpy(where, data, size < 100 ? size : 100);
    where[size < 100 ? size : 100] = '\0';
    if (httpmsg_parse_listen(where, addr, sizeof(addr), &alen, addr, sizeof(addr)) == 0 &&
        alen != 16 && alen != 28)
        fail("listen address of an odd length");
    return 0;
}
