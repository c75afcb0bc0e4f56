/* fsutil.c - mkdir -p, atomic writes, whole-file reads, recursive removal. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gfn_fs_mkdir_p(const char *path, gfn_error *err)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return gfn_error_set(err, GFN_EIO, "cannot create folder '%s': bad path length", path);
    memcpy(buf, path, len + 1);
    /* Create each prefix in turn; EEXIST on a folder is fine. */
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return gfn_error_set(err, GFN_EIO, "cannot create folder '%s': %s", buf,
                                 strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return gfn_error_set(err, GFN_EIO, "cannot create folder '%s': a file is in the way",
                                 buf);
        buf[i] = c;
    }
    return GFN_OK;
}

int gfn_fs_write_atomic(const char *path, const void *data, size_t len, gfn_error *err)
{
    /* A fresh temporary beside the target: mkstemp's random suffix and O_EXCL mean
     * a planted file or symlink can neither be predicted nor followed. */
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return gfn_error_set(err, GFN_EIO, "cannot write '%.200s...': path too long (%zu "
                             "characters, at most %zu)", path, strlen(path), sizeof tmp - 12);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* mkstemp makes 0600: give the usual mode */
        int e = errno;
        close(fd);
        unlink(tmp);
        return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", tmp, strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    /* fsync before rename so that a crash leaves either the old or the whole new file. */
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return gfn_error_set(err, GFN_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                             strerror(e));
    }
    return GFN_OK;
}

int gfn_fs_read_all(const char *path, char **out, size_t *len, gfn_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "cannot read '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(buf, 2 * cap);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory reading '%s'", path);
    if (bad) {
        free(buf);
        return gfn_error_set(err, GFN_EIO, "cannot read '%s'", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return GFN_OK;
}

int gfn_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int gfn_fs_remove_tree(const char *path, gfn_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? GFN_OK
                               : gfn_error_set(err, GFN_EIO, "cannot inspect '%s': %s", path,
                                               strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return gfn_error_set(err, GFN_EIO, "cannot open folder '%s': %s", path,
                                 strerror(errno));
        struct dirent *e;
        int rc = GFN_OK;
        while (rc == GFN_OK && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            rc = gfn_fs_remove_tree(child, err);
        }
        closedir(d);
        if (rc)
            return rc;
        if (rmdir(path) != 0)
            return gfn_error_set(err, GFN_EIO, "cannot remove folder '%s': %s", path,
                                 strerror(errno));
        return GFN_OK;
    }
    if (unlink(path) != 0)
        return gfn_error_set(err, GFN_EIO, "cannot remove '%s': %s", path, strerror(errno));
    return GFN_OK;
}

void gfn_strbuf_init(gfn_strbuf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void gfn_strbuf_close(gfn_strbuf *b)
{
    free(b->data);
    gfn_strbuf_init(b);
}

void gfn_strbuf_printf(gfn_strbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

int gfn_strbuf_write(const gfn_strbuf *b, const char *path, gfn_error *err)
{
    if (b->failed)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory building '%s'", path);
    return gfn_fs_write_atomic(path, b->data ? b->data : "", b->len, err);
}
