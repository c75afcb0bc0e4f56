/* checkpoint.c - the checkpoint file of checkpoint.h.
 *
 * Checksum: FNV-1a 64, h = 0xcbf29ce484222325; for each byte c:
 *   h = (h xor c) * 0x100000001b3  (mod 2^64).
 * Load verifies, in order, size, magic, version and byte order, checksum, then
 * the layout and config against the model, so that a corrupt file is reported
 * as corrupt rather than as a mismatch.
 */
#include "checkpoint.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "params.h"

#define MAGIC "GFNBCKPT"
#define ENDIAN_MARK 0x01020304u
#define SEG_NAME 16
#define HEAD_SIZE (8 + 4 * 4 + 8)
#define SEG_SIZE (SEG_NAME + 3 * 8)

uint64_t gfn_checkpoint_fnv64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put(unsigned char **w, const void *src, size_t n)
{
    memcpy(*w, src, n);
    *w += n;
}

static void get(const unsigned char **r, void *dst, size_t n)
{
    memcpy(dst, *r, n);
    *r += n;
}

int gfn_checkpoint_save(const char *path, gfn_model *m, const char *config, gfn_error *err)
{
    const gfn_adam *opt = gfn_model_adam(m);
    uint64_t n = gfn_model_n_params(m);
    uint32_t version = GFN_CHECKPOINT_VERSION, endian = ENDIAN_MARK, nseg = (uint32_t)opt->n_seg;
    uint32_t clen = (uint32_t)strlen(config ? config : "");
    size_t size = HEAD_SIZE + nseg * SEG_SIZE + clen + 3 * n * sizeof(double) + 8;
    unsigned char *buf = malloc(size), *w = buf;
    if (!buf)
        return gfn_error_set(err, GFN_ENOMEM, "%s: out of memory for a checkpoint of %zu bytes",
                             path, size);
    put(&w, MAGIC, 8);
    put(&w, &version, 4);
    put(&w, &endian, 4);
    put(&w, &nseg, 4);
    put(&w, &clen, 4);
    put(&w, &n, 8);
    for (uint32_t s = 0; s < nseg; s++) {
        char name[SEG_NAME] = {0};
        uint64_t off = opt->seg[s].offset, cnt = opt->seg[s].count;
        int64_t step = opt->seg[s].step;
        memcpy(name, opt->seg[s].name, strnlen(opt->seg[s].name, SEG_NAME - 1));
        put(&w, name, SEG_NAME);
        put(&w, &off, 8);
        put(&w, &cnt, 8);
        put(&w, &step, 8);
    }
    put(&w, config ? config : "", clen);
    put(&w, gfn_model_params(m), n * sizeof(double));
    put(&w, opt->m, n * sizeof(double));
    put(&w, opt->v, n * sizeof(double));
    uint64_t h = gfn_checkpoint_fnv64(buf, (size_t)(w - buf));
    put(&w, &h, 8);
    GFN_ASSERT_CMP((size_t)(w - buf), ==, size);
    int rc = gfn_fs_write_atomic(path, buf, size, err);
    free(buf);
    return rc;
}

/* Checks what can be checked without the model; fills the header fields. */
static int check_file(const char *path, const unsigned char *buf, size_t len, uint32_t *nseg,
                      uint32_t *clen, uint64_t *n, gfn_error *err)
{
    const unsigned char *r = buf;
    uint32_t version, endian;
    if (len < HEAD_SIZE)
        return gfn_error_set(err, GFN_EFORMAT, "%s: truncated checkpoint (%zu bytes, header needs %d)",
                             path, len, HEAD_SIZE);
    if (memcmp(buf, MAGIC, 8) != 0)
        return gfn_error_set(err, GFN_EFORMAT, "%s: not a gfnbench checkpoint (bad magic)", path);
    r += 8;
    get(&r, &version, 4);
    get(&r, &endian, 4);
    get(&r, nseg, 4);
    get(&r, clen, 4);
    get(&r, n, 8);
    if (endian != ENDIAN_MARK)
        return gfn_error_set(err, GFN_EUNSUPPORTED, "%s: checkpoint written with another byte order",
                             path);
    if (version != GFN_CHECKPOINT_VERSION)
        return gfn_error_set(err, GFN_EUNSUPPORTED,
                             "%s: checkpoint version %u, this build reads version %d", path,
                             version, GFN_CHECKPOINT_VERSION);
    /* Sizes come from the file: bound them before multiplying. */
    if (*nseg > GFN_ADAM_MAX_SEGMENTS || *n > ((uint64_t)1 << 40))
        return gfn_error_set(err, GFN_EFORMAT, "%s: corrupt checkpoint header (%u segments, %llu parameters)",
                             path, *nseg, (unsigned long long)*n);
    uint64_t want = HEAD_SIZE + (uint64_t)*nseg * SEG_SIZE + *clen + 3 * *n * sizeof(double) + 8;
    if (len != want)
        return gfn_error_set(err, GFN_EFORMAT, "%s: %s checkpoint (%zu bytes, header says %llu)",
                             path, len < want ? "truncated" : "oversized", len,
                             (unsigned long long)want);
    uint64_t h;
    memcpy(&h, buf + len - 8, 8);
    if (h != gfn_checkpoint_fnv64(buf, len - 8))
        return gfn_error_set(err, GFN_EFORMAT, "%s: checksum mismatch: the checkpoint is corrupt",
                             path);
    return GFN_OK;
}

int gfn_checkpoint_load(const char *path, gfn_model *m, const char *config, gfn_error *err)
{
    char *raw;
    size_t len;
    int rc = gfn_fs_read_all(path, &raw, &len, err);
    if (rc)
        return rc;
    const unsigned char *buf = (const unsigned char *)raw, *r = buf + HEAD_SIZE;
    uint32_t nseg = 0, clen = 0;
    uint64_t n = 0;
    gfn_adam *opt = gfn_model_adam(m);
    if ((rc = check_file(path, buf, len, &nseg, &clen, &n, err)))
        goto done;
    if (n != gfn_model_n_params(m) || (int)nseg != opt->n_seg) {
        rc = gfn_error_set(err, GFN_EMISMATCH,
                           "%s: checkpoint has %llu parameters in %u segments, the model %zu in %d",
                           path, (unsigned long long)n, nseg, gfn_model_n_params(m), opt->n_seg);
        goto done;
    }
    int64_t steps[GFN_ADAM_MAX_SEGMENTS];
    for (uint32_t s = 0; s < nseg; s++) {
        char name[SEG_NAME];
        uint64_t off, cnt;
        get(&r, name, SEG_NAME);
        get(&r, &off, 8);
        get(&r, &cnt, 8);
        get(&r, &steps[s], 8);
        name[SEG_NAME - 1] = '\0';
        if (strcmp(name, opt->seg[s].name) != 0 || off != opt->seg[s].offset ||
            cnt != opt->seg[s].count) {
            rc = gfn_error_set(err, GFN_EMISMATCH,
                               "%s: segment %u is %s (offset %llu, %llu values), the model's is %s "
                               "(offset %zu, %zu values)",
                               path, s, name, (unsigned long long)off, (unsigned long long)cnt,
                               opt->seg[s].name, opt->seg[s].offset, opt->seg[s].count);
            goto done;
        }
    }
    for (uint32_t s = 0; s < nseg; s++)
        if (steps[s] < 0) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s: segment %u (%s) has %lld Adam steps; "
                               "expected a count >= 0", path, s, opt->seg[s].name,
                               (long long)steps[s]);
            goto done;
        }
    if (config && (strlen(config) != clen || memcmp(config, r, clen) != 0)) {
        /* The stored text is shown quoted (escapes for control and non-ASCII bytes),
         * never echoed raw to a terminal. */
        char stored[201], shown[1024];
        size_t k = 0;
        for (; k < clen && k < sizeof stored - 1 && r[k]; k++)
            stored[k] = (char)r[k];
        stored[k] = '\0';
        rc = gfn_error_set(err, GFN_EMISMATCH, "%s: checkpoint was written for another run "
                           "config: '%s'", path, gfn_text_quote(shown, sizeof shown, stored, 200));
        goto done;
    }
    r += clen;
    /* Values are checked before anything is copied, so that m stays unchanged on error:
     * every parameter and moment finite, second moments >= 0. */
    static const char *const BLOCK[3] = {"parameter", "Adam first moment", "Adam second moment"};
    for (int blk = 0; blk < 3; blk++)
        for (uint64_t i = 0; i < n; i++) {
            double x;
            memcpy(&x, r + (blk * n + i) * sizeof(double), sizeof x);
            if (!isfinite(x) || (blk == 2 && x < 0)) {
                rc = gfn_error_set(err, GFN_EFORMAT, "%s: %s %llu is %g; expected a finite "
                                   "number%s", path, BLOCK[blk], (unsigned long long)i, x,
                                   blk == 2 ? " >= 0" : "");
                goto done;
            }
        }
    get(&r, gfn_model_params(m), n * sizeof(double));
    get(&r, opt->m, n * sizeof(double));
    get(&r, opt->v, n * sizeof(double));
    for (uint32_t s = 0; s < nseg; s++)
        opt->seg[s].step = steps[s];
done:
    free(raw);
    return rc;
}
