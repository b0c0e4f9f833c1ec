"""What every benchmark table must carry: the machine, the build and its memory bandwidth.

``describe()`` reads the CPU model from /proc/cpuinfo, the caches from sysfs and ccinfer's
``build_info()`` (ISA, OpenBLAS version and core). The pytest-benchmark hook below adds it to
the JSON's ``machine_info["ccinfer"]`` together with a STREAM-style probe of the memory
bandwidth (``ccinfer.kernels.memory_bandwidth``, 3 x 128 MB, at 1 thread and at all threads),
measured in the same session as the suites. The hook runs only when a JSON is written.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import ccinfer

PROBE_MB = 128.0  # per array: 4x the 32 MiB last-level cache (STREAM's rule)


def cpu_model() -> str:
    """The ``model name`` of the first CPU in /proc/cpuinfo ("?" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def caches() -> str:
    """The caches of CPU 0 from sysfs, e.g. "L1d 48K, L1i 32K, L2 1024K, L3 32768K (shared
    by 0-1)"; "?" where sysfs has none."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    parts = []
    for index in sorted(base.glob("index*")):
        try:
            level, kind, size, shared = (
                (index / name).read_text().strip()
                for name in ("level", "type", "size", "shared_cpu_list")
            )
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        parts.append(
            f"L{level}{suffix} {size}" + (f" (shared by {shared})" if "-" in shared else "")
        )
    return ", ".join(parts) or "?"


def describe() -> dict:
    """CPU, caches, logical CPUs, ccinfer's ISA and thread count, OpenBLAS, compiler, date."""
    info = ccinfer.build_info()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "caches": caches(),
        "isa": info["active_isa"],
        "available_isas": info["available_isas"],
        "threads": ccinfer.get_num_threads(),
        "openblas": info["openblas_config"],
        "openblas_corename": info["openblas_corename"],
        "compiler": info["compiler"],
        "ccinfer_version": info["version"],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def probe_bandwidth(mb: float = PROBE_MB) -> list[dict]:
    """The memory-bandwidth probe at 1 thread and at ccinfer's thread count (if more)."""
    counts = sorted({1, ccinfer.get_num_threads()})
    return [ccinfer.kernels.memory_bandwidth(mb, threads=t, repeats=10) for t in counts]


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add ``describe()`` and the bandwidth probe to the JSON pytest-benchmark writes."""
    machine_info["ccinfer"] = describe() | {"memory_bandwidth": probe_bandwidth()}
