"""PyTorch training references; needs the ``torch`` extra (``pip install ccinfer[torch]``)."""

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "ccinfer.train needs PyTorch, which is not installed: pip install ccinfer[torch]"
    ) from exc
