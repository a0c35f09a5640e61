"""One connection per engine for the whole run, parametrised as ``engine_con``.

- ``duckdb``: embedded, always there.
- ``postgres``: the server at ``EVALKIT_DATABASE_URL`` if that is set; else a throw-away server
  (``scripts/postgres.sh`` with its data folder in a temporary directory and a free port),
  stopped and removed at the end of the run, so the tests never touch anyone's ``.postgres/``.
  On that server the tests use a database as a warehouse has it: collation ICU ``en-GB``
  (``"P2"`` sorts after ``"p10"``), not the server's byte order, and time zone
  ``Europe/London``, so that an ordering left to the collation, or a date read through the
  session's time zone, shows up as a difference. Each test that loads tables does so
  into a schema of its own (``EVALKIT_DATABASE_SCHEMA``), dropped after it.
- ``spark``: one local session for the run (``engines.connect`` keeps it), master
  ``local[1]``, one shuffle partition: the inputs are a few hundred rows.

An engine that cannot run here (no PostgreSQL server binaries, no Java, no PySpark) is a
visible skip with the reason, or a failure when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalkit import config, engines
from evalkit.cohort import Cohort, build_cohort, build_panel

ROOT = Path(__file__).resolve().parents[2]
SPARK_MASTER = "local[1]"
WAREHOUSE_DATABASE = "evalkit_engine_tests"


def unavailable(kind: str, reason: str) -> None:
    """Skip (locally) or fail (``CI`` set) because engine ``kind`` cannot run here."""
    message = f"engine {kind} unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so every engine must run)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_binaries() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("pg_ctl"))


def _psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql)


def _warehouse_database(url: str) -> str:
    """Create a database as a warehouse has it (ICU en-GB collation, UK time); its URL."""
    base = url.rsplit("/", 1)[0]
    _psql(
        url,
        f"CREATE DATABASE {WAREHOUSE_DATABASE} TEMPLATE template0 ENCODING 'UTF8' "
        "LOCALE_PROVIDER icu ICU_LOCALE 'en-GB' LOCALE 'C.UTF-8'",
    )
    _psql(url, f"ALTER DATABASE {WAREHOUSE_DATABASE} SET timezone TO 'Europe/London'")
    return f"{base}/{WAREHOUSE_DATABASE}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the run (``EVALKIT_DATABASE_URL``, else a throw-away one)."""
    if importlib.util.find_spec("psycopg") is None:
        unavailable("postgres", "psycopg is not installed (pip install 'evalkit[postgres]')")
    given = os.environ.get("EVALKIT_DATABASE_URL")
    if given and given.startswith(("postgres://", "postgresql://")):
        yield given
        return
    if not _server_binaries():
        unavailable(
            "postgres", "no PostgreSQL server binaries (Debian: apt-get install postgresql)"
        )
    # Not pytest's tmp_path: as root the server runs as another user, who must reach the folder.
    tmp = Path(tempfile.mkdtemp(prefix="evalkit-engine-tests-pg-"))
    env = {**os.environ, "EVALKIT_PG_DIR": str(tmp / "pg"), "EVALKIT_PG_PORT": str(_free_port())}
    script = ["bash", str(ROOT / "scripts" / "postgres.sh")]
    try:
        started = subprocess.run(
            [*script, "start"], env=env, capture_output=True, text=True, timeout=120
        )
        if started.returncode != 0:
            pytest.fail(f"scripts/postgres.sh start failed: {started.stderr.strip()}")
        url = subprocess.run(
            [*script, "url"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        yield _warehouse_database(url)
    finally:
        subprocess.run([*script, "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- the engines
@dataclass
class EngineCon:
    """One engine's session-wide connection."""

    kind: str
    con: Any
    url: str | None = None


def _connect(kind: str, request: pytest.FixtureRequest) -> EngineCon:
    if kind == "duckdb":
        return EngineCon("duckdb", engines.connect(engines.choose("duckdb")))
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        return EngineCon("postgres", engines.connect(engines.choose("postgres", url)), url)
    if importlib.util.find_spec("pyspark") is None:
        unavailable("spark", "PySpark is not installed (pip install 'evalkit[spark]')")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        unavailable("spark", "no Java runtime (Debian: apt-get install default-jre-headless)")
    con = engines.connect(engines.choose("spark", SPARK_MASTER))
    con._session.conf.set("spark.sql.shuffle.partitions", "1")
    return EngineCon("spark", con, SPARK_MASTER)


@pytest.fixture(scope="package", params=engines.ENGINES)
def engine_con(request: pytest.FixtureRequest) -> Iterator[EngineCon]:
    """Each engine in turn, connected once for this package's tests.

    Spark's session and JVM are stopped after its tests: an idle JVM kept taking a fifth of a
    core through the rest of ``make test``.
    """
    con = _connect(request.param, request)
    yield con
    if con.kind == "spark":
        engines.stop_spark()


@pytest.fixture(scope="session")
def duckdb_con(request: pytest.FixtureRequest) -> EngineCon:
    """DuckDB alone: the baseline the differential test compares every engine with."""
    return _connect("duckdb", request)


@dataclass
class EngineRun:
    """Builds cohorts and panels on one engine; on PostgreSQL, in this test's own schema."""

    engine: EngineCon
    schema: str
    loaded: list[Path] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.engine.kind

    def load(self, data_dir: Path) -> None:
        """Put the processed tables where the engine reads them (PostgreSQL: the schema)."""
        if self.kind == "postgres":
            choice = engines.EngineChoice("postgres", self.engine.url, self.schema)
            engines.load_postgres(choice, data_dir, tables=("population", "activity", "referrals"))
        self.loaded.append(data_dir)

    def cohort(
        self, data_dir: Path, programme: config.Programme | None = None, **kw: Any
    ) -> Cohort:
        """``build_cohort`` on this engine (mindsong and the default unit costs by default)."""
        self.load(data_dir)
        return build_cohort(
            data_dir,
            programme or mindsong(),
            unit_costs=config.load_unit_costs(),
            con=self.engine.con,
            **kw,
        )

    def panel(self, cohort: Cohort, matched: pd.DataFrame | None = None, **kw: Any) -> Any:
        """``build_panel`` on this engine."""
        return build_panel(cohort, matched, con=self.engine.con, **kw)


def mindsong() -> config.Programme:
    """Adults 18-120 with COPD or asthma; 12 baseline months; elective admissions as control."""
    return config.load_programme("mindsong")


def _drop_schema(run: EngineRun) -> None:
    import psycopg

    with psycopg.connect(run.engine.url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{run.schema}" CASCADE')


@pytest.fixture
def engine(engine_con: EngineCon, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineRun]:
    """``engine_con`` for one test: on PostgreSQL a schema of its own, dropped afterwards."""
    run = EngineRun(engine_con, f"evalkit_test_{uuid.uuid4().hex[:10]}")
    if engine_con.kind == "postgres":
        monkeypatch.setenv("EVALKIT_DATABASE_SCHEMA", run.schema)
    yield run
    if engine_con.kind == "postgres" and run.loaded:
        _drop_schema(run)
