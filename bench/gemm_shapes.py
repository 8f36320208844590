"""PyTorch side of LinearGemmBench: times torch.mm on the three products of each linear layer of a GPT training
step, with the layouts F.linear and its backward use (forward x @ W.t(), input gradient g @ W, weight gradient
g.t() @ x), and prints GFLOP/s per shape and thread count.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake \
        /usr/bin/python3 bench/gemm_shapes.py [--threads 1,2] [--time 0.4] [--cpu]

With --cpu: one thread, timed in CPU time as LinearGemmBench.main does (1.5 s warm-up, then the fastest of seven
runs of 0.1 s), the comparison that stays readable while other jobs share the machine."""
import argparse
import time

import torch

SHAPES = [(1024, 128, 384), (1024, 128, 128), (1024, 128, 512), (1024, 512, 128), (1024, 128, 256),
          (1024, 384, 1152), (1024, 384, 384), (1024, 384, 1536), (1024, 1536, 384), (1024, 384, 256)]


def products(rows, n_in, n_out):
    g = torch.Generator().manual_seed(42)
    x = torch.rand(rows, n_in, generator=g) * 2 - 1
    w = torch.rand(n_out, n_in, generator=g) * 2 - 1
    gy = torch.rand(rows, n_out, generator=g) * 2 - 1
    y, dx, dw = torch.empty(rows, n_out), torch.empty(rows, n_in), torch.empty(n_out, n_in)
    return {"forward": lambda: torch.mm(x, w.t(), out=y),
            "inputGrad": lambda: torch.mm(gy, w, out=dx),
            "weightGrad": lambda: torch.mm(gy.t(), x, out=dw)}


def seconds_per_op(fn, seconds, iterations=3):
    """Mean time per call over `iterations` runs of about `seconds` each after as many warm-up runs, as the JMH side
    measures."""
    total_calls, total_time = 0, 0.0
    for i in range(2 * iterations):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn()
            calls += 1
        if i >= iterations:
            total_calls, total_time = total_calls + calls, total_time + time.perf_counter() - start
    return total_time / total_calls


def cpu_seconds_per_op(fn):
    """Fastest of seven runs of about 0.1 s of this process's CPU time each, after 1.5 s of warm-up."""
    start = time.perf_counter()
    while time.perf_counter() - start < 1.5:
        fn()
    best = float("inf")
    for _ in range(7):
        calls, start = 0, time.process_time()
        while True:
            fn()
            calls += 1
            now = time.process_time()
            if now - start >= 0.1:
                break
        best = min(best, (now - start) / calls)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--time", type=float, default=0.4)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()
    if args.cpu:
        torch.set_num_threads(1)
        print("| rows, in, out | forward x.Wᵀ | input grad g.W | weight grad gᵀ.x |")
        print("|---|---:|---:|---:|")
        for rows, n_in, n_out in SHAPES:
            cells = [f"{2.0 * rows * n_in * n_out / cpu_seconds_per_op(fn) / 1e9:.0f} GFLOP/s"
                     for fn in products(rows, n_in, n_out).values()]
            print(f"| {rows}, {n_in}, {n_out} | " + " | ".join(cells) + " |")
        return
    print("threads shape(rows,in,out) product GFLOP/s")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for rows, n_in, n_out in SHAPES:
            for name, fn in products(rows, n_in, n_out).items():
                gflops = 2.0 * rows * n_in * n_out / seconds_per_op(fn, args.time) / 1e9
                print(f"{threads} {rows},{n_in},{n_out} {name} {gflops:.1f}")


if __name__ == "__main__":
    main()
