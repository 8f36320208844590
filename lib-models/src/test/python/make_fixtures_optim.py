"""Reference trajectories of torch.optim.SGD / Adam / AdamW (float64) for jgrad's optimizers.

A tiny regression problem, loss = mean((tanh(x @ W + b) - y)^2), is optimized for STEPS steps by each recipe
below. Weight decay goes to W only (a parameter group for b with weight_decay 0: jgrad's default "matrices
only" rule) or to both (cases ending in _all). Each case records the data, the initial parameters, the
hyperparameters (as scalars), the learning rate used at every step (lrs, so schedules are covered) and W, b
after every step. The Java test rebuilds the loss with jgrad's autograd, replays the steps and compares.

Run with Debian's torch:  /usr/bin/python3 lib-models/src/test/python/make_fixtures_optim.py"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "lib-tensor", "src", "test", "python"))
import fixture_io  # noqa: E402

STEPS = 10
torch.manual_seed(20261204)
X = torch.randn(6, 3, dtype=torch.float64)
Y = torch.rand(6, 4, dtype=torch.float64) * 1.6 - 0.8
W0 = torch.randn(3, 4, dtype=torch.float64) * 0.5
B0 = torch.randn(4, dtype=torch.float64) * 0.1


def warmup_cosine(it, peak, warmup, total, floor):
    """nanoGPT's get_lr, the schedule jgrad's WarmupCosineSchedule implements."""
    if it < warmup:
        return peak * (it + 1) / (warmup + 1)
    if it > total:
        return floor
    ratio = (it - warmup) / (total - warmup)
    return floor + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (peak - floor)


def scalar(value):
    return torch.tensor(float(value), dtype=torch.float64)  # float64: torch.tensor(0.9) alone would be float32


def run(kind, lrs, decay_bias, **hyper):
    w = W0.clone().requires_grad_(True)
    b = B0.clone().requires_grad_(True)
    wd = hyper.pop("weight_decay", 0.0)
    groups = [{"params": [w], "weight_decay": wd}, {"params": [b], "weight_decay": wd if decay_bias else 0.0}]
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind](
        groups, lr=lrs[0], **hyper)
    out = {"x": X, "y": Y, "w0": W0, "b0": B0, "lrs": torch.tensor(lrs, dtype=torch.float64),
           "weight_decay": scalar(wd), "decay_bias": scalar(1.0 if decay_bias else 0.0)}
    for name, value in hyper.items():
        if name == "betas":
            out["beta1"], out["beta2"] = scalar(value[0]), scalar(value[1])
        else:
            out[name] = scalar(value)
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        opt.zero_grad()
        loss = ((torch.tanh(X @ w + b) - Y) ** 2).mean()
        loss.backward()
        opt.step()
        out[f"w{step + 1}"] = w.detach().clone()
        out[f"b{step + 1}"] = b.detach().clone()
    return out


const = lambda lr: [lr] * STEPS  # noqa: E731
sched = [warmup_cosine(it, 0.05, 3, 8, 0.005) for it in range(STEPS)]

cases = {
    "sgd_plain": run("sgd", const(0.5), False),
    "sgd_momentum_wd": run("sgd", const(0.3), False, momentum=0.9, weight_decay=0.05),
    "sgd_dampening_all": run("sgd", const(0.3), True, momentum=0.8, dampening=0.25, weight_decay=0.02),
    "sgd_nesterov_all": run("sgd", const(0.2), True, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": run("adam", const(0.05), False, betas=(0.9, 0.999), eps=1e-8),
    "adam_wd_all": run("adam", const(0.05), True, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "adamw_wd": run("adamw", const(0.05), False, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
    "adamw_wd_all_schedule": run("adamw", sched, True, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5),
}

fixture_io.write("optim", cases, "lib-models/src/test/python/make_fixtures_optim.py",
                 out_dir=os.path.join(HERE, "..", "resources", "fixtures"))
