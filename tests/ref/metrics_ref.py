#!/usr/bin/python3
"""metrics_ref.py - reference values of the exact metrics for tests/test_metrics.c.

Run with the Debian python (numpy, scipy):
    /usr/bin/python3 tests/ref/metrics_ref.py > tests/ref/metrics_ref.tsv

Each case stores its inputs directly (they are small): name, learned log Z,
p_theta (comma-separated), R (comma-separated), then the expected
mean_reward_pct, tv, kl_target_learned, kl_learned_target, jsd, pearson,
spearman, slope, log_z, logz_error, ad_exact, target_mean_reward, mean_reward.
The values come from scipy where scipy has the routine (rel_entr,
jensenshannon, pearsonr, spearmanr, linregress) and from numpy otherwise; NaN
where scipy declines (constant input), inf where KL is infinite.
"""
import math
import sys
import warnings

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr


def metrics(p, R, learned_log_z):
    p, R = np.asarray(p, float), np.asarray(R, float)
    Z = math.fsum(R)
    q = R / Z
    tmean = math.fsum(R * R) / Z
    mean = math.fsum(p * R)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        lx = np.log(R)
        ly = np.log(p)
        if np.any(p == 0) or np.all(R == R[0]):
            pear = spear = slope = float('nan')
        elif np.all(p == p[0]):
            # A constant log p has a well-defined slope 0 but no correlation.
            pear = spear = float('nan')
            slope = stats.linregress(lx, ly).slope
        else:
            pear = stats.pearsonr(lx, ly)[0]
            spear = stats.spearmanr(lx, ly)[0]
            slope = stats.linregress(lx, ly).slope
    zs, inv = np.unique(R, return_inverse=True)
    qj = np.bincount(inv, weights=q)
    pj = np.bincount(inv, weights=p)
    Fq = np.cumsum(qj) - qj / 2
    Fp = np.cumsum(pj) - pj / 2
    ad = float(np.sum(qj * (Fp - Fq) ** 2 / (Fq * (1 - Fq))))
    return [100 * mean / tmean, 0.5 * math.fsum(np.abs(p - q)),
            float(np.sum(rel_entr(q, p))), float(np.sum(rel_entr(p, q))),
            float(jensenshannon(p, q) ** 2), pear, spear, slope,
            math.log(Z), learned_log_z - math.log(Z), ad, tmean, mean]


def main():
    rng = np.random.default_rng(20230507)
    cases = []
    # Hand-checked in test_metrics.c: R = (1, 3), p = (1/2, 1/2).
    cases.append(('hand_two', 1.5, [0.5, 0.5], [1.0, 3.0]))
    R = rng.choice([0.01, 10.0, 30.0], size=40, p=[0.7, 0.2, 0.1])
    p = rng.dirichlet(np.ones(40))
    cases.append(('bag_like_random', 3.0, list(p), list(R)))
    R = np.exp(rng.normal(size=50))
    cases.append(('perfect', math.log(math.fsum(R)), list(R / math.fsum(R)), list(R)))
    p = R ** 0.7
    p /= math.fsum(p)
    cases.append(('tempered', 2.0, list(p), list(R)))
    R = rng.choice([0.001, 0.5, 2.0, 10.0], size=30)
    p = rng.dirichlet(np.ones(30) * 0.5)
    p[3] = 0.0
    p /= math.fsum(p)
    cases.append(('missing_support', 0.0, list(p), list(R)))
    R = np.full(20, 2.5)
    p = rng.dirichlet(np.ones(20))
    cases.append(('uniform_target', float('nan'), list(p), list(R)))
    R = 0.1 + rng.random(64) * 10
    p = rng.dirichlet(np.ones(64) * 3)
    cases.append(('continuous_random', 6.0, list(p), list(R)))
    out = sys.stdout
    out.write('# numpy %s, scipy: see metrics_ref.py\n' % np.__version__)
    for name, lz, p, R in cases:
        vals = metrics(p, R, lz)
        cols = [name, repr(float(lz)), ','.join(repr(float(v)) for v in p),
                ','.join(repr(float(v)) for v in R)] + [repr(float(v)) for v in vals]
        out.write('\t'.join(cols) + '\n')


if __name__ == '__main__':
    main()
