"""Plain NumPy references for every kernel: slow, obvious, and what the tests trust."""

from __future__ import annotations

import numpy as np


def cond_gemv(W, x, rows=None, bias=None, out=None, *, mask=None):
    """``out[rows] = W[rows] @ x (+ bias[rows])``; other entries untouched (zero if new).
    ``mask`` (length m, non-zero = active) may be given instead of ``rows``."""
    out = np.zeros(W.shape[0], np.float32) if out is None else out
    if mask is not None:
        rows = np.flatnonzero(mask)
    y = W[rows].astype(np.float64) @ x.astype(np.float64)
    if bias is not None:
        y += bias[rows]
    out[rows] = y.astype(np.float32)
    return out


def cond_gemv_batch(W, X, mask=None, bias=None, out=None, *, indptr=None, indices=None):
    """``out[s, i] = X[s] @ W[i] (+ bias[i])`` for every ``(s, i)`` with ``mask[s, i]`` (or
    ``i`` in ``indices[indptr[s]:indptr[s + 1]]``); other entries untouched (zero if new)."""
    n, m = X.shape[0], W.shape[0]
    if mask is None:
        mask = np.zeros((n, m), bool)
        for s in range(n):
            mask[s, indices[indptr[s] : indptr[s + 1]]] = True
    out = np.zeros((n, m), np.float32) if out is None else out
    y = X.astype(np.float64) @ W.T.astype(np.float64)
    if bias is not None:
        y += bias
    on = np.asarray(mask) != 0
    out[on] = y[on].astype(np.float32)
    return out


def sparse_input_gemv(Wt, x, rows=None, bias=None, out=None):
    """``out = Wt.T @ x (+ bias)`` summed over the non-zero ``x[j]`` only (rows ``j`` of the
    transposed weights ``Wt`` (k, m)); with ``rows`` only ``out[rows]`` is written, the other
    entries untouched (zero if new)."""
    m = Wt.shape[1]
    out = np.zeros(m, np.float32) if out is None else out
    nz = np.flatnonzero(x)
    y = x[nz].astype(np.float64) @ Wt[nz].astype(np.float64)
    if bias is not None:
        y += bias
    rows = np.arange(m) if rows is None else rows
    out[rows] = y[rows].astype(np.float32)
    return out


def block_gated_gemm(W, X, gates, block, out=None):
    """``out[s, b*block:(b+1)*block] = X[s] @ W[b*block:(b+1)*block].T`` for every sample ``s``
    and block ``b`` with ``gates[s, b] > 0`` (dissertation fig. A.3); the other blocks are left
    untouched (zero if ``out`` is None)."""
    m = W.shape[0]
    if block < 1 or m % block:
        raise ValueError(f"block_gated_gemm: block must be >= 1 and divide m = {m}, got {block}")
    out = np.zeros((X.shape[0], m), np.float32) if out is None else out
    W64, X64 = W.astype(np.float64), X.astype(np.float64)
    for b in range(m // block):
        on = gates[:, b] > 0
        cols = slice(b * block, (b + 1) * block)
        out[on, cols] = (X64[on] @ W64[cols].T).astype(np.float32)
    return out


def panel_gemm(W, X, samples=None):
    """``Y[s] = X[s] @ W.T`` for ``s`` in ``samples`` (every row of ``X`` when None), the
    other rows of ``Y`` zero: what ``kernels.panel_gemm`` computes (in float64, rounded)."""
    rows = np.arange(X.shape[0]) if samples is None else np.asarray(samples)
    out = np.zeros((X.shape[0], W.shape[0]), np.float32)
    out[rows] = (X[rows].astype(np.float64) @ W.T.astype(np.float64)).astype(np.float32)
    return out


def sign_estimate(A, B, bias, x, tau=0.0):
    """Rows predicted active by the low-rank sign estimator, ``A @ (B @ x) + bias > tau``:
    int32 row numbers, ascending, for one sample ``x`` (k,); the (n, m) bool mask for ``X``
    (n, k). ``bias`` may be None (zero). A NaN ``t`` counts as active (``~(t <= tau)``), as in
    the kernels."""
    x64 = np.asarray(x, np.float64)
    t = (x64 @ B.T.astype(np.float64)) @ A.T.astype(np.float64)
    if bias is not None:
        t += bias
    mask = ~(t <= tau)
    return np.flatnonzero(mask).astype(np.int32) if x64.ndim == 1 else mask


def cond_mlp_masks(weights, biases, estimators, X):
    """Per hidden layer, ``(predicted, positive)`` boolean arrays (n, m): the estimator's
    selection and the units whose pre-activation is positive, along the conditional forward."""
    a = np.asarray(X, np.float64)
    out = []
    for i, (W, b, est) in enumerate(zip(weights, biases, estimators, strict=True)):
        if i + 1 == len(weights):
            break
        z = a @ W.T.astype(np.float64) + b
        predicted = (
            np.ones(z.shape, bool)
            if est is None
            else ((a @ est.B.T.astype(np.float64)) @ est.A.T.astype(np.float64) + b > est.tau)
        )
        out.append((predicted, z > 0))
        a = np.maximum(z, 0) * predicted
    return out


def cond_mlp(weights, biases, estimators, X):
    """Logits of a CondMLP: hidden ``a' = relu(W a + b) * (A (B a) + b > tau)`` (no mask for a
    layer without estimator), output ``W a + b``. ``X`` is (in,) or (n, in)."""
    a = np.asarray(X, np.float64)
    for i, (W, b, est) in enumerate(zip(weights, biases, estimators, strict=True)):
        z = a @ W.T.astype(np.float64) + b
        if i + 1 == len(weights):
            return z.astype(np.float32)
        if est is not None:
            z = z * ((a @ est.B.T.astype(np.float64)) @ est.A.T.astype(np.float64) + b > est.tau)
        a = np.maximum(z, 0)
    raise ValueError("cond_mlp: no layers")


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def gru_step_dense(x, h, W_ih, W_hh, b_ih, b_hh):
    """One ``torch.nn.GRU`` step in float64 (gate order r, z, n; PyTorch's z keeps the old
    state): ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``. ``x`` (d,) or
    (n, d) (a one-hot vector for token input), ``h`` (h,) or (n, h). Returns float64 h'."""
    x, h = np.asarray(x, np.float64), np.asarray(h, np.float64)
    gi = x @ np.asarray(W_ih, np.float64).T + b_ih
    gh = h @ np.asarray(W_hh, np.float64).T + b_hh
    H = h.shape[-1]
    r = _sigmoid(gi[..., :H] + gh[..., :H])
    z = _sigmoid(gi[..., H : 2 * H] + gh[..., H : 2 * H])
    n = np.tanh(gi[..., 2 * H :] + r * gh[..., 2 * H :])
    return (1 - z) * n + z * h


def cond_gru_z(kind, x, h, layer):
    """The z path of a conditional GRU layer (docs/design.md section 2) in float64: returns
    ``(z, u)`` with ``u`` the pre-activation of cliptanh (z = tanh(max(u, 0)), so the mask
    ``z > 0`` is ``u > 0``). ``kind`` "lowrank": ``u = W_z relu(W_zl x + U_zl h + b_zl) + b_z``;
    "block": ``u`` per block ``j`` of ``h / g`` units ``z_scale[j] z^lr[j] + z_shift[j]``."""
    f = lambda name: np.asarray(layer[name], np.float64)  # noqa: E731
    x, h = np.asarray(x, np.float64), np.asarray(h, np.float64)
    zlr = np.maximum(x @ f("W_zl").T + h @ f("U_zl").T + f("b_zl"), 0)
    if kind == "lowrank":
        u = zlr @ f("W_z").T + f("b_z")
    elif kind == "block":
        g = zlr.shape[-1]
        u = np.repeat(f("z_scale") * zlr + f("z_shift"), h.shape[-1] // g, axis=-1)
    else:
        raise ValueError(f"cond_gru_z: kind must be 'lowrank' or 'block', got {kind!r}")
    return np.tanh(np.maximum(u, 0)), u


def cond_gru_step(kind, x, h, layer):
    """One conditional GRU step in float64 (docs/design.md section 2; gate order r, n):
    ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) h + z n`` with z from :func:`cond_gru_z` (units with z = 0 keep h exactly).
    ``layer`` maps the docs/format.md names (W_ih (2h, d), W_hh (2h, h), ...) to arrays. Returns
    ``(h', z, u)``."""
    x, h = np.asarray(x, np.float64), np.asarray(h, np.float64)
    z, u = cond_gru_z(kind, x, h, layer)
    H = h.shape[-1]
    gi = x @ np.asarray(layer["W_ih"], np.float64).T + layer["b_ih"]
    gh = h @ np.asarray(layer["W_hh"], np.float64).T + layer["b_hh"]
    r = _sigmoid(gi[..., :H] + gh[..., :H])
    n = np.tanh(gi[..., H:] + r * gh[..., H:])
    return np.where(z > 0, (1 - z) * h + z * n, h), z, u


def gru_stack_step(layers, output, x, hs, token_input=True):
    """One step of a GRUStack (the layer dicts of ``GRUStack.from_numpy``) in float64:
    ``x`` a token id (or float vector), ``hs`` the states per layer. Returns
    ``(logits, new_hs, zs)`` with ``zs[l]`` the z of layer l (None for dense layers)."""
    if token_input:
        d = np.shape(layers[0]["W_ih"])[1]
        a = np.zeros(d)
        a[int(x)] = 1.0
    else:
        a = np.asarray(x, np.float64)
    new_hs, zs = [], []
    for layer, h in zip(layers, hs, strict=True):
        if layer["kind"] == "dense":
            a = gru_step_dense(a, h, layer["W_ih"], layer["W_hh"], layer["b_ih"], layer["b_hh"])
            zs.append(None)
        else:
            a, z, _ = cond_gru_step(layer["kind"], a, h, layer)
            zs.append(z)
        new_hs.append(a)
    W, b = output
    return a @ np.asarray(W, np.float64).T + b, new_hs, zs


def tree_gate_bits(X, gate_units=None, tau=0.0, gate_weight=None, gate_bias=None):
    """Gating bits of the tree-gated layer, (n, nbits) bool for ``X`` (n, p): threshold
    ``X[:, gate_units] > tau`` or projection ``X @ gate_weight.T + gate_bias > 0``."""
    X = np.atleast_2d(X)
    if gate_units is not None:
        return X[:, np.asarray(gate_units)] > tau
    if gate_weight is not None:
        z = X.astype(np.float64) @ gate_weight.T.astype(np.float64)
        return z + (0.0 if gate_bias is None else gate_bias) > 0
    return np.zeros((X.shape[0], 0), bool)


def tree_paths(bits, p, depth, path="shared"):
    """Node ids (n, p, depth + 1) of every unit's path in heap order (root 0, children of
    ``v`` are ``2v + 1`` for bit 0 and ``2v + 2`` for bit 1). Unit ``j`` reads bit
    ``l`` (shared) or ``(j // depth + l) % nbits`` (sliding) at level ``l``."""
    bits = np.atleast_2d(bits).astype(np.int64)
    n, nbits = bits.shape
    nodes = np.zeros((n, p, depth + 1), np.int64)
    j = np.arange(p)
    for level in range(depth):
        index = np.full(p, level) if path == "shared" else (j // depth + level) % nbits
        nodes[:, :, level + 1] = 2 * nodes[:, :, level] + 1 + bits[:, index]
    return nodes


def tree_gated(
    table,
    bias,
    X,
    path="shared",
    gate_units=None,
    tau=0.0,
    gate_weight=None,
    gate_bias=None,
    activation="identity",
):
    """The tree-gated layer (Cho & Bengio 2014) by its definition: for every sample the
    explicit weight matrix ``W_eff[j] = sum_l table[j, v_l(j)]`` over the path nodes, then
    ``phi(x @ W_eff + bias)``. ``table`` is (p, 2^(k+1) - 1, q); ``X`` is (p,) or (n, p)."""
    X = np.asarray(X)
    single = X.ndim == 1
    X2 = np.atleast_2d(X)
    p, nodes, q = table.shape
    depth = int(np.log2(nodes + 1)) - 1
    bits = tree_gate_bits(X2, gate_units, tau, gate_weight, gate_bias)
    paths = tree_paths(bits, p, depth, path)
    out = np.empty((X2.shape[0], q), np.float32)
    units = np.arange(p)[:, None]
    for s, x in enumerate(X2):
        W_eff = table[units, paths[s]].astype(np.float64).sum(axis=1)  # (p, q)
        y = x.astype(np.float64) @ W_eff + (0.0 if bias is None else bias)
        out[s] = np.maximum(y, 0) if activation == "relu" else y
    return out[0] if single else out
