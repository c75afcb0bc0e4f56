#!/usr/bin/python3
"""Reference 90th percentiles for tests/test_replay.c, made with numpy's default
(linear) np.percentile as the authors' PRT code uses.  Writes
tests/ref/replay_percentile.txt: one line per case, "n q value x_1 ... x_n", every
number with repr precision.  Run from the repository root."""
import numpy as np

rng = np.random.default_rng(20230705)
cases = []
for n in (10, 11, 16, 17, 100, 1001):
    cases.append(rng.exponential(2.0, n))                   # distinct values
    cases.append(np.round(rng.exponential(2.0, n), 1))      # many ties
cases.append(np.full(12, 0.01))                             # all equal
cases.append(np.array([0.01] * 95 + [30.0] * 5))            # bag-like: few modes
cases.append(np.array([10.0] * 30 + [0.001] * 70))
with open("tests/ref/replay_percentile.txt", "w") as f:
    f.write("# n q np.percentile(x, q) x... (numpy %s)\n" % np.__version__)
    for x in cases:
        for q in (90.0, 50.0, 10.0):
            v = np.percentile(x, q)
            f.write(" ".join([str(len(x)), repr(q), repr(float(v))] +
                             [repr(float(t)) for t in x]) + "\n")
