"""numpy and pyarrow idioms the minutes path, the evaluation and claims share, written so that they do not load
what the libraries' own helpers load on first use: ``np.unique`` and ``np.union1d`` check for masked arrays, and
``pa.array`` of a numpy array does too, which imports ``numpy.ma`` (0.011 s of a command's start, where nothing
else needs it)."""
from __future__ import annotations

import numpy as np


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted, as ``np.unique`` gives them (by a sort; see the module)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def arrow_of(values: np.ndarray, kind):
    """A pyarrow array of type ``kind`` (fixed-width: integers, floats) over ``values`` without copying them, as
    ``pa.array(values, kind)`` makes it (see the module). ``values`` must already have that type's width."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    values = np.ascontiguousarray(values)
    if values.dtype.itemsize * 8 != kind.bit_width:
        raise TypeError(f"{values.dtype} values are not {kind}")
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])
