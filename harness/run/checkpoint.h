/* checkpoint.h - checkpoint files: a model alone, or everything a training run
 * needs to continue bit-identically (harness/run/train.c writes and reads those).
 *
 * File format, version 2, native byte order (the endianness mark makes a file
 * from another byte order a clear error):
 *   "GFNBCKPT" (8 bytes) | u32 version | u32 endian mark 0x01020304 |
 *   u64 layout fingerprint (FNV-1a 64 of this build's sizes, gfn_checkpoint_layout) |
 *   u32 flags (bit 0: the run finished) | u32 n_sections | u32 config_len | u32 0 |
 *   u64 body_len | config (config_len bytes, no NUL) |
 *   body: n_sections x { char tag[8] | u64 len | len bytes } |
 *   u64 FNV-1a 64 checksum of every preceding byte.
 * The "model" section: u32 n_segments | u32 0 | u64 n_params |
 *   n_segments x { char name[16] | u64 offset | u64 count | i64 adam_step } |
 *   params | grads | adam m | adam v (n_params doubles each).
 * A run checkpoint adds the sections "run", "trainer", "evalrng" and "monitor"
 * (train.c, monitor.c say what they hold).  Files are written to a temporary
 * name, fsync'ed and renamed: a crash during a write leaves the previous file.
 */
#ifndef GFN_CHECKPOINT_H
#define GFN_CHECKPOINT_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "fsutil.h"
#include "model.h"
#include "params.h"
#include "status.h"

#define GFN_CHECKPOINT_VERSION 2

/* config: any text describing the run (for example the resolved spec); may be "". */
int gfn_checkpoint_save(const char *path, gfn_model *m, const char *config, gfn_error *err);

/* Restores m from the "model" section of path (a model or a run checkpoint).
 * Errors name the path: GFN_EIO (cannot read), GFN_EFORMAT (not a checkpoint,
 * truncated, checksum mismatch, a negative step count, a parameter or moment not
 * finite, a second moment < 0), GFN_EUNSUPPORTED (other version, byte order or
 * build layout), GFN_EMISMATCH (segment layout differs from m's, or config is
 * not NULL and differs from the stored one).  On error m is unchanged. */
int gfn_checkpoint_load(const char *path, gfn_model *m, const char *config, gfn_error *err);

/* FNV-1a 64 of len bytes. */
uint64_t gfn_checkpoint_fnv64(const void *data, size_t len);

/* The fingerprint of what this build writes: the format version, the sizes of
 * the types a section holds and the random generator's state size. */
uint64_t gfn_checkpoint_layout(void);

/* The configuration text a run checkpoint is tied to: "key=value\n" per item,
 * threads left out (it changes no result, so a run may resume with another). */
void gfn_checkpoint_config_text(const gfn_params *cfg, gfn_strbuf *out);

/* ---- building and reading sections ---- */

typedef struct {
    unsigned char *data;
    size_t len, cap;
    uint32_t n_sections;
    size_t open;   /* offset of the open section's length field, or 0 */
    int failed;    /* an allocation failed; later puts are ignored */
} gfn_ckpt_buf;

void gfn_ckpt_buf_init(gfn_ckpt_buf *b);
void gfn_ckpt_buf_close(gfn_ckpt_buf *b);
/* Starts a section (ending the open one); tag has at most 8 characters. */
void gfn_ckpt_begin(gfn_ckpt_buf *b, const char *tag);
void gfn_ckpt_put(gfn_ckpt_buf *b, const void *src, size_t n);
void gfn_ckpt_put_i64(gfn_ckpt_buf *b, int64_t v);
void gfn_ckpt_put_f64(gfn_ckpt_buf *b, double v);
void gfn_ckpt_put_model(gfn_ckpt_buf *b, gfn_model *m);
/* Generator name and state (gsl_rng_state), so that it continues where it was. */
void gfn_ckpt_put_rng(gfn_ckpt_buf *b, const gsl_rng *r);

/* Writes the file atomically; finished marks the checkpoint of a whole run. */
int gfn_ckpt_write(const char *path, const char *config, int finished, gfn_ckpt_buf *body,
                   gfn_error *err);

/* One section being read; reads past its end are GFN_EFORMAT naming the path. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *path;
    char tag[9];
} gfn_ckpt_reader;

int gfn_ckpt_get(gfn_ckpt_reader *r, void *dst, size_t n, gfn_error *err);
int gfn_ckpt_get_i64(gfn_ckpt_reader *r, int64_t *v, gfn_error *err);
int gfn_ckpt_get_f64(gfn_ckpt_reader *r, double *v, gfn_error *err);
/* Restores m (GFN_EMISMATCH when the layout differs; m unchanged on error). */
int gfn_ckpt_get_model(gfn_ckpt_reader *r, gfn_model *m, gfn_error *err);
int gfn_ckpt_get_rng(gfn_ckpt_reader *r, gsl_rng *rng, gfn_error *err);
/* GFN_EFORMAT unless the whole section was read. */
int gfn_ckpt_done(const gfn_ckpt_reader *r, gfn_error *err);

/* A verified checkpoint file in memory. */
typedef struct {
    char *raw;
    size_t len;
    const char *path;
    int finished;
    const unsigned char *body;
    size_t body_len;
    uint32_t n_sections;
} gfn_ckpt_file;

/* Reads and checks path (size, magic, version, byte order, checksum, layout,
 * section table, then config when not NULL); on success f holds the file
 * (gfn_ckpt_file_close frees it).  Errors as gfn_checkpoint_load; a config
 * mismatch names the first key that differs. */
int gfn_ckpt_file_read(const char *path, const char *config, gfn_ckpt_file *f, gfn_error *err);
void gfn_ckpt_file_close(gfn_ckpt_file *f);
/* The section tag; GFN_EFORMAT when the file has none. */
int gfn_ckpt_file_section(const gfn_ckpt_file *f, const char *tag, gfn_ckpt_reader *r,
                          gfn_error *err);

/* The configuration text stored in a valid checkpoint (key=value lines), appended
 * to out; *finished (may be NULL) says whether the run had finished. */
int gfn_checkpoint_read_config(const char *path, gfn_strbuf *out, int *finished, gfn_error *err);

/* GFN_OK when path is a valid checkpoint of config; *finished says whether the
 * run it holds had finished.  The runner's --resume asks this. */
int gfn_checkpoint_probe(const char *path, const char *config, int *finished, gfn_error *err);

#endif
