"""QuestDB's DEDUP UPSERT KEYS on the HTTP door, with QuestDB's own clients.

ILP over HTTP is at-least-once: a client whose flush timed out sends the
batch again. With upsert keys, the table holds each (ts, sym) once, with
its last values. The oracle is python polars' `unique(keep="last")` over
everything sent, in order.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from questdb_rest import QuestDBAPIError, QuestDBClient

from conftest import Server, frame, send_frame, trades


def read(rest: QuestDBClient, table: str) -> pl.DataFrame:
    return frame(rest.exec(f"SELECT ts, sym, px, qty FROM {table} ORDER BY ts, sym"))


def expected(*sent: pl.DataFrame) -> pl.DataFrame:
    return (pl.concat(sent).unique(subset=["ts", "sym"], keep="last", maintain_order=True)
            .sort("ts", "sym").select("ts", "sym", "px", "qty"))


def test_resent_and_corrected_ilp_batches_keep_each_key_once_with_its_last_values():
    with tempfile.TemporaryDirectory(prefix="polaroid-dedup-") as tmp:
        server = Server(Path(tmp))
        try:
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            rest.exec("CREATE TABLE ticks (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) "
                      "timestamp(ts) PARTITION BY HOUR WAL DEDUP UPSERT KEYS(ts, sym)")
            # 14:30 to 20:19, seven hour partitions. (pandas would send a
            # column with nulls as doubles, which a LONG refuses.)
            first = trades(3_000).with_columns(pl.col("qty").fill_null(0))
            send_frame(server, "ticks", first)
            # The client resends the batch it had no answer for.
            send_frame(server, "ticks", first)
            # Corrections and late trades, spread over every partition and
            # repeated in one batch: the last of a key in a batch wins.
            fixes = first.gather_every(7).with_columns(px=pl.col("px") * 2, qty=pl.lit(1, pl.Int64))
            late = first.gather_every(50).with_columns(sym=pl.lit("TSLA"), px=pl.lit(1.5), qty=pl.lit(9, pl.Int64))
            batch = pl.concat([fixes, late, fixes.head(100).with_columns(qty=pl.lit(2, pl.Int64))])
            send_frame(server, "ticks", batch)
            want = expected(first, first, batch)
            assert want.height == 3_000 + late.height
            assert_frame_equal(read(rest, "ticks"), want, check_dtypes=False)

            described = rest.exec("SELECT table_name, dedup FROM tables() WHERE table_name = 'ticks'")
            assert described["dataset"] == [["ticks", True]]
            keys = rest.exec("SELECT \"column\", upsertKey FROM table_columns('ticks')")
            assert dict(keys["dataset"]) == {"ts": True, "sym": True, "px": False, "qty": False}

            # Durable: after a restart the table reads the same.
            server.stop()
            server.start()
            rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
            assert_frame_equal(read(rest, "ticks"), want, check_dtypes=False)

            # Disabled, a resent batch is stored again; enabled on (ts) alone,
            # one row per instant from then on, last symbol wins.
            rest.exec("ALTER TABLE ticks DEDUP DISABLE")
            again = first.head(10)
            send_frame(server, "ticks", again)
            assert rest.exec("SELECT count() FROM ticks")["dataset"] == [[want.height + 10]]
            rest.exec("ALTER TABLE ticks DEDUP ENABLE UPSERT KEYS(ts)")
            assert rest.exec("SELECT dedup FROM tables() WHERE table_name = 'ticks'")["dataset"] == [[True]]
            new = pl.DataFrame({
                "ts": [dt.datetime(2026, 11, 24, 9, 0)] * 3, "sym": ["A", "B", "C"], "px": [1.0, 2.0, 3.0], "qty": [1, 2, 3],
            }).with_columns(pl.col("ts").dt.cast_time_unit("us"))
            send_frame(server, "ticks", new)
            got = rest.exec("SELECT sym, px FROM ticks WHERE ts = '2026-11-24T09:00:00.000000Z'")
            assert got["dataset"] == [["C", 3.0]]
            # The change of keys wrote the log out: the first instant's three
            # rows (AAPL twice, TSLA) are in a part now, and one row replaces them.
            at = "ts = '2026-11-23T14:30:00.000000Z'"
            assert rest.exec(f"SELECT count() FROM ticks WHERE {at}")["dataset"] == [[3]]
            count = rest.exec("SELECT count() FROM ticks")["dataset"][0][0]
            send_frame(server, "ticks", first.head(1).with_columns(sym=pl.lit("Z")))
            for restarted in (False, True):
                if restarted:
                    server.stop()
                    server.start()
                    rest = QuestDBClient(host="127.0.0.1", port=server.http_port)
                assert rest.exec(f"SELECT sym FROM ticks WHERE {at}")["dataset"] == [["Z"]]
                assert rest.exec("SELECT count() FROM ticks")["dataset"] == [[count - 2]]
        finally:
            server.stop()


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE d1 (ts TIMESTAMP, sym SYMBOL) timestamp(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(sym)",
     "must include the designated timestamp ts"),
    ("CREATE TABLE d2 (ts TIMESTAMP, sym SYMBOL) timestamp(ts) DEDUP UPSERT KEYS(ts, sym)",
     "needs a designated timestamp and PARTITION BY"),
    ("CREATE TABLE d3 (ts TIMESTAMP, sym SYMBOL) timestamp(ts) PARTITION BY DAY DEDUP UPSERT KEYS(ts, venue)",
     "upsert key venue is not a column of d3"),
    ("CREATE TABLE d4 (ts TIMESTAMP, sym SYMBOL) timestamp(ts) PARTITION BY DAY DEDUP UPSERT KEYS(ts,)",
     "expected column names separated by commas"),
    ("ALTER TABLE nowhere DEDUP DISABLE", "table does not exist: nowhere"),
])
def test_bad_upsert_keys_are_refused_by_name(rest, sql, message):
    with pytest.raises(QuestDBAPIError) as refused:
        rest.exec(sql)
    assert message in str(refused.value)


def test_a_file_imported_twice_into_a_dedup_table_is_there_once(rest, tmp_path):
    """`/imp` of the same CSV twice, the second time with some prices
    corrected: the table holds the file's rows once, with the corrections."""
    rest.exec("CREATE TABLE imported_once (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) "
              "timestamp(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym)")
    df = trades(500)
    path = tmp_path / "day.csv"
    df.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
    for _ in range(2):
        reply = rest.imp(data_file_path=str(path), table_name="imported_once", fmt="json").json()
        assert (reply["status"], reply["rowsImported"]) == ("OK", 500)
    fixed = df.with_columns(px=pl.when(pl.col("sym") == "NVDA").then(pl.col("px") + 1).otherwise(pl.col("px")))
    fixed.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
    rest.imp(data_file_path=str(path), table_name="imported_once", fmt="json")
    assert_frame_equal(read(rest, "imported_once"), expected(df, df, fixed), check_dtypes=False)
    assert rest.exec("SELECT count() FROM imported_once")["dataset"] == [[500]]


def test_show_create_table_writes_ddl_that_creates_the_same_table(rest):
    """QuestDB's SHOW CREATE TABLE (its web console shows a table's DDL so),
    keys and TTL included; its DDL, run under another name, makes a table
    described the same."""
    rest.exec("CREATE TABLE shown (ts TIMESTAMP, sym SYMBOL, px DOUBLE, n LONG) timestamp(ts) PARTITION BY HOUR "
              "TTL 2 DAYS WAL DEDUP UPSERT KEYS(ts, sym)")
    ddl = rest.exec("SHOW CREATE TABLE shown")
    assert [c["name"] for c in ddl["columns"]] == ["ddl"]
    text = ddl["dataset"][0][0]
    assert text == ("CREATE TABLE 'shown' ( \n\tts TIMESTAMP,\n\tsym SYMBOL CAPACITY 256 CACHE,\n\tpx DOUBLE,\n\tn LONG\n) "
                    "timestamp(ts) PARTITION BY HOUR TTL 2 DAYS WAL\nWITH maxUncommittedRows=500000, o3MaxLag=600000000us\n"
                    "DEDUP UPSERT KEYS(ts,sym);")
    rest.exec(text.replace("'shown'", "'shown_again'"))
    describe = "SELECT partitionBy, designatedTimestamp, dedup, ttlValue, ttlUnit FROM tables() WHERE table_name = '{}'"
    assert rest.exec(describe.format("shown_again"))["dataset"] == rest.exec(describe.format("shown"))["dataset"] == [
        ["HOUR", "ts", True, 2, "DAY"]]
    columns = "SELECT \"column\", type, upsertKey FROM table_columns('{}')"
    assert rest.exec(columns.format("shown_again"))["dataset"] == rest.exec(columns.format("shown"))["dataset"]
    with pytest.raises(QuestDBAPIError) as missing:
        rest.exec("SHOW CREATE TABLE nowhere")
    assert "table does not exist: nowhere" in str(missing.value)
