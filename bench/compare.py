"""Merges JMH JSON result files (jmh*.json) with pytorch_bench.py's records (pytorch*.json) into the markdown table
printed by `./jgrad bench`: op, size, threads, jgrad, PyTorch, ratio jgrad/PyTorch (above 1 means jgrad is faster).
Rows whose reference is another JMH method of the same run (pytorch_bench.JMH_REFERENCES, e.g. the GPT-2 tokenizer
against jtokkit) follow in a second table: op, size, threads, jgrad, reference, ratio jgrad/reference.

JMH rows follow the module's convention: benchmark method name = op, params `size` and `threads`, score = time
per op. Throughput is work per op (pytorch_bench.WORK) divided by time per op."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_bench import JMH_REFERENCES, WORK  # noqa: E402  (neither needs torch)

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


def throughput(op, size, seconds):
    if seconds is None:
        return "-"
    work, unit = WORK.get(op, (None, "ops/s"))
    value = (work(size) if work else 1.0) / seconds
    return f"{value:.1f} {unit}" if work else f"{value:.3g} {unit}"


def main(paths):
    jgrad = load_jmh([p for p in paths if os.path.basename(p).startswith("jmh")])
    torch = load_torch([p for p in paths if os.path.basename(p).startswith("pytorch")])
    references = {ref for ref, _ in JMH_REFERENCES.values()}
    lines = ["| op | size | threads | jgrad | PyTorch | jgrad/PyTorch |", "|---|---:|---:|---:|---:|---:|"]
    for key in sorted((set(jgrad) | set(torch)) - {k for k in jgrad if k[0] in JMH_REFERENCES or k[0] in references}):
        op, size, threads = key
        j, t = jgrad.get(key), torch.get(key)
        ratio = f"{t / j:.2f}" if j and t else "-"
        lines.append(f"| {op} | {size} | {threads} | {throughput(op, size, j)} | {throughput(op, size, t)} | {ratio} |")
    if len(lines) == 2:
        lines = []   # only JMH-only rows were run
    jmh_only = sorted(k for k in jgrad if k[0] in JMH_REFERENCES)
    if jmh_only:
        lines += ["" if lines else None, "| op | size | threads | jgrad | reference | jgrad/reference |", "|---|---:|---:|---:|---:|---:|"]
        for op, size, threads in jmh_only:
            ref_op, ref_name = JMH_REFERENCES[op]
            j, r = jgrad[(op, size, threads)], jgrad.get((ref_op, size, threads))
            ratio = f"{r / j:.2f}" if r else "-"
            reference = f"{ref_name} {throughput(ref_op, size, r)}" if r else "-"
            lines.append(f"| {op} | {size} | {threads} | {throughput(op, size, j)} | {reference} | {ratio} |")
    print("\n".join(line for line in lines if line is not None))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: compare.py jmh*.json... [pytorch*.json...]  (files are told apart by name)")
    main(sys.argv[1:])
