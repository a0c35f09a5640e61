"""Where the data lives: DuckDB over Parquet (default), a PostgreSQL warehouse, or Spark.

The cohort layer, the study's small tables and the equity person-time are Ibis expressions, so
the same definitions run on any of three engines; this module is the one place that knows how to
reach each and how a processed table is found on it:

- ``duckdb``: embedded, no server; the processed Parquet files are read in place
  (:mod:`evalkit.engine` holds its SQL);
- ``postgres``: a PostgreSQL server at ``EVALKIT_DATABASE_URL`` holding the processed tables in a
  schema of their own (``evalkit_processed`` unless ``EVALKIT_DATABASE_SCHEMA`` says otherwise),
  put there by ``evalkit load --engine postgres`` (:func:`load_postgres`), as an ICB's warehouse
  would hold them;
- ``spark``: a Spark session (master ``EVALKIT_DATABASE_URL``, default ``local[2]``) reading the
  processed Parquet; the same code targets a cluster when the master and the path say so.

The choice travels in the environment (``EVALKIT_ENGINE``), so a report's kernel, started by
papermill, prepares data on the engine the command was given. Connections to a server or a
Spark session are opened once per process and reused.

Semantics that differ between engines are pinned in the expressions, not left to the engine
(``docs/engines.md``, "Semantics pinned", each with the test that holds it on all three): month
arithmetic compiles to each engine's interval arithmetic, which clamps the day at month ends
alike; day counts are ``epoch_days`` differences of dates (no time zones); text is ordered as
UTF-8 bytes where order matters (``Tables.byte_order``); results fetched into pandas are sorted
by the caller; sums are of integers; NULLs are filled before they are compared or summed.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from evalkit import engine

__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_SPARK_MASTER",
    "ENGINES",
    "EngineChoice",
    "EngineChoiceError",
    "choose",
    "connect",
    "ensure_loaded",
    "kind_of",
    "load_postgres",
    "loaded_matches",
    "materialize",
    "open_table",
    "provenance",
    "spark_available",
    "stop_spark",
    "upload",
    "use",
]

#: The engines a command can prepare data on (``--engine``).
ENGINES: tuple[str, ...] = ("duckdb", "postgres", "spark")
#: The PostgreSQL schema holding the processed tables (``EVALKIT_DATABASE_SCHEMA`` overrides).
DEFAULT_SCHEMA = "evalkit_processed"
#: Spark master when ``EVALKIT_DATABASE_URL`` does not give one: local, the machine's two cores.
DEFAULT_SPARK_MASTER = "local[2]"
ENV_ENGINE = "EVALKIT_ENGINE"
ENV_URL = "EVALKIT_DATABASE_URL"
ENV_SCHEMA = "EVALKIT_DATABASE_SCHEMA"
#: How a Spark master URL starts (local mode, standalone, YARN, Kubernetes, Spark Connect).
SPARK_MASTERS: tuple[str, ...] = ("local", "spark://", "yarn", "k8s://", "sc://")
#: Processed tables ``evalkit load`` writes into a warehouse (the contract's and intake's episodes).
LOAD_TABLES: tuple[str, ...] = ("population", "activity", "referrals", "measures", "episodes")


@dataclass(frozen=True)
class EngineChoice:
    """The engine that prepares data, with its connection details."""

    kind: str = "duckdb"
    url: str | None = None
    schema: str = DEFAULT_SCHEMA

    def describe(self) -> str:
        """For logs and provenance: the kind and where, with any password removed."""
        if self.kind == "duckdb":
            return "duckdb (embedded, processed Parquet)"
        if self.kind == "postgres":
            return f"postgres {_redact(self.url or '')} schema {self.schema}"
        return f"spark {self.url or DEFAULT_SPARK_MASTER}"

    def record(self) -> dict[str, str | None]:
        """The engine as recorded in a report's provenance (no credentials)."""
        where = None if self.kind == "duckdb" else _redact(self.url or "") or DEFAULT_SPARK_MASTER
        schema = self.schema if self.kind == "postgres" else None
        return {"kind": self.kind, "where": where, "schema": schema}


class EngineChoiceError(ValueError):
    """The engine asked for cannot be used as given (unknown kind, no URL); says what to do."""


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def choose(kind: str | None = None, url: str | None = None) -> EngineChoice:
    """The engine from the arguments, else from the environment, else embedded DuckDB.

    Raises
    ------
    EngineChoiceError
        ``kind`` is not one of :data:`ENGINES`, or PostgreSQL is chosen without a URL.
    """
    kind = (kind or os.environ.get(ENV_ENGINE) or "duckdb").strip().lower()
    if kind not in ENGINES:
        raise EngineChoiceError(f"engine must be one of {', '.join(ENGINES)}, not {kind!r}")
    url = url or os.environ.get(ENV_URL) or None
    schema = os.environ.get(ENV_SCHEMA) or DEFAULT_SCHEMA
    if kind == "postgres" and not url:
        raise EngineChoiceError(
            "--engine postgres needs the server's URL in EVALKIT_DATABASE_URL, e.g. "
            "postgresql://evalkit@127.0.0.1:54329/evalkit (`make postgres` starts one, prints it)"
        )
    if kind == "postgres" and not url.startswith(("postgres://", "postgresql://")):
        raise EngineChoiceError(f"EVALKIT_DATABASE_URL is not a PostgreSQL URL: {_redact(url)}")
    if kind == "spark" and url and url.startswith(("postgres://", "postgresql://")):
        url = None  # the warehouse's URL left in the environment: Spark uses its default master
    if kind == "spark" and url and not url.startswith(SPARK_MASTERS):
        raise EngineChoiceError(
            f"EVALKIT_DATABASE_URL is not a Spark master ({', '.join(SPARK_MASTERS)}...): {url}"
        )
    if kind == "duckdb":
        url = None
    return EngineChoice(kind, url, schema)


def provenance(choice: EngineChoice | None = None) -> dict[str, str | None]:
    """The engine as a report records it: kind, where, schema and the engine's own version."""
    choice = choice or choose()
    out = choice.record()
    if choice.kind == "duckdb":
        from importlib import metadata

        out["version"] = metadata.version("duckdb")
    else:
        out["version"] = str(connect(choice).version)
    return out


def use(choice: EngineChoice) -> None:
    """Make ``choice`` this process's engine, and its children's (papermill kernels)."""
    os.environ[ENV_ENGINE] = choice.kind
    if choice.url:
        os.environ[ENV_URL] = choice.url
    os.environ[ENV_SCHEMA] = choice.schema


def connect(choice: EngineChoice | None = None) -> Any:
    """An Ibis connection to the chosen engine (default: :func:`choose` from the environment).

    DuckDB gets a new embedded connection each call (cheap; 2 threads); PostgreSQL and Spark one
    per process, reused, since opening a Spark session takes seconds.
    """
    choice = choice or choose()
    if choice.kind == "duckdb":
        return engine.connect()
    return _server_connection(choice.kind, choice.url, choice.schema)


@lru_cache(maxsize=4)
def _server_connection(kind: str, url: str | None, schema: str) -> Any:
    if kind == "postgres":
        try:
            return ibis.connect(url)
        except Exception as exc:  # psycopg's errors: one line, naming the server
            raise engine.EngineError(
                f"cannot connect to PostgreSQL at {_redact(url or '')}: {_first_line(exc)}"
            ) from None
    return ibis.pyspark.connect(_spark_session(url or DEFAULT_SPARK_MASTER))


def spark_available() -> str | None:
    """None if Spark can start here, else what is missing (PySpark or a Java runtime)."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "--engine spark needs PySpark (pip install 'evalkit[spark]'; make test installs it)"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        return (
            "--engine spark needs a Java runtime (17 or later) on PATH or in JAVA_HOME; "
            "Debian: apt-get install default-jre-headless"
        )
    return None


#: Spark settings: UTC, ANSI SQL, few shuffle partitions, no UI or progress bars.
SPARK_CONF: dict[str, str] = {
    "spark.app.name": "evalkit",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _spark_session(master: str) -> Any:
    """A Spark session for evalkit (:data:`SPARK_CONF`), its JVM's output in a log file.

    The JVM prints a start-up banner and warnings on its standard error, which would land in
    the middle of a report's progress; it is started here with both streams going to
    ``$EVALKIT_SPARK_LOG`` (default ``logs/spark.log`` in the project) instead.
    """
    missing = spark_available()
    if missing:
        raise engine.EngineError(missing)
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf().setMaster(master)
    for key, value in SPARK_CONF.items():
        conf.set(key, value)
    conf.set("spark.driver.memory", os.environ.get("EVALKIT_SPARK_DRIVER_MEMORY", "2g"))
    conf.set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log4j()}")
    if SparkContext._active_spark_context is None:
        from evalkit.config import project_root

        default = project_root() / "logs" / "spark.log"
        log_path = Path(os.environ.get("EVALKIT_SPARK_LOG") or default)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:  # the child keeps its own copy of the descriptor
            gateway = launch_gateway(conf, popen_kwargs={"stdout": log_file, "stderr": log_file})
        SparkContext(conf=conf, gateway=gateway)
    session = SparkSession.builder.config(conf=conf).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_spark() -> None:
    """Stop this process's Spark session and its JVM (an idle JVM still takes CPU).

    For long runs that used Spark for one part only (the test suite's engine tests); the next
    :func:`connect` to Spark starts a new one.
    """
    try:
        from pyspark import SparkContext
    except ImportError:
        return
    sc = SparkContext._active_spark_context
    gateway = SparkContext._gateway
    if sc is not None:
        sc.stop()
    if gateway is not None:
        proc = getattr(gateway, "proc", None)
        gateway.shutdown()
        if proc is not None:
            proc.stdin.close()  # the JVM exits when its stdin closes
            proc.wait(timeout=30)
        SparkContext._gateway = None
        SparkContext._jvm = None
    _server_connection.cache_clear()  # PostgreSQL connections are simply reopened when asked


def _quiet_log4j() -> str:
    """Path of a log4j2 configuration that prints only Spark's errors.

    Spark's default prints a start-up banner and warnings; written once to the temp directory.
    """
    import tempfile

    path = Path(tempfile.gettempdir()) / "evalkit-spark-log4j2.properties"
    text = (
        "rootLogger.level = error\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = spark: %p %c{1}: %m%n%ex\n"
    )
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return str(path)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def kind_of(con: Any) -> str:
    """``duckdb``, ``postgres`` or ``spark`` for an Ibis connection."""
    name = getattr(con, "name", "")
    return {"pyspark": "spark"}.get(name, name)


def open_table(con: Any, data_dir: Path | str, name: str, *, alias: str | None = None) -> ir.Table:
    """Processed table ``name`` on the engine of ``con``, lazily.

    DuckDB and Spark read ``data_dir/<name>.parquet``; PostgreSQL reads ``<schema>.<name>``
    (loaded by ``evalkit load``). ``alias`` names the DuckDB/Spark view (default ``name``).

    Raises
    ------
    evalkit.engine.EngineError
        The file or the warehouse table is missing; the message says how to provide it.
    """
    kind = kind_of(con)
    path = Path(data_dir) / f"{name}.parquet"
    missing = f"{path}: processed table not found; run `evalkit intake` first"
    if kind == "duckdb":
        if not path.is_file():
            raise engine.EngineError(missing)
        return engine.read_parquet(con, path, name=alias or name)
    if kind == "postgres":
        schema = os.environ.get(ENV_SCHEMA) or DEFAULT_SCHEMA
        if name not in con.list_tables(database=schema):
            raise engine.EngineError(
                f"PostgreSQL has no table {schema}.{name}: put the processed tables there with "
                "`evalkit load --engine postgres`"
            )
        return con.table(name, database=schema)
    if not path.is_file():
        raise engine.EngineError(missing)
    return con.read_parquet(str(path.resolve()), table_name=alias or name)


def materialize(con: Any, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` once into a table of the engine (temporary on a server) and return it."""
    kind = kind_of(con)
    if kind == "duckdb":
        return engine.materialize(con, expr, name)
    if kind == "spark":  # ibis has no temporary tables on Spark: a checkpointed temporary view
        sdf = con._session.sql(ibis.to_sql(expr, dialect="pyspark")).localCheckpoint(eager=True)
        sdf.createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, expr, temp=True, overwrite=True)


def upload(con: Any, df: Any, name: str) -> ir.Table:
    """Copy a small DataFrame into the engine as a (temporary, on a server) table."""
    kind = kind_of(con)
    if kind == "duckdb":
        return con.create_table(name, df, overwrite=True)
    if kind == "spark":
        con._session.createDataFrame(df).createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, df, temp=True, overwrite=True)


# --- Loading into PostgreSQL --------------------------------------------------------------------


def load_postgres(
    choice: EngineChoice, processed_dir: Path | str, tables: Sequence[str] = LOAD_TABLES
) -> dict[str, int]:
    """Write intake's processed Parquet tables into ``choice.schema`` on the PostgreSQL server.

    Each table is replaced whole (created from the Parquet schema, then ``COPY`` in batches of
    about 200,000 rows, streamed, so a county's 30 million activity rows never sit in memory) and
    its row count checked against the file. Returns rows loaded per table.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    processed_dir = Path(processed_dir)
    con = _server_connection("postgres", choice.url, choice.schema)
    raw = con.con
    schema = choice.schema
    with raw.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        cur.execute(f"DROP TABLE IF EXISTS {_ident(schema)}.{MANIFEST}")
    loaded: dict[str, int] = {}
    for name in tables:
        path = processed_dir / f"{name}.parquet"
        if not path.is_file():
            continue
        pf = pq.ParquetFile(path)
        ibis_schema = ibis.Schema.from_pyarrow(pf.schema_arrow)
        con.create_table(name, schema=ibis_schema, database=schema, overwrite=True)
        cols = ", ".join(_ident(c) for c in ibis_schema.names)
        n = 0
        with raw.cursor() as cur:
            copy_sql = f"COPY {_ident(schema)}.{_ident(name)} ({cols}) FROM STDIN (FORMAT csv)"
            with cur.copy(copy_sql) as copy:
                for batch in pf.iter_batches(batch_size=200_000):
                    buf = io.BytesIO()
                    opts = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
                    pacsv.write_csv(batch, buf, write_options=opts)
                    copy.write(buf.getvalue())
                    n += batch.num_rows
            cur.execute(f"ANALYZE {_ident(schema)}.{_ident(name)}")
            cur.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(name)}")
            have = cur.fetchone()[0]
        if have != n or n != pf.metadata.num_rows:
            raise engine.EngineError(
                f"{path}: {pf.metadata.num_rows} rows in the file, {have} in {schema}.{name}"
            )
        loaded[name] = n
    manifest = _file_manifest(processed_dir, tables)
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {_ident(schema)}.{MANIFEST} "
            "(table_name text PRIMARY KEY, rows bigint, sha256 text)"
        )
        for name, (rows, digest) in manifest.items():
            cur.execute(
                f"INSERT INTO {_ident(schema)}.{MANIFEST} VALUES (%s, %s, %s)", (name, rows, digest)
            )
    return loaded


#: Table in the warehouse schema recording what ``load_postgres`` copied (rows, file SHA-256).
MANIFEST = "_evalkit_load"


def _file_manifest(processed_dir: Path, tables: Sequence[str]) -> dict[str, tuple[int, str]]:
    import hashlib

    import pyarrow.parquet as pq

    out = {}
    for name in tables:
        path = processed_dir / f"{name}.parquet"
        if path.is_file():
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[name] = (pq.ParquetFile(path).metadata.num_rows, h.hexdigest())
    return out


def loaded_matches(
    choice: EngineChoice, processed_dir: Path | str, tables: Sequence[str] = LOAD_TABLES
) -> bool:
    """Whether the warehouse schema holds exactly the processed folder's tables (by SHA-256).

    A report prepared on PostgreSQL must be of the same data its provenance names, so the
    schema's load record is compared with the files before anything is computed.
    """
    con = _server_connection("postgres", choice.url, choice.schema)
    if not _schema_exists(con, choice.schema):
        return False
    if MANIFEST not in con.list_tables(database=choice.schema):
        return False
    with con.con.cursor() as cur:
        cur.execute(f"SELECT table_name, rows, sha256 FROM {_ident(choice.schema)}.{MANIFEST}")
        have = {name: (int(rows), digest) for name, rows, digest in cur.fetchall()}
    return have == _file_manifest(Path(processed_dir), tables)


def _schema_exists(con: Any, schema: str) -> bool:
    with con.con.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,))
        return cur.fetchone() is not None


def ensure_loaded(choice: EngineChoice, processed_dir: Path | str) -> dict[str, int] | None:
    """Load the processed tables into the engine unless it already holds them.

    PostgreSQL: :func:`load_postgres` into evalkit's own schema when its load record differs
    from the files (returns the rows loaded), else None. DuckDB and Spark read the Parquet where
    it is: None.
    """
    if choice.kind != "postgres" or loaded_matches(choice, processed_dir):
        return None
    return load_postgres(choice, processed_dir)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
