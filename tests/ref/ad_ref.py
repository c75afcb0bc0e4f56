#!/usr/bin/python3
"""ad_ref.py - reference values of scipy.stats.anderson_ksamp for tests/test_ad.c.

Run with the Debian python (scipy 1.10.1, numpy 1.24):
    /usr/bin/python3 tests/ref/ad_ref.py > tests/ref/ad_ref.tsv

Samples are not stored: each is described by a short spec that this script and
tests/test_ad.c expand identically, so the file stays small even for 100,000-value
samples.  A spec is comma-separated, samples of one case are joined by ';':
    u,n,seed,a,b          a + (b - a) * U
    c,n,seed,s            s * U * U * U
    q,n,seed,m            floor(U * m)                         (integers: many ties)
    d,n,seed,v1,w1,v2,w2  v_j for the first j with U * W < w1 + ... + w_j, W = sum w
    l,x1,x2,...           the listed values
U is the 64-bit LCG state = 6364136223846793005 * state + 1442695040888963407
(mod 2^64), started at seed and advanced before each draw, U = (state >> 11) / 2^53.
Only +, *, / and floor are used, so C and Python produce the same doubles.

Output columns (tab-separated): name, specs, statistic, 7 critical values,
significance, bound (+1 capped at 0.25, -1 floored at 0.001, 0 interpolated, as
scipy warns), or for an input scipy rejects: name, specs, ERROR, scipy's message.
"""
import math
import sys
import warnings

import numpy as np
import scipy
from scipy.stats import anderson_ksamp

MASK = (1 << 64) - 1


def lcg_uniforms(seed, n):
    state = seed & MASK
    out = []
    for _ in range(n):
        state = (6364136223846793005 * state + 1442695040888963407) & MASK
        out.append((state >> 11) * (1.0 / 9007199254740992.0))
    return out


def expand(spec):
    f = spec.split(',')
    kind = f[0]
    if kind == 'l':
        return [float(x) for x in f[1:]]
    n, seed = int(f[1]), int(f[2])
    us = lcg_uniforms(seed, n)
    p = [float(x) for x in f[3:]]
    if kind == 'u':
        return [p[0] + (p[1] - p[0]) * u for u in us]
    if kind == 'c':
        return [p[0] * u * u * u for u in us]
    if kind == 'q':
        return [float(math.floor(u * p[0])) for u in us]
    if kind == 'd':
        vals, ws = p[0::2], p[1::2]
        cum, acc = [], 0.0
        for w in ws:
            acc += w
            cum.append(acc)
        out = []
        for u in us:
            t = u * acc
            j = 0
            while j < len(cum) - 1 and not (t < cum[j]):
                j += 1
            out.append(vals[j])
        return out
    raise ValueError(kind)


DISC_TARGET = 'd,100000,7,0.01,0.6,10,0.3,30,0.1'
CASES = [
    ('unif_50_30_shift', 'u,50,1,0,1;u,30,2,0.3,1.3'),
    ('unif_equal_dist', 'u,200,3,0,1;u,150,4,0,1'),
    ('unif_128_vs_100000', 'u,128,5,0,1;u,100000,6,0,1'),
    ('unif_128_vs_100000_shift', 'u,128,5,0.05,1.05;u,100000,6,0,1'),
    ('disc_same_weights', 'd,128,8,0.01,0.6,10,0.3,30,0.1;' + DISC_TARGET),
    ('disc_other_weights', 'd,128,9,0.01,0.3,10,0.4,30,0.3;' + DISC_TARGET),
    ('disc_only_two_values', 'd,128,10,10,0.5,30,0.5;' + DISC_TARGET),
    ('disc_small', 'd,20,11,0.01,1,10,1,30,1;d,15,12,0.01,2,10,1,30,1'),
    ('identical_samples', 'u,100,13,0,1;u,100,13,0,1'),
    ('identical_disc', 'd,300,14,1,1,2,1,3,1;d,300,14,1,1,2,1,3,1'),
    ('ints_ties', 'q,200,15,10;q,300,16,12'),
    ('floored_shift', 'u,500,17,0,1;u,500,18,0.5,1.5'),
    ('cube_vs_unif', 'c,400,19,1;u,400,20,0,1'),
    ('tiny_2_2', 'l,1,2;l,3,4'),
    ('tiny_1_3', 'l,1;l,2,3,4'),
    ('tiny_ties', 'l,1,1;l,1,2'),
    ('tiny_interleaved', 'l,1,3,5;l,2,4,6'),
    ('negative_mixed', 'l,-3.5,0,2.25,-1e-300,7;u,40,21,-5,5'),
    ('k3_unif', 'u,50,22,0,1;u,30,23,0,1;u,20,24,0,1'),
    ('k3_shift', 'u,50,25,0,1;u,60,26,0.2,1.2;u,70,27,0.4,1.4'),
    ('k3_disc', 'd,100,28,0.01,6,10,3,30,1;d,120,29,0.01,6,10,3,30,1;d,90,30,0.01,3,10,3,30,4'),
    ('k5_sizes', 'u,5,31,0,1;u,10,32,0,1;u,50,33,0,1;u,1000,34,0,1;u,7,35,0,1'),
    ('k20_small', ';'.join('u,%d,%d,0,%g' % (3 + i % 4, 40 + i, 1 + 0.05 * i) for i in range(20))),
    ('k9_ints', ';'.join('q,%d,%d,5' % (10 + 3 * i, 70 + i) for i in range(9))),
    ('unif_mild_shift', 'u,100,36,0,1;u,100,37,0.15,1.15'),
    ('k3_mild_shift', 'u,60,38,0,1;u,60,39,0.1,1.1;u,60,40,0.2,1.2'),
    ('disc_mild', 'd,128,41,0.01,0.5,10,0.35,30,0.15;' + DISC_TARGET),
    ('disc_mild2', 'd,128,42,0.01,0.52,10,0.33,30,0.15;' + DISC_TARGET),
    ('ints_mild', 'q,300,43,10;q,300,44,11'),
    ('err_one_sample', 'u,10,1,0,1'),
    ('err_N2', 'l,1;l,2'),
    ('err_N3', 'l,1;l,2,3'),
    ('err_all_equal', 'l,1,1;l,1,1,1'),
]


def main():
    out = sys.stdout
    out.write('# scipy %s numpy %s: anderson_ksamp(samples, midrank=True); see ad_ref.py\n'
              % (scipy.__version__, np.__version__))
    for name, specs in CASES:
        samples = [np.array(expand(s)) for s in specs.split(';')]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                r = anderson_ksamp(samples)
            except (ValueError, IndexError) as e:
                out.write('%s\t%s\tERROR\t%s: %s\n' % (name, specs, type(e).__name__, e))
                continue
        if not math.isfinite(r.statistic):
            out.write('%s\t%s\tERROR\tstatistic is %r\n' % (name, specs, r.statistic))
            continue
        msgs = ' '.join(str(w.message) for w in caught)
        bound = 1 if 'capped' in msgs else (-1 if 'floored' in msgs else 0)
        cols = [name, specs, repr(float(r.statistic))]
        cols += [repr(float(c)) for c in r.critical_values]
        cols += [repr(float(r.pvalue)), str(bound)]
        out.write('\t'.join(cols) + '\n')


if __name__ == '__main__':
    main()
