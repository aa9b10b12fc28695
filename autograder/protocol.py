"""The wire format between the grader and a student-code worker.

Messages are length-prefixed JSON.  Arrays travel as raw bytes with a dtype
from a short allow-list, never as pickles: the worker is untrusted, and
unpickling its output would run its code in the grader.
"""
from __future__ import annotations

import base64
import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 256 * 2**20
ALLOWED_DTYPES = frozenset({"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"})
_HEADER = struct.Struct("!Q")


class ProtocolError(Exception):
    """The other side sent something that is not a valid message."""


class ChannelClosed(ProtocolError):
    """The other side closed its end (usually: the worker died)."""


class ChannelTimeout(ProtocolError):
    """No complete message arrived before the deadline."""


def encode_value(value: Any) -> Any:
    """Turn numpy arrays (and scalars) nested in JSON-like data into JSON-safe dicts."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.name not in ALLOWED_DTYPES:
            raise ProtocolError(f"arrays of dtype {array.dtype} cannot be sent")
        return {"__ndarray__": {"dtype": array.dtype.name, "shape": list(array.shape),
                                "data": base64.b64encode(array.tobytes()).decode("ascii")}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): encode_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ProtocolError(f"a {type(value).__name__} cannot be sent")


def decode_value(value: Any) -> Any:
    """Inverse of encode_value; validates every array against its declared shape."""
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            spec = value["__ndarray__"]
            try:
                dtype, shape, data = spec["dtype"], tuple(int(n) for n in spec["shape"]), spec["data"]
            except (KeyError, TypeError, ValueError) as exc:
                raise ProtocolError("malformed array") from exc
            if dtype not in ALLOWED_DTYPES or any(n < 0 for n in shape):
                raise ProtocolError(f"array of dtype {dtype!r} and shape {shape} refused")
            raw = base64.b64decode(data, validate=True)
            array = np.frombuffer(raw, dtype=np.dtype(dtype))
            if array.size != int(np.prod(shape, dtype=np.int64)):
                raise ProtocolError("array data does not match its shape")
            return array.reshape(shape).copy()
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def send(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(encode_value(message), allow_nan=True).encode("utf-8")
    payload = _HEADER.pack(len(body)) + body
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    remaining = count
    while remaining:
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise ChannelTimeout("no answer before the time limit")
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise ChannelTimeout("no answer before the time limit")
        chunk = os.read(fd, min(remaining, 2**20))
        if not chunk:
            raise ChannelClosed("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, timeout: float | None = None) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes is over the {MAX_MESSAGE_BYTES} byte limit")
    try:
        message = json.loads(_read_exactly(fd, length, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("message is not JSON") from exc
    if not isinstance(message, dict):
        raise ProtocolError("message is not an object")
    return decode_value(message)
