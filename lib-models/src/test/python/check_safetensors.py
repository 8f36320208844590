"""Interop check between jgrad's safetensors and the format as specified, without the `safetensors` package:
the file is parsed here with json + numpy.frombuffer exactly as the spec describes it.

1. Reads lib-models/src/test/resources/safetensors/from_jgrad.safetensors (written by jgrad; SafeTensorsTest
   checks jgrad still writes it byte for byte) and checks its layout and every value against the formulas
   SafeTensorsTest uses, then loads the arrays into torch.
2. Writes from_torch.safetensors (torch tensors in F32, F64, F16, BF16, I32, I64, a scalar, an empty tensor;
   data laid out in the reference implementation's order, largest dtype first, while the header lists names
   alphabetically) and from_torch.expected.json (the values as torch sees them, 16-bit floats widened to
   float32), which SafeTensorsTest reads back.

Run with Debian's torch:  /usr/bin/python3 lib-models/src/test/python/check_safetensors.py"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "resources", "safetensors")

NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "BF16": "<u2"}
ITEM_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}


def parse(path):
    """Returns (header dict, metadata, {name: numpy array}); BF16 comes back as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), f"header length {n} beyond file of {len(blob)} bytes"
    raw = blob[8:8 + n]
    header = json.loads(raw.decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    arrays = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        assert begin == end, f"{name}: gap or overlap at {begin}, expected {end}"
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert stop - begin == count * ITEM_SIZE[info["dtype"]], f"{name}: offsets do not match dtype x shape"
        a = np.frombuffer(data[begin:stop], dtype=NUMPY_DTYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        arrays[name] = a
        end = stop
    assert end == len(data), f"tensors cover {end} of {len(data)} data bytes"
    return raw, header, metadata, arrays


def check_from_jgrad():
    path = os.path.join(OUT, "from_jgrad.safetensors")
    raw, header, metadata, arrays = parse(path)
    assert len(raw) % 8 == 0, "header not padded to 8 bytes"
    text = raw.decode("utf-8")
    assert text.rstrip(" ") == json.dumps(json.loads(text), separators=(",", ":")), "header is not compact JSON"
    assert metadata == {"format": "pt", "producer": "jgrad"}, metadata
    # The same formulas as SafeTensorsTest.interopTensors().
    i = np.arange(12, dtype=np.float32)
    expected = {
        "embed.weight": ((i - 5) * np.float32(0.375)).reshape(3, 4),
        "head.bias": 1.0 / (np.arange(5, dtype=np.float64) + 1),
        "scale": np.array(-2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "tokens": (np.arange(6, dtype=np.int32) * 1000 - 2500).reshape(2, 3),
        "step": np.array([2 ** 40 + 7], dtype=np.int64),
    }
    assert list(header) == list(expected), f"names/order {list(header)}"
    for name, want in expected.items():
        got = arrays[name]
        assert got.dtype == want.dtype and got.shape == want.shape, f"{name}: {got.dtype}{got.shape}"
        assert np.array_equal(got, want), f"{name}: {got} != {want}"
        torch.from_numpy(got.copy())  # loads into torch as is
    print(f"from_jgrad.safetensors: {len(expected)} tensors match, header {len(raw)} bytes")


def write_from_torch():
    torch.manual_seed(20261122)
    tensors = {
        "a.f32": torch.randn(2, 3),
        "b.f64": torch.randn(4, dtype=torch.float64),
        "c.f16": torch.randn(3, 2).half(),
        "d.bf16": torch.randn(5).bfloat16(),
        "e.i32": torch.randint(-1000, 1000, (4,), dtype=torch.int32),
        "f.i64": torch.tensor([-(2 ** 40), 3, 2 ** 52], dtype=torch.int64),
        "g.scalar": torch.tensor(3.25),
        "h.empty": torch.zeros(0, 4, dtype=torch.float64),
    }
    names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int32: "I32", torch.int64: "I64"}
    # Data in the reference implementation's order (largest element first, then by name); header alphabetical.
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    offsets, chunks, pos = {}, [], 0
    for name in order:
        t = tensors[name].contiguous()
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().astype(
            NUMPY_DTYPES[names[t.dtype]] if t.dtype != torch.bfloat16 else "<i2").tobytes()
        offsets[name] = [pos, pos + len(b)]
        chunks.append(b)
        pos += len(b)
    header = {"__metadata__": {"format": "pt", "producer": "torch " + torch.__version__}}
    for name in sorted(tensors):
        header[name] = {"dtype": names[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": offsets[name]}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    path = os.path.join(OUT, "from_torch.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    expected = {}
    for name, t in tensors.items():
        values = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
        expected[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                          "values": values.reshape(-1).tolist()}
    with open(os.path.join(OUT, "from_torch.expected.json"), "w") as f:
        json.dump({"generator": "lib-models/src/test/python/check_safetensors.py",
                   "metadata": header["__metadata__"], "tensors": expected}, f, indent=1)
        f.write("\n")
    # The file must parse back to the same values here too.
    _, _, _, arrays = parse(path)
    for name, t in tensors.items():
        want = (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t).numpy()
        assert np.array_equal(arrays[name].astype(want.dtype), want), name
    print(f"from_torch.safetensors: {len(tensors)} tensors, {pos} data bytes")


if __name__ == "__main__":
    if os.path.exists(os.path.join(OUT, "from_jgrad.safetensors")):
        check_from_jgrad()
    else:
        print("from_jgrad.safetensors missing: run SafeTensorsTest's writer first")
    write_from_torch()
