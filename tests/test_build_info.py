import os
import subprocess
import sys

import pytest
import scipy_openblas64

import ccinfer


def test_build_info_fields():
    info = ccinfer.build_info()
    assert info["version"] == ccinfer.__version__
    assert "scalar" in info["compiled_isas"]
    assert info["active_isa"] in info["available_isas"]
    assert set(info["available_isas"]) <= set(info["compiled_isas"])
    assert info["omp_max_threads"] >= 1
    assert info["openblas_num_threads"] >= 1
    assert "USE64BITINT" in info["openblas_config"]


def test_links_scipy_openblas64_library():
    """The library our BLAS calls are bound to is the scipy-openblas64 wheel's (not numpy's)."""
    lib = ccinfer.build_info()["openblas_library"]
    expected = os.path.join(scipy_openblas64.get_lib_dir(), scipy_openblas64.get_library(True))
    assert os.path.realpath(lib) == os.path.realpath(expected)


def test_best_isa_active_by_default():
    code = "import ccinfer; i = ccinfer.build_info(); print(i['active_isa'], i['available_isas'])"
    env = {k: v for k, v in os.environ.items() if k != "CCINFER_ISA"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    available = ccinfer.available_isas()
    assert out[0] == available[-1]


@pytest.mark.parametrize("name", ccinfer.available_isas())
def test_env_forces_isa(name):
    code = "import ccinfer; print(ccinfer.get_isa())"
    env = dict(os.environ, CCINFER_ISA=name)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == name


def test_env_unknown_isa_is_value_error():
    env = dict(os.environ, CCINFER_ISA="sse9")
    proc = subprocess.run(
        [sys.executable, "-c", "import ccinfer"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and "unknown ISA 'sse9'" in proc.stderr


def test_set_isa_round_trip():
    previous = ccinfer.get_isa()
    try:
        for name in ccinfer.available_isas():
            ccinfer.set_isa(name)
            assert ccinfer.get_isa() == name
            assert ccinfer.build_info()["active_isa"] == name
    finally:
        ccinfer.set_isa(previous)


def test_set_isa_rejects_unknown_and_unavailable():
    with pytest.raises(ValueError, match="unknown ISA 'neon'"):
        ccinfer.set_isa("neon")
    missing = [i for i in ("scalar", "avx2", "avx512") if i not in ccinfer.available_isas()]
    for name in missing:
        with pytest.raises(ValueError, match="not available"):
            ccinfer.set_isa(name)


def test_thread_setter_round_trip():
    previous = ccinfer.get_num_threads()
    try:
        for n in (1, 2, 3):
            ccinfer.set_num_threads(n)
            assert ccinfer.get_num_threads() == n
            info = ccinfer.build_info()
            assert info["omp_max_threads"] == n
            assert info["openblas_num_threads"] == n
    finally:
        ccinfer.set_num_threads(previous)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_thread_setter_rejects(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be"):
        ccinfer.set_num_threads(bad)


def test_cli_info_runs():
    out = subprocess.run(
        [sys.executable, "-m", "ccinfer", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert '"openblas_library"' in out
