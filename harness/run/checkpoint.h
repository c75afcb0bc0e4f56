/* checkpoint.h - save and restore a model: every parameter, the Adam moments and
 * step counts (log Z is a parameter), with a description of the run.
 *
 * File format, version 1, native byte order (the endianness mark makes a file
 * from another byte order a clear error):
 *   "GFNBCKPT" (8 bytes) | u32 version | u32 endian mark 0x01020304 |
 *   u32 n_segments | u32 config_len | u64 n_params |
 *   n_segments x { char name[16] | u64 offset | u64 count | i64 adam_step } |
 *   config (config_len bytes, no NUL) |
 *   params (n_params doubles) | adam m (n_params) | adam v (n_params) |
 *   u64 FNV-1a 64 checksum of every preceding byte.
 * The file is written to a temporary name and renamed.
 */
#ifndef GFN_CHECKPOINT_H
#define GFN_CHECKPOINT_H

#include "model.h"
#include "status.h"

#define GFN_CHECKPOINT_VERSION 1

/* config: any text describing the run (for example the resolved spec); may be "". */
int gfn_checkpoint_save(const char *path, gfn_model *m, const char *config, gfn_error *err);

/* Restores m from path.  Errors name the path: GFN_EIO (cannot read), GFN_EFORMAT
 * (not a checkpoint, truncated, checksum mismatch, a negative step count, a parameter
 * or moment not finite, a second moment < 0), GFN_EUNSUPPORTED (other version
 * or byte order), GFN_EMISMATCH (segment layout differs from m's, or config is not
 * NULL and differs from the stored one).  On error m is unchanged. */
int gfn_checkpoint_load(const char *path, gfn_model *m, const char *config, gfn_error *err);

/* FNV-1a 64 of len bytes. */
uint64_t gfn_checkpoint_fnv64(const void *data, size_t len);

#endif
