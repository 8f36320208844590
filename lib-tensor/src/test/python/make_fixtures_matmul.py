"""Reference values for MatMul.matmul / matmulBackward: torch.matmul in float64 on random inputs, with the
gradients of sum(out * g) for a random upstream g. Run with Debian's torch: /usr/bin/python3 make_fixtures_matmul.py"""
import torch

import fixture_io

torch.manual_seed(0)

SHAPES = {
    "dot": ((7,), (7,)),
    "mm": ((3, 4), (4, 5)),
    "mm_odd": ((17, 33), (33, 9)),
    "vec_mat": ((4,), (4, 5)),
    "mat_vec": ((3, 4), (4,)),
    "batched": ((2, 3, 4), (2, 4, 5)),
    "shared_weight": ((2, 3, 4), (4, 5)),
    "shared_left": ((3, 4), (2, 4, 5)),
    "broadcast_batch": ((2, 1, 3, 4), (3, 4, 5)),
    "broadcast_both": ((2, 1, 3, 4), (1, 3, 4, 2)),
    "vec_batched": ((4,), (2, 4, 5)),
    "batched_vec": ((2, 3, 4), (4,)),
    "single_row_col": ((1, 6), (6, 1)),
}

cases = {}
for name, (sa, sb) in SHAPES.items():
    a = torch.randn(sa, dtype=torch.float64, requires_grad=True)
    b = torch.randn(sb, dtype=torch.float64, requires_grad=True)
    out = torch.matmul(a, b)
    g = torch.randn(out.shape, dtype=torch.float64)
    ga, gb = torch.autograd.grad(out, (a, b), g)
    cases[name] = {"a": a, "b": b, "out": out, "g": g, "grad_a": ga, "grad_b": gb}

fixture_io.write("matmul", cases, "make_fixtures_matmul.py")
