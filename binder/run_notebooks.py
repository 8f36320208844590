"""Executes notebooks headlessly and writes executed copies, with their outputs, to an output folder.

    JUPYTER_PATH=<data dir with kernels/jgrad> python3 binder/run_notebooks.py --out build/notebooks a.ipynb ...

A notebook fails when any cell raises, when a cell runs longer than the timeout, or when it breaks the images
rule: a notebook whose metadata has "jgrad": {"expects_images": true} must produce at least one image/png output.
The executed copy is written in every case (up to the failing cell), so a failure can be inspected in Jupyter;
the kernel's own log goes next to it as NAME.kernel.log.
Exits 1 if any notebook failed. `./jgrad notebook --execute` and `./jgrad test` run this.
"""

import argparse
import os
import signal
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def expects_images(notebook):
    return bool(notebook.metadata.get("jgrad", {}).get("expects_images", False))


def count_images(notebook):
    return sum(1 for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []) if "image/png" in output.get("data", {}))


def first_line(text, limit=300):
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[:limit] + "..."


def run(path, out_dir, kernel_name, timeout):
    """Executes one notebook; returns None on success, else the reason it failed."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=timeout, allow_errors=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    failure = None
    os.makedirs(out_dir, exist_ok=True)
    kernel_log_path = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + ".kernel.log")
    try:
        with open(kernel_log_path, "wb") as kernel_log:
            client.execute(stdout=kernel_log, stderr=kernel_log)
    except CellExecutionError as error:
        failure = f"a cell raised: {first_line(error.evalue or error)}"
    except CellTimeoutError:
        failure = f"a cell ran longer than {timeout} s (JGRAD_NOTEBOOK_TIMEOUT)"
    except DeadKernelError as error:
        failure = f"the kernel died: {first_line(error)}"
    finally:
        nbformat.write(notebook, os.path.join(out_dir, os.path.basename(path)))
    images = count_images(notebook)
    if failure is None and expects_images(notebook) and images == 0:
        failure = "metadata jgrad.expects_images is true but no cell produced an image/png output"
    return failure, images


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--out", required=True, help="folder for the executed copies")
    parser.add_argument("--kernel", default="jgrad", help="kernelspec name (default jgrad)")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("JGRAD_NOTEBOOK_TIMEOUT", "600")),
                        help="seconds per cell (default $JGRAD_NOTEBOOK_TIMEOUT, else 600)")
    args = parser.parse_args()

    failed = 0
    for path in args.notebooks:
        name = os.path.basename(path)
        began = time.monotonic()
        failure, images = run(path, args.out, args.kernel, args.timeout)
        seconds = time.monotonic() - began
        if failure is None:
            print(f"  ok    {name} ({seconds:.1f} s, {images} image(s))", flush=True)
        else:
            failed += 1
            print(f"  FAIL  {name} ({seconds:.1f} s): {failure}", flush=True)
    print(f"notebooks: {len(args.notebooks) - failed} passed, {failed} failed; executed copies in {args.out}",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    # On SIGTERM (a CI time limit, kill), unwind normally so the kernel being run is shut down, not orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
