"""Merges JMH JSON result files (jmh*.json) with pytorch_bench.py's records (pytorch*.json) into the markdown table
printed by `./jgrad bench`: op, size, threads, jgrad, PyTorch, ratio jgrad/PyTorch (above 1 means jgrad is faster).

JMH rows follow the module's convention: benchmark method name = op, params `size` and `threads`, score = time
per op. Throughput is work per op (pytorch_bench.WORK) divided by time per op."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_bench import WORK  # noqa: E402  (WORK needs no torch)

TIME_UNITS = {"s/op": 1.0, "ms/op": 1e-3, "us/op": 1e-6, "ns/op": 1e-9}


def load_jmh(paths):
    rows = {}
    for rec in (r for path in paths for r in json.load(open(path))):
        op = rec["benchmark"].rsplit(".", 1)[1]
        size = int(rec["params"]["size"])
        threads = int(rec["params"]["threads"])
        metric = rec["primaryMetric"]
        rows[(op, size, threads)] = metric["score"] * TIME_UNITS[metric["scoreUnit"]]
    return rows


def load_torch(paths):
    return {(r["op"], r["size"], r["threads"]): r["seconds_per_op"]
            for path in paths for r in json.load(open(path))}


def main(paths):
    jgrad = load_jmh([p for p in paths if os.path.basename(p).startswith("jmh")])
    torch = load_torch([p for p in paths if os.path.basename(p).startswith("pytorch")])
    lines = ["| op | size | threads | jgrad | PyTorch | jgrad/PyTorch |", "|---|---:|---:|---:|---:|---:|"]
    for key in sorted(set(jgrad) | set(torch)):
        op, size, threads = key
        work, unit = WORK.get(op, (None, "ops/s"))

        def throughput(seconds):
            if seconds is None:
                return "-"
            value = (work(size) if work else 1.0) / seconds
            return f"{value:.1f} {unit}" if work else f"{value:.3g} {unit}"

        j, t = jgrad.get(key), torch.get(key)
        ratio = f"{t / j:.2f}" if j and t else "-"
        lines.append(f"| {op} | {size} | {threads} | {throughput(j)} | {throughput(t)} | {ratio} |")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: compare.py jmh*.json... [pytorch*.json...]  (files are told apart by name)")
    main(sys.argv[1:])
