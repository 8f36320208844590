"""Reference fixtures for jgrad's GPT model and its attention / RoPE / cross-entropy building blocks.

Defines the GPT-2 style (nanoGPT) and LLaMA style (HF LlamaForCausalLM: RoPE, RMSNorm, SwiGLU, grouped-query
attention) models in plain PyTorch with the same parameter names as jgrad's Gpt, fills them with random values
(not the 0.02 init: large enough that attention is far from uniform and every norm weight and bias matters),
and records every parameter, an input batch, the logits, the loss and every parameter's gradient, all in
float64. The functional ops get forward and backward cases of their own.

Run with Debian's torch:  /usr/bin/python3 lib-models/src/test/python/make_fixtures_gpt.py"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                                "lib-tensor", "src", "test", "python"))
import fixture_io  # noqa: E402

torch.manual_seed(20261207)
torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------------------------------------- functional ops

def attention(q, k, v, causal, scale):
    """q [B, Hq, T, D], k/v [B, Hkv, S, D]; query t sees keys s <= t + S - T."""
    groups = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(groups, dim=1)
    v = v.repeat_interleave(groups, dim=1)
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        t, s = q.shape[2], k.shape[2]
        hidden = torch.ones(t, s, dtype=torch.bool).triu(diagonal=s - t + 1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return scores.softmax(-1) @ v


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope(x, start_pos, theta):
    """HF LLaMA's apply_rotary_pos_emb on x [B, H, T, D]."""
    d = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2).double() / d))
    pos = torch.arange(start_pos, start_pos + x.shape[2]).double()
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def op_case(fn, **inputs):
    """Forward and backward of fn on leaf inputs, backward from sum(out * upstream) with a random upstream."""
    leaves = {name: t.clone().requires_grad_(True) for name, t in inputs.items()}
    out = fn(**leaves)
    upstream = torch.randn(out.shape) if out.dim() > 0 else torch.tensor(1.0)
    (out * upstream).sum().backward()
    case = {name: t.detach() for name, t in leaves.items()}
    case["out"] = out.detach()
    case["upstream"] = upstream
    for name, t in leaves.items():
        case["grad_" + name] = t.grad
    return case


ops = {
    "attention_mha_causal": op_case(lambda q, k, v: attention(q, k, v, True, 0.5),
                                    q=torch.randn(2, 3, 5, 4), k=torch.randn(2, 3, 5, 4), v=torch.randn(2, 3, 5, 4)),
    "attention_gqa_causal": op_case(lambda q, k, v: attention(q, k, v, True, 1 / math.sqrt(6)),
                                    q=torch.randn(1, 4, 7, 6), k=torch.randn(1, 2, 7, 6), v=torch.randn(1, 2, 7, 6)),
    "attention_cached_causal": op_case(lambda q, k, v: attention(q, k, v, True, 0.4),
                                       q=torch.randn(1, 2, 3, 4), k=torch.randn(1, 1, 6, 4), v=torch.randn(1, 1, 6, 4)),
    "attention_full": op_case(lambda q, k, v: attention(q, k, v, False, 0.3),
                              q=torch.randn(2, 2, 3, 4), k=torch.randn(2, 2, 5, 4), v=torch.randn(2, 2, 5, 4)),
    "rope_start0": op_case(lambda x: rope(x, 0, 10000.0), x=torch.randn(2, 3, 5, 8)),
    "rope_start7": op_case(lambda x: rope(x, 7, 500.0), x=torch.randn(1, 2, 4, 6)),
}
ce_targets = torch.tensor([3, -100, 0, 4, 4, 1])
ops["cross_entropy"] = op_case(lambda logits: F.cross_entropy(logits, ce_targets, ignore_index=-100),
                               logits=torch.randn(6, 5) * 2)
ops["cross_entropy"]["targets"] = ce_targets.double()
ops["cross_entropy_smoothed"] = op_case(
    lambda logits: F.cross_entropy(logits, ce_targets, ignore_index=-100, label_smoothing=0.15),
    logits=torch.randn(6, 5) * 2)
ops["cross_entropy_smoothed"]["targets"] = ce_targets.double()


# ---------------------------------------------------------------------------------------------- models

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Gpt2Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = attention(q, k, v, True, 1 / math.sqrt(d // self.heads))
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class Gpt2Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.c_fc = nn.Linear(d, hidden)
        self.c_proj = nn.Linear(hidden, d)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Gpt2Block(nn.Module):
    def __init__(self, d, heads, hidden, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Gpt2Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = Gpt2Mlp(d, hidden)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt2(nn.Module):
    def __init__(self, vocab, ctx, layers, d, heads, hidden, eps):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, d),
            wpe=nn.Embedding(ctx, d),
            h=nn.ModuleList([Gpt2Block(d, heads, hidden, eps) for _ in range(layers)]),
            ln_f=nn.LayerNorm(d, eps=eps)))
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight   # tied, as in nanoGPT

    def forward(self, ids):
        t = ids.shape[1]
        x = self.transformer.wte(ids) + self.transformer.wpe(torch.arange(t))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


class LlamaAttention(nn.Module):
    def __init__(self, d, heads, kv_heads, theta):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim, self.theta = heads, kv_heads, d // heads, theta
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rope(q, 0, self.theta), rope(k, 0, self.theta)
        y = attention(q, k, v, True, 1 / math.sqrt(self.head_dim))
        return self.o_proj(y.transpose(1, 2).reshape(b, t, d))


class LlamaMlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, d, heads, kv_heads, hidden, eps, theta):
        super().__init__()
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = LlamaAttention(d, heads, kv_heads, theta)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = LlamaMlp(d, hidden)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, vocab, layers, d, heads, kv_heads, hidden, eps, theta):
        super().__init__()
        self.model = nn.ModuleDict(dict(
            embed_tokens=nn.Embedding(vocab, d),
            layers=nn.ModuleList([LlamaBlock(d, heads, kv_heads, hidden, eps, theta) for _ in range(layers)]),
            norm=RMSNorm(d, eps)))
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for block in self.model.layers:
            x = block(x)
        return self.lm_head(self.model.norm(x))


def randomise(model):
    """Random values everywhere, so that no gradient path hides behind a zero bias or a unit norm weight."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape))
            elif name.endswith("norm.weight") or ".ln_" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape))
            else:
                p.copy_(0.3 * torch.randn(p.shape))


def model_case(model, vocab, batch, time):
    randomise(model)
    ids = torch.randint(0, vocab, (batch, time))
    targets = torch.randint(0, vocab, (batch, time))
    targets[1, 2] = -1   # an ignored position, as in nanoGPT
    logits = model(ids)
    loss = F.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-1)
    loss.backward()
    case = {"ids": ids.double(), "targets": targets.double(), "logits": logits.detach(), "loss": loss.detach()}
    for name, p in model.state_dict(keep_vars=True).items():
        case["param." + name] = p.detach()
        case["grad." + name] = p.grad
    return case


models = {
    # vocab 11, ctx 8, 2 layers, d 16, 4 heads, MLP 64, eps 1e-5
    "gpt2": model_case(Gpt2(11, 8, 2, 16, 4, 64, 1e-5), 11, 2, 8),
    # vocab 11, 2 layers, d 16, 4 heads, 2 kv heads, MLP 24, eps 1e-5, theta 10000
    "llama": model_case(Llama(11, 2, 16, 4, 2, 24, 1e-5, 10000.0), 11, 2, 8),
}

out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures")
script = "lib-models/src/test/python/make_fixtures_gpt.py"
fixture_io.write("gpt_ops", ops, script, out_dir=out_dir)
fixture_io.write("gpt_models", models, script, out_dir=out_dir)
