"""frkit_py.py: write frkit FRCK bundles (named tensors) from Python, for the
reference generators. An independent writer of the format in man/frkit-formats.5,
so the C reader is checked against it too. Needs only numpy and zlib."""
import struct
import zlib

import numpy as np

DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.int32): 2, np.dtype(np.int64): 3,
          np.dtype(np.uint8): 4, np.dtype(np.float16): 5}


def _pad64(n):
    return (n + 63) & ~63


def _chunk(tag, aux, body):
    aux = aux.ljust(48, b"\0")
    head_tail = struct.pack("<Q", len(body)) + aux          # chunk header bytes 8..63
    crc = zlib.crc32(body, zlib.crc32(head_tail)) & 0xFFFFFFFF
    head = tag + struct.pack("<I", crc) + head_tail
    return head + body + b"\0" * (_pad64(len(body)) - len(body)), crc


def write_bundle(path, tensors, sections=None, magic=b"FRCK"):
    """tensors: list of (name, numpy array) in order; sections: dict tag -> bytes."""
    payload = bytearray()
    base = 256
    for tag, data in (sections or {}).items():
        c, _ = _chunk(tag, b"", data)
        payload += c
    table, names = bytearray(), bytearray()
    total = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in DTYPES:
            raise ValueError(f"{name}: dtype {arr.dtype} not supported")
        if arr.ndim > 8:
            raise ValueError(f"{name}: more than 8 dimensions")
        nb = name.encode()
        dims = list(arr.shape) + [0] * (8 - arr.ndim)
        aux = struct.pack("<IIII8I", DTYPES[arr.dtype], arr.ndim, len(nb), 0, *dims)
        body = nb + b"\0" * (_pad64(len(nb)) - len(nb)) + arr.tobytes()
        off = base + len(payload)
        c, crc = _chunk(b"TENS", aux, body)
        payload += c
        table += struct.pack("<QQI", off, arr.nbytes, crc) + aux[:12] + aux[16:48]
        names += nb
        total += arr.nbytes
    tab_off = base + len(payload)
    c, _ = _chunk(b"TTAB", struct.pack("<Q", len(tensors)), bytes(table + names))
    payload += c
    kind = struct.pack("<QQ", len(tensors), total).ljust(216, b"\0")
    hdr = bytearray(magic + struct.pack("<III", 1, 256, 0) + struct.pack("<QQQ", len(tensors), len(payload), 0) + kind)
    struct.pack_into("<I", hdr, 12, zlib.crc32(bytes(hdr)) & 0xFFFFFFFF)
    trl = bytearray(b"FEND" + struct.pack("<IQQQ", zlib.crc32(bytes(payload)) & 0xFFFFFFFF, len(tensors),
                                          len(payload), tab_off) + b"\0" * 32)
    struct.pack_into("<I", trl, 60, zlib.crc32(bytes(trl[:60])) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(bytes(hdr) + bytes(payload) + bytes(trl))
