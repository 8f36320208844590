"""PyTorch side of `./jgrad bench`: times the same ops and sizes as the JMH benchmarks in bench/src, the way JMH
does (warmup iterations, then the mean time per op over measurement iterations of about `--time` seconds each),
and writes one JSON record per (op, size, threads).

Run with Debian's torch on OpenBLAS, as bench/run.sh does:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake \
        /usr/bin/python3 bench/pytorch_bench.py --sizes 64,1024 --threads 1,2 --json out.json

Adding a row: one function below taking (size) and returning a zero-argument callable that runs the op once,
registered in ROWS with its work per op (for the throughput column); plus the JMH method of the same name."""
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
}


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


ROWS = {
    "sgemm": sgemm,
    "softmax": softmax,
    "layernorm": layernorm,
}


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
    args = p.parse_args()

    import torch
    records = []
    for op in args.ops.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for size in (int(s) for s in args.sizes.split(",")):
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
