#!/usr/bin/python3
"""welch_ref.py - reference values of Welch's t-test for tests/test_compare.c.

    python3 tests/ref/welch_ref.py > tests/ref/welch_ref.tsv

scipy is not installed on the build machine, so this script does not call
scipy.stats.ttest_ind(a, b, equal_var=False); it computes the same quantities
from their definitions, independently of GSL, with the Python standard library:
  t  = (m1 - m2) / sqrt(v1 + v2),  v_i = s_i^2 / n_i (s_i: sample std, n-1)
  df = (v1 + v2)^2 / (v1^2 / (n1 - 1) + v2^2 / (n2 - 1))   (Welch-Satterthwaite)
  p  = 2 P(T_df > |t|)
     = 2 Gamma((df+1)/2) / (sqrt(pi) Gamma(df/2)) * integral_0^{atan(sqrt(df)/|t|)} sin^(df-1)(u) du
(substituting x = sqrt(df) tan(theta), u = pi/2 - theta, in the Student-t
density), the integral by tanh-sinh quadrature, which stays accurate with the
endpoint singularity of sin^(df-1) at 0 when df < 2.  The quadrature is checked
first against the closed forms of the Student-t tail for df = 1, 2, 3 and 4.
With scipy at hand the same rows can be re-checked with
    stats.ttest_ind(a, b, equal_var=False).pvalue.

Output (tab-separated): name, sample a (comma-separated), sample b, t, df, p.
"""
import math


def tanh_sinh(f, lo, hi, h=1.0 / 64, kmax=4 * 64):
    """integral_lo^hi f(x) dx by the double-exponential rule (step h in t)."""
    half, mid = (hi - lo) / 2, (hi + lo) / 2
    total = 0.0
    for k in range(-kmax, kmax + 1):
        t = k * h
        s = math.pi / 2 * math.sinh(t)
        w = math.pi / 2 * math.cosh(t) / math.cosh(s) ** 2
        x = math.tanh(s)
        if w < 1e-300:
            continue
        # Distance from the lower end computed without cancellation near -1.
        d_lo = half * (1 + x) if x > -0.5 else half * math.exp(s) / math.cosh(s)
        total += w * f(lo + d_lo, d_lo)
    return total * half * h


def two_sided_p(t, df):
    if t == 0:
        return 1.0
    top = math.atan(math.sqrt(df) / abs(t))
    c = 2 * math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(math.pi)
    # f gets the distance u from 0 directly, so sin(u)^(df-1) is exact near 0.
    return c * tanh_sinh(lambda x, u: math.sin(u) ** (df - 1), 0.0, top)


def closed_form_p(t, df):
    """2 P(T > |t|) for df = 1..4 (Student-t CDF in closed form)."""
    t = abs(t)
    if df == 1:
        return 1 - 2 / math.pi * math.atan(t)
    if df == 2:
        return 1 - t / math.sqrt(t * t + 2)
    if df == 3:
        x = t / math.sqrt(3)
        return 1 - 2 / math.pi * (math.atan(x) + x / (1 + x * x))
    if df == 4:
        c = t / math.sqrt(t * t + 4)
        return 1 - 1.5 * c + 0.5 * c ** 3
    raise ValueError(df)


def mean_sd(x):
    m = sum(x) / len(x)
    return m, math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1))


def welch(a, b):
    m1, s1 = mean_sd(a)
    m2, s2 = mean_sd(b)
    v1, v2 = s1 * s1 / len(a), s2 * s2 / len(b)
    t = (m1 - m2) / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 * v1 / (len(a) - 1) + v2 * v2 / (len(b) - 1))
    return t, df, two_sided_p(t, df)


CASES = [
    ("equal_n2_df2", [1, 2], [3, 4]),
    ("equal_n3_df4", [1, 2, 3], [5, 6, 7]),
    ("n3_fractional_df", [1, 2, 3], [2, 4, 6]),
    ("n2_near_df1", [0, 1], [0, 10]),
    ("unequal_n", [10.1, 10.3, 9.8, 10.0, 10.4], [10.9, 11.2, 10.7]),
    ("n2_vs_n10", [5.5, 6.5], [4.0, 4.2, 3.9, 4.4, 4.1, 3.8, 4.3, 4.0, 4.2, 4.1]),
    ("far_apart_small_p", [0.0, 0.1, -0.1, 0.05, -0.05], [2.0, 2.1, 1.9, 2.05, 1.95]),
    ("same_means", [1.0, 2.0, 3.0], [0.0, 2.0, 4.0]),
    ("seeds_like", [63.85411659, 61.74718836], [78.84347098, 77.79286144]),
]


def main():
    for df in (1, 2, 3, 4):
        for t in (0.1, 1.0, 2.5, 7.0, 40.0):
            q, e = two_sided_p(t, df), closed_form_p(t, df)
            # 1e-15 absolute: the closed forms lose digits to 1 - (...) when p is small.
            assert abs(q - e) <= 1e-13 * e + 1e-15, (df, t, q, e)
    for name, a, b in CASES:
        t, df, p = welch(a, b)
        cell = lambda x: ",".join(repr(float(v)) for v in x)
        print(f"{name}\t{cell(a)}\t{cell(b)}\t{t:.17g}\t{df:.17g}\t{p:.17g}")


if __name__ == "__main__":
    main()
