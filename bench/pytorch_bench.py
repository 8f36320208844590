"""PyTorch side of `./jgrad bench`: times the same ops and sizes as the JMH benchmarks in bench/src, the way JMH
does (warmup iterations, then the mean time per op over measurement iterations of about `--time` seconds each),
and writes one JSON record per (op, size, threads).

Run with Debian's torch on OpenBLAS, as bench/run.sh does:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake \
        /usr/bin/python3 bench/pytorch_bench.py --sizes 64,1024 --threads 1,2 --json out.json

Adding a row: one function below taking (size) and returning a zero-argument callable that runs the op once,
registered in ROWS with its work per op (for the throughput column); plus the JMH method of the same name.

Rows whose reference is not PyTorch but another JMH method of the same run (the GPT-2 tokenizer against jtokkit)
are listed in JMH_REFERENCES instead of ROWS: this script does not time them, and compare.py shows them in a table
of their own."""
import argparse
import json
import sys
import time

# op -> (work per op as a function of size, unit of work/second shown in the table). Used by compare.py too, so
# this part of the module must not need torch.
WORK = {
    "sgemm": (lambda size: 2.0 * size ** 3 / 1e9, "GFLOP/s"),
    # forward + backward over a [size, size] matrix, counted in elements of the input
    "softmax": (lambda size: size * size / 1e6, "Melem/s"),
    "layernorm": (lambda size: size * size / 1e6, "Melem/s"),
    # one training step over `size` tokens (batch x context, 1024 for both configurations)
    "gptSmallTrain": (lambda size: size, "tok/s"),
    "gptLargeTrain": (lambda size: size, "tok/s"),
    # GPT-small steps through jgrad's Trainer with `threads` data-parallel workers; PyTorch runs its usual step
    "gptSmallDataParallel": (lambda size: size, "tok/s"),
    "gptLargeDataParallel": (lambda size: size, "tok/s"),
    # encoding `size` KiB of UTF-8 text, in 10^6 bytes per second
    "gpt2Encode": (lambda size: size * 1024 / 1e6, "MB/s"),
    "jtokkitEncode": (lambda size: size * 1024 / 1e6, "MB/s"),
    # greedy generation with GPT-small, size = batch: 127 new tokens per sequence after a one-token prompt
    "generateKvCache": (lambda size: 127 * size, "tok/s"),
    "generateRecompute": (lambda size: 127 * size, "tok/s"),
}

# JMH-only rows: op -> (the JMH method timed as its reference in the same run, the reference's name in the table).
JMH_REFERENCES = {"gpt2Encode": ("jtokkitEncode", "jtokkit")}

# Ops that exist at some sizes only; run.sh and main() skip them at other sizes.
ONLY_SIZES = {"gptSmallTrain": (1024,), "gptLargeTrain": (1024,), "gptSmallDataParallel": (1024,), "gptLargeDataParallel": (1024,),
              "gpt2Encode": (2048,), "jtokkitEncode": (2048,),
              "generateKvCache": (1, 8), "generateRecompute": (1, 8)}


def exists_at(op, size):
    return size in ONLY_SIZES.get(op, (size,))



def sgemm(size):
    import torch
    g = torch.Generator().manual_seed(42)
    a = torch.rand(size, size, generator=g) * 2 - 1
    b = torch.rand(size, size, generator=g) * 2 - 1
    c = torch.empty(size, size)
    return lambda: torch.mm(a, b, out=c)


def softmax(size):
    """Forward and backward of softmax over the last axis, through autograd as in training."""
    import torch
    g = torch.Generator().manual_seed(42)
    x = torch.randn(size, size, generator=g, requires_grad=True)
    upstream = torch.randn(size, size, generator=g)

    def run():
        x.grad = None
        torch.softmax(x, -1).backward(upstream)
    return run


def layernorm(size):
    """Forward and backward of layer norm with weight and bias over the last axis, through autograd."""
    import torch
    g = torch.Generator().manual_seed(42)
    x = torch.randn(size, size, generator=g, requires_grad=True)
    w = torch.randn(size, generator=g, requires_grad=True)
    b = torch.randn(size, generator=g, requires_grad=True)
    upstream = torch.randn(size, size, generator=g)

    def run():
        x.grad = w.grad = b.grad = None
        torch.nn.functional.layer_norm(x, (size,), w, b, 1e-5).backward(upstream)
    return run


# GPT training step, the same model and step as bench/src/.../GptTrainStep.java: GPT-2 layout (pre-norm blocks,
# LayerNorm with bias, fused qkv, 4x MLP with tanh GELU, learned positions, tied embeddings, biases), byte
# vocabulary, no dropout; AdamW(lr 3e-4, weight decay 0.1) over all parameters; random byte tokens.
GPT_PRESETS = {
    # name: (context, layers, d_model, heads, batch)
    "small": (128, 4, 128, 4, 8),
    "large": (256, 6, 384, 6, 4),
}


def gpt_train_step(preset, size):
    import math
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    context, layers, d, heads, batch = GPT_PRESETS[preset]
    if size != batch * context:
        raise ValueError(f"gpt {preset} training: size is the tokens per step, {batch * context}, got {size}")
    vocab = 256
    future = torch.ones(context, context, dtype=torch.bool).triu(1)   # built once, like nanoGPT's buffer

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.ln_2 = nn.LayerNorm(d)
            self.c_fc = nn.Linear(d, 4 * d)
            self.mlp_proj = nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
                else self.attention(q, k, v, T)
            x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

        @staticmethod
        def attention(q, k, v, T):
            # torch 1.13 has no fused scaled_dot_product_attention: nanoGPT's explicit form
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(future[:T, :T], float("-inf")).softmax(-1)
            return att @ v

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(context, d)
            self.h = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, ids, targets):
            x = self.wte(ids) + self.wpe(torch.arange(ids.size(1)))
            for block in self.h:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.t()   # tied head
            return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))

    torch.manual_seed(42)
    model = Gpt()
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            nn.init.normal_(p, std=0.02)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    g = torch.Generator().manual_seed(42)
    stream = torch.randint(0, vocab, (batch * context + 1,), generator=g)
    ids = stream[:-1].view(batch, context)
    targets = stream[1:].view(batch, context)

    def run():
        loss = model(ids, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()
    return run


def gptSmallTrain(size):
    return gpt_train_step("small", size)


def gptLargeTrain(size):
    return gpt_train_step("large", size)


def gptSmallDataParallel(size):
    # PyTorch parallelises inside its kernels; the same step is the reference for jgrad's data-parallel workers.
    return gpt_train_step("small", size)


def gptLargeDataParallel(size):
    return gpt_train_step("large", size)


# Greedy generation, the same model and loop as bench/src/.../GenerationBench.java: GPT-small (GPT-2 layout,
# GPT_PRESETS["small"], byte vocabulary, random N(0, 0.02) weights), `size` sequences each with a one-token prompt,
# 127 new tokens (the prompt's forward gives the first, 126 one-token steps the rest), argmax each time. Eager
# float32 under no_grad, written the usual way: per-layer key/value caches preallocated [B, H, context, hd] and
# filled one position per step, or (recompute) the whole sequence run again for every token.
GENERATED_TOKENS = 127


def generation_model():
    import math
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    context, layers, d, heads, _ = GPT_PRESETS["small"]
    vocab = 256
    hd = d // heads
    future = torch.ones(context, context, dtype=torch.bool).triu(1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.ln_2 = nn.LayerNorm(d)
            self.c_fc = nn.Linear(d, 4 * d)
            self.mlp_proj = nn.Linear(4 * d, d)

        def mlp(self, x):
            return self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

        def forward(self, x):
            """Full causal self-attention over x [B, T, d] (the recompute path)."""
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
            q, k, v = (t.view(B, T, heads, hd).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(future[:T, :T], float("-inf")).softmax(-1)
            x = x + self.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp(x)

        def step(self, x, cache_k, cache_v, pos):
            """One position x [B, 1, d] at `pos`: its key and value go into the caches, its query attends to 0..pos."""
            B = x.size(0)
            q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
            q, k, v = (t.view(B, 1, heads, hd).transpose(1, 2) for t in (q, k, v))
            cache_k[:, :, pos:pos + 1] = k
            cache_v[:, :, pos:pos + 1] = v
            keys, values = cache_k[:, :, :pos + 1], cache_v[:, :, :pos + 1]
            att = ((q @ keys.transpose(-2, -1)) * (1.0 / math.sqrt(hd))).softmax(-1)
            x = x + self.c_proj((att @ values).transpose(1, 2).reshape(B, 1, d))
            return x + self.mlp(x)

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(context, d)
            self.h = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)

        def head(self, x):
            return self.ln_f(x) @ self.wte.weight.t()   # tied head

        def forward(self, ids):
            x = self.wte(ids) + self.wpe(torch.arange(ids.size(1)))
            for block in self.h:
                x = block(x)
            return self.head(x)

        def step(self, ids, caches, pos):
            x = self.wte(ids) + self.wpe.weight[pos]
            for block, (cache_k, cache_v) in zip(self.h, caches):
                x = block.step(x, cache_k, cache_v, pos)
            return self.head(x)

    torch.manual_seed(42)
    model = Gpt().eval()
    for p in model.parameters():
        if p.dim() >= 2:
            nn.init.normal_(p, std=0.02)
    return model, context, layers, heads, hd, vocab


def generateKvCache(size):
    import torch
    model, context, layers, heads, hd, vocab = generation_model()
    prompts = (torch.arange(size) * 31 + 10) % vocab
    caches = [(torch.zeros(size, heads, context, hd), torch.zeros(size, heads, context, hd)) for _ in range(layers)]

    @torch.no_grad()
    def run():
        ids = prompts.view(size, 1)
        out = []
        for pos in range(GENERATED_TOKENS):
            ids = model.step(ids, caches, pos)[:, -1].argmax(-1).view(size, 1)
            out.append(ids)
        return out
    return run


def generateRecompute(size):
    import torch
    model, context, layers, heads, hd, vocab = generation_model()
    prompts = (torch.arange(size) * 31 + 10) % vocab

    @torch.no_grad()
    def run():
        ids = prompts.view(size, 1)
        for _ in range(GENERATED_TOKENS):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(-1).view(size, 1)], dim=1)
        return ids
    return run


ROWS = {
    "sgemm": sgemm,
    "softmax": softmax,
    "layernorm": layernorm,
    "gptSmallTrain": gptSmallTrain,
    "gptLargeTrain": gptLargeTrain,
    "gptSmallDataParallel": gptSmallDataParallel,
    "gptLargeDataParallel": gptLargeDataParallel,
    "generateKvCache": generateKvCache,
    "generateRecompute": generateRecompute,
}

# Every op run.sh knows: the PyTorch-compared ones, then the JMH-only ones and their references.
ALL_OPS = list(ROWS) + [op for row, (ref, _) in JMH_REFERENCES.items() for op in (row, ref)]


def with_references(ops):
    """The comma-separated ops plus the JMH reference of each JMH-only row among them, in order, no duplicates."""
    out = []
    for op in ops.split(","):
        for o in (op, JMH_REFERENCES.get(op, (None,))[0]):
            if o and o not in out:
                out.append(o)
    return ",".join(out)


def time_per_op(run, warmup, iterations, seconds):
    """Mean seconds per op over `iterations` timed iterations of about `seconds` each, after `warmup` untimed."""
    means = []
    for it in range(warmup + iterations):
        ops = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            run()
            ops += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        if it >= warmup:
            means.append((now - start) / ops)
    return sum(means) / len(means)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", default=",".join(ROWS), help="comma-separated ops (default: all)")
    p.add_argument("--sizes", default="64,128,256,512,1024,2048")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--time", type=float, default=1.0, help="seconds per iteration")
    p.add_argument("--json", help="write the records here (default: stdout)")
    p.add_argument("--skipped-at", type=int, metavar="SIZE",
                   help="print the comma-separated ops of --ops that do not exist at SIZE, and exit")
    args = p.parse_args()
    if args.skipped_at is not None:
        print(",".join(op for op in args.ops.split(",") if not exists_at(op, args.skipped_at)))
        return

    import torch
    records = []
    for op in (o for o in args.ops.split(",") if o in ROWS):   # JMH-only rows have no PyTorch side
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for size in (int(s) for s in args.sizes.split(",")):
                if not exists_at(op, size):
                    continue
                seconds = time_per_op(ROWS[op](size), args.warmup, args.iterations, args.time)
                work, unit = WORK[op]
                rec = {"op": op, "size": size, "threads": threads, "seconds_per_op": seconds,
                       "throughput": work(size) / seconds, "unit": unit,
                       "torch": torch.__version__, "blas": blas_name(torch)}
                records.append(rec)
                print(f"pytorch {op} size={size} threads={threads}: {rec['throughput']:.2f} {unit}", file=sys.stderr)
    text = json.dumps(records, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    else:
        print(text)


def blas_name(torch):
    config = torch.__config__.show()
    for name in ("OpenBLAS", "open", "mkl", "MKL", "blis"):
        if name in config:
            return name
    return "unknown"


if __name__ == "__main__":
    main()
