"""Reference values for jgrad's reductions (Reduce): forward outputs for several axis sets with keepDim true and
false, and the gradient of the input through torch autograd with a random upstream gradient g. Max/min inputs are
small integers, so ties are common and the tie-splitting gradient is exercised. Run with Debian's torch:
    /usr/bin/python3 lib-tensor/src/test/python/make_fixtures_reduce.py"""
import torch

import fixture_io

torch.manual_seed(4321)
dt = torch.float64
cases = {}
axis_sets = {"all": (), "a0": (0,), "a1": (1,), "a2": (2,), "am1": (-1,), "a02": (0, 2), "a01": (0, 1), "a12": (1, 2)}


def record(name, fn, x, axes, **extra):
    leaf = x.clone().requires_grad_(True)
    out = fn(leaf)
    g = torch.randn(out.shape, dtype=dt)
    out.backward(g)
    case = {"x": x, "out": out, "g": g, "grad_x": leaf.grad, "axes": torch.tensor(axes, dtype=dt)}
    case.update({k: torch.tensor(v, dtype=dt) for k, v in extra.items()})
    cases[name] = case


x = torch.randn(2, 3, 4, dtype=dt)
ties = torch.randint(0, 3, (2, 3, 4)).to(dt)
for tag, axes in axis_sets.items():
    dims = list(axes) if axes else [0, 1, 2]
    for keep in (False, True):
        k = "k" if keep else "n"
        record(f"sum_{tag}_{k}", lambda t: t.sum(dim=dims, keepdim=keep), x, axes, keep=float(keep))
        record(f"mean_{tag}_{k}", lambda t: t.mean(dim=dims, keepdim=keep), x, axes, keep=float(keep))
        record(f"max_{tag}_{k}", lambda t: torch.amax(t, dim=dims, keepdim=keep), ties, axes, keep=float(keep))
        record(f"min_{tag}_{k}", lambda t: torch.amin(t, dim=dims, keepdim=keep), ties, axes, keep=float(keep))
        for c in (0, 1):
            record(f"var{c}_{tag}_{k}", lambda t: torch.var(t, dim=dims, unbiased=bool(c), keepdim=keep), x, axes,
                   keep=float(keep), correction=float(c))

for axis in (0, 1, 2, -1):
    for keep in (False, True):
        cases[f"argmax_{axis}_{'k' if keep else 'n'}"] = {
            "x": ties, "out": torch.argmax(ties, dim=axis, keepdim=keep).to(dt),
            "axis": torch.tensor(float(axis), dtype=dt), "keep": torch.tensor(float(keep), dtype=dt)}

# sumTo: gradients of broadcasting, i.e. the sum of g back to the operand's shape
for tag, (gs, target) in {"lead": ([2, 3, 4], [4]), "col": ([3, 4], [3, 1]), "mixed": ([2, 3, 4], [3, 1]),
                          "scalar": ([2, 3], []), "same": ([2, 3], [2, 3]), "ones": ([2, 3, 4], [1, 3, 1])}.items():
    g = torch.randn(gs, dtype=dt)
    cases["sumto_" + tag] = {"g": g, "out": g.sum_to_size(target) if target else g.sum(),
                             "shape": torch.tensor(target, dtype=dt)}

fixture_io.write("reduce", cases, "make_fixtures_reduce.py")
