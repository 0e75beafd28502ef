"""slapolicy.arrays: numpy and pyarrow idioms without numpy.ma (tests/test_process_start.py checks the imports)."""
import numpy as np
import pyarrow as pa
import pytest

from slapolicy.arrays import arrow_of, distinct_sorted


def test_distinct_sorted_is_np_unique():
    values = np.array([5, 3, 5, -1, 3, 3, 9], np.int64)
    assert distinct_sorted(values).tolist() == [-1, 3, 5, 9] == np.unique(values).tolist()
    assert distinct_sorted(np.array(["b", "a", "b"])).tolist() == ["a", "b"]
    assert distinct_sorted(np.zeros(0, np.int64)).tolist() == []
    assert distinct_sorted(np.array([7])).tolist() == [7]


@pytest.mark.parametrize("kind,dtype", [(pa.int64(), np.int64), (pa.int32(), np.int32), (pa.uint8(), np.uint8),
                                        (pa.float64(), np.float64), (pa.float32(), np.float32)])
def test_arrow_of_is_pa_array_without_a_copy(kind, dtype):
    values = np.array([3, 0, 250, 7], dtype)[::-1][::1]  # a fresh array as numpy's fancy indexing makes
    made = arrow_of(values, kind)
    assert made.type == kind and made.null_count == 0
    assert made.equals(pa.array(values, kind)) and made.to_pylist() == [7, 250, 0, 3]


def test_arrow_of_a_strided_view_is_its_values_in_order():
    values = np.arange(10, dtype=np.int64)[::3]  # 0, 3, 6, 9: not contiguous, copied once
    assert arrow_of(values, pa.int64()).to_pylist() == [0, 3, 6, 9]


def test_arrow_of_values_of_another_width_is_refused():
    with pytest.raises(TypeError, match="int32 values are not int64"):
        arrow_of(np.array([1, 2], np.int32), pa.int64())
