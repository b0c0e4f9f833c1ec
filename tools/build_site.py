"""Import ccinfer from a given directory (a build installed with ``pip install --target``),
for the tools that run an older build beside the current one."""

from __future__ import annotations

import sys
from pathlib import Path


def import_ccinfer(site: str | Path | None):
    """``import ccinfer`` from ``site`` (None: whichever ccinfer this Python finds). An editable
    install registers an import finder that would redirect ``ccinfer`` to the checkout ahead
    of sys.path, so it is taken out first; the import is checked to come from ``site``."""
    if site is not None:
        site = Path(site).resolve()
        sys.meta_path[:] = [f for f in sys.meta_path if "_editable_" not in type(f).__module__]
        sys.path.insert(0, str(site))
    import ccinfer

    where = Path(ccinfer.__file__).resolve()
    if site is not None and site not in where.parents:
        raise SystemExit(f"imported ccinfer from {where}, not from {site}")
    return ccinfer
