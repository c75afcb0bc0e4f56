/* ckpt_tool.c - checkpoints for the hostile-input suite (tests/bad/run.sh): loads one
 * into a fixed model through the loader training runs use (gfn_checkpoint_load; a run
 * continues from checkpoint.bin through the same header, section and value checks).
 *
 *   ckpt_tool load FILE    loads FILE into the model of tests/fuzz/ckpt_model.h (width 4,
 *                          config "ckpt_tool v1"); exit 0, or 1 with the error on stderr
 *   ckpt_tool forge DIR    writes valid.ckpt and hostile variants of it into DIR, each
 *                          with a correct checksum unless the checksum is the point
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "ckpt_model.h"
#include "fsutil.h"

#define CONFIG "ckpt_tool v1"
/* Offsets in a format-2 file of gfn_checkpoint_save (checkpoint.h): the header is 48
 * bytes, then the config, then the "model" section (8-byte tag, u64 length), whose
 * data opens with u32 n_segments, u32 0, u64 n_params and the segment records. */
#define CFG_AT 48
#define SEC_AT (CFG_AT + 12)  /* strlen(CONFIG) */
#define NSEG_AT (SEC_AT + 16)
#define NPAR_AT (NSEG_AT + 8)
#define SEG0 (NPAR_AT + 8)    /* offset of the first segment record */

static unsigned char *valid;
static size_t valid_len;
static const char *out_dir;

static void put_u32(unsigned char *b, size_t at, uint32_t v) { memcpy(b + at, &v, 4); }
static void put_u64(unsigned char *b, size_t at, uint64_t v) { memcpy(b + at, &v, 8); }

/* Writes b (len) as DIR/name; with fix, recomputes the trailing checksum first. */
static int emit(const char *name, unsigned char *b, size_t len, int fix)
{
    if (fix && len >= 8)
        put_u64(b, len - 8, gfn_checkpoint_fnv64(b, len - 8));
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "ckpt_tool: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* A copy of the valid file with room for extra bytes. */
static unsigned char *copy(size_t extra)
{
    unsigned char *b = calloc(1, valid_len + extra);
    if (b)
        memcpy(b, valid, valid_len);
    return b;
}

static int forge(gfn_model *m)
{
    char path[1024];
    gfn_error err;
    snprintf(path, sizeof path, "%s/valid.ckpt", out_dir);
    char *raw;
    if (gfn_checkpoint_save(path, m, CONFIG, &err) ||
        gfn_fs_read_all(path, &raw, &valid_len, &err)) {
        fprintf(stderr, "ckpt_tool: %s\n", err.msg);
        return 1;
    }
    valid = (unsigned char *)raw;
    uint32_t nseg, clen;
    uint64_t n;
    memcpy(&nseg, valid + NSEG_AT, 4);
    memcpy(&clen, valid + 32, 4);
    memcpy(&n, valid + NPAR_AT, 8);
    size_t cfg_at = CFG_AT, par_at = SEG0 + 40 * (size_t)nseg;
    size_t m_at = par_at + 16 * n, v_at = m_at + 8 * n; /* params, grads, m, v */
    int bad = 0;
    unsigned char *b;
    double d;

    bad |= emit("empty.ckpt", valid, 0, 0);
    bad |= emit("header_cut.ckpt", valid, 10, 0);
    bad |= emit("cut_last_byte.ckpt", valid, valid_len - 1, 0);
    bad |= emit("cut_half.ckpt", valid, valid_len / 2, 1);
    b = copy(1);
    bad |= emit("extra_byte.ckpt", b, valid_len + 1, 1);
    free(b);
    b = copy(0);
    memcpy(b, "GFNBCKPX", 8);
    bad |= emit("bad_magic.ckpt", b, valid_len, 1);
    memcpy(b, "GFNBCKPT", 8);
    put_u32(b, 8, GFN_CHECKPOINT_VERSION + 1);
    bad |= emit("version3.ckpt", b, valid_len, 1);
    put_u32(b, 8, GFN_CHECKPOINT_VERSION);
    put_u32(b, 12, 0x04030201u);
    bad |= emit("other_endian.ckpt", b, valid_len, 1);
    put_u32(b, 12, 0x01020304u);
    b[16] ^= 0x01;
    bad |= emit("other_layout.ckpt", b, valid_len, 1);
    b[16] ^= 0x01;
    put_u32(b, 28, 2);
    bad |= emit("nsections_more.ckpt", b, valid_len, 1);
    put_u32(b, 28, 0);
    bad |= emit("nsections_none.ckpt", b, valid_len, 1);
    put_u32(b, 28, 1);
    put_u64(b, SEC_AT + 8, (uint64_t)1 << 40);
    bad |= emit("section_len_huge.ckpt", b, valid_len, 1);
    memcpy(b + SEC_AT + 8, valid + SEC_AT + 8, 8);
    memcpy(b + SEC_AT, "modex", 5);
    bad |= emit("no_model_section.ckpt", b, valid_len, 1);
    memcpy(b + SEC_AT, valid + SEC_AT, 8);
    put_u64(b, 40, (uint64_t)1 << 62);
    bad |= emit("body_len_huge.ckpt", b, valid_len, 1);
    memcpy(b + 40, valid + 40, 8);
    put_u32(b, NSEG_AT, 0xffffffffu);
    bad |= emit("nseg_huge.ckpt", b, valid_len, 1);
    put_u32(b, NSEG_AT, nseg);
    put_u64(b, NPAR_AT, (uint64_t)1 << 62);
    bad |= emit("nparams_huge.ckpt", b, valid_len, 1);
    put_u64(b, NPAR_AT, (uint64_t)1 << 39);
    bad |= emit("nparams_big.ckpt", b, valid_len, 1);
    put_u64(b, NPAR_AT, n);
    put_u32(b, 32, 0xffffffffu);
    bad |= emit("config_len_huge.ckpt", b, valid_len, 1);
    put_u32(b, 32, clen);
    b[par_at + 3] ^= 0x10;
    bad |= emit("flipped_bit.ckpt", b, valid_len, 0);
    b[par_at + 3] ^= 0x10;
    b[valid_len - 1] ^= 0xff;
    bad |= emit("bad_checksum.ckpt", b, valid_len, 0);
    b[valid_len - 1] ^= 0xff;
    memcpy(b + SEG0, "qf", 2);
    bad |= emit("segment_name.ckpt", b, valid_len, 1);
    memcpy(b + SEG0, valid + SEG0, 2);
    put_u64(b, SEG0 + 16, 1);
    bad |= emit("segment_offset.ckpt", b, valid_len, 1);
    memcpy(b + SEG0 + 16, valid + SEG0 + 16, 8);
    put_u64(b, SEG0 + 40 + 32, (uint64_t)-5); /* adam step of segment 1: -5 */
    bad |= emit("negative_step.ckpt", b, valid_len, 1);
    memcpy(b + SEG0 + 72, valid + SEG0 + 72, 8);
    memcpy(b + cfg_at, "ckpt_tool v2", clen < 12 ? clen : 12);
    bad |= emit("other_config.ckpt", b, valid_len, 1);
    memcpy(b + cfg_at, "\x1b[31m\x01\xff\xfe\x07run", clen < 12 ? clen : 12);
    bad |= emit("binary_config.ckpt", b, valid_len, 1);
    memcpy(b + cfg_at, valid + cfg_at, clen);
    d = NAN;
    memcpy(b + par_at + 8 * 2, &d, 8);
    bad |= emit("nan_param.ckpt", b, valid_len, 1);
    d = INFINITY;
    memcpy(b + par_at + 8 * 2, &d, 8);
    bad |= emit("inf_param.ckpt", b, valid_len, 1);
    memcpy(b + par_at + 8 * 2, valid + par_at + 8 * 2, 8);
    d = NAN;
    memcpy(b + m_at + 8, &d, 8);
    bad |= emit("nan_moment.ckpt", b, valid_len, 1);
    memcpy(b + m_at + 8, valid + m_at + 8, 8);
    d = -1.0;
    memcpy(b + v_at + 8, &d, 8);
    bad |= emit("negative_second_moment.ckpt", b, valid_len, 1);
    free(b);

    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "load") != 0 && strcmp(argv[1], "forge") != 0)) {
        fprintf(stderr, "usage: ckpt_tool load FILE | ckpt_tool forge DIR\n");
        return 2;
    }
    gfn_env *env = gfn_ckpt_model_env();
    gfn_model *m = env ? gfn_ckpt_model_alloc(env, 4, 1) : NULL;
    int rc = 1;
    gfn_error err;
    if (m && strcmp(argv[1], "load") == 0) {
        rc = gfn_checkpoint_load(argv[2], m, CONFIG, &err) != GFN_OK;
        if (rc)
            fprintf(stderr, "ckpt_tool: %s\n", err.msg);
    } else if (m) {
        out_dir = argv[2];
        rc = forge(m);
        gfn_model *wide = rc ? NULL : gfn_ckpt_model_alloc(env, 8, 2);
        char path[1024];
        snprintf(path, sizeof path, "%s/other_width.ckpt", out_dir);
        if (!rc && (!wide || gfn_checkpoint_save(path, wide, CONFIG, &err))) {
            fprintf(stderr, "ckpt_tool: cannot write %s\n", path);
            rc = 1;
        }
        gfn_model_free(wide);
        free(valid);
    }
    gfn_model_free(m);
    gfn_env_free(env);
    return rc;
}
