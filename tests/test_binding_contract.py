"""The Python boundary: wrong arrays raise ValueError saying what was wrong, never convert."""

import numpy as np
import pytest

from ccinfer import kernels

W = np.ones((8, 4), np.float32)
x = np.ones(4, np.float32)
X = np.ones((3, 4), np.float32)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: kernels.dense_gemv(W.astype(np.float64), x),
            r"dense_gemv: W must be float32 of shape \(\*, \*\), got float64 \(8, 4\)",
        ),
        (
            lambda: kernels.dense_gemv(W, x.astype(np.float64)),
            r"dense_gemv: x must be float32 of shape \(4,\), got float64 \(4,\)",
        ),
        (
            lambda: kernels.dense_gemv(W, np.ones(5, np.float32)),
            r"x must be float32 of shape \(4,\), got float32 \(5,\)",
        ),
        (lambda: kernels.dense_gemv(W, x[None, :]), r"x must be .* got float32 \(1, 4\)"),
        (lambda: kernels.dense_gemv(W[:, ::2], x[:2]), r"W must be C-contiguous"),
        (lambda: kernels.dense_gemv(np.asfortranarray(W[:4, :4]), x), r"W must be C-contiguous"),
        (lambda: kernels.dense_gemv(W.tolist(), x), r"W must be a numpy.ndarray.*got list"),
        (lambda: kernels.dense_gemv(np.ones((0, 4), np.float32), x), r"W must not be empty"),
        (
            lambda: kernels.dense_gemv(W, x, out=np.ones(7, np.float32)),
            r"out must be float32 of shape \(8,\)",
        ),
        (lambda: kernels.dense_gemm(W, X.astype(np.float16)), r"dense_gemm: X must be float32"),
        (
            lambda: kernels.dense_gemm(W, np.ones((3, 5), np.float32)),
            r"X must be float32 of shape \(\*, 4\), got float32 \(3, 5\)",
        ),
        (
            lambda: kernels.dense_gemm(W, X, out=np.ones((8, 3), np.float32)),
            r"out must be float32 of shape \(3, 8\)",
        ),
    ],
)
def test_bad_arrays_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_read_only_out_rejected():
    out = np.zeros(8, np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="out must be writeable"):
        kernels.dense_gemv(W, x, out=out)


def test_aliased_out_rejected():
    buf = np.ones(12, np.float32)
    with pytest.raises(ValueError, match="out must not share memory"):
        kernels.dense_gemv(buf[:8].reshape(2, 4), buf[:4], out=buf[4:6])
