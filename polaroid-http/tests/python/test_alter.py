"""QuestDB's ALTER TABLE ... ADD COLUMN and DROP PARTITION, and SHOW
PARTITIONS, with QuestDB's own clients, checked against python polars over
the rows sent and the files on disk."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from questdb_rest import QuestDBAPIError, QuestDBClient

from conftest import Server, frame, send_frame


def hourly(days: int) -> pl.DataFrame:
    start = dt.datetime(2026, 11, 20)
    n = days * 24
    return pl.DataFrame({
        "ts": pl.datetime_range(start, start + dt.timedelta(hours=n - 1), "1h", time_unit="us", eager=True),
        "sym": [["AAPL", "MSFT"][i % 2] for i in range(n)],
        "px": [100 + i / 4 for i in range(n)],
    })


def read(rest: QuestDBClient, query: str) -> pl.DataFrame:
    return frame(rest.exec(query))


def test_columns_are_added_and_partitions_dropped_by_name_and_by_time():
    with tempfile.TemporaryDirectory(prefix="polaroid-alter-") as tmp:
        server = Server(Path(tmp))
        try:
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            rest.exec("CREATE TABLE alt (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY WAL")
            df = hourly(5)  # 2026-11-20 to 11-24
            send_frame(server, "alt", df)

            # Added columns read null in the rows before them.
            rest.exec("ALTER TABLE alt ADD COLUMN venue SYMBOL, n LONG")
            columns = rest.exec("SELECT \"column\", type FROM table_columns('alt')")["dataset"]
            assert columns == [["ts", "TIMESTAMP"], ["sym", "SYMBOL"], ["px", "DOUBLE"], ["venue", "SYMBOL"], ["n", "LONG"]]
            rest.exec("INSERT INTO alt VALUES ('2026-11-24T23:30:00.000000Z', 'AAPL', 1.5, 'XNAS', 7)")
            got = rest.exec("SELECT venue, n FROM alt WHERE ts >= '2026-11-24T23:00:00.000000Z' ORDER BY ts")["dataset"]
            assert got == [[None, None], ["XNAS", 7]]
            with pytest.raises(QuestDBAPIError) as twice:
                rest.exec("ALTER TABLE alt ADD COLUMN venue SYMBOL")
            assert "column venue already exists in table alt" in str(twice.value)
            rest.exec("ALTER TABLE alt ADD COLUMN IF NOT EXISTS venue SYMBOL")
            with pytest.raises(QuestDBAPIError) as bad:
                rest.exec("ALTER TABLE alt ADD COLUMN x DECIMAL9")
            assert "DECIMAL9" in str(bad.value)

            # By name, then by a condition on partitions' start times.
            rest.exec("ALTER TABLE alt DROP PARTITION LIST '2026-11-20'")
            rest.exec("ALTER TABLE alt DROP PARTITION WHERE ts < '2026-11-22'")
            with pytest.raises(QuestDBAPIError) as missing:
                rest.exec("ALTER TABLE alt DROP PARTITION LIST '2026-11-21', '2026-11-22'")
            assert "table alt has no partition 2026-11-21 (it has 2026-11-22, 2026-11-23, 2026-11-24)" in str(missing.value)
            rest.exec("ALTER TABLE alt DROP PARTITION WHERE ts > '2030-01-01'")  # none: nothing happens
            rest.exec("ALTER TABLE alt DROP PARTITION WHERE ts < dateadd('d', -3000, now())")  # none either
            want = df.filter(pl.col("ts") >= dt.datetime(2026, 11, 22)).sort("ts")
            query = "SELECT ts, sym, px FROM alt WHERE venue IS NULL ORDER BY ts"
            assert_frame_equal(read(rest, query), want, check_dtypes=False)

            # Durable: the dropped days do not come back from the log.
            server.stop()
            server.start()
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            assert_frame_equal(read(rest, query), want, check_dtypes=False)
            assert rest.exec("SELECT count() FROM alt")["dataset"] == [[want.height + 1]]
            assert sorted(p.name for p in (Path(tmp) / "tables/default/alt").iterdir() if p.is_dir()) == [
                "2026-11-22", "2026-11-23", "2026-11-24"]
            # QuestDB's SHOW PARTITIONS, in its columns.
            shown = rest.exec("SHOW PARTITIONS FROM alt")
            assert [c["name"] for c in shown["columns"]] == [
                "index", "partitionBy", "name", "minTimestamp", "maxTimestamp", "numRows", "diskSize", "diskSizeHuman",
                "readOnly", "active", "attached", "detached", "attachable"]
            rows = [r[:6] + r[8:] for r in shown["dataset"]]
            assert rows == [
                [0, "DAY", "2026-11-22", "2026-11-22T00:00:00.000000Z", "2026-11-22T23:00:00.000000Z", 24, False, False, True, False, False],
                [1, "DAY", "2026-11-23", "2026-11-23T00:00:00.000000Z", "2026-11-23T23:00:00.000000Z", 24, False, False, True, False, False],
                [2, "DAY", "2026-11-24", "2026-11-24T00:00:00.000000Z", "2026-11-24T23:30:00.000000Z", 25, False, True, True, False, False],
            ]
            sizes = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in (Path(tmp) / "tables/default/alt").iterdir() if p.is_dir()}
            assert {r[2]: r[6] for r in shown["dataset"]} == sizes
            assert all(r[7].endswith(" KiB") or r[7].endswith(" B") for r in shown["dataset"])
        finally:
            server.stop()


def test_a_table_is_rewritten_and_renamed_in_place_of_the_old_one():
    """QuestDB's way to delete rows: CREATE TABLE new AS (SELECT ...), DROP
    TABLE old, RENAME TABLE new TO old."""
    with tempfile.TemporaryDirectory(prefix="polaroid-rename-") as tmp:
        server = Server(Path(tmp))
        try:
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            rest.exec("CREATE TABLE book (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY WAL "
                      "DEDUP UPSERT KEYS(ts, sym)")
            df = hourly(2)
            send_frame(server, "book", df)
            rest.exec("CREATE TABLE book_kept AS (SELECT * FROM book WHERE sym = 'AAPL') timestamp(ts) PARTITION BY DAY")
            with pytest.raises(QuestDBAPIError) as taken:
                rest.exec("RENAME TABLE book_kept TO book")
            assert "table already exists: book" in str(taken.value)
            rest.exec("DROP TABLE book")
            rest.exec("RENAME TABLE 'book_kept' TO 'book'")
            want = df.filter(pl.col("sym") == "AAPL").sort("ts")
            for restarted in (False, True):
                if restarted:
                    server.stop()
                    server.start()
                    rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
                assert_frame_equal(read(rest, "SELECT ts, sym, px FROM book ORDER BY ts"), want, check_dtypes=False)
                assert rest.exec("SELECT table_name FROM tables() ORDER BY table_name")["dataset"] == [["book"]]
            assert sorted(p.name for p in (Path(tmp) / "tables/default").iterdir()) == ["book"]
            # ILP goes on into the renamed table.
            send_frame(server, "book", hourly(3).tail(1))
            assert rest.exec("SELECT count() FROM book")["dataset"] == [[want.height + 1]]
            with pytest.raises(QuestDBAPIError) as missing:
                rest.exec("RENAME TABLE nowhere TO somewhere")
            assert "table does not exist: nowhere" in str(missing.value)
        finally:
            server.stop()
