"""Starts the `jgrad` Jupyter kernel N times and counts the starts that never answer.

Each start launches a fresh kernel process, sends one kernel_info request on the shell channel and waits for the
reply with a timeout; a start without a reply within the timeout is a hang. rapaio-jupyter-kernel 3.0.1 on its
own hangs on about one start in ten (see binder/kernel-fix); the `jgrad` kernelspec must never hang.

    JUPYTER_PATH=<data dir with kernels/jgrad> python3 binder/test_kernel_starts.py [--starts N] [--without-fix]

--without-fix runs the same kernelspec with the original main class and without the fix jar, to measure the
defect. N defaults to $JGRAD_KERNEL_STARTS, else 200. Exits 1 if any start hung.
"""

import argparse
import json
import os
import signal
import shutil
import statistics
import sys
import tempfile
import time

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

ORIGINAL_MAIN = "org.rapaio.jupyter.kernel.MainApp"
FIXED_MAIN = "dev.jgrad.kernel.JgradKernel"


def unfixed_kernelspec(data_dir):
    """Writes kernels/jgrad-unfixed into data_dir: the jgrad kernelspec minus the start-up fix."""
    spec = KernelSpecManager().get_kernel_spec("jgrad")
    argv = list(spec.argv)
    classpath_at = argv.index("-cp") + 1
    kernel_jars = argv[classpath_at].split(os.pathsep)
    argv[classpath_at] = os.pathsep.join(j for j in kernel_jars if "jgrad-kernel" not in os.path.basename(j))
    argv[argv.index(FIXED_MAIN)] = ORIGINAL_MAIN
    spec_dir = os.path.join(data_dir, "kernels", "jgrad-unfixed")
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump({"argv": argv, "display_name": "Java (rapaio, unfixed)", "language": "java",
                   "interrupt_mode": "message", "env": spec.env}, f, indent=2)
    return "jgrad-unfixed"


def start_once(kernel_name, timeout, log_path):
    """Returns seconds from launch to kernel_info reply, or None if no reply came within timeout."""
    manager = KernelManager(kernel_name=kernel_name)
    with open(log_path, "wb") as log:
        began = time.monotonic()
        manager.start_kernel(stdout=log, stderr=log)
        client = manager.client()
        client.start_channels()
        try:
            client.kernel_info(reply=True, timeout=timeout)
            return time.monotonic() - began
        except TimeoutError:
            return None
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
            manager.cleanup_resources()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=int(os.environ.get("JGRAD_KERNEL_STARTS", "200")))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for kernel_info (default 20)")
    parser.add_argument("--without-fix", action="store_true", help="measure the original kernel instead")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="jgrad-kernel-starts-")
    kernel_name = "jgrad"
    if args.without_fix:
        os.environ["JUPYTER_PATH"] = scratch + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        kernel_name = unfixed_kernelspec(scratch)

    answered, hung_logs = [], []
    for start in range(1, args.starts + 1):
        log_path = os.path.join(scratch, f"start-{start:03d}.log")
        seconds = start_once(kernel_name, args.timeout, log_path)
        if seconds is None:
            hung_logs.append(log_path)
            print(f"  start {start}: no kernel_info reply within {args.timeout:.0f} s (log: {log_path})", flush=True)
        else:
            answered.append(seconds)
            os.remove(log_path)
        if start % 20 == 0:
            print(f"  {start} starts, {len(hung_logs)} hangs so far", flush=True)

    median = f"{statistics.median(answered):.2f} s" if answered else "n/a"
    print(f"kernel '{kernel_name}': {args.starts} starts, {len(answered)} answered, {len(hung_logs)} hangs "
          f"(kernel_info timeout {args.timeout:.0f} s, median time to reply {median})")
    if not hung_logs:
        shutil.rmtree(scratch)
    return 1 if hung_logs else 0


if __name__ == "__main__":
    # On SIGTERM (a CI time limit, kill), unwind normally so the kernel being run is shut down, not orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
