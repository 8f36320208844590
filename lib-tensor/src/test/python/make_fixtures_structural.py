"""Reference values for softmax/log-softmax, layer norm, RMS norm, embedding, one-hot, causal mask and
concat/stack/split, forward and backward, computed by torch in float64. Backward cases hold the upstream
gradient g and the gradients torch's autograd computes for sum(out * g).

Run with Debian's torch: /usr/bin/python3 lib-tensor/src/test/python/make_fixtures_structural.py"""
import torch

import fixture_io

torch.manual_seed(1234)
D = torch.float64
cases = {}


def grads_of(out, g, *inputs):
    return torch.autograd.grad(out, inputs, g)


# softmax / log_softmax along every axis of a 3-D tensor, with large entries to exercise the max shift
for name, fn in [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]:
    for axis in [0, 1, 2, -1]:
        x = (torch.randn(3, 4, 5, dtype=D) * 3).requires_grad_()
        with torch.no_grad():
            x[1, 2, :] += 1000.0
        out = fn(x, axis)
        g = torch.randn_like(out)
        (dx,) = grads_of(out, g, x)
        cases[f"{name}_axis{axis}"] = {"x": x, "out": out, "g": g, "dx": dx}

# layer norm with and without affine parameters; mean/rstd as llm.c saves them
for affine in [True, False]:
    x = (torch.randn(2, 3, 7, dtype=D) * 2 + 0.5).requires_grad_()
    w = torch.randn(7, dtype=D).requires_grad_() if affine else None
    b = torch.randn(7, dtype=D).requires_grad_() if affine else None
    eps = 1e-5
    out = torch.nn.functional.layer_norm(x, [7], w, b, eps)
    g = torch.randn_like(out)
    inputs = (x, w, b) if affine else (x,)
    grads = grads_of(out, g, *inputs)
    mean = x.mean(-1)
    rstd = 1.0 / torch.sqrt(x.var(-1, unbiased=False) + eps)
    case = {"x": x, "out": out, "mean": mean, "rstd": rstd, "g": g, "dx": grads[0]}
    if affine:
        case.update({"w": w, "b": b, "dw": grads[1], "db": grads[2]})
    cases["layer_norm_affine" if affine else "layer_norm_plain"] = case

# RMS norm by its formula (torch 1.13 has no rms_norm)
for weighted in [True, False]:
    x = (torch.randn(3, 2, 9, dtype=D) * 1.5).requires_grad_()
    w = torch.randn(9, dtype=D).requires_grad_() if weighted else None
    eps = 1e-6
    rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    out = x * rstd * (w if weighted else 1.0)
    g = torch.randn_like(out)
    grads = grads_of(out, g, *((x, w) if weighted else (x,)))
    case = {"x": x, "out": out, "rstd": rstd.squeeze(-1), "g": g, "dx": grads[0]}
    if weighted:
        case.update({"w": w, "dw": grads[1]})
    cases["rms_norm_weight" if weighted else "rms_norm_plain"] = case

# embedding with repeated ids (their gradients accumulate)
weight = torch.randn(6, 4, dtype=D).requires_grad_()
ids = torch.tensor([[1, 3, 1], [5, 0, 1]])
out = torch.nn.functional.embedding(ids, weight)
g = torch.randn_like(out)
(dw,) = grads_of(out, g, weight)
cases["embedding"] = {"weight": weight, "ids": ids.to(D), "out": out, "g": g, "dweight": dw}

cases["one_hot"] = {"ids": torch.tensor([2, 0, 3, 3]).to(D),
                    "out": torch.nn.functional.one_hot(torch.tensor([2, 0, 3, 3]), 5).to(D)}
cases["causal_mask"] = {"out": torch.tril(torch.ones(5, 5, dtype=D))}

# concat / stack / split, gradients through sum(out * g)
a = torch.randn(2, 3, 4, dtype=D).requires_grad_()
b = torch.randn(2, 1, 4, dtype=D).requires_grad_()
c = torch.randn(2, 2, 4, dtype=D).requires_grad_()
out = torch.cat([a, b, c], 1)
g = torch.randn_like(out)
da, db, dc = grads_of(out, g, a, b, c)
cases["concat_axis1"] = {"a": a, "b": b, "c": c, "out": out, "g": g, "da": da, "db": db, "dc": dc}

p = torch.randn(3, 4, dtype=D).requires_grad_()
q = torch.randn(3, 4, dtype=D).requires_grad_()
out = torch.stack([p, q], 2)
g = torch.randn_like(out)
dp, dq = grads_of(out, g, p, q)
cases["stack_axis2"] = {"p": p, "q": q, "out": out, "g": g, "dp": dp, "dq": dq}

x = torch.randn(4, 6, dtype=D).requires_grad_()
s0, s1, s2 = torch.split(x, [1, 3, 2], 1)
g0, g2 = torch.randn_like(s0), torch.randn_like(s2)
# the middle piece is unused: its gradient is zero (a null entry on the Java side)
(dx,) = torch.autograd.grad([s0, s2], [x], [g0, g2])
cases["split_axis1"] = {"x": x, "s0": s0, "s1": s1, "s2": s2, "g0": g0, "g2": g2, "dx": dx}

fixture_io.write("structural", cases, "make_fixtures_structural.py")
