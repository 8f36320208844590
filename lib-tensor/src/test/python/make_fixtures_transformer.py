"""Reference values for the fused transformer ops: scaled dot-product attention (causal or not, T != S,
grouped-query heads), rotary position embedding in the Hugging Face rotate_half layout, and cross-entropy with
ignore_index and label_smoothing. Forward and backward, computed by torch in float64; backward cases hold the
upstream gradient g and the gradients torch's autograd computes for sum(out * g).

torch 1.13 has no scaled_dot_product_attention, so attention is built here from matmul, a mask and softmax.

Run with Debian's torch: /usr/bin/python3 lib-tensor/src/test/python/make_fixtures_transformer.py"""
import math

import torch

import fixture_io

torch.manual_seed(4321)
D = torch.float64
cases = {}


def attention(q, k, v, causal, scale):
    """Grouped-query attention: query head h reads kv head h // (Hq // Hkv); causal: query i sees keys
    j <= i + (S - T). Returns the output and the per-row log-sum-exp of the scaled scores."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        t, s = q.shape[2], k.shape[2]
        allowed = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, -1) @ v, torch.logsumexp(scores, -1)


for name, (b, hq, hkv, t, s, d, causal) in {
    "attention_causal": (2, 2, 2, 5, 5, 4, True),
    "attention_full": (1, 2, 2, 3, 6, 5, False),
    "attention_causal_offset": (1, 2, 2, 3, 7, 4, True),
    "attention_gqa": (2, 4, 2, 4, 4, 3, True),
    "attention_mqa": (1, 4, 1, 3, 5, 6, False),
}.items():
    q = torch.randn(b, hq, t, d, dtype=D).requires_grad_()
    k = torch.randn(b, hkv, s, d, dtype=D).requires_grad_()
    v = torch.randn(b, hkv, s, d, dtype=D).requires_grad_()
    scale = 1.0 / math.sqrt(d)
    out, lse = attention(q, k, v, causal, scale)
    g = torch.randn_like(out)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), g)
    cases[name] = {"q": q, "k": k, "v": v, "causal": torch.tensor(float(causal), dtype=D),
                   "scale": torch.tensor(scale, dtype=D),
                   "out": out, "lse": lse, "g": g, "dq": dq, "dk": dk, "dv": dv}


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(x, start_pos, theta):
    """Hugging Face LLaMA: cos/sin of positions times inverse frequencies, each repeated for both halves."""
    d = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=D) / d))
    positions = torch.arange(start_pos, start_pos + x.shape[-2], dtype=D)
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


for name, (shape, start_pos, theta) in {
    "rope_start0": ((2, 3, 5, 8), 0, 10000.0),
    "rope_start7": ((1, 2, 4, 6), 7, 10000.0),
    "rope_theta500k": ((1, 1, 3, 34), 100, 500000.0),
}.items():
    x = torch.randn(*shape, dtype=D).requires_grad_()
    out = rope(x, start_pos, theta)
    g = torch.randn_like(out)
    (dx,) = torch.autograd.grad(out, (x,), g)
    cases[name] = {"x": x, "start_pos": torch.tensor(float(start_pos), dtype=D), "theta": torch.tensor(theta, dtype=D),
                   "out": out, "g": g, "dx": dx}

for name, (n, c, targets, ignore_index, smoothing) in {
    "cross_entropy_plain": (4, 7, [3, 0, 6, 2], -100, 0.0),
    "cross_entropy_ignore": (5, 6, [1, -100, 5, -100, 0], -100, 0.0),
    "cross_entropy_smoothing": (4, 9, [8, 2, 2, 0], -100, 0.1),
    "cross_entropy_ignore_smoothing": (6, 5, [4, 2, 0, 2, 1, 3], 2, 0.25),
}.items():
    logits = (torch.randn(n, c, dtype=D) * 3).requires_grad_()
    target = torch.tensor(targets)
    loss = torch.nn.functional.cross_entropy(logits, target, ignore_index=ignore_index, label_smoothing=smoothing)
    g = torch.tensor(1.7, dtype=D)
    (dlogits,) = torch.autograd.grad(loss, (logits,), g)
    cases[name] = {"logits": logits, "targets": target.to(D),
                   "ignore_index": torch.tensor(float(ignore_index), dtype=D),
                   "smoothing": torch.tensor(smoothing, dtype=D), "loss": loss, "lse": torch.logsumexp(logits, -1),
                   "g": g, "dlogits": dlogits}

fixture_io.write("transformer", cases, "make_fixtures_transformer.py")
