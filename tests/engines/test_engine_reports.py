"""Every programme's report is the same whichever engine prepared the data (marker ``slow``).

The demo county (60,000 people, seed 42) is built once into a temporary folder; ``evalkit
reports`` (all programmes and the comparison page) then runs on DuckDB, on PostgreSQL (the
processed tables loaded into a schema of the test's own by the command itself) and on Spark in
local mode. ``results.json`` must be equal whole except ``engine`` (which names the engine), and
every table CSV byte for byte. Several minutes on 2 cores (Spark about twice DuckDB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.engines]

ROOT = Path(__file__).resolve().parents[2]
PROGRAMMES = ("mindsong", "cyp", "chronic_pain")


def _reports(engine: str, out: Path, demo: Path, raw: Path, env: dict[str, str]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "evalkit.cli",
        "reports",
        "--engine",
        engine,
        "--reports",
        str(out),
        "--demo",
        str(demo),
        "--raw",
        str(raw),
        "--processed",
        str(out.parent / "no_real_data"),
        "--no-progress",
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, f"{engine}: {done.stderr[-3000:]}"
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engine_reports")
    raw = base / "raw"
    raw.mkdir()
    env = {
        **os.environ,
        "EVALKIT_DATABASE_URL": postgres_url,
        "EVALKIT_DATABASE_SCHEMA": "engine_reports_test",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
    }
    out = {}
    for engine in ("duckdb", "postgres", "spark"):
        out[engine] = base / f"reports_{engine}"
        run_env = {**env, "EVALKIT_DATABASE_URL": "local[2]"} if engine == "spark" else env
        _reports(engine, out[engine], base / "demo", raw, run_env)
    return out


@pytest.mark.parametrize("engine", ["postgres", "spark"])
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_results_equal_except_engine(built: dict[str, Path], engine: str, programme: str) -> None:
    ref = json.loads((built["duckdb"] / programme / "results.json").read_text())
    got = json.loads((built[engine] / programme / "results.json").read_text())
    assert got["engine"]["kind"] == engine and ref["engine"]["kind"] == "duckdb"
    differing = sorted(k for k in ref.keys() | got.keys() if ref.get(k) != got.get(k))
    assert differing == ["engine"]


@pytest.mark.parametrize("engine", ["postgres", "spark"])
@pytest.mark.parametrize("programme", PROGRAMMES)
def test_tables_byte_identical(built: dict[str, Path], engine: str, programme: str) -> None:
    ref_dir, got_dir = built["duckdb"] / programme, built[engine] / programme
    names = sorted(p.name for p in ref_dir.glob("*.csv"))
    assert names, f"no tables in {ref_dir}"
    assert names == sorted(p.name for p in got_dir.glob("*.csv"))
    differ = [n for n in names if (ref_dir / n).read_bytes() != (got_dir / n).read_bytes()]
    assert differ == []
