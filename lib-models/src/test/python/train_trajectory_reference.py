"""PyTorch side of the training-trajectory parity check: trains, step by step, the very run jgrad's Trainer makes
(same initial weights, same batches, same recipe) and records PyTorch's loss, gradient norm and learning rate at
every step for TrainingTrajectoryParityTest.

Input: the directory dev.jgrad.models.train.TrajectoryExport writes, one subdirectory per variant (gpt2, llama)
with a jgrad checkpoint (model.safetensors, config.json) and trajectory.json (the trainer config, every batch's
inputs and targets, and CRC-32s of the weights and batches as jgrad computed them).

Each step, as the Trainer does it: lr from the warmup + cosine schedule (train_curve_reference.lr_at), mean
cross-entropy over the batch, backward, clip the global gradient norm (the norm before clipping is recorded),
AdamW (betas, eps 1e-8, decoupled weight decay on tensors of rank >= 2 only). float32 throughout.

Output: lib-models/src/test/resources/fixtures/train_trajectory.txt (fixture_io format), one case per variant:
loss, grad_norm and lr per step, plus the two CRCs copied from the export, so the Java test can prove it rebuilt
the same weights and batches before it compares anything.

Run (from the repository root):
  mvn -o -q test-compile -pl lib-models -am
  java --add-modules jdk.incubator.vector -cp lib-tensor/target/classes:lib-autograd/target/classes:\\
      viz/target/classes:lib-models/target/classes:lib-models/target/test-classes \\
      dev.jgrad.models.train.TrajectoryExport /tmp/trajectory
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake \\
      /usr/bin/python3 lib-models/src/test/python/train_trajectory_reference.py /tmp/trajectory
"""
import json
import os
import sys
import zlib

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "lib-tensor", "src", "test", "python"))
import fixture_io  # noqa: E402
from torch_parity import Gpt2, Llama, read_safetensors  # noqa: E402
from train_curve_reference import adamw, lr_at  # noqa: E402

VARIANTS = ["gpt2", "llama"]


def run(directory):
    with open(os.path.join(directory, "config.json")) as f:
        model_cfg = json.load(f)
    with open(os.path.join(directory, "trajectory.json")) as f:
        trajectory = json.load(f)
    cfg = trajectory["trainer_config"]
    assert cfg["optimizer"] == "adamw" and cfg["accumulation"] == 1 and model_cfg["dropout"] == 0.0, cfg

    arrays = read_safetensors(os.path.join(directory, "model.safetensors"))
    model = Gpt2(model_cfg) if model_cfg["norm"] == "layer_norm" else Llama(model_cfg)
    model.load_state_dict({name: torch.from_numpy(a) for name, a in arrays.items()}, strict=True)
    crc = 0
    for t in model.state_dict().values():
        crc = zlib.crc32(t.detach().contiguous().numpy().astype("<f4").tobytes(), crc)
    assert crc == trajectory["weights_crc32"], "the loaded weights are not the ones jgrad saved"

    batch, context, steps = cfg["batch_size"], cfg["context"], cfg["steps"]
    inputs = torch.tensor(trajectory["inputs"], dtype=torch.long).reshape(steps, batch, context)
    targets = torch.tensor(trajectory["targets"], dtype=torch.long).reshape(steps, batch, context)
    batches_crc = 0
    for s in range(steps):
        batches_crc = zlib.crc32(inputs[s].numpy().astype("<i4").tobytes(), batches_crc)
        batches_crc = zlib.crc32(targets[s].numpy().astype("<i4").tobytes(), batches_crc)
    assert batches_crc == trajectory["batches_crc32"], "the batches are not the ones jgrad exported"

    optimizer = adamw(model, cfg)
    losses, norms, lrs = [], [], []
    for it in range(steps):
        lr = lr_at(it, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits = model(inputs[it])
        loss = F.cross_entropy(logits.reshape(batch * context, -1), targets[it].reshape(batch * context))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    print(f"{os.path.basename(directory)}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {steps} steps")
    as_tensor = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return {"loss": as_tensor(losses), "grad_norm": as_tensor(norms), "lr": as_tensor(lrs),
            "weights_crc32": as_tensor(float(crc)), "batches_crc32": as_tensor(float(batches_crc))}


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: train_trajectory_reference.py EXPORT_DIR")
    torch.set_num_threads(1)
    cases = {variant: run(os.path.join(argv[0], variant)) for variant in VARIANTS}
    fixture_io.write("train_trajectory", cases, "lib-models/src/test/python/train_trajectory_reference.py",
                     out_dir=os.path.join(HERE, "..", "resources", "fixtures"))


if __name__ == "__main__":
    main(sys.argv[1:])
