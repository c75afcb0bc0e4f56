#!/usr/bin/python3
"""PyTorch reference for tests/test_objective.c: each objective's loss and its
gradients by autograd, on the fixed batch of test_objective.c (batch_fill), with
and without the clamp.  torch.clamp(max=100) gives the per-trajectory clamp its
gradient semantics.  Writes tests/ref/objective_ref.txt; run from the repository
root.  Format: "loss NAME VARIANT value", then "grad NAME VARIANT ARRAY n i:v ..." for
log_pf, log_pb, log_flow, fm_in, fm_out and log_z, listing the n non-zero entries
of the flat gradient array (index:value; every other entry is 0)."""
import math
import torch

torch.set_default_dtype(torch.float64)
B, T, K = 5, 6, 40
LENS = [1, 3, 6, 4, 2]
LOG_Z = 0.7
CLAMP = 100.0


def inputs(clamped):
    lr = [0.8 * math.sin(2.3 * b + 0.4) for b in range(B)]
    lg = [-1.0 - 0.7 * math.cos(1.1 * b) for b in range(B)]
    if clamped:
        for b in (1, 3):
            lr[b], lg[b] = -60.0, 60.0
    d = dict(
        log_pf=torch.tensor([-0.6 + 0.5 * math.sin(1.7 * i) for i in range(B * T)]),
        log_pb=torch.tensor([-0.4 + 0.5 * math.cos(1.3 * i + 0.2) for i in range(B * T)]),
        log_flow=torch.tensor([0.3 + 0.6 * math.sin(0.9 * i + 1.0) for i in range(B * (T + 1))]),
        fm_in=torch.tensor([-0.5 + 0.7 * math.sin(0.37 * i + 1.3 * k)
                            for i in range(B * (T + 1)) for k in range(K)]),
        fm_out=torch.tensor([-0.2 + 0.6 * math.cos(0.53 * i + 0.9 * k)
                             for i in range(B * (T + 1)) for k in range(K)]),
        log_z=torch.tensor([LOG_Z]))
    for v in d.values():
        v.requires_grad_(True)
    return d, lr, lg


def reduce(per_traj, clamp):
    v = torch.stack(per_traj)
    if clamp:
        v = v.clamp(max=CLAMP)
    return v.mean()


def flows(d, lr, b):
    """log F(s_t), t = 0..T_b, with log Z and log R at the ends."""
    n = LENS[b]
    return [d["log_z"][0] if t == 0 else torch.tensor(lr[b]) if t == n
            else d["log_flow"][b * (T + 1) + t] for t in range(n + 1)]


def tb(d, lr, lg, clamp, **kw):
    out = []
    for b in range(B):
        n = LENS[b]
        pf, pb = d["log_pf"][b * T:b * T + n], d["log_pb"][b * T:b * T + n]
        out.append((d["log_z"][0] + pf.sum() - lr[b] - pb.sum()) ** 2)
    return reduce(out, clamp)


def db(d, lr, lg, clamp, **kw):
    out = []
    for b in range(B):
        n, F = LENS[b], flows(d, lr, b)
        res = [F[t] + d["log_pf"][b * T + t] - F[t + 1] - d["log_pb"][b * T + t] for t in range(n)]
        out.append(torch.stack([r ** 2 for r in res]).mean())
    return reduce(out, clamp)


def subtb(d, lr, lg, clamp, lam=0.9, **kw):
    out = []
    for b in range(B):
        n, F = LENS[b], flows(d, lr, b)
        num, den = 0.0, 0.0
        for i in range(n):
            for j in range(i + 1, n + 1):
                r = F[i] - F[j] + sum(d["log_pf"][b * T + t] - d["log_pb"][b * T + t]
                                      for t in range(i, j))
                num = num + lam ** (j - i) * r ** 2
                den += lam ** (j - i)
        out.append(num / den)
    return reduce(out, clamp)


def fm(d, lr, lg, clamp, **kw):
    out = []
    for b in range(B):
        n, terms = LENS[b], []
        for t in range(1, n + 1):
            st = b * (T + 1) + t
            n_in = 1 + (b + t) % 3
            n_out = 1 + (3 * b + t) % 4 if t < n else 0
            fin = torch.logsumexp(d["fm_in"][st * K:st * K + n_in], 0)
            fout = (torch.logsumexp(d["fm_out"][st * K:st * K + n_out], 0) if t < n
                    else torch.tensor(lr[b]))
            terms.append((fin - fout) ** 2)
        out.append(torch.stack(terms).mean())
    return reduce(out, clamp)


def gtb_backward(d, lr, lg, clamp, form="code", **kw):
    out = []
    for b in range(B):
        n = LENS[b]
        spb = d["log_pb"][b * T:b * T + n].sum()
        r = spb - lg[b] + (lr[b] if form == "code" else 0.0)
        out.append(r ** 2)
    return reduce(out, clamp)


def gtb_forward(d, lr, lg, clamp, w=0.25, **kw):
    out = []
    for b in range(B):
        n = LENS[b]
        spf = d["log_pf"][b * T:b * T + n].sum()
        spb = d["log_pb"][b * T:b * T + n].sum().detach()
        target = w * (lr[b] + spb) + (1 - w) * (lg[b] + lr[b])
        out.append((d["log_z"][0] + spf - target) ** 2)
    return reduce(out, clamp)


CASES = [("tb", tb, {}), ("db", db, {}), ("subtb", subtb, {}),
         ("subtb0.5", subtb, {"lam": 0.5}), ("fm", fm, {}),
         ("gtb_backward_code", gtb_backward, {"form": "code"}),
         ("gtb_backward_paper", gtb_backward, {"form": "paper"}),
         ("gtb_forward", gtb_forward, {"w": 0.25})]

with open("tests/ref/objective_ref.txt", "w") as f:
    f.write("# objective_ref.py, torch %s\n" % torch.__version__)
    for variant in ("plain", "clamped"):
        for name, fn, kw in CASES:
            d, lr, lg = inputs(variant == "clamped")
            loss = fn(d, lr, lg, clamp=variant == "clamped", **kw)
            loss.backward()
            f.write("loss %s %s %r\n" % (name, variant, loss.item()))
            for a in ("log_pf", "log_pb", "log_flow", "fm_in", "fm_out", "log_z"):
                g = d[a].grad
                g = torch.zeros_like(d[a]) if g is None else g
                nz = ["%d:%r" % (i, v) for i, v in enumerate(g.tolist()) if v != 0.0]
                f.write("grad %s %s %s %d %s\n" % (name, variant, a, len(nz), " ".join(nz)))
