#!/usr/bin/python3
"""adam_ref.py - reference values for tests/test_adam.c from torch.optim.Adam.

Two parameter groups like a GFlowNet model: a policy tensor of 7 values (lr 0.1)
and log Z (lr 0.01, clamped at >= 0 after each step as the authors do).  Six steps
with fixed gradients; at step 4 log Z has no gradient (grad None), so torch skips
it and its step count does not advance.  Run twice: without clipping and with
torch.nn.utils.clip_grad_norm_(max_norm=2.0).  Writes adam_ref.txt next to this
script: one line per (clip, step): clip step p0..p6 logz, as %.17g.
Usage: /usr/bin/python3 tests/ref/adam_ref.py
"""
import math
import os

import torch

torch.set_default_dtype(torch.float64)


def grads(k):
    gp = [0.5 * math.sin(1.7 * i + 0.3 * k) * (1 + i) for i in range(7)]
    gz = 1.0 + 0.1 * k
    return gp, gz


def run(clip):
    pol = torch.tensor([0.5 * math.sin(1.7 * i) for i in range(7)], requires_grad=True)
    logz = torch.tensor([0.05], requires_grad=True)
    opt = torch.optim.Adam([{"params": [pol], "lr": 0.1}, {"params": [logz], "lr": 0.01}],
                           betas=(0.9, 0.999), eps=1e-8)
    rows = []
    for k in range(6):
        opt.zero_grad(set_to_none=True)
        gp, gz = grads(k)
        pol.grad = torch.tensor(gp)
        if k != 4:
            logz.grad = torch.tensor([gz])
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([pol, logz], max_norm=clip)
        opt.step()
        with torch.no_grad():
            logz.clamp_(min=0.0)
        rows.append([clip, k] + pol.tolist() + logz.tolist())
    return rows


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adam_ref.txt")
    with open(out, "w") as f:
        f.write("# torch %s: clip step p0 p1 p2 p3 p4 p5 p6 logz\n" % torch.__version__)
        for clip in (0.0, 2.0):
            for r in run(clip):
                f.write(" ".join("%.17g" % v for v in r) + "\n")


if __name__ == "__main__":
    main()
