"""PyTorch side of the jgrad-to-PyTorch parity check: loads checkpoints that jgrad saved into PyTorch models
written here independently of jgrad, and records what PyTorch computes from them.

For each variant directory under lib-models/src/test/resources/parity/ (written by the Java program
dev.jgrad.models.gpt.ParityExport: model.safetensors, config.json, parity.json with a token batch), this script

1. reads config.json and model.safetensors itself (json + struct + numpy: torch 1.13 has no safetensors package),
2. builds the model the config describes as a plain nn.Module with PyTorch-style parameter names and loads the
   tensors with load_state_dict(strict=True),
3. asserts that every tensor in the torch state dict is bit for bit what jgrad saved (CRC-32 of the float32
   bytes against the CRC jgrad computed before saving, and equality with the raw file contents),
4. computes in float32 the logits, the mean cross-entropy over the non-ignored targets and the gradient of every
   state-dict entry (a tied weight gets the same gradient under both of its names),
5. writes them to lib-models/src/test/resources/fixtures/torch_parity.txt, which TorchExportParityTest compares
   with what jgrad computes from the same checkpoint (in CI, without torch).

The variants:
  gpt2   GPT-2 / nanoGPT: learned positions, LayerNorm with bias, tanh-approximated GELU (jgrad's Mlp uses
         F.gelu(approximate="tanh"), as GPT-2 does), fused c_attn producing q, k, v, lm_head tied to wte.
  llama  HF LlamaForCausalLM: RMSNorm (x / sqrt(mean(x^2) + eps) * weight), SwiGLU, grouped-query attention
         (each key/value head serves heads / kv_heads consecutive query heads), RoPE with config's theta in the
         "rotate half" pairing of HF transformers' LLaMA: element i pairs with element i + head_dim/2 (jgrad's
         Rope.java uses this layout). Meta's original LLaMA code pairs (2i, 2i+1) instead; converting between the
         two permutes the rows of q_proj and k_proj.

Regenerate (from the repository root):
  mvn -o -q test-compile -pl lib-models -am
  java --add-modules jdk.incubator.vector -cp lib-tensor/target/classes:lib-autograd/target/classes:\\
      viz/target/classes:lib-models/target/classes:lib-models/target/test-classes dev.jgrad.models.gpt.ParityExport
  /usr/bin/python3 lib-models/src/test/python/torch_parity.py"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY_DIR = os.path.join(HERE, "..", "resources", "parity")
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "lib-tensor", "src", "test", "python"))
import fixture_io  # noqa: E402

VARIANTS = ["gpt2", "llama"]


# ---------------------------------------------------------------------------------------------- safetensors

def read_safetensors(path):
    """{name: float32 numpy array} from a safetensors file: u64 little-endian header size, JSON header with
    dtype / shape / data_offsets relative to the end of the header, then the raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_size].decode("utf-8"))
    header.pop("__metadata__", None)
    data = blob[8 + header_size:]
    arrays = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}, the parity models are F32"
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == 4 * count, f"{path}: {name} has {end - begin} bytes for shape {info['shape']}"
        arrays[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"]).copy()
    return arrays


# ---------------------------------------------------------------------------------------------- models

def causal_attention(q, k, v):
    """q [B, Hq, T, hd], k and v [B, Hkv, T, hd]; query head h reads key/value head h // (Hq / Hkv)."""
    group = q.shape[1] // k.shape[1]
    k = torch.repeat_interleave(k, group, dim=1)
    v = torch.repeat_interleave(v, group, dim=1)
    t = q.shape[2]
    scores = (q @ k.transpose(2, 3)) / math.sqrt(q.shape[-1])
    future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v


class Gpt2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hidden, eps = cfg["d_model"], cfg["mlp_hidden"], cfg["eps"]
        self.heads = cfg["heads"]
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(d, 3 * d)
        self.attn.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(d, hidden)
        self.mlp.c_proj = nn.Linear(hidden, d)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, hd).transpose(1, 2) for z in (q, k, v))
        y = causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.attn.c_proj(y)
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg["norm"] == "layer_norm" and cfg["activation"] == "gelu" and cfg["positions"] == "learned"
        assert cfg["tied_embeddings"] and cfg["bias"] and cfg["kv_heads"] == cfg["heads"]
        d = cfg["d_model"]
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(cfg["vocab_size"], d)
        self.transformer.wpe = nn.Embedding(cfg["context_length"], d)
        self.transformer.h = nn.ModuleList(Gpt2Block(cfg) for _ in range(cfg["layers"]))
        self.transformer.ln_f = nn.LayerNorm(d, eps=cfg["eps"])
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids):
        x = self.transformer.wte(ids) + self.transformer.wpe(torch.arange(ids.shape[1]))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * (x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + self.eps))


def rotary(x, theta):
    """x [B, H, T, hd] rotated by position, pairs (i, i + hd/2) with frequency theta^(-2i/hd)."""
    hd = x.shape[-1]
    half = hd // 2
    frequencies = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    angles = torch.arange(x.shape[2], dtype=torch.float64)[:, None] * frequencies[None, :]   # [T, hd/2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)


class LlamaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hidden, eps = cfg["d_model"], cfg["mlp_hidden"], cfg["eps"]
        self.heads, self.kv_heads, self.theta = cfg["heads"], cfg["kv_heads"], cfg["rope_theta"]
        hd = d // self.heads
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = nn.Module()
        self.self_attn.q_proj = nn.Linear(d, d, bias=False)
        self.self_attn.k_proj = nn.Linear(d, self.kv_heads * hd, bias=False)
        self.self_attn.v_proj = nn.Linear(d, self.kv_heads * hd, bias=False)
        self.self_attn.o_proj = nn.Linear(d, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(d, hidden, bias=False)
        self.mlp.up_proj = nn.Linear(d, hidden, bias=False)
        self.mlp.down_proj = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        h = self.input_layernorm(x)
        a = self.self_attn
        q = a.q_proj(h).reshape(b, t, self.heads, hd).transpose(1, 2)
        k = a.k_proj(h).reshape(b, t, self.kv_heads, hd).transpose(1, 2)
        v = a.v_proj(h).reshape(b, t, self.kv_heads, hd).transpose(1, 2)
        y = causal_attention(rotary(q, self.theta), rotary(k, self.theta), v).transpose(1, 2).reshape(b, t, d)
        x = x + a.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(F.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg["norm"] == "rms_norm" and cfg["activation"] == "swiglu" and cfg["positions"] == "rope"
        assert not cfg["tied_embeddings"] and not cfg["bias"]
        d = cfg["d_model"]
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(cfg["vocab_size"], d)
        self.model.layers = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg["layers"]))
        self.model.norm = RMSNorm(d, cfg["eps"])
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for block in self.model.layers:
            x = block(x)
        return self.lm_head(self.model.norm(x))


# ---------------------------------------------------------------------------------------------- parity

def crc32(t):
    return zlib.crc32(t.detach().contiguous().numpy().astype("<f4").tobytes()) & 0xFFFFFFFF


def run(variant):
    directory = os.path.join(PARITY_DIR, variant)
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(directory, "parity.json")) as f:
        parity = json.load(f)
    assert cfg["dtype"] == "F32" and cfg["dropout"] == 0.0, cfg
    arrays = read_safetensors(os.path.join(directory, "model.safetensors"))

    model = Gpt2(cfg) if cfg["norm"] == "layer_norm" else Llama(cfg)
    model.load_state_dict({name: torch.from_numpy(a) for name, a in arrays.items()}, strict=True)
    state = model.state_dict()
    assert set(state) == set(arrays) == set(parity["model_crc32"]), "state dict names differ"
    for name, t in state.items():
        assert t.dtype == torch.float32, f"{name} is {t.dtype}"
        assert np.array_equal(t.numpy().view(np.uint32), arrays[name].view(np.uint32)), f"{name} changed on load"
        assert crc32(t) == parity["model_crc32"][name], f"{name}: CRC-32 differs from what jgrad saved"
    print(f"{variant}: {len(state)} tensors loaded bit-exactly ({sum(a.size for a in arrays.values()):,} values)")

    b, t = parity["batch"], parity["time"]
    ids = torch.tensor(parity["ids"], dtype=torch.long).reshape(b, t)
    targets = torch.tensor(parity["targets"], dtype=torch.long)
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(b * t, -1), targets, ignore_index=parity["ignore_index"])
    loss.backward()

    case = {"logits": logits.detach(), "loss": loss.detach()}
    for name in state:
        case["grad." + name] = model.get_parameter(name).grad
    print(f"{variant}: loss {loss.item():.6f}")
    return case


def main():
    torch.set_grad_enabled(True)
    cases = {variant: run(variant) for variant in VARIANTS}
    fixture_io.write("torch_parity", cases, "lib-models/src/test/python/torch_parity.py",
                     out_dir=os.path.join(HERE, "..", "resources", "fixtures"))


if __name__ == "__main__":
    main()
