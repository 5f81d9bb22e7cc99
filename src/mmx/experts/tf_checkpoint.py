"""Read a TensorFlow (V2 "tensor bundle") checkpoint without TensorFlow.

A checkpoint ``prefix`` is two files: ``prefix.index``, a LevelDB-style sorted table mapping each
variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and
``prefix.data-00000-of-00001`` holding the raw little-endian tensor bytes. Only what TF writes by
default is supported: uncompressed blocks, one data shard, numeric dtypes. The format:
tensorflow/core/lib/io/format.h (table), tensorflow/core/protobuf/tensor_bundle.proto (entries).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from mmx.errors import WeightsCorrupt, WeightsMissing

TABLE_MAGIC = 0xDB4775248B80FB57  # last 8 bytes of a table file
FOOTER_SIZE = 48  # two block handles padded to 40 bytes + magic
BLOCK_TRAILER = 5  # compression type byte + crc32c after every block
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 6: np.int8, 9: np.int64, 10: np.bool_,
          19: np.float16}  # tensorflow/core/framework/types.proto



def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _block(buf: bytes, offset: int, size: int, where: Path) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block (keys are prefix-compressed)."""
    if buf[offset + size] != 0:
        raise WeightsCorrupt(f"{where}: compressed table blocks are not supported")
    data = buf[offset:offset + size]
    n_restarts = struct.unpack_from("<I", data, len(data) - 4)[0]
    end = len(data) - 4 * (n_restarts + 1)
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(data, pos)
        unshared, pos = _varint(data, pos)
        vlen, pos = _varint(data, pos)
        key = key[:shared] + data[pos:pos + unshared]
        pos += unshared
        entries.append((key, data[pos:pos + vlen]))
        pos += vlen
    return entries


def _fields(msg: bytes) -> dict[int, list]:
    """A protobuf message → {field number: [values]} (varints as int, length-delimited as bytes)."""
    out: dict[int, list] = {}
    pos = 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(msg, pos)
        elif wire == 2:
            n, pos = _varint(msg, pos)
            value, pos = msg[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", msg, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", msg, pos)[0], pos + 8
        else:
            raise WeightsCorrupt(f"unsupported protobuf wire type {wire}")
        out.setdefault(field, []).append(value)
    return out


def _entry(value: bytes) -> tuple[type, tuple[int, ...], int, int, int]:
    """BundleEntryProto → (dtype, shape, shard, offset, size)."""
    f = _fields(value)
    dims = [_fields(d).get(1, [0])[0] for d in _fields(f.get(2, [b""])[0]).get(2, [])]
    dtype = f.get(1, [0])[0]
    if dtype not in DTYPES:
        raise WeightsCorrupt(f"unsupported tensor dtype {dtype}")
    return DTYPES[dtype], tuple(dims), f.get(3, [0])[0], f.get(4, [0])[0], f.get(5, [0])[0]


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All variables of the checkpoint at ``prefix`` (the path without ``.index``) as numpy arrays."""
    index_path, data_path = Path(f"{prefix}.index"), Path(f"{prefix}.data-00000-of-00001")
    for p in (index_path, data_path):
        if not p.exists():
            raise WeightsMissing(f"{p}: TF checkpoint file not found")
    buf = index_path.read_bytes()
    if len(buf) < FOOTER_SIZE or struct.unpack_from("<Q", buf, len(buf) - 8)[0] != TABLE_MAGIC:
        raise WeightsCorrupt(f"{index_path}: not a TF checkpoint index (bad table magic)")
    pos = len(buf) - FOOTER_SIZE
    _, pos = _varint(buf, pos)  # metaindex offset (unused)
    _, pos = _varint(buf, pos)  # metaindex size
    index_offset, pos = _varint(buf, pos)
    index_size, pos = _varint(buf, pos)
    tensors: dict[str, np.ndarray] = {}
    for _, handle in _block(buf, index_offset, index_size, index_path):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block(buf, offset, size, index_path):
            if not key:  # the empty key holds the BundleHeaderProto
                continue
            dtype, shape, shard, start, nbytes = _entry(value)
            if shard != 0:
                raise WeightsCorrupt(f"{index_path}: multi-shard checkpoints are not supported")
            count = nbytes // np.dtype(dtype).itemsize
            tensors[key.decode()] = np.fromfile(data_path, dtype=dtype, count=count, offset=start).reshape(shape)
    return tensors
