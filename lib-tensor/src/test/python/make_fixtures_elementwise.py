"""Reference values for jgrad's elementwise ops (Binary, Unary): forward outputs and, through torch autograd with
a random upstream gradient g, the gradient of every input. Run with Debian's torch:
    /usr/bin/python3 lib-tensor/src/test/python/make_fixtures_elementwise.py
Values stay finite (the fixture format has no inf/NaN); inf/NaN behaviour is tested in Java against torch's
documented semantics."""
import torch
import torch.nn.functional as F

import fixture_io

torch.manual_seed(1234)
dt = torch.float64
cases = {}


def with_grads(name, fn, **inputs):
    """Runs fn on the inputs, backpropagates a random g, and records inputs, out, g and grad_<input>."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    g = torch.randn(out.shape, dtype=dt)
    out.backward(g)
    case = dict(inputs)
    case["out"] = out
    case["g"] = g
    for k, v in leaves.items():
        case["grad_" + k] = v.grad if v.grad is not None else torch.zeros_like(v)
    cases[name] = case


# --- binary arithmetic with broadcasting
patterns = {
    "same": ([2, 5], [2, 5]),
    "col_row": ([3, 1], [1, 4]),
    "bias": ([2, 3, 4], [4]),
    "lead": ([4], [2, 3, 4]),
    "rank0": ([2, 3], []),
    "mid": ([2, 1, 3], [4, 1]),
}
for pname, (sa, sb) in patterns.items():
    a = torch.randn(sa, dtype=dt)
    b = torch.randn(sb, dtype=dt)
    with_grads("add_" + pname, lambda a, b: a + b, a=a, b=b)
    with_grads("sub_" + pname, lambda a, b: a - b, a=a, b=b)
    with_grads("mul_" + pname, lambda a, b: a * b, a=a, b=b)
    bpos = (torch.rand(sb, dtype=dt) + 0.5) * torch.where(torch.rand(sb, dtype=dt) < 0.5, -1.0, 1.0)
    with_grads("div_" + pname, lambda a, b: a / b, a=a, b=bpos)
    apos = torch.rand(sa, dtype=dt) * 1.5 + 0.5
    with_grads("pow_" + pname, lambda a, b: a ** b, a=apos, b=torch.rand(sb, dtype=dt) * 4 - 2)

# pow at a == 0 and b == 0: torch zeroes d/da where b == 0 and d/db where a == 0 and b >= 0
with_grads("pow_zeros", lambda a, b: a ** b,
           a=torch.tensor([0.0, 0.0, 2.0, 3.0, 0.0, 0.5], dtype=dt),
           b=torch.tensor([0.0, 2.0, 0.0, 1.5, 1.0, 3.0], dtype=dt))

x = torch.randn(3, 4, dtype=dt)
with_grads("add_scalar", lambda a: a + 0.75, a=x)
with_grads("mul_scalar", lambda a: a * -1.25, a=x)
xp = torch.rand(3, 4, dtype=dt) + 0.25
for e, tag in [(3.0, "3"), (0.5, "half"), (2.0, "2"), (0.0, "0"), (-1.0, "m1"), (-2.5, "m2_5")]:
    with_grads("pow_scalar_" + tag, lambda a: a ** e, a=xp)
    cases["pow_scalar_" + tag]["exponent"] = torch.tensor(e, dtype=dt)
with_grads("pow_scalar_2_neg", lambda a: a ** 2.0, a=x)
with_grads("pow_scalar_3_neg", lambda a: a ** 3.0, a=x)

# --- where / masked_fill
cond = (torch.rand(3, 1, dtype=dt) < 0.5).to(dt)
cond[0, 0] = 1.0
cond[1, 0] = 0.0
with_grads("where", lambda a, b: torch.where(cond != 0, a, b), a=torch.randn(1, 4, dtype=dt), b=torch.randn(3, 4, dtype=dt))
cases["where"]["cond"] = cond
mask = (torch.rand(4, dtype=dt) < 0.5).to(dt)
mask[0] = 1.0
mask[1] = 0.0
with_grads("masked_fill", lambda x: x.masked_fill(mask != 0, -1e9), x=torch.randn(3, 4, dtype=dt))
cases["masked_fill"]["mask"] = mask
tril = torch.tril(torch.ones(4, 4, dtype=dt))
with_grads("masked_fill_causal", lambda x: x.masked_fill(tril == 0, -1e9), x=torch.randn(2, 4, 4, dtype=dt))
cases["masked_fill_causal"]["mask"] = (tril == 0).to(dt)

# --- unary
x = torch.cat([torch.linspace(-6, 6, 25, dtype=dt), torch.randn(15, dtype=dt), torch.tensor([0.0], dtype=dt)])
xpos = torch.cat([torch.linspace(0.01, 10, 20, dtype=dt), torch.rand(13, dtype=dt) + 1e-3])
with_grads("neg", lambda x: -x, x=x)
with_grads("exp", lambda x: torch.exp(x), x=x)
with_grads("log", lambda x: torch.log(x), x=xpos)
with_grads("sqrt", lambda x: torch.sqrt(x), x=xpos)
with_grads("abs", lambda x: torch.abs(x), x=x)
with_grads("tanh", lambda x: torch.tanh(x), x=x)
with_grads("sigmoid", lambda x: torch.sigmoid(x), x=x)
with_grads("relu", lambda x: torch.relu(x), x=x)
with_grads("gelu", lambda x: F.gelu(x, approximate="tanh"), x=x)
with_grads("gelu_exact", lambda x: F.gelu(x), x=torch.cat([x, torch.tensor([-9.0, -7.5, 8.0, 1e-8, -3.3], dtype=dt)]))
with_grads("silu", lambda x: F.silu(x), x=x)
xc = torch.cat([x, torch.tensor([-1.5, 2.0], dtype=dt)])
with_grads("clamp", lambda x: torch.clamp(x, -1.5, 2.0), x=xc)
cases["clamp"]["min"] = torch.tensor(-1.5, dtype=dt)
cases["clamp"]["max"] = torch.tensor(2.0, dtype=dt)

fixture_io.write("elementwise", cases, "make_fixtures_elementwise.py")
