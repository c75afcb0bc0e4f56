/* fsutil.h - the few file-system operations the harness needs: mkdir -p,
 * atomic whole-file writes (temporary name + rename), whole-file reads and
 * recursive removal of a run folder.
 *
 * Atomic writes matter because runs are resumable: a reader (the report, or a
 * later --resume) must never see half a file, only the old one or the new one.
 * Every function returns a gfn_status and names the path in err on failure.
 */
#ifndef GFN_FSUTIL_H
#define GFN_FSUTIL_H

#include <stddef.h>

#include "status.h"

/* Creates path and every missing parent folder (mode 0777 & ~umask). */
int gfn_fs_mkdir_p(const char *path, gfn_error *err);

/* Writes len bytes of data to path through "path.tmp.<pid>" + fsync + rename. */
int gfn_fs_write_atomic(const char *path, const void *data, size_t len, gfn_error *err);

/* Reads the whole file into a malloc'ed, NUL-terminated buffer (*out, *len may be
 * NULL for len).  The caller frees *out. */
int gfn_fs_read_all(const char *path, char **out, size_t *len, gfn_error *err);

/* 1 when path exists (file or folder), else 0. */
int gfn_fs_exists(const char *path);

/* Removes path and, for a folder, everything under it; a missing path is OK. */
int gfn_fs_remove_tree(const char *path, gfn_error *err);

/* A growable text buffer for building files in memory before the atomic write. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed; /* set when an allocation failed; later appends are ignored */
} gfn_strbuf;

void gfn_strbuf_init(gfn_strbuf *b);
void gfn_strbuf_close(gfn_strbuf *b);
void gfn_strbuf_printf(gfn_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Atomic write of the buffer's content; GFN_ENOMEM if an append had failed. */
int gfn_strbuf_write(const gfn_strbuf *b, const char *path, gfn_error *err);

#endif
