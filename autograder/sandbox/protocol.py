"""The wire format between the grader and a student-code worker.

Messages are length-prefixed JSON.  Arrays travel as raw bytes with a dtype
from a short allow-list, never as pickles: the worker is untrusted, and
unpickling its output would run its code in the grader.

The grader's side never waits without a deadline, on reading or on writing (a worker
that stops reading its requests must not block the grader on a full pipe), and
anything malformed (too long, too deeply nested, bad base64, numbers JSON cannot hold)
is a :class:`ProtocolError`, never another exception.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

# An honest full grading's largest reply is 0.7 MB (the hook run); 32 MB bounds what decoding one
# reply can make the grader allocate (JSON of small integers: about 10x its size) well under 1 GB.
MAX_MESSAGE_BYTES = 32 * 2**20
MAX_REQUEST_BYTES = 256 * 2**20  # what the worker accepts from the grader (the student's cells travel in one)
MAX_NESTING = 64
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


def decode_value(value: Any, depth: int = 0) -> Any:
    """Inverse of encode_value; validates every array against its declared shape."""
    if depth > MAX_NESTING:
        raise ProtocolError(f"data nested more than {MAX_NESTING} levels deep")
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return _decode_array(value["__ndarray__"])
        return {key: decode_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item, depth + 1) for item in value]
    return value


def _decode_array(spec: Any) -> np.ndarray:
    try:
        dtype, shape, data = spec["dtype"], tuple(int(n) for n in spec["shape"]), spec["data"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError("malformed array") from exc
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES or not isinstance(data, str) \
            or len(shape) > 32 or any(n < 0 or n > 2**40 for n in shape):
        raise ProtocolError(f"array of dtype {str(dtype)[:20]!r} and shape {shape[:8]} refused")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("array data is not base64") from exc
    count = 1
    for n in shape:
        count *= n
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise ProtocolError("array data does not match its shape")
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def send(fd: int, message: dict[str, Any], timeout: float | None = None) -> None:
    """Write one message; with a timeout, ``fd`` must be non-blocking and ChannelTimeout is raised
    if the other side does not take it in time (a worker that stopped reading)."""
    body = json.dumps(encode_value(message), allow_nan=True).encode("utf-8")
    payload = _HEADER.pack(len(body)) + body
    view = memoryview(payload)
    deadline = None if timeout is None else time.monotonic() + timeout
    while view:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("the other side did not read its messages before the time limit")
            _, ready, _ = select.select([], [fd], [], remaining)
            if not ready:
                continue
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        except InterruptedError:
            continue
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


def receive(fd: int, timeout: float | None = None, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if length > max_bytes:
        raise ProtocolError(f"a message of {length} bytes is over the {max_bytes} byte limit")
    try:
        message = json.loads(_read_exactly(fd, length, deadline))
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, huge integers, deep nesting
        raise ProtocolError(f"the message is not valid JSON ({type(exc).__name__})") from exc
    except MemoryError as exc:
        raise ProtocolError("the message is too big to decode") from exc
    if not isinstance(message, dict):
        raise ProtocolError("the message is not an object")
    try:
        return decode_value(message)
    except RecursionError as exc:
        raise ProtocolError("data nested too deeply") from exc
