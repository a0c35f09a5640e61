"""Spec and differential tests of the cohort layer on every engine (DuckDB, PostgreSQL, Spark)."""
