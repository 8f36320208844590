#!/usr/bin/env bash
# `./jgrad bench`: builds the JMH benchmarks, runs them, runs the same ops with PyTorch (OpenBLAS) back to back,
# and prints a side-by-side markdown table. Results are kept in bench/target/results-<time>/.
#
#   bash bench/run.sh [--quick] [--sizes 64,1024] [--threads 1,2] [--ops sgemm] [--no-torch]
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: ./jgrad bench [options]
  --quick          sizes 256,1024 and shorter iterations (about a minute)
  --sizes LIST     comma-separated sizes (default 64,128,256,512,1024,2048; the training steps run at 1024
                   only, the tokenizer rows at 2048 only)
  --threads LIST   comma-separated thread counts (default 1,2)
  --ops LIST       comma-separated ops, i.e. JMH method names (default: all)
  --no-torch       skip the PyTorch column
USAGE
}

sizes="64,128,256,512,1024,2048"
threads="1,2"
ops=""
warmup=3
iterations=3
seconds=1
torch=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) sizes="256,1024"; warmup=2; iterations=2 ;;
        --sizes) sizes="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --ops) ops="$2"; shift ;;
        --no-torch) torch=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ -z "${JAVA_HOME:-}" ]]; then
    echo "bench: JAVA_HOME is not set (./jgrad sets it to a JDK >= 21)" >&2
    exit 1
fi
java="$JAVA_HOME/bin/java"
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"

echo "== building bench/target/benchmarks.jar" >&2
if ! mvn -q -o -pl bench -am package -DskipTests >/dev/null 2>&1; then
    echo "   (offline build failed, retrying online to fetch missing dependencies)" >&2
    mvn -q -pl bench -am package -DskipTests
fi

out="bench/target/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

python=/usr/bin/python3
all_ops="$("$python" -c 'import sys; sys.path.insert(0, "bench"); from pytorch_bench import ALL_OPS; print(",".join(ALL_OPS))')"
ops="${ops:-$all_ops}"
# A row compared with another JMH method (gpt2Encode with jtokkitEncode) needs that method in the same run.
ops="$("$python" -c 'import sys; sys.path.insert(0, "bench"); from pytorch_bench import with_references; print(with_references(sys.argv[1]))' "$ops")"

{
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
    echo "java: $("$java" -version 2>&1 | head -1)"
    echo "load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt" >&2
if awk -v cores="$(nproc)" '{ exit !($1 > cores / 2) }' /proc/loadavg; then
    echo "bench: warning: the machine is busy (load above), so timings will be noisy; jgrad and PyTorch run back to back" >&2
fi

torch_reason=""
if [[ "$torch" == 0 ]]; then
    torch_reason="skipped (--no-torch)"
elif ! reason="$("$python" -c 'import torch' 2>&1)"; then
    torch_reason="missing: '$python -c \"import torch\"' failed: ${reason##*$'\n'}"
fi
[[ -n "$torch_reason" ]] && echo "== PyTorch column $torch_reason" >&2

# One size at a time, jgrad then PyTorch back to back, so a change in machine load hits both columns alike.
# Some ops exist at one size only (the training steps: size = tokens per step); they are left out elsewhere.
train_ran=0
for size in ${sizes//,/ }; do
    skipped=",$("$python" bench/pytorch_bench.py --ops "$ops" --skipped-at "$size"),"
    size_ops=""
    for op in ${ops//,/ }; do
        [[ "$skipped" == *",$op,"* ]] || size_ops="${size_ops:+$size_ops,}$op"
    done
    if [[ -z "$size_ops" ]]; then
        echo "== size $size: no requested op exists at this size, skipped" >&2
        continue
    fi
    iteration_seconds="$seconds"
    if [[ ",$size_ops," == *Train,* || ",$size_ops," == *DataParallel,* ]]; then
        # A large training step takes about a second: longer iterations average more than one or two steps.
        [[ ",$size_ops," == *Train,* ]] && train_ran=1
        iteration_seconds=$(( seconds > 3 ? seconds : 3 ))
    fi
    filter="\\.(${size_ops//,/|})\$"
    echo "== size $size: jgrad (JMH), threads $threads, ops $size_ops" >&2
    "$java" --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar "$filter" \
        -p size="$size" -p threads="$threads" -f 1 -wi "$warmup" -i "$iterations" -w "${iteration_seconds}s" -r "${iteration_seconds}s" \
        -rf json -rff "$out/jmh-$size.json" >"$out/jmh-$size.log" 2>&1 || true
    if [[ ! -s "$out/jmh-$size.json" ]]; then
        echo "bench: JMH produced no results for size $size; its output:" >&2
        tail -30 "$out/jmh-$size.log" >&2
        exit 1
    fi
    grep -E '^[A-Za-z]+Bench\.' "$out/jmh-$size.log" >&2 || true
    if [[ -z "$torch_reason" ]]; then
        echo "== size $size: PyTorch (OpenBLAS), threads $threads" >&2
        LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake "$python" \
            bench/pytorch_bench.py --ops "$size_ops" --sizes "$size" --threads "$threads" --warmup "$warmup" \
            --iterations "$iterations" --time "$iteration_seconds" --json "$out/pytorch-$size.json"
    fi
done
if [[ "$train_ran" == 1 ]]; then
    # JMH's -prof gc counts the benchmark thread only; this counts every thread (see TrainAllocation.java).
    echo "== bytes allocated per training step (all threads), threads $threads" >&2
    "$java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -Xms1g -Xmn512m \
        -cp bench/target/benchmarks.jar dev.jgrad.bench.TrainAllocation small,large "$threads" 10 5 \
        2>/dev/null | tee "$out/train-allocation.md" >&2
fi
echo "load after run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2

echo
"$python" bench/compare.py "$out"/jmh-*.json $( [[ -z "$torch_reason" ]] && echo "$out"/pytorch-*.json ) \
    | tee "$out/table.md"
echo
echo "(throughput columns; jgrad/PyTorch or jgrad/reference > 1 means jgrad is faster; raw results in $out)"
