"""Choosing the engine (evalkit.engines): arguments, environment, messages, provenance.

These need no server; the engines themselves are tested in tests/engines/.
"""

from __future__ import annotations

import pytest

from evalkit import engines

URL = "postgresql://evalkit@127.0.0.1:54329/evalkit"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (engines.ENV_ENGINE, engines.ENV_URL, engines.ENV_SCHEMA):
        monkeypatch.setenv(var, "")  # recorded, so whatever a test (or use()) sets is undone
        monkeypatch.delenv(var)


def test_default_is_embedded_duckdb() -> None:
    choice = engines.choose()
    assert (choice.kind, choice.url, choice.schema) == ("duckdb", None, engines.DEFAULT_SCHEMA)
    assert choice.record() == {"kind": "duckdb", "where": None, "schema": None}


def test_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(engines.ENV_ENGINE, "spark")
    assert engines.choose().kind == "spark"
    assert engines.choose("duckdb").kind == "duckdb"
    assert engines.choose(" Spark ").kind == "spark"  # as typed on a command line


def test_spark_master_defaults_to_two_local_cores() -> None:
    choice = engines.choose("spark")
    assert choice.record()["where"] == engines.DEFAULT_SPARK_MASTER == "local[2]"


def test_unknown_engine_is_one_message() -> None:
    with pytest.raises(engines.EngineChoiceError, match="one of duckdb, postgres, spark"):
        engines.choose("oracle")


def test_postgres_needs_a_postgres_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(engines.EngineChoiceError, match=r"EVALKIT_DATABASE_URL.*make postgres"):
        engines.choose("postgres")
    with pytest.raises(engines.EngineChoiceError, match="not a PostgreSQL URL"):
        engines.choose("postgres", "mysql://x@y/z")
    monkeypatch.setenv(engines.ENV_URL, URL)
    monkeypatch.setenv(engines.ENV_SCHEMA, "county_2025")
    choice = engines.choose("postgres")
    assert choice.record() == {"kind": "postgres", "where": URL, "schema": "county_2025"}


def test_password_never_recorded() -> None:
    choice = engines.choose("postgres", "postgresql://analyst:s3cret@warehouse:5432/icb")
    assert "s3cret" not in choice.describe()
    assert "s3cret" not in str(choice.record())
    assert choice.record()["where"] == "postgresql://analyst:***@warehouse:5432/icb"


def test_use_passes_the_choice_to_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    engines.use(engines.choose("postgres", URL))
    assert os.environ[engines.ENV_ENGINE] == "postgres"
    assert os.environ[engines.ENV_URL] == URL
    assert engines.choose() == engines.choose("postgres", URL)


def test_duckdb_provenance_names_its_version() -> None:
    from importlib import metadata

    rec = engines.provenance(engines.choose("duckdb"))
    assert rec == {
        "kind": "duckdb",
        "where": None,
        "schema": None,
        "version": metadata.version("duckdb"),
    }


def test_spark_ignores_a_warehouse_url_and_checks_its_master() -> None:
    assert engines.choose("spark", URL).url is None  # left over from --engine postgres
    assert engines.choose("spark", "spark://head:7077").url == "spark://head:7077"
    with pytest.raises(engines.EngineChoiceError, match="not a Spark master"):
        engines.choose("spark", "http://example")
