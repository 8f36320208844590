"""Reference training run for jgrad's autograd: a 2-16-16-2 ReLU MLP with softmax cross-entropy, trained by
full-batch SGD with momentum in PyTorch (float64). The Java test replays the same recipe from the same data and
initial weights and must produce the same loss at every step.

Run with Debian's torch:  /usr/bin/python3 lib-autograd/src/test/python/make_fixtures_mlp_training.py"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                                "lib-tensor", "src", "test", "python"))
import fixture_io  # noqa: E402

STEPS, LR, MOMENTUM = 60, 0.1, 0.9

torch.manual_seed(20261121)
n = 48
labels = torch.randint(0, 2, (n,))
angle = torch.rand(n) * 6.2832
radius = 0.2 + 0.6 * labels + 0.3 * torch.rand(n)   # two concentric rings: separable, but not linearly
x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1).double()
one_hot = torch.nn.functional.one_hot(labels, 2).double()

sizes = [(2, 16), (16, 16), (16, 2)]
params = []
for fan_in, fan_out in sizes:
    bound = (3.0 / fan_in) ** 0.5
    params.append((torch.rand(fan_in, fan_out, dtype=torch.float64) * 2 - 1) * bound)
    params.append((torch.rand(fan_out, dtype=torch.float64) * 2 - 1) * 0.1)
init = [p.clone() for p in params]
for p in params:
    p.requires_grad_(True)


def forward(inputs):
    h = torch.relu(inputs @ params[0] + params[1])
    h = torch.relu(h @ params[2] + params[3])
    return h @ params[4] + params[5]


optimizer = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
losses = []
for step in range(STEPS):
    optimizer.zero_grad()
    logits = forward(x)
    loss = -(torch.log_softmax(logits, dim=-1) * one_hot).sum() / n
    loss.backward()
    losses.append(loss.item())
    optimizer.step()

case = {"x": x, "one_hot": one_hot, "losses": torch.tensor(losses, dtype=torch.float64)}
for i, p in enumerate(init):
    case[f"init{i}"] = p
for i, p in enumerate(params):
    case[f"final{i}"] = p.detach()
fixture_io.write("mlp_training", {"sgd_momentum": case}, "lib-autograd/src/test/python/make_fixtures_mlp_training.py",
                 out_dir=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures"))
