#!/usr/bin/env python3
"""torch_round.py - the PyTorch side of the speed comparison (issue 7).

One training round of trajectory balance (TB) with prioritized replay (PRT) on a
prepend/append (pa) string task, as SPEC.md sections 1-4 define it, written the way
a competent PyTorch user would: the 16 trajectories are sampled together, the loss
of a batch is one batched forward/backward pass, nothing is looped per trajectory.

    TB loss  L = mean_b min(100, (log Z + sum_t log P_F(s_{t+1}|s_t)
                                  - log R(x_b) - sum_t log P_B(s_t|s_{t+1}))^2)

Tasks (pa MDP, alphabet A, length n; features = left-aligned one-hot padded to n*A):
    tfbind8  A = 4,  n = 8, R = max(10 y^3 / max y^3, 0.001),    SA 128 x 2,  3 steps/batch, eps 0.01
    qm9str   A = 11, n = 5, R = 100 max(y,1e-3)^5 / max(..),     SA 1024 x 2, 1 step/batch,  eps 0.1

Policies (SA): MLP Linear-LeakyReLU(0.01)-Linear-LeakyReLU(0.01)-Linear.
    P_F actions: 0 = STOP, 1..A = prepend c, A+1..2A = append c.  STOP is valid only at
        full length, prepend/append only below it.  c+s == s+c exactly when s is
        empty or s = c^k; the probability of such a child is the sum over both actions.
    P_B actions: 0 = UNSTOP, 1 = delete first, 2 = delete last.  A terminal has only
        UNSTOP; at a non-terminal s both deletes are valid and coincide exactly when s
        is constant (s = c^k, k >= 1, including one-letter strings).
    log Z: scalar, init 5.0, lr 1e-2, clamped >= 0 after each step; policy lr 1e-4;
    Adam(0.9, 0.999, 1e-8).  Gradient norm clipping at 10 applied, as in the authors'
    code (gflownet/GFNs/basegfn.py, train_tb), SEPARATELY to the P_F parameters and to
    the P_B parameters; log Z is not clipped.

Policies (SSR, --policy ssr; issue 13): P_F and P_B each an encoder MLP
    features -> hidden x 1 -> hidden (embeddings z) and a scorer MLP
    [z(s), z(j)] -> hidden x 1 -> 1 over the UNIQUE neighbours j of s (children for
    P_F, parents for P_B), log P(j|s) = score(s, j) - LSE_k score(s, k): the harness's
    policy=ssr at its default ssr_* keys.  Batched as the harness batches it: one
    encoder call over the distinct states and neighbours of an evaluation, one scorer
    call over all (state, neighbour) pairs (see SSRModel).

Round (SPEC 4): sample 16 trajectories from P_F with exploration eps; add new x to the
buffer; num_steps_per_batch Adam steps on them; PRT replay when the buffer has >= 10 x:
threshold = np.percentile(R_buffer, 90), 8 x uniformly with replacement from R >= thr,
8 from R <= thr, each turned into a trajectory by sampling backwards with P_B;
num_steps_per_batch steps on those.  Every 10th round (round index r with
(r+1) % 10 == 0) draws 128 monitor samples with eps = 0 (not trained on; their mean
reward is kept).

Work that is skipped because its result is known exactly (documented, so that the
comparison stays honest; it only makes this side faster):
  * P_F at the full-length state (only STOP is valid: log P_F = 0, zero gradient) and
    P_B at the terminal (only UNSTOP) and at one-letter states (one unique parent)
    are not evaluated;
  * P_F at s_0 is evaluated once per batch, not once per trajectory (same input),
    and so is every other state that several trajectories of a batch share (one
    network row per distinct state, as in the harness; found once per batch and
    reused over the num_steps_per_batch steps).
  Exploration is sampled as the mixture (1-eps) P_F + eps Uniform(unique children),
  which is the same distribution as "with probability eps a uniform unique child".
Speed runs use float32 (PyTorch's default; the C harness computes in float64, so
this favours PyTorch); --dtype float64 is available.

Usage
  python3 bench/torch_round.py --task tfbind8|qm9str --rounds N --threads 1|0 --seed S
      --threads 1: one thread (OMP/OpenBLAS/torch all set to 1 before torch loads);
      --threads 0: all cores (os.sched_getaffinity); --threads k: k threads;
      OMP_WAIT_POLICY=PASSIVE when > 1 thread (unless set).  --blas-threads k sets
      OpenBLAS's threads apart from torch's (0 = all cores).  --blas reference
      re-runs with Debian's reference BLAS/LAPACK to compare with OpenBLAS.
      Prints "pytorch_rounds_per_s=..." and "peak_rss_kb=...", plus the BLAS in use.
      --policy ssr: the SSR round (default sa); --ssr-first-layer concat|split.
  python3 bench/torch_round.py --task T [--policy ssr] --dump-check DIR [--check-steps K]
      Writes a float64 reference for a C checker (format below) and cross-checks the
      batched implementation against a naive per-state one (exits 1 on mismatch).

Dump-check format (all binary files raw little-endian float64, no header):
  DIR/meta.txt           key=value lines: task, policy (sa|ssr; with ssr also
                         ssr_enc_layers, ssr_embed, ssr_sc_layers), A, n, feature_dim, hidden, layers,
                         n_fwd_actions (2A+1), n_bwd_actions (3), n_params_pf,
                         n_params_pb, n_params (= pf + pb + 1), n_traj, log_z,
                         loss_clamp (100), clip_norm (10), clip (separate: P_F and
                         P_B each clipped to norm 10, log Z not; joint: one norm over
                         all parameters incl. log Z), lr_policy, lr_log_z,
                         check_steps, grad_norm_pf, grad_norm_pb, n_clamped.
  DIR/params_f64le.bin   n_params values: P_F layers then P_B layers (SSR: each the
                         encoder's layers, then the scorer's), each layer as
                         nn.Linear stores it: weight (out, in) row-major, then bias
                         (out); layers in order input -> output; last value log Z.
                         Values: parameter g (global index over this vector) of a layer
                         with fan-in f is 0.5*sin(1.7*g)/sqrt(f); log Z as in meta.
  DIR/trajectories.txt   one trajectory per line: the states s_0 .. s_n separated by
                         single spaces, each a string of digits/letters in the task's
                         alphabet ('0'..'9','a' = letters 0..10); s_0 (empty) is written
                         as '.'.  The final edge s_n -> x (STOP) is implicit.
  DIR/log_reward.txt     one line per trajectory: log R(x) (%.17g).
  DIR/loss.txt           line 1: the mean clamped TB loss (%.17g); then one line per
                         trajectory: sum_log_pf sum_log_pb log_r residual clamped(0/1).
  DIR/grad_f64le.bin     n_params values: dL/dparam in the layout of params_f64le.bin
                         (before clipping), last value dL/dlog Z.
  DIR/params_after_steps_f64le.bin
                         n_params values after check_steps full optimiser steps on this
                         same batch from a fresh Adam state (each step: loss, backward,
                         clip as meta's clip says, Adam with lr 1e-4
                         for the policies and 1e-2 for log Z, clamp log Z >= 0).
  DIR/step_losses.txt    the loss before each of those steps (%.17g).
"""

import argparse
import math
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TASKS = {
    # name: alphabet, n, hidden, layers, steps per batch, epsilon
    "tfbind8": dict(A=4, n=8, hidden=128, layers=2, steps=3, eps=0.01, ssr_sc_layers=1),
    "qm9str": dict(A=11, n=5, hidden=1024, layers=2, steps=1, eps=0.1, ssr_sc_layers=1),
}
SSR_ENC_LAYERS = 1  # the harness's ssr_enc_layers default; ssr_embed defaults to hidden
BATCH = 16          # online trajectories per round; replay is 8 + 8
MONITOR_EVERY = 10
MONITOR_SIZE = 128
LR_POLICY, LR_LOGZ = 1e-4, 1e-2
LOGZ_INIT = 5.0
LOSS_CLAMP = 100.0
CLIP_NORM = 10.0
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
REF_BLAS_DIRS = "/usr/lib/x86_64-linux-gnu/blas:/usr/lib/x86_64-linux-gnu/lapack"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=sorted(TASKS), default="tfbind8")
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="1 = one thread, 0 = all cores, k = k threads")
    p.add_argument("--blas-threads", type=int, default=-1,
                   help="OpenBLAS threads (default: as --threads; 0 = all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--policy", choices=["sa", "ssr"], default="sa",
                   help="sa: state -> action logits; ssr: encoder + scorer on [z(s), z(c)] (harness policy=ssr)")
    p.add_argument("--ssr-first-layer", choices=["concat", "split"], default="concat",
                   help="SSR scorer's first layer: one product over the concatenated pairs (authors' code) "
                        "or W1a z(s) per state + W1b z(c) per encoder row (the harness's order of work)")
    p.add_argument("--dump-check", metavar="DIR", help="write float64 loss/gradient reference to DIR")
    p.add_argument("--check-steps", type=int, default=3)
    p.add_argument("--clip", choices=["separate", "joint"], default="separate",
                   help="separate: P_F and P_B each to norm 10, log Z unclipped (authors' train_tb); "
                        "joint: one norm over P_F, P_B and log Z")
    p.add_argument("--blas", choices=["system", "reference"], default="system",
                   help="reference: re-run with Debian's reference BLAS/LAPACK ahead on the library path")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args()


def set_threads_env(threads, blas_threads):
    """Thread counts must be fixed before torch (and its OpenMP/OpenBLAS) loads.
    torch's own kernels run on OpenMP threads; matrix products run on OpenBLAS's
    pthreads, which are separate (both default to the --threads count)."""
    cores = len(os.sched_getaffinity(0))
    n = threads if threads > 0 else cores
    nb = n if blas_threads < 0 else (blas_threads if blas_threads > 0 else cores)
    os.environ["OMP_NUM_THREADS"] = str(n)
    if n > 1:
        # Spinning OpenMP workers (libgomp's default) collapse when the cores are
        # shared with anything else: measured 9.5 vs 52 rounds/s on tfbind8 with 2
        # threads on a busy 2-core machine.  Passive waiting is the faster choice.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OPENBLAS_NUM_THREADS"] = str(nb)
    os.environ["MKL_NUM_THREADS"] = str(nb)
    return n, nb


# ---------------------------------------------------------------- task data

def data_file(task):
    rel = {"tfbind8": "tfbind8/tfbind8_all.tsv", "qm9str": "qm9str/qm9str_rewards.tsv"}[task]
    for base in (os.path.join(ROOT, "data"), "/work/shared/data"):
        path = os.path.join(base, rel)
        if os.path.exists(path):
            return path
    sys.exit(f"torch_round.py: data file {rel} not found under {ROOT}/data or /work/shared/data")


def load_rewards(task, A, n):
    """R(x) indexed by the base-A code of x (x[0] most significant), float64."""
    import numpy as np
    path = data_file(task)
    size = A ** n
    y = np.empty(size, dtype=np.float64)
    seen = np.zeros(size, dtype=bool)
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            xs, ys = line.rstrip("\n").split("\t")
            if len(xs) != n:
                sys.exit(f"{path}:{lineno}: expected an x of {n} letters, got '{xs}'")
            code = 0
            for ch in xs:
                code = code * A + ALPHABET.index(ch)
            # The y are float32 data printed with %.9g: widen the float32 value.
            y[code] = float(np.float32(ys))
            seen[code] = True
    if not seen.all():
        sys.exit(f"{path}: {size - seen.sum()} of the {size} strings are missing")
    if task == "tfbind8":
        y3 = y ** 3
        R = np.maximum(10.0 * y3 / y3.max(), 0.001)
    else:
        y5 = np.maximum(y, 1e-3) ** 5
        R = 100.0 * y5 / y5.max()
    return R


# ---------------------------------------------------------------- the model

class Model:
    """P_F, P_B, log Z and the batched operations of one round on a pa task.

    A batch of B trajectories is held as
      S    (B, n+1, n) int64: S[b, t] = letters of s_t, padded with A (t = 0..n; s_n is
           the full string, the terminal x is its copy)
      act  (B, n) int64: forward action of edge s_t -> s_{t+1} in 0..2A-1
           (c = prepend c, A + c = append c; STOP column dropped)
      dup  (B, n) bool: s_{t+1} is constant, so prepend and append of its letter lead
           to the same child and both deletes from it to the same parent
      logr (B) log R(x_b)
    """

    def __init__(self, torch, A, n, hidden, layers, dtype, seed):
        self.torch = torch
        nn = torch.nn
        self.A, self.n, self.dtype = A, n, dtype
        self.D = n * A
        torch.manual_seed(seed)
        # Networks in parameter order: P_F's, then P_B's (nn.Sequential each).
        self.nets_pf, self.nets_pb = self.build_nets(hidden, layers)
        self.log_z = nn.Parameter(torch.tensor(LOGZ_INIT, dtype=dtype))
        self.pf_params = [p for net in self.nets_pf for p in net.parameters()]
        self.pb_params = [p for net in self.nets_pb for p in net.parameters()]
        self.params = self.pf_params + self.pb_params + [self.log_z]
        self.n_pf = sum(p.numel() for p in self.pf_params)
        self.n_pb = sum(p.numel() for p in self.pb_params)
        # One contiguous block for the parameters and one for their gradients (the
        # nn.Parameters become views into them; autograd accumulates in place into
        # an existing .grad), so zeroing, clipping and Adam are a few whole-block
        # operations instead of a Python loop over tensors.
        N = self.n_pf + self.n_pb + 1
        self.flat = torch.empty(N, dtype=dtype)
        self.flat_grad = torch.zeros(N, dtype=dtype)
        o = 0
        for p in self.params:
            k = p.numel()
            self.flat[o:o + k].copy_(p.data.reshape(-1))
            p.data = self.flat[o:o + k].view_as(p)
            p.grad = self.flat_grad[o:o + k].view_as(p)
            o += k
        self.g_pf = self.flat_grad[:self.n_pf]
        self.g_pb = self.flat_grad[self.n_pf:self.n_pf + self.n_pb]
        self.clip_groups = (self.g_pf, self.g_pb)
        self.new_optimizer()
        # One-hot lookup: row A (the pad) is all zero.
        self.eye = torch.cat([torch.eye(A, dtype=dtype), torch.zeros(1, A, dtype=dtype)])
        self.feat0 = torch.zeros(1, self.D, dtype=dtype)
        self.powers = torch.tensor([A ** (n - 1 - j) for j in range(n)], dtype=torch.int64)
        # base A + 1 (the pad A is a digit): one code per state of any length
        self.powers_pad = torch.tensor([(A + 1) ** j for j in range(n)], dtype=torch.int64)
        # Uniform over unique children, one representative action per child:
        # at s_0 the prepends only (append c == prepend c).
        self.uni0 = torch.cat([torch.full((A,), 1.0 / A, dtype=dtype), torch.zeros(A, dtype=dtype)])

    def make_mlp(self, in_dim, hidden, layers, out_dim):
        """Linear-LeakyReLU(0.01)-...-Linear: in_dim -> hidden x layers -> out_dim."""
        nn = self.torch.nn
        widths = [in_dim] + [hidden] * layers + [out_dim]
        mods = []
        for i in range(len(widths) - 1):
            mods.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:
                mods.append(nn.LeakyReLU(0.01))
        return nn.Sequential(*mods).to(self.dtype)

    def build_nets(self, hidden, layers):
        """SA: one MLP per direction, features -> hidden x layers -> action logits."""
        self.pf = self.make_mlp(self.D, hidden, layers, 2 * self.A + 1)
        self.pb = self.make_mlp(self.D, hidden, layers, 3)
        return [self.pf], [self.pb]

    # The naive reference of the dump-check (module functions below).
    def naive_terms(self, traj):
        return naive_terms(self.torch, self, traj)

    def naive_children(self, s, eps):
        return naive_children(self.torch, self, s, eps)

    def naive_parents(self, x):
        """{parent: P_B} at the full string x, both deletes (x has two distinct parents)."""
        with self.torch.no_grad():
            q = self.torch.softmax(self.pb(naive_feat(self, x))[0, 1:], 0)
        return {x[1:]: float(q[0]), x[:-1]: float(q[1])}

    def linears(self):
        """Every nn.Linear in parameter order (P_F's, then P_B's)."""
        nn = self.torch.nn
        return [m for net in self.nets_pf + self.nets_pb for m in net if isinstance(m, nn.Linear)]

    def new_optimizer(self):
        """Fresh Adam state: torch.optim.Adam's update, written on the flat block."""
        self.adam_m = self.torch.zeros_like(self.flat)
        self.adam_v = self.torch.zeros_like(self.flat)
        self.adam_den = self.torch.zeros_like(self.flat)
        self.adam_t = 0

    def mlp(self, x, p):
        """The MLP of nn.Sequential, called functionally: x (rows, in) -> (rows, out).
        Saves the per-module dispatch of nn.Module.__call__ on these tiny batches."""
        F = self.torch.nn.functional
        last = len(p) - 2
        for i in range(0, last, 2):
            x = F.leaky_relu(F.linear(x, p[i], p[i + 1]), 0.01)
        return F.linear(x, p[last], p[last + 1])

    def features(self, S):
        """S (..., n) letters -> (rows, n*A) left-aligned one-hot."""
        return self.eye[S].reshape(-1, self.D)

    # ---- sampling

    def sample_forward(self, B, eps, gen):
        torch = self.torch
        A, n = self.A, self.n
        S = torch.full((B, n + 1, n), A, dtype=torch.int64)
        act = torch.empty((B, n), dtype=torch.int64)
        rows = torch.arange(B)
        u = torch.rand((B, n), generator=gen, dtype=self.dtype)
        with torch.inference_mode():
            for t in range(n):
                cur = S[:, t]
                if t == 0:
                    p = torch.softmax(self.mlp(self.feat0, self.pf_params)[:, 1:], -1).expand(B, 2 * A)
                    uni = self.uni0.expand(B, 2 * A)
                else:
                    p = torch.softmax(self.mlp(self.features(cur), self.pf_params)[:, 1:], -1)
                    # Unique children: all 2A, minus append c when s = c^t.
                    const = (cur[:, :t] == cur[:, :1]).all(1)
                    mask = torch.ones((B, 2 * A), dtype=self.dtype)
                    mask[rows[const], A + cur[const, 0]] = 0.0
                    uni = mask / mask.sum(1, keepdim=True)
                if eps > 0:
                    p = (1.0 - eps) * p + eps * uni
                # Inverse-CDF draw; the clamp guards the top against rounding.
                a = (torch.cumsum(p, 1) < u[:, t:t + 1]).sum(1).clamp_(max=2 * A - 1)
                act[:, t] = a
                c = a % A
                prepend = torch.cat([c[:, None], cur[:, :-1]], 1)
                append = cur.clone()
                append[:, t] = c
                S[:, t + 1] = torch.where((a < A)[:, None], prepend, append)
        return S, act, self.dup_flags(S)

    def sample_backward(self, X, gen):
        """X (B, n) letters of terminals -> trajectories sampled backwards with P_B."""
        torch = self.torch
        A, n = self.A, self.n
        B = X.shape[0]
        S = torch.full((B, n + 1, n), A, dtype=torch.int64)
        act = torch.empty((B, n), dtype=torch.int64)
        S[:, n] = X
        rows = torch.arange(B)
        pad = torch.full((B, 1), A, dtype=torch.int64)
        u = torch.rand((B, n), generator=gen, dtype=self.dtype)
        with torch.inference_mode():
            for L in range(n, 1, -1):
                cur = S[:, L]
                p_first = torch.softmax(self.mlp(self.features(cur), self.pb_params)[:, 1:3], -1)[:, 0]
                first = u[:, L - 1] < p_first  # delete first (else delete last)
                dfirst = torch.cat([cur[:, 1:], pad], 1)
                dlast = cur.clone()
                dlast[:, L - 1] = A
                S[:, L - 1] = torch.where(first[:, None], dfirst, dlast)
                act[:, L - 1] = torch.where(first, cur[:, 0], A + cur[rows, L - 1])
            act[:, 0] = S[:, 1, 0]  # s_1 -> s_0: the only parent
        return S, act, self.dup_flags(S)

    def dup_flags(self, S):
        """(B, n): s_{t+1} is constant (pad positions count as equal)."""
        s = S[:, 1:]
        return ((s == s[:, :, :1]) | (s == self.A)).all(-1)

    def codes(self, S):
        return (S[:, self.n] * self.powers).sum(1)

    # ---- loss

    def prepare(self, S, act, dup, logr):
        """Everything about a batch that does not depend on the weights, computed once
        and reused for the num_steps_per_batch steps:
          xf (1 + U, D)      features of s_0 (once) and of the U distinct states among
                             s_1..s_{n-1} of all b (a state shared by several
                             trajectories is one row, as in the harness)
          xb (V, D)          features of the V distinct states among s_2..s_n (P_B
                             inputs that are not forced)
          rf (B, n)          row of xf holding s_t for trajectory b
          rb (B(n-1))        row of xb holding s_{t+1} for trajectory b, t = 1..n-1
          mf (B, n, 2A)      0 at the actions that lead from s_t to s_{t+1}, else -inf
          mb (B, n-1, 2)     0 at the deletes that lead from s_{t+1} back to s_t (t >= 1)
        """
        torch = self.torch
        A, n = self.A, self.n
        B = S.shape[0]
        uf, invf = self.distinct(S[:, 1:n])
        rf = torch.zeros((B, n), dtype=torch.int64)
        rf[:, 1:] = 1 + invf.view(B, n - 1)
        xf = torch.cat([self.feat0, self.features(uf)])
        ub, rb = self.distinct(S[:, 2:])
        xb = self.features(ub)
        lead = torch.nn.functional.one_hot(act, 2 * A).bool()
        lead |= torch.nn.functional.one_hot((act + A) % (2 * A), 2 * A).bool() & dup[:, :, None]
        mf = torch.zeros((B, n, 2 * A), dtype=self.dtype).masked_fill_(~lead, -math.inf)
        back = torch.nn.functional.one_hot((act[:, 1:] >= A).long(), 2).bool() | dup[:, 1:, None]
        mb = torch.zeros((B, n - 1, 2), dtype=self.dtype).masked_fill_(~back, -math.inf)
        return (xf, xb, rf, mf, mb, logr, rb)

    def distinct(self, S):
        """S (..., n) letters -> (the distinct states (U, n), the row of each state of S
        among them, flattened)."""
        torch = self.torch
        flat = S.reshape(-1, self.n)
        codes = (flat * self.powers_pad).sum(1)
        u, inv = torch.unique(codes, return_inverse=True)
        first = torch.empty(u.shape[0], dtype=torch.int64).scatter_(0, inv, torch.arange(inv.shape[0]))
        return flat[first], inv

    def tb_terms(self, batch):
        """Per trajectory sum_t log P_F(s_{t+1}|s_t) and sum_t log P_B(s_t|s_{t+1}):
        the log of a unique child's (parent's) probability is the log-sum-exp of the
        log-probabilities of the actions leading to it.  Forced edges contribute 0."""
        torch = self.torch
        xf, xb, rf, mf, mb, _, rb = batch
        B = rf.shape[0]
        lp = torch.log_softmax(self.mlp(xf, self.pf_params)[:, 1:], -1)
        sum_pf = torch.logsumexp(lp[rf] + mf, -1).sum(1)
        lq = torch.log_softmax(self.mlp(xb, self.pb_params)[:, 1:], -1)[rb]
        sum_pb = torch.logsumexp(lq.view(B, self.n - 1, 2) + mb, -1).sum(1)
        return sum_pf, sum_pb

    def tb_loss(self, batch):
        sum_pf, sum_pb = self.tb_terms(batch)
        resid = self.log_z + sum_pf - batch[5] - sum_pb
        return self.torch.clamp(resid * resid, max=LOSS_CLAMP).mean()

    def train_step(self, batch):
        """One step: loss, backward, clip P_F and P_B gradients (each to norm 10, as
        torch.nn.utils.clip_grad_norm_: coef = min(1, 10 / (norm + 1e-6))), Adam, clamp
        log Z >= 0."""
        torch = self.torch
        loss = self.tb_loss(batch)
        self.flat_grad.zero_()
        loss.backward()
        with torch.no_grad():
            for g in self.clip_groups:
                coef = CLIP_NORM / (torch.linalg.vector_norm(g) + 1e-6)
                if coef < 1.0:
                    g.mul_(coef)
            # torch.optim.Adam's update (step_size = lr / bc1,
            # denom = sqrt(v) / sqrt(bc2) + eps), into preallocated buffers: fresh
            # multi-megabyte temporaries cost page faults on every step.
            self.adam_t += 1
            b1, b2 = 0.9, 0.999
            g, mom, v, den = self.flat_grad, self.adam_m, self.adam_v, self.adam_den
            mom.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1 = 1 - b1 ** self.adam_t
            bc2 = 1 - b2 ** self.adam_t
            torch.sqrt(v, out=den)
            den.div_(math.sqrt(bc2)).add_(1e-8)
            self.flat[:-1].addcdiv_(mom[:-1], den[:-1], value=-LR_POLICY / bc1)
            self.flat[-1:].addcdiv_(mom[-1:], den[-1:], value=-LR_LOGZ / bc1)
            self.flat[-1:].clamp_(min=0.0)
        return loss


class SSRModel(Model):
    """The SSR policy (docs/method.md section 3; policy=ssr in the harness) for P_F and
    P_B, each with its own weights (the harness's pb=learned):

        encoder  z(s) = MLP(features(s)): D -> hidden x enc_layers -> embed
        scorer   score(s, j) = MLP([z(s), z(j)]): 2 embed -> hidden x sc_layers -> 1
        log P(j | s) = score(s, j) - LSE_k score(s, k)   over the UNIQUE neighbours k

    as the authors' code computes it (maxwshen/gflownet: the scorer on the concatenated
    embeddings of each edge).  Parameters per direction: the encoder's layers, then the
    scorer's, each as nn.Linear stores it (the harness's slice layout).

    One evaluation of U states is batched the way the harness batches it: one encoder
    call over the distinct states among the U states and their neighbours (a child
    shared by several states is one row), one scorer call over every (state, unique
    neighbour) pair.  A state with a single neighbour (a full string's STOP, a
    terminal's, a one-letter string's or a constant string's only parent) has log P = 0
    and is not evaluated in training, as in the harness.  --ssr-first-layer split
    computes the scorer's first layer as the harness does, W1a z(s) once per state plus
    W1b z(j) once per encoder row, instead of one product over the concatenated pairs
    (same function; fewer FLOPs).
    """

    def __init__(self, torch, A, n, hidden, layers, dtype, seed, enc_layers=1, embed=None,
                 sc_layers=1, first_layer="concat"):
        self.enc_layers, self.sc_layers = enc_layers, sc_layers
        self.embed = embed or hidden
        self.first_layer = first_layer
        self.rows = dict(pf_fwd=0, pf_bwd=0, pb_fwd=0, pb_bwd=0)  # network states, as the harness counts
        super().__init__(torch, A, n, hidden, layers, dtype, seed)
        k = 2 * (enc_layers + 1)
        self.pf_enc_p, self.pf_sc_p = self.pf_params[:k], self.pf_params[k:]
        self.pb_enc_p, self.pb_sc_p = self.pb_params[:k], self.pb_params[k:]
        self.letters = torch.arange(A)

    def build_nets(self, hidden, layers):
        E = self.embed
        self.pf_enc = self.make_mlp(self.D, hidden, self.enc_layers, E)
        self.pf_sc = self.make_mlp(2 * E, hidden, self.sc_layers, 1)
        self.pb_enc = self.make_mlp(self.D, hidden, self.enc_layers, E)
        self.pb_sc = self.make_mlp(2 * E, hidden, self.sc_layers, 1)
        return [self.pf_enc, self.pf_sc], [self.pb_enc, self.pb_sc]

    # ---- neighbours and one batched evaluation

    def constant(self, S):
        """S (..., n) -> (...) bool: the state is c^L (the empty string included)."""
        return ((S == S[..., :1]) | (S == self.A)).all(-1)

    def children(self, cur, L):
        """cur (U, n) states of lengths L (U), all < n -> (U, 2A, n) children, slot c =
        prepend c, slot A + c = append c, and valid (U, 2A): append c is dropped where it
        equals prepend c (cur = c^L; every c for the empty string)."""
        torch = self.torch
        A, n = self.A, self.n
        U = cur.shape[0]
        c = self.letters.view(1, A, 1).expand(U, A, 1)
        pre = torch.cat([c, cur[:, None, :-1].expand(U, A, n - 1)], 2)
        app = cur[:, None, :].repeat(1, A, 1)
        app.scatter_(2, L.view(U, 1, 1).expand(U, A, 1), c)
        first = cur[:, :1]
        same = self.constant(cur)[:, None] & ((first == A) | (self.letters[None, :] == first))
        valid = torch.cat([torch.ones((U, A), dtype=torch.bool), ~same], 1)
        return torch.cat([pre, app], 1), valid

    def parents(self, cur, L):
        """cur (U, n) states of lengths L (U), all >= 2 -> (U, 2, n) parents (slot 0 =
        delete first, slot 1 = delete last) and valid (U, 2): delete last is dropped
        where both give the same parent (cur constant)."""
        torch = self.torch
        U = cur.shape[0]
        first = torch.cat([cur[:, 1:], torch.full((U, 1), self.A, dtype=torch.int64)], 1)
        last = cur.clone()
        last[torch.arange(U), L - 1] = self.A
        valid = torch.stack([torch.ones(U, dtype=torch.bool), ~self.constant(cur)], 1)
        return torch.stack([first, last], 1), valid

    def plan(self, states, nbrs, valid):
        """The weight-independent layout of one evaluation of U states over K neighbour
        slots (nbrs (U, K, n), valid (U, K)): encoder rows are the distinct states among
        the U states and their neighbours; pairs are the valid (state, slot), row-major.
        Returns (x (Ne, D) encoder inputs, srow (U) encoder row of each state, sidx (P)
        state of each pair, crow (P) encoder row of each pair's neighbour, pos (P) flat
        index u K + k of each pair, U, K)."""
        torch = self.torch
        U, K = valid.shape
        every = torch.cat([states, nbrs.reshape(-1, self.n)])
        codes = (every * self.powers_pad).sum(1)
        u, inv = torch.unique(codes, return_inverse=True)
        first = torch.empty(u.shape[0], dtype=torch.int64).scatter_(0, inv, torch.arange(inv.shape[0]))
        pos = valid.reshape(-1).nonzero().squeeze(1)
        return (self.features(every[first]), inv[:U], pos // K, inv[U:][pos], pos, U, K)

    def logp(self, plan, enc_p, sc_p):
        """log P (U, K) over the slots of a plan (-inf at the invalid ones)."""
        torch = self.torch
        F = torch.nn.functional
        x, srow, sidx, crow, pos, U, K = plan
        z = self.mlp(x, enc_p)
        if self.first_layer == "concat":
            u = self.mlp(torch.cat([z[srow[sidx]], z[crow]], 1), sc_p)
        else:
            E = self.embed
            W1, b1 = sc_p[0], sc_p[1]
            a = F.linear(z[srow], W1[:, :E])        # (U, h1) once per state
            c = F.linear(z, W1[:, E:], b1)          # (Ne, h1) once per encoder row
            h = a[sidx] + c[crow]
            if len(sc_p) > 2:
                u = self.mlp(F.leaky_relu(h, 0.01), sc_p[2:])
            else:
                u = h
        scores = torch.full((U * K,), -math.inf, dtype=self.dtype).scatter(0, pos, u.reshape(-1))
        return torch.log_softmax(scores.view(U, K), -1)

    # ---- sampling

    def sample_forward(self, B, eps, gen):
        torch = self.torch
        A, n = self.A, self.n
        S = torch.full((B, n + 1, n), A, dtype=torch.int64)
        act = torch.empty((B, n), dtype=torch.int64)
        rows = torch.arange(B)
        u = torch.rand((B, n), generator=gen, dtype=self.dtype)
        with torch.inference_mode():
            for t in range(n):
                # s_0 is the same state for every b: evaluated once.
                cur = S[:1, 0] if t == 0 else S[:, t]
                kids, valid = self.children(cur, torch.full((cur.shape[0],), t, dtype=torch.int64))
                self.rows["pf_fwd"] += cur.shape[0]
                p = torch.exp(self.logp(self.plan(cur, kids, valid), self.pf_enc_p, self.pf_sc_p))
                if eps > 0:
                    vf = valid.to(self.dtype)
                    p = (1.0 - eps) * p + eps * vf / vf.sum(1, keepdim=True)
                if t == 0:
                    p, kids = p.expand(B, 2 * A), kids.expand(B, 2 * A, n)
                a = (torch.cumsum(p, 1) < u[:, t:t + 1]).sum(1).clamp_(max=2 * A - 1)
                act[:, t] = a
                S[:, t + 1] = kids[rows, a]
        return S, act, self.dup_flags(S)

    def sample_backward(self, X, gen):
        """X (B, n) letters of terminals -> trajectories sampled backwards with P_B."""
        torch = self.torch
        A, n = self.A, self.n
        B = X.shape[0]
        S = torch.full((B, n + 1, n), A, dtype=torch.int64)
        act = torch.empty((B, n), dtype=torch.int64)
        S[:, n] = X
        rows = torch.arange(B)
        u = torch.rand((B, n), generator=gen, dtype=self.dtype)
        with torch.inference_mode():
            for L in range(n, 1, -1):
                cur = S[:, L]
                par, valid = self.parents(cur, torch.full((B,), L, dtype=torch.int64))
                self.rows["pb_fwd"] += B
                lq = self.logp(self.plan(cur, par, valid), self.pb_enc_p, self.pb_sc_p)
                first = u[:, L - 1] < torch.exp(lq[:, 0])  # delete first (else delete last)
                S[:, L - 1] = torch.where(first[:, None], par[:, 0], par[:, 1])
                act[:, L - 1] = torch.where(first, cur[:, 0], A + cur[rows, L - 1])
            act[:, 0] = S[:, 1, 0]  # s_1 -> s_0: the only parent
        return S, act, self.dup_flags(S)

    # ---- loss

    def prepare(self, S, act, dup, logr):
        """Everything about a batch that does not depend on the weights, computed once
        and reused for the num_steps_per_batch steps:
          plan_f   P_F over the distinct states among s_0..s_{n-1} of all b
          rf, sf   (B, n) row of plan_f holding s_t and slot of the child s_{t+1}
                   (append c read as prepend c where the two coincide)
          plan_b   P_B over the distinct non-constant states among s_2..s_n
          eb, rb, sb  per edge s_t <- s_{t+1} with s_{t+1} non-constant (t >= 1): its
                   trajectory, row of plan_b and slot (0 = delete first, 1 = delete last)
        The other edges have a single neighbour: log P = 0 for every weight."""
        torch = self.torch
        A, n = self.A, self.n
        B = S.shape[0]
        st = S[:, :n]
        uf, invf = self.distinct(st)
        rf = invf.view(B, n)
        kids, valid = self.children(uf, (uf != A).sum(1))
        plan_f = self.plan(uf, kids, valid)
        coincide = (act >= A) & self.constant(st) & ((st[:, :, 0] == A) | (st[:, :, 0] == act - A))
        sf = torch.where(coincide, act - A, act)
        keep = (~dup[:, 1:]).reshape(-1).nonzero().squeeze(1)  # edges t = 1..n-1, flattened
        ub, rb = self.distinct(S[:, 2:].reshape(-1, n)[keep])
        par, validb = self.parents(ub, (ub != A).sum(1))
        plan_b = self.plan(ub, par, validb)
        sb = (act[:, 1:].reshape(-1)[keep] >= A).long()
        return (plan_f, plan_b, rf, sf, (keep // (n - 1), rb, sb), logr)

    def tb_terms(self, batch):
        torch = self.torch
        plan_f, plan_b, rf, sf, (eb, rb, sb), logr = batch
        B = rf.shape[0]
        lp = self.logp(plan_f, self.pf_enc_p, self.pf_sc_p)
        sum_pf = lp[rf, sf].sum(1)
        sum_pb = torch.zeros(B, dtype=self.dtype)
        if eb.shape[0] > 0:
            lq = self.logp(plan_b, self.pb_enc_p, self.pb_sc_p)
            sum_pb = sum_pb.index_add(0, eb, lq[rb, sb])
        for d, U in (("pf", plan_f[5]), ("pb", plan_b[5])):
            self.rows[d + "_fwd"] += U
            self.rows[d + "_bwd"] += U
        return sum_pf, sum_pb

    # ---- the naive reference (dump-check): one network call per state and per pair

    def naive_logp(self, s, fwd):
        """{unique neighbour (string, 'TERM' for x): log P} at the string s (x is
        written 'TERM' as a state; its only parent is its copy)."""
        torch = self.torch
        A, n = self.A, self.n
        if fwd:
            if len(s) == n:
                return {"TERM": torch.zeros((), dtype=self.dtype)}
            nbrs = [ALPHABET[c] + s for c in range(A)]
            nbrs += [s + ALPHABET[c] for c in range(A) if s + ALPHABET[c] not in nbrs]
            enc, sc = self.pf_enc, self.pf_sc
        else:
            if len(s) == 1:
                return {"": torch.zeros((), dtype=self.dtype)}
            nbrs = [s[1:]] + ([s[:-1]] if s[:-1] != s[1:] else [])
            enc, sc = self.pb_enc, self.pb_sc
        zs = enc(self.naive_feat(s))
        u = torch.cat([sc(torch.cat([zs, enc(self.naive_feat(c))], 1))[0] for c in nbrs])
        return dict(zip(nbrs, torch.log_softmax(u, 0)))

    def naive_feat(self, s):
        v = self.torch.zeros(self.D, dtype=self.dtype)
        for i, ch in enumerate(s):
            v[i * self.A + ALPHABET.index(ch)] = 1.0
        return v[None]

    def naive_terms(self, traj):
        states = ["" if s == "." else s for s in traj]
        sum_pf = self.torch.zeros((), dtype=self.dtype)
        sum_pb = self.torch.zeros((), dtype=self.dtype)
        path = states + ["TERM"]
        for t in range(self.n + 1):
            s, nxt = path[t], path[t + 1]
            sum_pf = sum_pf + self.naive_logp(s, True)[nxt]
            if nxt != "TERM":  # the terminal's only parent is its copy: log P_B = 0
                sum_pb = sum_pb + self.naive_logp(nxt, False)[s]
        return sum_pf, sum_pb

    def naive_children(self, s, eps):
        with self.torch.no_grad():
            lp = self.naive_logp(s, True)
        return {c: (1 - eps) * math.exp(float(v)) + eps / len(lp) for c, v in lp.items()}

    def naive_parents(self, x):
        with self.torch.no_grad():
            return {c: math.exp(float(v)) for c, v in self.naive_logp(x, False).items()}


# ---------------------------------------------------------------- training

class Buffer:
    """Unique x seen in training, with their rewards (amortised growth)."""

    def __init__(self, np, size):
        self.np = np
        self.seen = np.zeros(size, dtype=bool)
        self.code = np.empty(1024, dtype=np.int64)
        self.r = np.empty(1024, dtype=np.float64)
        self.count = 0

    def add(self, codes, R):
        np = self.np
        new = np.unique(codes[~self.seen[codes]])
        if new.size == 0:
            return
        self.seen[new] = True
        need = self.count + new.size
        if need > self.code.size:
            cap = max(need, 2 * self.code.size)
            self.code = np.resize(self.code, cap)
            self.r = np.resize(self.r, cap)
        self.code[self.count:need] = new
        self.r[self.count:need] = R[new]
        self.count = need


def make_model(torch, args, cfg, dtype, seed):
    """The SA or SSR model of a task at the harness's default sizes."""
    if args.policy == "ssr":
        return SSRModel(torch, cfg["A"], cfg["n"], cfg["hidden"], cfg["layers"], dtype, seed,
                        enc_layers=SSR_ENC_LAYERS, embed=cfg["hidden"], sc_layers=cfg["ssr_sc_layers"],
                        first_layer=args.ssr_first_layer)
    return Model(torch, cfg["A"], cfg["n"], cfg["hidden"], cfg["layers"], dtype, seed)


def run_training(torch, np, args, cfg, R):
    A, n = cfg["A"], cfg["n"]
    dtype = getattr(torch, args.dtype)
    model = make_model(torch, args, cfg, dtype, args.seed)
    if args.clip == "joint":
        model.clip_groups = (model.flat_grad,)
    gen = torch.Generator().manual_seed(args.seed + 1)
    rng = np.random.default_rng(args.seed + 2)
    logR = np.log(R)
    logR_t = torch.from_numpy(logR).to(dtype)
    # Letters of every x by code, for turning replayed codes into states.
    letters = torch.from_numpy(
        np.stack([(np.arange(A ** n) // A ** (n - 1 - j)) % A for j in range(n)], 1).astype(np.int64))
    buf = Buffer(np, A ** n)
    monitor_means = []
    losses = []

    t0, c0 = time.perf_counter(), time.process_time()
    for r in range(args.rounds):
        S, act, dup = model.sample_forward(BATCH, cfg["eps"], gen)
        codes = model.codes(S)
        buf.add(codes.numpy(), R)
        batch = model.prepare(S, act, dup, logR_t[codes])
        for _ in range(cfg["steps"]):
            loss = model.train_step(batch)
        if buf.count >= 10:
            rb = buf.r[:buf.count]
            thr = np.percentile(rb, 90)
            hi = np.flatnonzero(rb >= thr)
            lo = np.flatnonzero(rb <= thr)
            pick = np.concatenate([hi[rng.integers(0, hi.size, BATCH // 2)],
                                   lo[rng.integers(0, lo.size, BATCH // 2)]])
            rc = torch.from_numpy(buf.code[pick])
            S, act, dup = model.sample_backward(letters[rc], gen)
            batch = model.prepare(S, act, dup, logR_t[rc])
            for _ in range(cfg["steps"]):
                model.train_step(batch)
        if (r + 1) % MONITOR_EVERY == 0:
            Sm, _, _ = model.sample_forward(MONITOR_SIZE, 0.0, gen)
            monitor_means.append(float(R[model.codes(Sm).numpy()].mean()))
            losses.append(float(loss))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed, cpu, buf.count, monitor_means, losses, model


def blas_in_use():
    """Shared libraries with 'blas' or 'lapack' in their path mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("blas" in parts[-1] or "lapack" in parts[-1]):
                libs.add(parts[-1])
    return sorted(libs)


# ---------------------------------------------------------------- dump-check

def to_str(letters_row, A):
    s = "".join(ALPHABET[int(c)] for c in letters_row if int(c) != A)
    return s if s else "."


def naive_feat(model, s):
    """Features of the string s, one row."""
    v = model.torch.zeros(model.D, dtype=model.dtype)
    for i, ch in enumerate(s):
        v[i * model.A + ALPHABET.index(ch)] = 1.0
    return v[None]


def naive_terms(torch, model, traj):
    """Reference: per state, enumerate actions, map them to unique children/parents as
    strings, add probabilities, all states evaluated (including the deterministic ones)."""
    A, n = model.A, model.n
    def feat(s):
        v = torch.zeros(model.D, dtype=model.dtype)
        for i, ch in enumerate(s):
            v[i * A + ALPHABET.index(ch)] = 1.0
        return v[None]
    states = ["" if s == "." else s for s in traj]
    sum_pf = torch.zeros((), dtype=model.dtype)
    sum_pb = torch.zeros((), dtype=model.dtype)
    path = states + ["TERM"]  # s_0 .. s_n, then the terminal copy of s_n
    for t in range(n + 1):
        s, nxt = path[t], path[t + 1]
        logits = model.pf(feat(s))[0]
        if len(s) == n:
            acts = [(0, "TERM")]
        else:
            acts = [(1 + c, ALPHABET[c] + s) for c in range(A)] + \
                   [(1 + A + c, s + ALPHABET[c]) for c in range(A)]
        idx = torch.tensor([a for a, _ in acts])
        p = torch.softmax(logits[idx], 0)
        sum_pf = sum_pf + torch.log(sum(p[i] for i, (_, c) in enumerate(acts) if c == nxt))
        # backward from nxt to s
        if nxt == "TERM":
            logits_b = model.pb(feat(s))[0]
            back = [(0, s)]
        else:
            logits_b = model.pb(feat(nxt))[0]
            back = [(1, nxt[1:]), (2, nxt[:-1])]
        idx = torch.tensor([a for a, _ in back])
        q = torch.softmax(logits_b[idx], 0)
        sum_pb = sum_pb + torch.log(sum(q[i] for i, (_, c) in enumerate(back) if c == s))
    return sum_pf, sum_pb


def naive_children(torch, model, s, eps):
    """{child: probability} of forward sampling at s with exploration eps."""
    A = model.A
    def feat(st):
        v = torch.zeros(model.D, dtype=model.dtype)
        for i, ch in enumerate(st):
            v[i * A + ALPHABET.index(ch)] = 1.0
        return v[None]
    with torch.no_grad():
        p = torch.softmax(model.pf(feat(s))[0, 1:], 0)
    kids = {}
    for k, c in enumerate([ALPHABET[c] + s for c in range(A)] + [s + ALPHABET[c] for c in range(A)]):
        kids[c] = kids.get(c, 0.0) + float(p[k])
    return {c: (1 - eps) * q + eps / len(kids) for c, q in kids.items()}


def check_sampler(torch, np, model, N, seed):
    """Empirical frequencies of the batched samplers against probabilities computed
    state by state: forward (eps 0 and 0.3) at level 2, backward at level n-1."""
    A, n = model.A, model.n
    gen = torch.Generator().manual_seed(seed)
    ok = True
    def compare(what, S_level, exact):
        nonlocal ok
        strs = [to_str(r, A) for r in S_level]
        counts = {}
        for st in strs:
            counts[st] = counts.get(st, 0) + 1
        worst = 0.0
        for st, q in exact.items():
            z = abs(counts.get(st, 0) / N - q) / math.sqrt(max(q * (1 - q), 1e-12) / N)
            worst = max(worst, z)
        extra = set(strs) - set(exact)
        good = worst < 5.0 and not extra
        ok &= good
        print(f"{'ok' if good else 'MISMATCH'} sampler {what}: {len(exact)} states, worst |z| = {worst:.2f}"
              + (f", impossible states {sorted(extra)[:3]}" if extra else ""))
    for eps in (0.0, 0.3):
        S, _, _ = model.sample_forward(N, eps, gen)
        lvl1 = model.naive_children("", eps)
        exact = {}
        for s1, p1 in lvl1.items():
            for s2, p2 in model.naive_children(s1, eps).items():
                exact[s2] = exact.get(s2, 0.0) + p1 * p2
        compare(f"forward eps={eps} level 2", S[:, 2], exact)
    # Backward from one x with two distinct parents.
    x = "".join(ALPHABET[(3 * k + 1) % A] for k in range(n))
    X = torch.tensor([[ALPHABET.index(ch) for ch in x]] * N)
    S, _, _ = model.sample_backward(X, gen)
    compare("backward level n-1", S[:, n - 1], model.naive_parents(x))
    return ok


def parse_traj(line, A, n, torch):
    states = line.split()
    S = torch.full((n + 1, n), A, dtype=torch.int64)
    for t, s in enumerate(states):
        if s != ".":
            S[t, :len(s)] = torch.tensor([ALPHABET.index(ch) for ch in s])
    act = torch.empty(n, dtype=torch.int64)
    for t in range(n):
        a, b = ("" if states[t] == "." else states[t]), states[t + 1]
        if b[1:] == a:
            act[t] = ALPHABET.index(b[0])
        elif b[:-1] == a:
            act[t] = A + ALPHABET.index(b[-1])
        else:
            raise ValueError(f"{b} is not a child of {a or '.'}")
    return S, act


def dump_check(torch, np, args, cfg, R):
    A, n = cfg["A"], cfg["n"]
    dtype = torch.float64
    model = make_model(torch, args, cfg, dtype, 0)
    log_z0 = 1.5  # not the 5.0 init: gives a mix of clamped and unclamped trajectories
    g = 0
    with torch.no_grad():
        for lin in model.linears():
            fan_in = lin.in_features
            for prm in (lin.weight, lin.bias):
                k = prm.numel()
                idx = torch.arange(g, g + k, dtype=torch.float64)
                prm.copy_((0.5 * torch.sin(1.7 * idx) / math.sqrt(fan_in)).view_as(prm))
                g += k
        model.log_z.fill_(log_z0)
    n_pf = sum(p.numel() for p in model.pf_params)
    n_pb = sum(p.numel() for p in model.pb_params)
    assert g == n_pf + n_pb
    if args.clip == "joint":
        model.clip_groups = (model.flat_grad,)

    # Trajectories: hand-picked ones with duplicate children/parents, then forward
    # and backward samples from the fixed weights.
    lines = []
    c0, c1 = ALPHABET[0], ALPHABET[A - 1]
    const = c1 * n
    lines.append(" ".join(["."] + [const[:k] for k in range(1, n + 1)]))            # all dup
    mixed = [c0, c0 + c0, c1 + c0 + c0]
    while len(mixed[-1]) < n:
        k = len(mixed)
        mixed.append(mixed[-1] + ALPHABET[k % A] if k % 2 else ALPHABET[k % A] + mixed[-1])
    lines.append(" ".join(["."] + mixed))
    gen = torch.Generator().manual_seed(12345)
    S, act, dup = model.sample_forward(6, 0.0, gen)
    lines += [" ".join(to_str(S[b, t], A) for t in range(n + 1)) for b in range(6)]
    X = torch.from_numpy(np.random.default_rng(7).integers(0, A, (6, n)))
    X[0] = torch.tensor([(k * 3) % A for k in range(n)])
    S, act, dup = model.sample_backward(X, gen)
    lines += [" ".join(to_str(S[b, t], A) for t in range(n + 1)) for b in range(6)]
    B = len(lines)

    parsed = [parse_traj(l, A, n, torch) for l in lines]
    S = torch.stack([p[0] for p in parsed])
    act = torch.stack([p[1] for p in parsed])
    dup = model.dup_flags(S)
    codes = model.codes(S).numpy()
    logr = torch.from_numpy(np.log(R[codes]))

    params = model.params
    batch = model.prepare(S, act, dup, logr)
    model.flat_grad.zero_()
    sum_pf, sum_pb = model.tb_terms(batch)
    resid = model.log_z + sum_pf - logr - sum_pb
    loss = torch.clamp(resid * resid, max=LOSS_CLAMP).mean()
    loss.backward()
    grad = model.flat_grad.numpy().copy()

    # Naive reference for the same loss and gradient.
    model.flat_grad.zero_()
    terms = [model.naive_terms(l.split()) for l in lines]
    npf = torch.stack([t[0] for t in terms])
    npb = torch.stack([t[1] for t in terms])
    nres = model.log_z + npf - logr - npb
    nloss = torch.clamp(nres * nres, max=LOSS_CLAMP).mean()
    nloss.backward()
    ngrad = model.flat_grad.numpy().copy()
    ok = True
    for name, a, b in (("sum_log_pf", sum_pf.detach().numpy(), npf.detach().numpy()),
                       ("sum_log_pb", sum_pb.detach().numpy(), npb.detach().numpy()),
                       ("loss", np.array([loss.item()]), np.array([nloss.item()])),
                       ("grad", grad, ngrad)):
        err = np.abs(a - b) - (1e-12 + 1e-10 * np.abs(b))
        if (err > 0).any():
            i = int(np.argmax(err))
            print(f"MISMATCH {name}[{i}]: batched {a[i]!r} naive {b[i]!r}")
            ok = False
        else:
            print(f"ok {name}: batched == naive (max abs diff {np.abs(a - b).max():.3g})")
    sq = (resid * resid).detach().numpy()
    n_clamped = int((sq > LOSS_CLAMP).sum())
    near = np.abs(sq - LOSS_CLAMP).min()
    assert near > 1e-3, f"a squared residual is {near} from the clamp: pick other trajectories"
    gpf = float(np.linalg.norm(grad[:n_pf]))
    gpb = float(np.linalg.norm(grad[n_pf:n_pf + n_pb]))

    ok &= check_sampler(torch, np, model, 20000 if A * n <= 40 else 4000, 99)

    os.makedirs(args.dump_check, exist_ok=True)
    d = args.dump_check
    pvec = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    pvec.astype("<f8").tofile(os.path.join(d, "params_f64le.bin"))
    grad.astype("<f8").tofile(os.path.join(d, "grad_f64le.bin"))
    with open(os.path.join(d, "trajectories.txt"), "w") as f:
        f.write("".join(l + "\n" for l in lines))
    with open(os.path.join(d, "log_reward.txt"), "w") as f:
        f.write("".join(f"{v:.17g}\n" for v in logr.numpy()))
    with open(os.path.join(d, "loss.txt"), "w") as f:
        f.write(f"{loss.item():.17g}\n")
        for b in range(B):
            f.write(f"{sum_pf[b].item():.17g} {sum_pb[b].item():.17g} {logr[b].item():.17g} "
                    f"{resid[b].item():.17g} {int(sq[b] > LOSS_CLAMP)}\n")

    # Full optimiser steps from a fresh Adam state, checked against the same steps
    # taken with torch.optim.Adam and torch.nn.utils.clip_grad_norm_ on a copy.
    ref = make_model(torch, args, cfg, dtype, 0)
    with torch.no_grad():
        ref.flat.copy_(model.flat)
    ref_opt = torch.optim.Adam([{"params": ref.pf_params + ref.pb_params, "lr": LR_POLICY},
                                {"params": [ref.log_z], "lr": LR_LOGZ}], betas=(0.9, 0.999), eps=1e-8)
    model.new_optimizer()
    step_losses = []
    for _ in range(args.check_steps):
        step_losses.append(model.train_step(batch).item())
        rloss = ref.tb_loss(batch)
        ref.flat_grad.zero_()
        rloss.backward()
        if args.clip == "joint":
            torch.nn.utils.clip_grad_norm_(ref.params, CLIP_NORM)
        else:
            torch.nn.utils.clip_grad_norm_(ref.pf_params, CLIP_NORM)
            torch.nn.utils.clip_grad_norm_(ref.pb_params, CLIP_NORM)
        ref_opt.step()
        with torch.no_grad():
            ref.log_z.clamp_(min=0.0)
    pvec = model.flat.numpy().copy()
    rvec = ref.flat.numpy()
    err = np.abs(pvec - rvec) - (1e-13 + 1e-11 * np.abs(rvec))
    if (err > 0).any():
        i = int(np.argmax(err))
        print(f"MISMATCH params after {args.check_steps} steps [{i}]: flat Adam {pvec[i]!r} torch.optim.Adam {rvec[i]!r}")
        ok = False
    else:
        print(f"ok params after {args.check_steps} steps: flat Adam == torch.optim.Adam "
              f"(max abs diff {np.abs(pvec - rvec).max():.3g})")
    pvec.astype("<f8").tofile(os.path.join(d, "params_after_steps_f64le.bin"))
    with open(os.path.join(d, "step_losses.txt"), "w") as f:
        f.write("".join(f"{v:.17g}\n" for v in step_losses))
    meta = dict(task=args.task, A=A, n=n, feature_dim=n * A, hidden=cfg["hidden"], layers=cfg["layers"],
                n_fwd_actions=2 * A + 1, n_bwd_actions=3, n_params_pf=n_pf, n_params_pb=n_pb,
                n_params=n_pf + n_pb + 1, n_traj=B, log_z=log_z0, loss_clamp=LOSS_CLAMP,
                clip_norm=CLIP_NORM, clip=args.clip, lr_policy=LR_POLICY, lr_log_z=LR_LOGZ,
                check_steps=args.check_steps, grad_norm_pf=f"{gpf:.17g}", grad_norm_pb=f"{gpb:.17g}",
                n_clamped=n_clamped, policy=args.policy)
    if args.policy == "ssr":
        meta.update(ssr_enc_layers=model.enc_layers, ssr_embed=model.embed, ssr_sc_layers=model.sc_layers)
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in meta.items()))
    print(f"wrote {d}: {B} trajectories, loss {loss.item():.17g}, {n_clamped} clamped, "
          f"|grad P_F| {gpf:.4g}, |grad P_B| {gpb:.4g}, step losses {step_losses}")
    return 0 if ok else 1


# ---------------------------------------------------------------- main

def main():
    args = parse_args()
    if args.blas == "reference" and os.environ.get("GFN_TORCH_REF_BLAS") != "1":
        # The library path is read when the process starts: re-execute.
        env = dict(os.environ, GFN_TORCH_REF_BLAS="1",
                   LD_LIBRARY_PATH=":".join([REF_BLAS_DIRS, os.environ.get("LD_LIBRARY_PATH", "")]).rstrip(":"))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    nthreads, nblas = set_threads_env(args.threads, args.blas_threads)
    try:
        import torch
    except ImportError:
        print("torch_round.py: python3-torch is not installed; PyTorch side skipped", file=sys.stderr)
        print("pytorch_rounds_per_s=skipped")
        return 0
    import numpy as np
    torch.set_num_threads(nthreads)
    cfg = TASKS[args.task]
    R = load_rewards(args.task, cfg["A"], cfg["n"])
    if args.dump_check:
        return dump_check(torch, np, args, cfg, R)
    elapsed, cpu, nbuf, mons, losses, model = run_training(torch, np, args, cfg, R)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    blas = ",".join(os.path.basename(l) for l in blas_in_use()) or "none"
    if not args.quiet:
        print(f"task={args.task} policy={args.policy} rounds={args.rounds} threads={torch.get_num_threads()} "
              f"blas_threads={nblas} dtype={args.dtype} "
              f"omp_wait={os.environ.get('OMP_WAIT_POLICY', 'default')} "
              f"seconds={elapsed:.3f} cpu_seconds={cpu:.3f} buffer={nbuf} blas={blas}")
        if mons:
            print(f"monitor_mean_reward_last={mons[-1]:.4f} loss_last={losses[-1]:.4f}")
        if args.policy == "ssr":
            # Network states per round, counted as the harness counts them (its
            # pf_states_fwd_per_round etc.; a sampler step at s_0 is 1 state here, B there).
            print(" ".join(f"{k.split('_')[0]}_states_{k.split('_')[1]}_per_round={model.rows[k] / args.rounds:.1f}"
                           for k in ("pf_fwd", "pf_bwd", "pb_fwd", "pb_bwd")) +
                  f" ssr_first_layer={args.ssr_first_layer}")
    print(f"pytorch_rounds_per_cpu_s={args.rounds / cpu:.3f}")
    print(f"pytorch_rounds_per_s={args.rounds / elapsed:.3f}")
    print(f"peak_rss_kb={rss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
