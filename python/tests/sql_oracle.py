"""The server's SQL answers beside DuckDB's on the same frames, for the SQL conformance tests."""

from __future__ import annotations

import math

import duckdb
import polars as pl

import polaroid as pr


def both_answers(client: pr.Client, query: str, **frames: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`query` over `frames` (by name) as the server answers it, and as DuckDB does."""
    got = client.sql(query, **{name: client.from_polars(df) for name, df in frames.items()}).collect()
    con = duckdb.connect()
    for name, df in frames.items():
        con.register(name, df.to_arrow())
    return got, con.sql(query).pl()


def unordered(rows: list[tuple]) -> list[tuple]:
    """Rows in one order whatever order they came in (nulls last)."""
    return sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])


def same_rows(a: list[tuple], b: list[tuple], rel_tol: float = 1e-9) -> bool:
    """Equal rows, floats equal to `rel_tol` (NaN to NaN, as SQL's engines order them)."""
    def same(u: object, v: object) -> bool:
        if isinstance(u, float) and isinstance(v, float):
            if math.isnan(u) or math.isnan(v):
                return math.isnan(u) and math.isnan(v)
            return math.isclose(u, v, rel_tol=rel_tol, abs_tol=rel_tol)
        return u == v
    return len(a) == len(b) and all(len(r) == len(s) and all(map(same, r, s)) for r, s in zip(a, b))
