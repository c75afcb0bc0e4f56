/* checkpoint.c - the checkpoint files of checkpoint.h.
 *
 * Checksum: FNV-1a 64, h = 0xcbf29ce484222325; for each byte c:
 *   h = (h xor c) * 0x100000001b3  (mod 2^64).
 * A read verifies, in order, size, magic, version and byte order, checksum,
 * build layout, the section table, then the config, so that a corrupt file is
 * reported as corrupt rather than as a mismatch.
 */
#include "checkpoint.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "params.h"

#define MAGIC "GFNBCKPT"
#define ENDIAN_MARK 0x01020304u
#define SEG_NAME 16
#define TAG_LEN 8
#define HEAD_SIZE 48
#define SEC_HEAD (TAG_LEN + 8)

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

uint64_t gfn_checkpoint_layout(void)
{
    char s[256];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    size_t rng_size = r ? gsl_rng_size(r) : 0;
    if (r)
        gsl_rng_free(r);
    int n = snprintf(s, sizeof s, "v%d double=%zu long=%zu size_t=%zu state=%zu mt19937=%zu",
                     GFN_CHECKPOINT_VERSION, sizeof(double), sizeof(long), sizeof(size_t),
                     sizeof(gfn_state), rng_size);
    return gfn_checkpoint_fnv64(s, (size_t)n);
}

void gfn_checkpoint_config_text(const gfn_params *cfg, gfn_strbuf *out)
{
    for (int i = 0; i < cfg->n; i++) /* threads changes no result: the same file for any */
        if (strcmp(cfg->items[i].key, "threads") != 0)
            gfn_strbuf_printf(out, "%s=%s\n", cfg->items[i].key, cfg->items[i].val);
}

/* ---- building ---- */

void gfn_ckpt_buf_init(gfn_ckpt_buf *b) { memset(b, 0, sizeof *b); }

void gfn_ckpt_buf_close(gfn_ckpt_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void gfn_ckpt_put(gfn_ckpt_buf *b, const void *src, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n)
            c *= 2;
        unsigned char *d = realloc(b->data, c);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = c;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

void gfn_ckpt_put_i64(gfn_ckpt_buf *b, int64_t v) { gfn_ckpt_put(b, &v, sizeof v); }
void gfn_ckpt_put_f64(gfn_ckpt_buf *b, double v) { gfn_ckpt_put(b, &v, sizeof v); }

/* Patches the open section's length. */
static void end_section(gfn_ckpt_buf *b)
{
    if (!b->open || b->failed)
        return;
    uint64_t len = b->len - (b->open + 8);
    memcpy(b->data + b->open, &len, 8);
    b->open = 0;
}

void gfn_ckpt_begin(gfn_ckpt_buf *b, const char *tag)
{
    end_section(b);
    char t[TAG_LEN] = {0};
    GFN_ASSERT(strlen(tag) <= TAG_LEN);
    memcpy(t, tag, strlen(tag));
    gfn_ckpt_put(b, t, TAG_LEN);
    b->open = b->len; /* never 0: the tag comes first */
    gfn_ckpt_put_i64(b, 0);
    b->n_sections++;
}

void gfn_ckpt_put_model(gfn_ckpt_buf *b, gfn_model *m)
{
    const gfn_adam *opt = gfn_model_adam(m);
    uint64_t n = gfn_model_n_params(m);
    uint32_t nseg = (uint32_t)opt->n_seg, zero = 0;
    gfn_ckpt_put(b, &nseg, 4);
    gfn_ckpt_put(b, &zero, 4);
    gfn_ckpt_put(b, &n, 8);
    for (uint32_t s = 0; s < nseg; s++) {
        char name[SEG_NAME] = {0};
        uint64_t off = opt->seg[s].offset, cnt = opt->seg[s].count;
        memcpy(name, opt->seg[s].name, strnlen(opt->seg[s].name, SEG_NAME - 1));
        gfn_ckpt_put(b, name, SEG_NAME);
        gfn_ckpt_put(b, &off, 8);
        gfn_ckpt_put(b, &cnt, 8);
        gfn_ckpt_put_i64(b, opt->seg[s].step);
    }
    /* The gradient block too: a phase steps only its own segments, so the others'
     * gradients are left from earlier steps; keeping them costs little. */
    const double *blocks[4] = {gfn_model_params(m), gfn_model_grads(m), opt->m, opt->v};
    for (int k = 0; k < 4; k++)
        gfn_ckpt_put(b, blocks[k], n * sizeof(double));
}

void gfn_ckpt_put_rng(gfn_ckpt_buf *b, const gsl_rng *r)
{
    char name[32] = {0};
    snprintf(name, sizeof name, "%s", gsl_rng_name(r));
    uint64_t size = gsl_rng_size(r);
    gfn_ckpt_put(b, name, sizeof name);
    gfn_ckpt_put(b, &size, 8);
    gfn_ckpt_put(b, gsl_rng_state(r), size);
}

int gfn_ckpt_write(const char *path, const char *config, int finished, gfn_ckpt_buf *body,
                   gfn_error *err)
{
    end_section(body);
    if (body->failed)
        return gfn_error_set(err, GFN_ENOMEM, "%s: out of memory building a checkpoint", path);
    gfn_ckpt_buf f;
    gfn_ckpt_buf_init(&f);
    uint32_t version = GFN_CHECKPOINT_VERSION, endian = ENDIAN_MARK, flags = finished ? 1u : 0u;
    uint32_t clen = (uint32_t)strlen(config ? config : ""), zero = 0;
    uint64_t layout = gfn_checkpoint_layout(), blen = body->len;
    gfn_ckpt_put(&f, MAGIC, 8);
    gfn_ckpt_put(&f, &version, 4);
    gfn_ckpt_put(&f, &endian, 4);
    gfn_ckpt_put(&f, &layout, 8);
    gfn_ckpt_put(&f, &flags, 4);
    gfn_ckpt_put(&f, &body->n_sections, 4);
    gfn_ckpt_put(&f, &clen, 4);
    gfn_ckpt_put(&f, &zero, 4);
    gfn_ckpt_put(&f, &blen, 8);
    gfn_ckpt_put(&f, config ? config : "", clen);
    gfn_ckpt_put(&f, body->data, body->len);
    uint64_t h = f.failed ? 0 : gfn_checkpoint_fnv64(f.data, f.len);
    gfn_ckpt_put(&f, &h, 8);
    int rc = f.failed ? gfn_error_set(err, GFN_ENOMEM, "%s: out of memory for a checkpoint of "
                                                       "%zu bytes", path, body->len)
                      : gfn_fs_write_atomic(path, f.data, f.len, err);
    gfn_ckpt_buf_close(&f);
    return rc;
}

int gfn_checkpoint_save(const char *path, gfn_model *m, const char *config, gfn_error *err)
{
    gfn_ckpt_buf b;
    gfn_ckpt_buf_init(&b);
    gfn_ckpt_begin(&b, "model");
    gfn_ckpt_put_model(&b, m);
    int rc = gfn_ckpt_write(path, config, 1, &b, err);
    gfn_ckpt_buf_close(&b);
    return rc;
}

/* ---- reading ---- */

int gfn_ckpt_get(gfn_ckpt_reader *r, void *dst, size_t n, gfn_error *err)
{
    if (n > r->len - r->pos)
        return gfn_error_set(err, GFN_EFORMAT, "%s: section '%s' is truncated (%zu bytes, "
                                               "reading %zu at %zu)",
                             r->path, r->tag, r->len, n, r->pos);
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return GFN_OK;
}

int gfn_ckpt_get_i64(gfn_ckpt_reader *r, int64_t *v, gfn_error *err)
{
    return gfn_ckpt_get(r, v, sizeof *v, err);
}

int gfn_ckpt_get_f64(gfn_ckpt_reader *r, double *v, gfn_error *err)
{
    return gfn_ckpt_get(r, v, sizeof *v, err);
}

int gfn_ckpt_done(const gfn_ckpt_reader *r, gfn_error *err)
{
    if (r->pos != r->len)
        return gfn_error_set(err, GFN_EFORMAT, "%s: section '%s' has %zu bytes, %zu were read",
                             r->path, r->tag, r->len, r->pos);
    return GFN_OK;
}

int gfn_ckpt_get_model(gfn_ckpt_reader *r, gfn_model *m, gfn_error *err)
{
    gfn_adam *opt = gfn_model_adam(m);
    uint32_t nseg, zero;
    uint64_t n;
    int rc;
    if ((rc = gfn_ckpt_get(r, &nseg, 4, err)) || (rc = gfn_ckpt_get(r, &zero, 4, err)) ||
        (rc = gfn_ckpt_get(r, &n, 8, err)))
        return rc;
    if (n != gfn_model_n_params(m) || (int)nseg != opt->n_seg)
        return gfn_error_set(err, GFN_EMISMATCH,
                             "%s: checkpoint has %llu parameters in %u segments, the model %zu "
                             "in %d",
                             r->path, (unsigned long long)n, nseg, gfn_model_n_params(m),
                             opt->n_seg);
    int64_t steps[GFN_ADAM_MAX_SEGMENTS];
    for (uint32_t s = 0; s < nseg; s++) {
        char name[SEG_NAME];
        uint64_t off, cnt;
        if ((rc = gfn_ckpt_get(r, name, SEG_NAME, err)) || (rc = gfn_ckpt_get(r, &off, 8, err)) ||
            (rc = gfn_ckpt_get(r, &cnt, 8, err)) || (rc = gfn_ckpt_get_i64(r, &steps[s], err)))
            return rc;
        name[SEG_NAME - 1] = '\0';
        if (strcmp(name, opt->seg[s].name) != 0 || off != opt->seg[s].offset ||
            cnt != opt->seg[s].count)
            return gfn_error_set(err, GFN_EMISMATCH,
                                 "%s: segment %u is %s (offset %llu, %llu values), the model's "
                                 "is %s (offset %zu, %zu values)",
                                 r->path, s, name, (unsigned long long)off,
                                 (unsigned long long)cnt, opt->seg[s].name, opt->seg[s].offset,
                                 opt->seg[s].count);
    }
    for (uint32_t s = 0; s < nseg; s++)
        if (steps[s] < 0)
            return gfn_error_set(err, GFN_EFORMAT, "%s: segment %u (%s) has %lld Adam steps; "
                                 "expected a count >= 0", r->path, s, opt->seg[s].name,
                                 (long long)steps[s]);
    size_t bytes = n * sizeof(double);
    if (r->len - r->pos < 4 * bytes)
        return gfn_error_set(err, GFN_EFORMAT, "%s: section 'model' is truncated", r->path);
    /* Values are checked before anything is copied, so that m stays unchanged on
     * error: every parameter and moment finite, second moments >= 0 (the gradient
     * block, blocks[1], is overwritten before it is read). */
    static const char *const BLOCK[4] = {"parameter", "gradient", "Adam first moment",
                                         "Adam second moment"};
    for (int blk = 0; blk < 4; blk++)
        for (uint64_t i = 0; blk != 1 && i < n; i++) {
            double x;
            memcpy(&x, r->p + r->pos + ((size_t)blk * n + i) * sizeof(double), sizeof x);
            if (!isfinite(x) || (blk == 3 && x < 0))
                return gfn_error_set(err, GFN_EFORMAT, "%s: %s %llu is %g; expected a finite "
                                     "number%s", r->path, BLOCK[blk], (unsigned long long)i, x,
                                     blk == 3 ? " >= 0" : "");
        }
    /* gfn_model_params marks the float copies stale: they are rebuilt from the doubles. */
    double *blocks[4] = {gfn_model_params(m), gfn_model_grads(m), opt->m, opt->v};
    for (int k = 0; k < 4; k++)
        gfn_ckpt_get(r, blocks[k], bytes, NULL);
    for (uint32_t s = 0; s < nseg; s++)
        opt->seg[s].step = steps[s];
    return GFN_OK;
}

int gfn_ckpt_get_rng(gfn_ckpt_reader *r, gsl_rng *rng, gfn_error *err)
{
    char name[32];
    uint64_t size;
    int rc;
    if ((rc = gfn_ckpt_get(r, name, sizeof name, err)) || (rc = gfn_ckpt_get(r, &size, 8, err)))
        return rc;
    name[sizeof name - 1] = '\0';
    if (strcmp(name, gsl_rng_name(rng)) != 0 || size != gsl_rng_size(rng))
        return gfn_error_set(err, GFN_EMISMATCH,
                             "%s: section '%s': random generator %s of %llu bytes, this run "
                             "uses %s of %zu",
                             r->path, r->tag, name, (unsigned long long)size, gsl_rng_name(rng),
                             gsl_rng_size(rng));
    return gfn_ckpt_get(r, gsl_rng_state(rng), size, err);
}

/* The first line where two config texts differ, for the mismatch message. */
static void first_difference(const char *a, size_t alen, const char *b, size_t blen, char *out,
                             size_t cap)
{
    size_t i = 0, line = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n')
            line = i + 1;
        i++;
    }
    size_t ea = line, eb = line;
    while (ea < alen && a[ea] != '\n')
        ea++;
    while (eb < blen && b[eb] != '\n')
        eb++;
    /* Shown quoted (escapes for control and non-ASCII bytes), never echoed raw
     * to a terminal. */
    char la[201], lb[201], qa[1024], qb[1024];
    snprintf(la, sizeof la, "%.*s", (int)(ea - line < 200 ? ea - line : 200), a + line);
    snprintf(lb, sizeof lb, "%.*s", (int)(eb - line < 200 ? eb - line : 200), b + line);
    const char *none = "(nothing: its config ends there)";
    char sa[1100], sb[1100];
    snprintf(sa, sizeof sa, "'%s'", gfn_text_quote(qa, sizeof qa, la, 200));
    snprintf(sb, sizeof sb, "'%s'", gfn_text_quote(qb, sizeof qb, lb, 200));
    snprintf(out, cap, "it has %s where this run has %s", ea > line ? sa : none,
             eb > line ? sb : none);
}

static int check_head(const char *path, const unsigned char *buf, size_t len, gfn_ckpt_file *f,
                      uint32_t *clen, gfn_error *err)
{
    uint32_t version, endian, flags, zero;
    uint64_t layout, blen;
    if (len < HEAD_SIZE + 8)
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s: truncated checkpoint (%zu bytes, header needs %d)", path, len,
                             HEAD_SIZE + 8);
    if (memcmp(buf, MAGIC, 8) != 0)
        return gfn_error_set(err, GFN_EFORMAT, "%s: not a gfnbench checkpoint (bad magic)", path);
    memcpy(&version, buf + 8, 4);
    memcpy(&endian, buf + 12, 4);
    memcpy(&layout, buf + 16, 8);
    memcpy(&flags, buf + 24, 4);
    memcpy(&f->n_sections, buf + 28, 4);
    memcpy(clen, buf + 32, 4);
    memcpy(&zero, buf + 36, 4);
    memcpy(&blen, buf + 40, 8);
    if (endian != ENDIAN_MARK)
        return gfn_error_set(err, GFN_EUNSUPPORTED,
                             "%s: checkpoint written with another byte order", path);
    if (version != GFN_CHECKPOINT_VERSION)
        return gfn_error_set(err, GFN_EUNSUPPORTED,
                             "%s: checkpoint version %u, this build reads version %d", path,
                             version, GFN_CHECKPOINT_VERSION);
    /* Sizes come from the file: bound them before adding. */
    if (blen > ((uint64_t)1 << 50) || *clen > (1u << 30))
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s: corrupt checkpoint header (config %u bytes, body %llu bytes)",
                             path, *clen, (unsigned long long)blen);
    uint64_t want = HEAD_SIZE + (uint64_t)*clen + blen + 8;
    if (len != want)
        return gfn_error_set(err, GFN_EFORMAT, "%s: %s checkpoint (%zu bytes, header says %llu)",
                             path, len < want ? "truncated" : "oversized", len,
                             (unsigned long long)want);
    uint64_t h;
    memcpy(&h, buf + len - 8, 8);
    if (h != gfn_checkpoint_fnv64(buf, len - 8))
        return gfn_error_set(err, GFN_EFORMAT, "%s: checksum mismatch: the checkpoint is corrupt",
                             path);
    if (layout != gfn_checkpoint_layout())
        return gfn_error_set(err, GFN_EUNSUPPORTED,
                             "%s: checkpoint written by a build with another data layout "
                             "(fingerprint %016llx, this build %016llx)",
                             path, (unsigned long long)layout,
                             (unsigned long long)gfn_checkpoint_layout());
    f->finished = (flags & 1u) != 0;
    f->body = buf + HEAD_SIZE + *clen;
    f->body_len = (size_t)blen;
    return GFN_OK;
}

/* Every section header lies inside the body and the count matches. */
static int check_sections(const gfn_ckpt_file *f, gfn_error *err)
{
    size_t pos = 0;
    for (uint32_t s = 0; s < f->n_sections; s++) {
        uint64_t len;
        if (f->body_len - pos < SEC_HEAD)
            return gfn_error_set(err, GFN_EFORMAT, "%s: section %u of %u is missing", f->path, s,
                                 f->n_sections);
        memcpy(&len, f->body + pos + TAG_LEN, 8);
        pos += SEC_HEAD;
        if (len > f->body_len - pos)
            return gfn_error_set(err, GFN_EFORMAT, "%s: section %u runs past the end", f->path,
                                 s);
        pos += (size_t)len;
    }
    if (pos != f->body_len)
        return gfn_error_set(err, GFN_EFORMAT, "%s: %zu bytes after the last section", f->path,
                             f->body_len - pos);
    return GFN_OK;
}

int gfn_ckpt_file_read(const char *path, const char *config, gfn_ckpt_file *f, gfn_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int rc = gfn_fs_read_all(path, &f->raw, &f->len, err);
    if (rc)
        return rc;
    const unsigned char *buf = (const unsigned char *)f->raw;
    uint32_t clen = 0;
    if ((rc = check_head(path, buf, f->len, f, &clen, err)) || (rc = check_sections(f, err)))
        goto fail;
    const char *stored = (const char *)buf + HEAD_SIZE;
    if (config && (strlen(config) != clen || memcmp(config, stored, clen) != 0)) {
        char why[2400];
        first_difference(stored, clen, config, strlen(config), why, sizeof why);
        rc = gfn_error_set(err, GFN_EMISMATCH,
                           "%s: checkpoint was written for another run config: %s", path, why);
        goto fail;
    }
    return GFN_OK;
fail:
    gfn_ckpt_file_close(f);
    return rc;
}

void gfn_ckpt_file_close(gfn_ckpt_file *f)
{
    free(f->raw);
    f->raw = NULL;
}

int gfn_ckpt_file_section(const gfn_ckpt_file *f, const char *tag, gfn_ckpt_reader *r,
                          gfn_error *err)
{
    size_t pos = 0;
    for (uint32_t s = 0; s < f->n_sections; s++) {
        uint64_t len;
        memcpy(&len, f->body + pos + TAG_LEN, 8);
        if (strncmp((const char *)f->body + pos, tag, TAG_LEN) == 0) {
            r->p = f->body + pos + SEC_HEAD;
            r->len = (size_t)len;
            r->pos = 0;
            r->path = f->path;
            snprintf(r->tag, sizeof r->tag, "%s", tag);
            return GFN_OK;
        }
        pos += SEC_HEAD + (size_t)len;
    }
    return gfn_error_set(err, GFN_EFORMAT, "%s: the checkpoint has no section '%s'", f->path, tag);
}

int gfn_checkpoint_load(const char *path, gfn_model *m, const char *config, gfn_error *err)
{
    gfn_ckpt_file f;
    gfn_ckpt_reader r;
    int rc = gfn_ckpt_file_read(path, config, &f, err);
    if (rc)
        return rc;
    if (!(rc = gfn_ckpt_file_section(&f, "model", &r, err)))
        rc = gfn_ckpt_get_model(&r, m, err);
    gfn_ckpt_file_close(&f);
    return rc;
}

int gfn_checkpoint_probe(const char *path, const char *config, int *finished, gfn_error *err)
{
    gfn_ckpt_file f;
    int rc = gfn_ckpt_file_read(path, config, &f, err);
    if (rc)
        return rc;
    gfn_ckpt_reader r;
    rc = gfn_ckpt_file_section(&f, "run", &r, err); /* a run's, not a model alone */
    if (finished)
        *finished = f.finished;
    gfn_ckpt_file_close(&f);
    return rc;
}

int gfn_checkpoint_read_config(const char *path, gfn_strbuf *out, int *finished, gfn_error *err)
{
    gfn_ckpt_file f;
    int rc = gfn_ckpt_file_read(path, NULL, &f, err);
    if (rc)
        return rc;
    const char *stored = f.raw + HEAD_SIZE;
    size_t clen = (size_t)((const char *)f.body - stored);
    gfn_strbuf_printf(out, "%.*s", (int)clen, stored);
    if (finished)
        *finished = f.finished;
    gfn_ckpt_file_close(&f);
    return out->failed ? gfn_error_set(err, GFN_ENOMEM, "out of memory") : GFN_OK;
}
