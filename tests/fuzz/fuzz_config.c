/* fuzz_config.c -- libFuzzer target for the configuration parser (common/config*.c).
 *
 * Each input is parsed as a whole herald.yaml by config_parse. Accepted configs are
 * freed; the error text must always be NUL-terminated, with a roomy buffer and,
 * when the input has errors, again with a small heap buffer cut to an exact size so
 * AddressSanitizer sees any write past it. A broken invariant calls abort().
 *
 * Note: *_file keys make config_parse read files (bounded to 64 KiB) and *_env keys
 * read the environment; under a fuzzer that is harmless.
 *
 * Built and run by `make fuzz`.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse text with an errbuf of errsize bytes (filled with junk first). Returns true
 * if the config was accepted; aborts if errbuf is left unterminated. */
static bool parse_once(const char *text, size_t size, char *errbuf, size_t errsize)
{
    struct config *c;
    bool ok;

    memset(errbuf, 'Z', errsize);
    c = config_parse("fuzz.yaml", text, size, errbuf, errsize);
    if (!memchr(errbuf, '\0', errsize)) {
        fprintf(stderr, "fuzz_config: errbuf (%zu bytes) not NUL-terminated (%s)\n",
                errsize, c ? "accepted" : "rejected");
        abort();
    }
    ok = c != NULL;
    config_free(c);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char errbuf[4096];
    char *small;
    size_t small_size;

    if (parse_once(text, size, errbuf, sizeof(errbuf)))
        return 0;

    /* Rejected: once more with a short buffer, so the cut-off paths run too. The size
     * (1..96) comes from the input, so it stays the same when an input is replayed. */
    small_size = 1 + (size ? data[size - 1] % 96 : 0);
    if (!(small = malloc(small_size)))
        return 0;
    parse_once(text, size, small, small_size);
    free(small);
    return 0;
}
