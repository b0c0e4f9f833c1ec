"""ONNX graphs into ccinfer models (:func:`from_onnx`).

The graph is walked in order from its one input to the output being converted, each value
tracked as either a constant (initializers, ``Constant`` nodes and what is computed from
them alone), a shape computed from the input's shape (``Shape``, ``Gather``, ``Unsqueeze``,
``Concat``: what ``torch.onnx.export`` writes around a GRU and for ``x.view(n, -1)``), or
*the* tensor computed from the input, which carries the model built so far:

- an MLP: ``Gemm``, or ``MatMul`` then ``Add``, with ``Relu`` between layers (``Flatten`` or
  ``Reshape`` of the input, ``Identity``, ``Dropout``, ``Cast`` to float32 pass through; a
  per-feature scaling of the input, ``ai.onnx.ml`` ``Scaler`` or ``Mul``/``Div``/``Add``/``Sub``
  by constants as skl2onnx writes for scikit-learn's scalers, is folded into the first layer),
  and
  a trailing ``Softmax``, ``LogSoftmax`` or ``Sigmoid`` kept as the output activation (and
  scikit-learn's ``[1 - p, p]`` columns for a binary classifier). The result is a CondMLP.
- a GRU stack: ``GRU`` nodes (forward, ``linear_before_reset = 1`` as ``torch.onnx.export``
  writes them), fed by a ``Gather`` embedding, a ``OneHot`` of token ids or float vectors,
  with ``Transpose``/``Squeeze`` between them and an optional ``MatMul`` (+ ``Add``) head.
  The result is a dense GRUStack.

Any other operator on the way to the output is a ValueError naming its type and node, as is
a supported operator used in a way these models cannot compute exactly. Nothing in the file
is executed, and nodes that do not lead to the converted output are not read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import numpy as np

from .._arrays import as_float32_matrix
from .onnx_file import read_model, to_array

# ONNX TensorProto element types.
_FLOAT, _INT32, _INT64, _DOUBLE = 1, 6, 7, 11
_OUTPUT_ACTIVATIONS = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid"}
_PASS_THROUGH = ("Identity", "Dropout")
# Operators of the ai.onnx.ml domain that are read (scikit-learn's scalers).
_ML_OPS = {("ai.onnx.ml", "Scaler")}


class _Shape(list):
    """A 1-D integer tensor computed from the input's shape: each entry an int or the name
    of an input axis (whose size is only known at run time)."""


@dataclass(frozen=True)
class _Zeros:
    """A tensor of zeros whose shape is computed at run time (``Expand`` of a zero)."""


@dataclass(frozen=True)
class _Flow:
    """The tensor computed from the graph's input, and the model it has gone through.

    ``axes`` names each axis (the input's axes are ``in0``, ``in1``, ...; ``dir`` is a GRU
    output's direction axis; ``feat`` the features); ``sizes`` the static sizes (None if
    only known at run time). ``stage`` says what the tensor is: ``input`` (the graph input),
    ``tokens`` (integer ids), ``mlp`` (after dense layers), ``embedded`` / ``onehot`` (token
    vectors about to enter a GRU), ``gru`` (a GRU's output), ``head`` (after the output
    layer) or ``activated`` (after the output activation)."""

    stage: str
    axes: tuple[str, ...]
    sizes: tuple[int | None, ...]
    layers: tuple = ()  # mlp: (W, b, relu) per layer; gru: layer dicts
    relu: bool = False  # mlp: the last layer is followed by a ReLU
    embedding: Any = None  # embedded: the (V, E) table
    token_input: bool = False
    time_batch: tuple[str, str] | None = None  # gru: the axes the GRUs run over
    head: Any = None  # head: (W, b)
    activation: str = "identity"
    binary_columns: str = ""  # "one_minus" after 1 - p, "pair" after [1 - p, p]
    extra: dict = field(default_factory=dict)


def from_onnx(
    path_or_model,
    *,
    output: str | None = None,
    token_input: bool | None = None,
    ranks=None,
    tau=0.0,
):
    """A ccinfer model from an ONNX graph: a CondMLP for an MLP, a dense GRUStack for a GRU.

    Parameters
    ----------
    path_or_model : str, os.PathLike, bytes or onnx.ModelProto
        The model. External data is read only from files inside the model's folder.
    output : str, optional
        The name of the graph output to convert. Default: the graph's only float tensor
        output (a scikit-learn graph's ``label`` output, computed from the probabilities,
        becomes the model's ``classes``; a ``ZipMap`` output is read through to its input).
    token_input : bool, optional
        For a GRU whose graph input is float vectors: True states that they are one-hot
        vectors, so the model takes token ids (a column lookup per step). Graphs with a
        ``Gather`` embedding or a ``OneHot`` node take token ids anyway.
    ranks, tau : for an MLP, estimators as in :meth:`ccinfer.CondMLP.from_dense`.

    Returns
    -------
    CondMLP or GRUStack
        A CondMLP's input is the graph input flattened to ``(n, features)``; its
        ``output_activation`` is the graph's trailing Softmax, LogSoftmax or Sigmoid
        (``model.outputs(x)`` gives what the graph's output gives; ``predict_proba`` the
        ``[1 - p, p]`` columns a scikit-learn binary classifier's graph outputs). A
        GRUStack's ``run``/``step`` give, step by step, the graph output's rows.

    Raises
    ------
    ValueError
        For an operator or a use of one that these models do not compute, naming the
        operator type and the node; for unsafe or oversized files.
    ImportError
        Without the ``onnx`` package (``pip install 'ccinfer[onnx]'``).
    """
    model = read_model(path_or_model)
    graph = model.graph
    for opset in model.opset_import:
        if opset.domain not in ("", "ai.onnx", "ai.onnx.ml"):
            raise ValueError(f"from_onnx: operator set {opset.domain!r} is not supported")
    result = _Walk(graph, token_input).run(output)
    return _build(result, ranks, tau)


# ---- the walk ---------------------------------------------------------------------------------


def _node_name(node) -> str:
    return f"{node.op_type} node {node.name or '(unnamed)'!r}"


def _attrs(node) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Walk:
    def __init__(self, graph, token_input: bool | None):
        self.graph = graph
        self.token_input = token_input
        self.values: dict[str, Any] = {"": None}
        self.producer = {out: node for node in graph.node for out in node.output}
        initializers = {t.name for t in graph.initializer}
        for t in graph.initializer:
            self.values[t.name] = to_array(t)
        inputs = [i for i in graph.input if i.name not in initializers]
        if len(inputs) != 1:
            raise ValueError(
                f"from_onnx: the graph must have exactly one input, it has "
                f"{[i.name for i in inputs]}"
            )
        self.values[inputs[0].name] = self._input_flow(inputs[0])
        self.input_name = inputs[0].name

    def _input_flow(self, value_info) -> _Flow:
        ttype = value_info.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
        axes = tuple(f"in{i}" for i in range(len(dims)))
        if ttype.elem_type == _FLOAT:
            return _Flow("input", axes, tuple(dims))
        if ttype.elem_type in (_INT32, _INT64):
            return _Flow("tokens", axes, tuple(dims))
        raise ValueError(
            f"from_onnx: input {value_info.name!r} has element type {ttype.elem_type}; "
            f"float32 vectors or integer token ids are supported"
        )

    # -- which output, and which nodes lead to it -----------------------------------------------
    def run(self, output: str | None) -> dict:
        names = [o.name for o in self.graph.output]
        floats = [o.name for o in self.graph.output if o.type.tensor_type.elem_type == _FLOAT]
        classes = None
        if output is None:
            zipmaps = [n for n in names if self._op(n) == "ZipMap"]
            if len(floats) == 1:
                output = floats[0]
            elif not floats and len(zipmaps) == 1:
                output = self.producer[zipmaps[0]].input[0]  # probabilities as a tensor
            else:
                raise ValueError(
                    f"from_onnx: the graph has outputs {names}; choose the one to convert "
                    f"with output="
                )
            for name in names:
                if name != output:
                    classes = classes if classes is not None else self._classes_of(name, output)
        elif output not in names:
            raise ValueError(f"from_onnx: the graph has no output {output!r} (it has {names})")
        needed = self._ancestors(output)
        for node in self.graph.node:
            if any(out in needed for out in node.output):
                self._eval(node)
        result = self.values.get(output)
        if not isinstance(result, _Flow):
            raise ValueError(f"from_onnx: output {output!r} does not depend on the input")
        return {"flow": result, "classes": classes}

    def _op(self, name: str) -> str | None:
        node = self.producer.get(name)
        return node.op_type if node is not None else None

    def _ancestors(self, output: str) -> set[str]:
        needed, stack = set(), [output]
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            node = self.producer.get(name)
            if node is not None:
                stack.extend(i for i in node.input if i)
        return needed

    def _classes_of(self, label: str, probabilities: str):
        """The class labels of a scikit-learn graph's label output, if it is exactly
        ``classes[ArgMax(probabilities)]`` (through Reshape, Cast, Identity, ZipMap's labels);
        None for any other output (it is not converted)."""
        node = self.producer.get(label)
        while node is not None and node.op_type in ("Cast", "Reshape", "Identity"):
            node = self.producer.get(node.input[0])
        if node is None:
            return None
        if node.op_type == "ZipMap":
            a = _attrs(node)
            labels = a.get("classlabels_int64s") or a.get("classlabels_strings")
            return [x.decode() if isinstance(x, bytes) else x for x in labels] if labels else None
        if node.op_type != "ArrayFeatureExtractor":
            return None
        table = self.values.get(node.input[0])
        arg = self.producer.get(node.input[1])
        if not isinstance(table, np.ndarray) or arg is None or arg.op_type != "ArgMax":
            return None
        if arg.input[0] != probabilities or _attrs(arg).get("axis", 0) not in (1, -1):
            return None
        return [x.decode() if isinstance(x, bytes) else x for x in table.reshape(-1).tolist()]

    # -- one node ---------------------------------------------------------------------------------
    def _eval(self, node) -> None:
        if node.domain not in ("", "ai.onnx") and (node.domain, node.op_type) not in _ML_OPS:
            raise ValueError(
                f"from_onnx: {_node_name(node)} of domain {node.domain!r} is not supported"
            )
        handler = getattr(self, f"_op_{node.op_type}", None)
        if handler is None:
            raise ValueError(
                f"from_onnx: {_node_name(node)}: operator {node.op_type} is not supported "
                f"(a CondMLP is Gemm/MatMul+Add layers with Relu between them; a GRUStack is "
                f"GRU layers with an embedding and a MatMul head)"
            )
        args = [self.values[i] if i in self.values else self._missing(node, i) for i in node.input]
        out = handler(node, _attrs(node), *args)
        outs = out if isinstance(out, tuple) else (out,)
        for name, value in zip(node.output, outs, strict=False):
            self.values[name] = value

    def _missing(self, node, name) -> NoReturn:
        raise ValueError(f"from_onnx: {_node_name(node)} reads {name!r}, which nothing defines")

    def _refuse(self, node, why: str) -> NoReturn:
        raise ValueError(f"from_onnx: {_node_name(node)}: {why}")

    def _flow_and_const(self, node, a, b):
        if isinstance(a, _Flow) and isinstance(b, np.ndarray):
            return a, b
        if isinstance(b, _Flow) and isinstance(a, np.ndarray):
            return b, a
        self._refuse(node, "expected the computed tensor and a constant")

    # -- constants and shapes --------------------------------------------------------------------
    def _op_Constant(self, node, a):
        if "value" not in a:
            self._refuse(node, f"only 'value' constants are supported, got {sorted(a)}")
        return to_array(a["value"])

    def _op_Shape(self, node, a, x):
        if not isinstance(x, _Flow) or "start" in a or "end" in a:
            self._refuse(node, "only the full shape of the computed tensor is supported")
        return _Shape(s if s is not None else ax for ax, s in zip(x.axes, x.sizes, strict=True))

    def _op_Gather(self, node, a, data, indices):
        if isinstance(data, _Shape) and isinstance(indices, np.ndarray):
            picked = [data[int(i)] for i in indices.reshape(-1)]
            return picked[0] if indices.ndim == 0 else _Shape(picked)
        if isinstance(data, np.ndarray) and isinstance(indices, np.ndarray):
            return np.take(data, indices, axis=a.get("axis", 0))
        if isinstance(data, np.ndarray) and isinstance(indices, _Flow):
            return self._embedding(node, a, data, indices)
        self._refuse(node, "only an embedding lookup or an index into a shape is supported")

    def _op_Unsqueeze(self, node, a, x, axes=None):
        axes = a.get("axes", axes)
        if isinstance(x, (str, int, np.integer)) and np.array_equal(np.ravel(axes), [0]):
            return _Shape([x if isinstance(x, str) else int(x)])
        if isinstance(x, np.ndarray) and axes is not None:
            return np.expand_dims(x, tuple(int(v) for v in np.ravel(axes)))
        self._refuse(node, "only a shape entry made a 1-D shape is supported")

    def _op_Concat(self, node, a, *parts):
        if any(isinstance(p, _Flow) for p in parts):
            return self._binary_columns(node, a, parts)
        if all(isinstance(p, np.ndarray) for p in parts):
            return np.concatenate(parts, axis=a["axis"])
        if a["axis"] != 0:
            self._refuse(node, "only shapes may be concatenated")
        entries: list = []
        for p in parts:
            entries += list(p) if isinstance(p, _Shape) else [int(v) for v in np.ravel(p)]
        return _Shape(entries)

    def _op_Expand(self, node, a, value, shape):
        if isinstance(value, np.ndarray) and not value.any():
            return _Zeros()
        self._refuse(node, "only an expanded zero (a GRU's initial state) is supported")

    def _op_ConstantOfShape(self, node, a, shape):
        value = to_array(a["value"]) if "value" in a else np.zeros(1)
        if value.any():
            self._refuse(node, "only a zero-filled tensor (a GRU's initial state) is supported")
        if isinstance(shape, np.ndarray):
            return np.zeros(tuple(int(v) for v in shape), value.dtype)
        return _Zeros()

    def _op_Slice(self, node, a, data, starts, ends, axes=None, steps=None):
        if isinstance(data, _Zeros):
            return data  # a slice of zeros (torch's initial state per layer) is zeros
        bounds = (starts, ends, axes, steps)
        if isinstance(data, (_Shape, np.ndarray)) and all(
            b is None or isinstance(b, np.ndarray) for b in bounds
        ):
            if np.ndim(data) == 1 and (axes is None or np.ravel(axes).tolist() in ([0], [-1])):
                step = 1 if steps is None else int(np.ravel(steps)[0])
                start, end = int(np.ravel(starts)[0]), int(np.ravel(ends)[0])
                picked = list(data)[slice(start, end, step)]
                return _Shape(picked) if isinstance(data, _Shape) else np.array(picked)
        self._refuse(node, "only slices of zeros or of a shape are supported")

    def _op_Cast(self, node, a, x):
        to = a["to"]
        if isinstance(x, np.ndarray):
            from onnx import helper

            return x.astype(helper.tensor_dtype_to_np_dtype(to))
        if isinstance(x, (_Shape, _Zeros)) and to in (_INT64, _INT32, _FLOAT):
            return x
        if isinstance(x, _Flow):
            integer = x.stage == "tokens"
            if (integer and to in (_INT64, _INT32)) or (not integer and to == _FLOAT):
                return x  # float32 stays float32, ids stay ids
            if x.stage == "onehot" and to == _FLOAT:
                return x
        self._refuse(node, f"a cast to type {to} would change the values")

    # -- layout -----------------------------------------------------------------------------------
    def _op_Identity(self, node, a, x):
        return x

    def _op_Dropout(self, node, a, x, *rest):
        return x  # the identity at inference (the mask output is never needed)

    def _op_Flatten(self, node, a, x):
        x = self._flow(node, x)
        if a.get("axis", 1) != 1:
            self._refuse(node, "only Flatten(axis=1) of the input is supported")
        return self._flatten(node, x)

    def _op_Reshape(self, node, a, x, shape):
        x = self._flow(node, x)
        if not isinstance(shape, (np.ndarray, _Shape)) or len(shape) != 2:
            self._refuse(node, "only a reshape to (batch, features) is supported")
        first, second = list(shape)
        batch_ok = first in (0, -1, x.axes[0]) or (
            isinstance(first, (int, np.integer)) and first == x.sizes[0] and second != -1
        )
        if not batch_ok:
            self._refuse(node, f"the first axis {first} must stay the batch axis")
        if x.stage == "input":
            y = self._flatten(node, x)
        else:
            y = x
        width = y.sizes[-1] if len(y.axes) == 2 else None
        if second not in (-1, width) or (first == -1 and second == -1):
            self._refuse(node, f"reshape to {list(shape)} does not keep (batch, features)")
        if len(y.axes) != 2:
            self._refuse(node, "only a reshape to (batch, features) is supported")
        return y

    def _flatten(self, node, x: _Flow) -> _Flow:
        if x.stage == "input":
            rest = x.sizes[1:]
            width = math.prod(s for s in rest if s is not None) if None not in rest else None
            return replace(x, axes=(x.axes[0], "feat"), sizes=(x.sizes[0], width))
        if len(x.axes) == 2:
            return x  # already (batch, features)
        self._refuse(node, "only the input may be flattened")

    def _op_Transpose(self, node, a, x):
        x = self._flow(node, x)
        perm = a.get("perm", list(range(len(x.axes)))[::-1])
        last = x.axes[perm[-1]] == x.axes[-1] and x.axes[-1] in ("feat", f"in{len(x.axes) - 1}")
        if not last or x.stage not in ("embedded", "onehot", "gru", "input"):
            self._refuse(node, "only transposes of sequence axes (features last) are supported")
        return replace(
            x, axes=tuple(x.axes[p] for p in perm), sizes=tuple(x.sizes[p] for p in perm)
        )

    def _op_Squeeze(self, node, a, x, axes=None):
        x = self._flow(node, x)
        axes = a.get("axes", axes)
        if axes is None or [x.axes[int(i)] for i in np.ravel(axes)] != ["dir"]:
            self._refuse(node, "only the direction axis of a GRU output may be squeezed")
        keep = [i for i, ax in enumerate(x.axes) if ax != "dir"]
        return replace(
            x, axes=tuple(x.axes[i] for i in keep), sizes=tuple(x.sizes[i] for i in keep)
        )

    def _flow(self, node, x) -> _Flow:
        if not isinstance(x, _Flow):
            self._refuse(node, "expected the tensor computed from the input")
        if x.stage == "activated" and node.op_type not in (*_PASS_THROUGH, "Reshape"):
            self._refuse(node, "nothing may follow the output activation")
        if x.stage == "gru_last_state":
            self._refuse(
                node,
                "reads a GRU's last state Y_h; a GRUStack gives the output of every step "
                "(only a graph whose layers read Y converts)",
            )
        return x

    # -- dense layers -----------------------------------------------------------------------------
    def _new_layer(self, node, x: _Flow, W: np.ndarray, b: np.ndarray) -> _Flow:
        """A dense layer ``W (out, in)``, ``b (out,)`` on ``x``."""
        if x.stage in ("gru", "embedded", "onehot"):
            return self._head(node, x, W, b)
        if x.stage == "input":
            if len(x.axes) != 2:
                self._refuse(node, f"the input of rank {len(x.axes)} must be flattened first")
        elif x.stage != "mlp":
            self._refuse(node, f"a dense layer cannot follow the {x.stage} stage")
        elif not x.relu:
            self._refuse(
                node,
                "two linear layers without a Relu between them (a CondMLP's hidden layers "
                "are ReLU layers)",
            )
        if x.sizes[-1] is not None and x.sizes[-1] != W.shape[1]:
            self._refuse(node, f"weight {W.shape} does not fit features of width {x.sizes[-1]}")
        if x.stage == "input" and "scale" in x.extra:  # fold x' = a * x + c: W a, b + W c
            scale, offset = x.extra["scale"], x.extra["offset"]
            if any(v.size not in (1, W.shape[1]) for v in (scale, offset)):
                self._refuse(
                    node,
                    f"the input scaling of {max(scale.size, offset.size)} values does not "
                    f"fit weight {W.shape}",
                )
            W, b = W * scale, b + W @ np.broadcast_to(offset, (W.shape[1],))
        return replace(
            x,
            stage="mlp",
            axes=(x.axes[0], "feat"),
            sizes=(x.sizes[0], W.shape[0]),
            layers=(*x.layers, (W, b)),
            relu=False,
        )

    def _op_MatMul(self, node, a, x, w):
        if not (isinstance(x, _Flow) and isinstance(w, np.ndarray)):
            self._refuse(node, "only (computed tensor) @ (constant matrix) is supported")
        x = self._flow(node, x)
        if w.ndim != 2:
            self._refuse(node, f"the weight must be a matrix, got shape {w.shape}")
        W = w.astype(np.float64).T
        return self._new_layer(node, x, W, np.zeros(W.shape[0]))

    def _op_Gemm(self, node, a, x, w, c=None):
        if not (isinstance(x, _Flow) and isinstance(w, np.ndarray)):
            self._refuse(node, "only Gemm(computed tensor, constant weight) is supported")
        x = self._flow(node, x)
        if a.get("transA", 0):
            self._refuse(node, "transA=1 (the batch as columns) is not supported")
        if len(x.axes) != 2 or w.ndim != 2:
            self._refuse(node, "Gemm needs a 2-D input and weight")
        # alpha and beta are folded into the weights and bias (in float64, rounded once).
        W = w.astype(np.float64) * a.get("alpha", 1.0)
        W = W if a.get("transB", 0) else W.T
        bias = np.zeros(W.shape[0])
        if c is not None:
            if not isinstance(c, np.ndarray):
                self._refuse(node, "the bias C must be a constant")
            bias = self._bias(node, c, W.shape[0]) * a.get("beta", 1.0)
        return self._new_layer(node, x, W, bias)

    def _bias(self, node, c: np.ndarray, width: int) -> np.ndarray:
        """A constant added to every row: shape (), (1,), (width,), (1, width), ..."""
        if c.size not in (1, width) or (c.ndim and c.shape[-1] not in (1, width)):
            self._refuse(node, f"constant of shape {c.shape} is not a bias of width {width}")
        if c.dtype.kind != "f":
            self._refuse(node, f"the bias must be floating point, got {c.dtype}")
        return np.broadcast_to(c.astype(np.float64).reshape(-1), (width,)).copy()

    def _op_Add(self, node, a, p, q):
        x, c = self._flow_and_const(node, p, q)
        x = self._flow(node, x)
        if x.stage == "input":
            return self._scale_input(node, x, np.ones(1), self._feature_constant(node, c))
        if x.stage == "head":
            W, b = x.head
            return replace(x, head=(W, b + self._bias(node, c, W.shape[0])))
        if x.stage != "mlp" or x.relu:
            self._refuse(node, "an Add must follow a MatMul (a layer's bias)")
        W, b = x.layers[-1]
        layers = (*x.layers[:-1], (W, b + self._bias(node, c, W.shape[0])))
        return replace(x, layers=layers)

    # -- a per-feature affine map of the input (scikit-learn's scalers) --------------------------
    def _scale_input(self, node, x: _Flow, scale, offset) -> _Flow:
        """``x' = scale * x + offset`` per feature on the graph's input, composed with any
        before it and folded into the first layer by `_new_layer`."""
        if x.stage != "input":
            self._refuse(
                node,
                f"{node.op_type} by a constant is folded only on the 2-D graph input (a "
                f"scaler before the first layer), not at the {x.stage} stage",
            )
        if len(x.axes) != 2:
            self._refuse(
                node,
                f"{node.op_type} by a constant is folded only on the 2-D graph input (a "
                f"scaler before the first layer), not on an input of rank {len(x.axes)}",
            )
        scale, offset = (np.asarray(v, np.float64).reshape(-1) for v in (scale, offset))
        width = x.sizes[-1]
        for v in (scale, offset):
            if v.size != 1 and (width is not None and v.size != width):
                self._refuse(node, f"a constant of {v.size} values does not fit {width} features")
        old_scale = x.extra.get("scale", np.ones(1))
        old_offset = x.extra.get("offset", np.zeros(1))
        sizes = {v.size for v in (scale, offset, old_scale, old_offset)} - {1}
        if len(sizes) > 1:
            self._refuse(node, f"input scalings of {sorted(sizes)} values do not fit each other")
        with np.errstate(invalid="ignore", over="ignore"):
            new = {"scale": scale * old_scale, "offset": scale * old_offset + offset}
        if not all(np.isfinite(v).all() for v in new.values()):
            self._refuse(node, "the input scaling is not finite")
        return replace(x, extra={**x.extra, **new})

    def _feature_constant(self, node, c: np.ndarray) -> np.ndarray:
        if c.dtype.kind != "f" or c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
            self._refuse(node, f"expected a float constant per feature, got {c.dtype} {c.shape}")
        return c.astype(np.float64).reshape(-1)

    def _op_Scaler(self, node, a, x):
        x = self._flow(node, x)
        scale = np.asarray(a.get("scale", [1.0]), np.float64).reshape(-1)
        offset = np.asarray(a.get("offset", [0.0]), np.float64).reshape(-1)
        if len({scale.size, offset.size} - {1}) > 1:
            self._refuse(node, f"scale of {scale.size} and offset of {offset.size} values")
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite: refused below
            return self._scale_input(node, x, scale, -offset * scale)  # (x - offset) * scale

    def _op_Mul(self, node, a, p, q):
        x, c = self._flow_and_const(node, p, q)
        c = self._feature_constant(node, c)
        return self._scale_input(node, self._flow(node, x), c, np.zeros(1))

    def _op_Div(self, node, a, p, q):
        if not (isinstance(p, _Flow) and isinstance(q, np.ndarray)):
            self._refuse(node, "only (input) / (constant) is folded (a scaler)")
        c = self._feature_constant(node, q)
        if not np.all(c != 0):
            self._refuse(node, "division by zero in the input scaling")
        return self._scale_input(node, self._flow(node, p), 1.0 / c, np.zeros(1))

    def _op_Relu(self, node, a, x):
        x = self._flow(node, x)
        if x.stage != "mlp":
            self._refuse(node, "a Relu must follow a dense layer")
        return replace(x, relu=True)

    def _output_activation(self, node, a, x, default_axis):
        x = self._flow(node, x)
        if x.stage not in ("mlp", "head") or x.relu:
            self._refuse(node, "an output activation must follow the last (linear) layer")
        if x.stage == "head":
            self._refuse(
                node,
                "a GRUStack computes logits; export the graph without the trailing "
                f"{node.op_type} and apply it to the logits",
            )
        if node.op_type != "Sigmoid":
            axis = a.get("axis", default_axis)
            if axis not in (-1, len(x.axes) - 1):
                self._refuse(node, f"only the feature axis is supported, got axis {axis}")
        return replace(x, stage="activated", activation=_OUTPUT_ACTIVATIONS[node.op_type])

    def _op_Softmax(self, node, a, x):
        return self._output_activation(node, a, x, -1)

    def _op_LogSoftmax(self, node, a, x):
        return self._output_activation(node, a, x, -1)

    def _op_Sigmoid(self, node, a, x):
        return self._output_activation(node, a, x, -1)

    def _op_Sub(self, node, a, p, q):
        """scikit-learn's binary classifier: ``1 - sigmoid(z)``, the first of two columns;
        or a constant taken from the graph's input (a scaler)."""
        if isinstance(p, _Flow) and p.stage == "input" and isinstance(q, np.ndarray):
            return self._scale_input(node, p, np.ones(1), -self._feature_constant(node, q))
        if isinstance(q, _Flow) and q.stage == "input" and isinstance(p, np.ndarray):
            c = self._feature_constant(node, p)  # c - x
            return self._scale_input(node, q, -np.ones(1), c)
        if (
            isinstance(p, np.ndarray)
            and p.size == 1
            and float(p.reshape(-1)[0]) == 1.0
            and isinstance(q, _Flow)
            and q.activation == "sigmoid"
            and not q.binary_columns
            and q.sizes[-1] == 1
        ):
            return replace(q, binary_columns="one_minus")
        self._refuse(node, "only 1 - sigmoid(logit) of a single-output classifier is supported")

    def _binary_columns(self, node, a, parts):
        if (
            len(parts) == 2
            and a.get("axis") in (1, -1)
            and isinstance(parts[0], _Flow)
            and parts[0].binary_columns == "one_minus"
            and isinstance(parts[1], _Flow)
            and parts[1].activation == "sigmoid"
            and not parts[1].binary_columns
            and parts[0].layers is parts[1].layers
        ):
            return replace(parts[1], binary_columns="pair", sizes=(parts[1].sizes[0], 2))
        self._refuse(node, "only the [1 - p, p] columns of a binary classifier are supported")

    # -- GRU --------------------------------------------------------------------------------------
    def _embedding(self, node, a, table, ids: _Flow) -> _Flow:
        if ids.stage != "tokens" or a.get("axis", 0) != 0 or table.ndim != 2:
            self._refuse(node, "only an embedding lookup table[ids] of token ids is supported")
        if table.dtype.kind != "f":
            self._refuse(node, f"the embedding table must be floating point, got {table.dtype}")
        return replace(
            ids,
            stage="embedded",
            axes=(*ids.axes, "feat"),
            sizes=(*ids.sizes, table.shape[1]),
            embedding=table,
        )

    def _op_OneHot(self, node, a, ids, depth, values):
        if not isinstance(ids, _Flow) or ids.stage != "tokens":
            self._refuse(node, "only a one-hot of the input's token ids is supported")
        if a.get("axis", -1) != -1 or not isinstance(depth, np.ndarray):
            self._refuse(node, "only a one-hot along a new last axis, of constant depth")
        if not isinstance(values, np.ndarray) or np.ravel(values).tolist() != [0, 1]:
            self._refuse(node, "only one-hot values [off, on] = [0, 1] are supported")
        return replace(
            ids,
            stage="onehot",
            axes=(*ids.axes, "feat"),
            sizes=(*ids.sizes, int(np.ravel(depth)[0])),
        )

    def _op_GRU(self, node, a, x, W, R, B=None, seq_lens=None, initial_h=None):
        x = self._flow(node, x)
        if a.get("direction", "forward") != "forward":
            self._refuse(node, f"direction {a['direction']!r}: only forward GRUs are supported")
        if a.get("linear_before_reset", 0) != 1:
            self._refuse(
                node,
                "linear_before_reset=0 (the reset gate applied before the recurrent product, "
                "Keras' reset_after=False) is not supported; ccinfer computes "
                "linear_before_reset=1, as torch.nn.GRU and torch.onnx.export do",
            )
        acts = [s.decode() if isinstance(s, bytes) else s for s in a.get("activations", [])]
        if acts and [s.lower() for s in acts] != ["sigmoid", "tanh"]:
            self._refuse(node, f"activations {acts}: only the default Sigmoid, Tanh")
        for name in ("clip", "activation_alpha", "activation_beta"):
            if name in a:
                self._refuse(node, f"attribute {name!r} is not supported")
        if seq_lens is not None:
            self._refuse(node, "sequence_lens is not supported (every stream runs every step)")
        if initial_h is not None and not (
            isinstance(initial_h, _Zeros)
            or (isinstance(initial_h, np.ndarray) and not initial_h.any())
        ):
            self._refuse(node, "only a zero initial state is supported")
        if not all(isinstance(v, np.ndarray) for v in (W, R)) or (
            B is not None and not isinstance(B, np.ndarray)
        ):
            self._refuse(node, "the weights W, R and B must be constants")
        h = int(a.get("hidden_size", R.shape[-1]))
        if W.ndim != 3 or W.shape[:2] != (1, 3 * h) or R.shape != (1, 3 * h, h):
            self._refuse(node, f"weights of shapes {W.shape}, {R.shape} do not fit hidden {h}")
        if B is not None and B.shape != (1, 6 * h):
            self._refuse(node, f"bias of shape {B.shape} does not fit hidden {h}")
        layout = a.get("layout", 0)
        if x.stage not in ("embedded", "onehot", "gru", "input") or len(x.axes) != 3:
            self._refuse(node, "the input must be a (time, batch, features) sequence")
        time_batch = (x.axes[0], x.axes[1]) if layout == 0 else (x.axes[1], x.axes[0])
        if x.time_batch is not None and x.time_batch != time_batch:
            self._refuse(node, "the time and batch axes differ from the previous GRU's")
        d = W.shape[2]
        if x.sizes[2] is not None and x.sizes[2] != d and x.stage != "embedded":
            self._refuse(node, f"input width {x.sizes[2]} does not fit W of shape {W.shape}")
        # ONNX stores the gates z, r, h; PyTorch and ccinfer r, z, n.
        order = np.concatenate([np.arange(h, 2 * h), np.arange(0, h), np.arange(2 * h, 3 * h)])
        bias = np.zeros((1, 6 * h)) if B is None else B
        layer = {
            "kind": "dense",
            "W_ih": W[0].astype(np.float64)[order],
            "W_hh": R[0].astype(np.float64)[order],
            "b_ih": bias[0, : 3 * h].astype(np.float64)[order],
            "b_hh": bias[0, 3 * h :].astype(np.float64)[order],
        }
        token_input = x.token_input
        if x.stage == "embedded":
            E = x.embedding.astype(np.float64)
            if E.shape[1] != d:
                self._refuse(node, f"embedding width {E.shape[1]} != GRU input width {d}")
            layer["W_ih"] = layer["W_ih"] @ E.T  # one rounding, in float64
            token_input = True
        elif x.stage == "onehot":
            token_input = True
        elif x.stage == "input":
            token_input = bool(self.token_input)
        elif x.stage == "gru" and x.extra.get("used_y_h"):
            self._refuse(node, "only a GRU's full output Y may feed the next GRU")
        t_ax, b_ax = time_batch
        y_axes = (t_ax, "dir", b_ax, "feat") if layout == 0 else (b_ax, t_ax, "dir", "feat")
        sizes = dict(zip(x.axes, x.sizes, strict=True))
        y = replace(
            x,
            stage="gru",
            axes=y_axes,
            sizes=(*(sizes.get(ax, 1 if ax == "dir" else h) for ax in y_axes[:3]), h),
            layers=(*x.layers, layer),
            token_input=token_input,
            time_batch=time_batch,
            embedding=None,
        )
        y_h = replace(y, stage="gru_last_state")
        return y, y_h

    def _head(self, node, x: _Flow, W: np.ndarray, b: np.ndarray) -> _Flow:
        if x.stage != "gru" or "dir" in x.axes:
            self._refuse(
                node,
                "a dense layer on a sequence must be the head after the last GRU (its "
                "direction axis squeezed)",
            )
        if x.sizes[-1] != W.shape[1]:
            self._refuse(node, f"head weight {W.shape} does not fit hidden {x.sizes[-1]}")
        return replace(x, stage="head", head=(W, b), sizes=(*x.sizes[:-1], W.shape[0]))


# ---- the model --------------------------------------------------------------------------------


def _build(result: dict, ranks, tau):
    from ..gru import GRUStack
    from ..mlp import CondMLP

    flow: _Flow = result["flow"]
    if flow.binary_columns == "one_minus":
        raise ValueError("from_onnx: the output is 1 - sigmoid(logit) alone: not supported")
    if flow.stage in ("mlp", "activated") and flow.layers and isinstance(flow.layers[0], tuple):
        if flow.relu:
            raise ValueError(
                "from_onnx: the last layer is followed by a Relu; a CondMLP's output layer "
                "is linear"
            )
        weights = [
            as_float32_matrix(f"layer {i} weight", W) for i, (W, _) in enumerate(flow.layers)
        ]
        biases = [as_float32_matrix(f"layer {i} bias", b) for i, (_, b) in enumerate(flow.layers)]
        kwargs: dict[str, Any] = {}
        if flow.activation != "identity":
            kwargs["output_activation"] = flow.activation
        if result["classes"] is not None:
            kwargs["classes"] = result["classes"]
        return CondMLP.from_dense(weights, biases, ranks=ranks, tau=tau, **kwargs)
    if flow.stage in ("gru", "head"):
        if ranks is not None:
            raise ValueError("from_onnx: ranks are for MLPs; a GRU graph gives a dense GRUStack")
        h = flow.layers[-1]["W_hh"].shape[1]
        W, b = flow.head if flow.head is not None else (np.eye(h), np.zeros(h))
        layers = [
            {
                k: v if k == "kind" else as_float32_matrix(f"GRU {i} {k}", v)
                for k, v in layer.items()
            }
            for i, layer in enumerate(flow.layers)
        ]
        output = (as_float32_matrix("head weight", W), as_float32_matrix("head bias", b))
        return GRUStack(layers, output, token_input=flow.token_input)
    if flow.stage == "gru_last_state":
        raise ValueError(
            "from_onnx: the output is computed from a GRU's last state Y_h; a GRUStack gives "
            "the output of every step (convert a graph whose head reads Y)"
        )
    raise ValueError(f"from_onnx: the output computes no layer of a supported model ({flow.stage})")


__all__ = ["from_onnx"]
