/* status.c - messages of the status table and the error record. */
#include "status.h"

#include <stdarg.h>
#include <string.h>

const char *gfn_strerror(int status)
{
    switch (status) {
#define GFN__STATUS_CASE(name, value, msg) \
    case value:                            \
        return msg;
        GFN_STATUS_TABLE(GFN__STATUS_CASE)
#undef GFN__STATUS_CASE
    default:
        return "unknown status";
    }
}

int gfn_error_set(gfn_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void gfn_error_clear(gfn_error *err)
{
    if (err) {
        err->code = GFN_OK;
        err->msg[0] = '\0';
    }
}
