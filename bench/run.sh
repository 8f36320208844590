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
  --sizes LIST     comma-separated sizes (default 64,128,256,512,1024,2048)
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

filter=".*"
torch_ops=()
if [[ -n "$ops" ]]; then
    filter="\\.(${ops//,/|})\$"
    torch_ops=(--ops "$ops")
fi

{
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
    echo "java: $("$java" -version 2>&1 | head -1)"
    echo "load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt" >&2

echo "== jgrad (JMH): sizes $sizes, threads $threads" >&2
"$java" --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar "$filter" \
    -p size="$sizes" -p threads="$threads" -f 1 -wi "$warmup" -i "$iterations" -w "${seconds}s" -r "${seconds}s" \
    -rf json -rff "$out/jmh.json" 2>&1 | grep -E '^(Benchmark|MatMulBench|[A-Za-z]+Bench\.)|^# (Benchmark|Parameters):' >&2 || true
if [[ ! -s "$out/jmh.json" ]]; then
    echo "bench: JMH produced no results (see the output above)" >&2
    exit 1
fi

torch_json=""
python=/usr/bin/python3
if [[ "$torch" == 0 ]]; then
    echo "== PyTorch column skipped (--no-torch)" >&2
elif ! reason="$("$python" -c 'import torch' 2>&1)"; then
    echo "== PyTorch column missing: '$python -c \"import torch\"' failed: ${reason##*$'\n'}" >&2
else
    echo "== PyTorch (torch.mm on OpenBLAS): sizes $sizes, threads $threads" >&2
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=Cooperlake "$python" \
        bench/pytorch_bench.py "${torch_ops[@]}" --sizes "$sizes" --threads "$threads" --warmup "$warmup" \
        --iterations "$iterations" --time "$seconds" --json "$out/pytorch.json"
    torch_json="$out/pytorch.json"
fi
echo "load after run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2

echo
"$python" bench/compare.py "$out/jmh.json" $torch_json | tee "$out/table.md"
echo
echo "(throughput columns; jgrad/PyTorch > 1 means jgrad is faster; raw results in $out)"
