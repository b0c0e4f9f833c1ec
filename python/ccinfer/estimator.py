"""The low-rank sign estimator of a ReLU layer (docs/design.md section 1; Davis & Arel 2014)
and the truncated SVD every estimator is built from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._core import kernels as _kernels


def truncated_svds(
    W: np.ndarray, ranks: Sequence[int], dtype=np.float32
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(A, B) = (U_r S_r, V_r^T)`` for every ``r`` in `ranks`: the best rank-``r`` factors of
    ``W`` (m, k) in Frobenius norm, shapes (m, r) and (r, k), C-contiguous `dtype`. One SVD in
    float64 serves all ranks (a calibration tries several)."""
    limit = min(W.shape)
    for rank in ranks:
        if (
            isinstance(rank, bool)
            or not isinstance(rank, (int, np.integer))
            or not 1 <= rank <= limit
        ):
            raise ValueError(
                f"truncated_svd: rank must be in [1, {limit}] for a {W.shape} layer, got {rank!r}"
            )
    U, S, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64), full_matrices=False)
    return [
        (
            np.ascontiguousarray(U[:, :rank] * S[:rank], dtype=dtype),
            np.ascontiguousarray(Vt[:rank], dtype=dtype),
        )
        for rank in ranks
    ]


def truncated_svd(W: np.ndarray, rank: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``A = U_r S_r`` (m, r) and ``B = V_r^T`` (r, k): the best rank-``r`` factors of ``W`` in
    Frobenius norm (see `truncated_svds`)."""
    return truncated_svds(W, [rank], dtype)[0]


class SignEstimator(_kernels.SignEstimator):
    """Rows of a ReLU layer ``relu(W x + bias)`` predicted active: ``A @ (B @ x) + bias > tau``.

    ``A`` (m, r) and ``B`` (r, k) are float32, C-contiguous, copied once into storage the
    object owns; ``bias`` (m,) float32 or None.

    Methods
    -------
    predict(x)
        int32 rows predicted active for one sample ``x`` (k,), ascending.
    predict_batch(X, out=None)
        bool mask (n, m) for a batch ``X`` (n, k).

    ``tau`` is settable (raising it never adds rows); ``A``, ``B``, ``bias`` return copies.
    ``predict`` runs on one thread (measured: splitting a 1000x784 rank-50 prediction over
    two threads costs more in fork/join and barrier than it saves); ``predict_batch`` splits
    the samples across ccinfer's threads, with results identical for every thread count.
    Both release the GIL and may run concurrently on one object (each call has its own
    scratch).
    """

    @classmethod
    def from_weights(cls, W, bias, rank: int, tau: float = 0.0) -> SignEstimator:
        """Build the estimator from a layer's weights by truncated SVD.

        ``W = U S V^T`` (computed in float64); ``A = U_r S_r``, ``B = V_r^T``.

        Parameters
        ----------
        W : ndarray (m, k)
            The layer's weights, output-major (``nn.Linear`` layout).
        bias : ndarray (m,) or None
            The layer's bias.
        rank : int
            ``r``, in ``[1, min(m, k)]``.
        tau : float
            Threshold; 0 reproduces the paper.

        Raises
        ------
        ValueError
            If ``W`` is not 2-D or ``rank`` is out of range.
        """
        W = np.asarray(W)
        if W.ndim != 2 or W.size == 0:
            raise ValueError(
                f"SignEstimator.from_weights: W must be a non-empty 2-D array, got shape {W.shape}"
            )
        m, k = W.shape
        if (
            isinstance(rank, bool)
            or not isinstance(rank, (int, np.integer))
            or not (1 <= rank <= min(m, k))
        ):
            raise ValueError(
                f"SignEstimator.from_weights: rank must be an int in [1, {min(m, k)}], got {rank!r}"
            )
        A, B = truncated_svd(W, int(rank))
        b = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
        return cls(A, B, b, float(tau))
