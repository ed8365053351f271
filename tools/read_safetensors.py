#!/usr/bin/python3
"""read_safetensors.py — an independent reader of safetensors files, standard library
only (struct, json, array), used by tests/test_safetensors.c to check that files
written by librnnrt are readable outside rnnc.

    read_safetensors.py FILE            print the metadata and tensors
    read_safetensors.py FILE --values   also print every metadata value and every
                                        tensor's values
    read_safetensors.py FILE --numpy    also decode every tensor with numpy.frombuffer
                                        and fail unless it equals the array decoding
                                        (exit 77 when numpy is not installed)
    read_safetensors.py --help          this text

Output, one line each, in header order:
    meta KEY_JSON len=BYTES fnv=HEX16
    tensor NAME_JSON DTYPE [D0,D1,...] n=COUNT sum=HEX16 fnv=HEX16
and with --values, after each: "  value VALUE_JSON" (metadata) or "  values V0 V1 ..."
(the tensor's elements in row-major order, as Python prints them).
where fnv is the 64-bit FNV-1a hash of the bytes (UTF-8 for metadata values), and
sum is the bit pattern of the values added in order as doubles (0.0 + v0 + v1 ...),
which a C test can recompute exactly. Exit status 1 with a message on stderr for any
problem with the file.
"""
import array
import json
import signal
import struct
import sys

# dtype -> (array typecode, numpy dtype string, element size)
DTYPES = {
    "F32": ("f", "<f4", 4),
    "F64": ("d", "<f8", 8),
    "I32": ("i", "<i4", 4),
    "I64": ("q", "<i8", 8),
    "U8": ("B", "u1", 1),
}


def fail(msg):
    sys.stderr.write("read_safetensors.py: %s\n" % msg)
    sys.exit(1)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def reject_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            fail("duplicate key %r" % k)
        d[k] = v
    return d


USAGE = "usage: read_safetensors.py FILE [--values | --numpy]\n       read_safetensors.py --help\n"


def main(argv):
    if len(argv) >= 2 and argv[1] in ("--help", "-h"):
        sys.stdout.write(USAGE + "\n" + __doc__)
        return 0
    if len(argv) < 2 or len(argv) > 3 or (len(argv) == 3 and argv[2] not in ("--numpy", "--values")):
        sys.stderr.write(USAGE)
        return 2
    np = None
    show = len(argv) == 3 and argv[2] == "--values"
    if len(argv) == 3 and argv[2] == "--numpy":
        try:
            import numpy as np
        except ImportError:
            sys.stderr.write("read_safetensors.py: numpy is not installed\n")
            return 77
    try:
        with open(argv[1], "rb") as f:
            blob = f.read()
    except OSError as e:
        fail("%s: %s" % (argv[1], e.strerror))
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        fail("header length %d exceeds the file" % hlen)
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"), object_pairs_hook=reject_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        fail("the header is not JSON: %s" % e)
    data = blob[8 + hlen:]
    if not isinstance(header, dict):
        fail("header is not an object")

    meta = header.get("__metadata__", {})
    for key, value in meta.items():
        if not isinstance(value, str):
            fail("metadata %r is not a string" % key)
        raw = value.encode("utf-8")
        print("meta %s len=%d fnv=%016x" % (json.dumps(key), len(raw), fnv1a64(raw)))
        if show:
            print("  value %s" % json.dumps(value))

    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            fail("tensor %r: unknown dtype %r" % (name, dtype))
        code, npdtype, size = DTYPES[dtype]
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("tensor %r: bad dimension %r" % (name, d))
            count *= d
        if end - begin != count * size:
            fail("tensor %r: offsets do not match the shape" % name)
        spans.append((begin, end))
        raw = data[begin:end]
        values = array.array(code)
        if values.itemsize != size:
            fail("array typecode %r is not %d bytes here" % (code, size))
        values.frombytes(raw)
        if sys.byteorder == "big":
            values.byteswap()
        total = 0.0
        for v in values:
            total += float(v)
        (bits,) = struct.unpack("<Q", struct.pack("<d", total))
        print("tensor %s %s [%s] n=%d sum=%016x fnv=%016x"
              % (json.dumps(name), dtype, ",".join(str(d) for d in shape), count, bits,
                 fnv1a64(raw)))
        if show:
            print("  values %s" % " ".join(repr(float(v)) if code in "fd" else str(v) for v in values))
        if np is not None:
            arr = np.frombuffer(raw, dtype=np.dtype(npdtype), count=count).reshape(shape)
            if arr.shape != tuple(shape):
                fail("numpy: tensor %r has shape %r, expected %r" % (name, arr.shape, shape))
            if arr.reshape(-1).tolist() != values.tolist():
                fail("numpy: tensor %r values differ from the array decoding" % name)

    at = 0
    for begin, end in sorted(spans):
        if begin != at:
            fail("offsets are not contiguous at %d" % begin)
        at = end
    if at != len(data):
        fail("data is %d bytes, tensors cover %d" % (len(data), at))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # a closed pipe (| head) ends it quietly
    sys.exit(main(sys.argv))
