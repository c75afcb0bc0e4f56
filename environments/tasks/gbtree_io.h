/* gbtree_io.h - reads the text export of a gradient-boosted tree ensemble.
 *
 * Format (data/sehstr/sehstr_gbr_trees.txt, described in data/README.md): lines
 * starting with '#' and blank lines are ignored; then, in this order,
 *     format_version 1
 *     n_features <int>
 *     n_trees <int>
 *     baseline <double>
 * and n_trees blocks, each a line "tree <t> <n_nodes>" (t = 0, 1, ... in order)
 * followed by n_nodes lines
 *     node_id feature threshold left right is_leaf value missing_go_to_left
 * (node_id = 0, 1, ... in order; types int int double int int int double int).
 * Nothing may follow the last tree.
 */
#ifndef GFN_GBTREE_IO_H
#define GFN_GBTREE_IO_H

#include "gbtree.h"
#include "status.h"

/* Parses path strictly.  Every malformed line is GFN_EFORMAT with "path:line: " and
 * what was expected; a structural fault found by gfn_gbtree_alloc (child out of
 * range, feature >= n_features, a node with two parents or unreachable, bad flags)
 * is reported at the line of the offending node (or of its tree).  A missing file
 * is GFN_EIO.  On success *out owns the ensemble (free with gfn_gbtree_free). */
int gfn_gbtree_read(const char *path, gfn_gbtree **out, gfn_error *err);

#endif
