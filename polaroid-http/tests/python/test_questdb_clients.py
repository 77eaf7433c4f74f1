"""QuestDB's PyPI clients against the HTTP door, results against python-polars."""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.error
import urllib.request

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from questdb import Sender, TimestampNanos
from questdb_rest import QuestDBAPIError

from conftest import trades

TRADES = "read_parquet('trades.parquet')"


def frame(reply: dict) -> pl.DataFrame:
    """An /exec reply's dataset as a frame, by its column names."""
    names = [c["name"] for c in reply["columns"]]
    return pl.DataFrame(reply["dataset"], schema=names, orient="row")


def iso(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_exec_with_limit_count_and_timings(rest, data_dir):
    query = f"SELECT ts, sym, px, qty FROM {TRADES} WHERE qty > 100 ORDER BY ts"
    reply = rest.exec(query, limit="3,7", count=True, timings=True)
    want = pl.read_parquet(data_dir / "trades.parquet").filter(pl.col("qty") > 100).sort("ts")
    assert list(reply) == ["query", "columns", "timestamp", "dataset", "count", "timings"]
    assert reply["columns"] == [{"name": "ts", "type": "TIMESTAMP"}, {"name": "sym", "type": "VARCHAR"},
                                {"name": "px", "type": "DOUBLE"}, {"name": "qty", "type": "LONG"}]
    # Rows 3 to 7, counted from 1; count is the whole result's.
    assert reply["count"] == want.height
    part = want.slice(2, 5)
    assert reply["dataset"] == [[iso(r[0]), r[1], r[2], r[3]] for r in part.iter_rows()]
    assert set(reply["timings"]) == {"authentication", "compiler", "execute", "count"}
    assert rest.exec(query, limit="-2")["dataset"][-1][0] == iso(want["ts"][-1])
    assert "columns" not in rest.exec(query, limit="1", nm=True)


def test_quote_large_num_and_nulls(rest):
    reply = rest.exec("SELECT CAST(9007199254740993 AS BIGINT) AS big, CAST(NULL AS DOUBLE) AS x", quote_large_num=True)
    assert reply["dataset"] == [["9007199254740993", None]]


def test_exp_is_csv_of_the_same_rows(rest, data_dir):
    query = f"SELECT sym, count(*) AS n, sum(qty) AS qty FROM {TRADES} GROUP BY sym ORDER BY sym"
    text = rest.exp(query).text
    got = pl.read_csv(io.StringIO(text))
    want = pl.read_parquet(data_dir / "trades.parquet").group_by("sym").agg(
        pl.len().alias("n"), pl.col("qty").sum()).sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)
    assert rest.exp(query, nm=True).text.splitlines()[0].startswith('"AAPL"')


def test_a_bad_query_is_a_400_with_questdb_s_error_body(rest):
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT nope FROM read_parquet('trades.parquet')")
    assert raised.value.status_code == 400
    body = raised.value.response_data
    assert list(body) == ["query", "error", "position"] and "nope" in body["error"]
    with pytest.raises(QuestDBAPIError) as raised:
        rest.exec("SELECT * FROM read_parquet('/etc/passwd')")
    assert raised.value.status_code == 400 and "absolute path" in raised.value.response_data["error"]


def test_create_insert_select_and_drop(rest):
    assert rest.exec("CREATE TABLE t_sql (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY") == {"ddl": "OK"}
    assert rest.exec("INSERT INTO t_sql VALUES ('2026-11-23T14:30:00.000001Z', 'AAPL', 1.5), "
                     "('2026-11-24T09:00:00Z', 'MSFT', NULL)") == {"dml": "OK"}
    assert rest.exec(f"INSERT INTO t_sql SELECT ts, sym, px FROM {TRADES} WHERE sym = 'NVDA' LIMIT 4") == {"dml": "OK"}
    reply = rest.exec("SELECT * FROM t_sql")
    assert reply["timestamp"] == 0
    assert [c["type"] for c in reply["columns"]] == ["TIMESTAMP", "SYMBOL", "DOUBLE"]
    assert reply["count"] == 6
    assert reply["dataset"][:2] == [["2026-11-23T14:30:00.000001Z", "AAPL", 1.5], ["2026-11-24T09:00:00.000000Z", "MSFT", None]]
    assert rest.table_exists("t_sql")
    assert rest.exec("DROP TABLE t_sql") == {"ddl": "OK"}
    assert not rest.table_exists("t_sql")


def test_imp_then_chk_then_select(rest, tmp_path):
    df = trades(300)
    path = tmp_path / "imported.csv"
    df.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
    reply = rest.imp(data_file_path=str(path), table_name="imported", timestamp_col="ts", partition_by="DAY", fmt="json").json()
    assert (reply["status"], reply["rowsImported"], reply["rowsRejected"]) == ("OK", 300, 0)
    assert reply["timestamp"] == "ts" and reply["partitionBy"] == "DAY"
    assert rest.chk("imported") == {"status": "Exists"}
    assert rest.chk("not_there") == {"status": "Does not exist"}
    got = frame(rest.exec("SELECT sym, sum(px) AS px, count(*) AS n FROM imported GROUP BY sym ORDER BY sym"))
    want = df.group_by("sym").agg(pl.col("px").sum(), pl.len().alias("n")).sort("sym")
    assert_frame_equal(got, want, check_dtypes=False)


def test_ilp_rows_read_back_through_exec_and_flight(server):
    import pyarrow.flight as flight
    from questdb_rest import QuestDBClient
    rows = [("AAPL", 1.25 + i, i, TimestampNanos(1_795_444_200_000_000_000 + i * 1_000_000_000)) for i in range(50)]
    with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};") as sender:
        for sym, px, qty, at in rows:
            sender.row("ilp_ticks", symbols={"sym": sym}, columns={"px": px, "qty": qty}, at=at)
        sender.flush()
    reply = QuestDBClient(host="127.0.0.1", port=server.http_port).exec("SELECT * FROM ilp_ticks ORDER BY timestamp")
    assert [c["name"] for c in reply["columns"]] == ["sym", "px", "qty", "timestamp"]
    assert reply["timestamp"] == 3
    assert [r[1] for r in reply["dataset"]] == [r[1] for r in rows]
    assert reply["dataset"][0][3] == "2026-11-23T14:30:00.000000Z"
    # The same table through Arrow Flight, by name in a SQL command descriptor.
    client = flight.connect(f"grpc://127.0.0.1:{server.grpc_port}")
    info = client.get_flight_info(flight.FlightDescriptor.for_command("SELECT sym, sum(qty) AS qty FROM ilp_ticks GROUP BY sym"))
    table = client.do_get(info.endpoints[0].ticket).read_all()
    assert table.to_pydict() == {"sym": ["AAPL"], "qty": [sum(r[2] for r in rows)]}
    # And by name in a path descriptor, and through gRPC Scan (the Python client).
    info = client.get_flight_info(flight.FlightDescriptor.for_path("ilp_ticks"))
    assert client.do_get(info.endpoints[0].ticket).read_all().column("px").to_pylist() == [r[1] for r in rows]
    import polaroid as pr
    with pr.connect(f"127.0.0.1:{server.grpc_port}") as native:
        got = native.table("ilp_ticks").sort("timestamp").collect()
    assert got["qty"].to_list() == [r[2] for r in rows]
    assert got["sym"].to_list() == ["AAPL"] * len(rows)


def test_a_bad_ilp_line_is_refused_whole_with_its_line_number(server):
    from questdb import QuestDBError
    with pytest.raises(QuestDBError) as raised:
        with Sender.from_conf(f"http::addr=127.0.0.1:{server.http_port};retry_timeout=0;") as sender:
            sender.row("ilp_bad", columns={"px": 1.0}, at=TimestampNanos(1))
            sender.row("ilp_bad", columns={"px": "text"}, at=TimestampNanos(2))
            sender.flush()
    assert "line: 2" in str(raised.value)
    with urllib.request.urlopen(f"{server.url}/chk?j=ilp_bad&f=json") as reply:
        assert json.load(reply) == {"status": "Does not exist"}


def post_lines(server, body: bytes) -> tuple[int, dict | None]:
    """POST raw line protocol to /write: the status, and the error body if any."""
    request = urllib.request.Request(f"{server.url}/write", data=body, method="POST")
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, None
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_a_row_that_does_not_fit_is_named_by_its_line_in_the_body(server):
    assert post_lines(server, b"ilp_fit px=1.5 1000\n") == (204, None)
    # Against the table (px is DOUBLE), after a comment and a blank line.
    status, reply = post_lines(server, b'# header\n\nilp_fit px="text" 2000\n')
    assert (status, reply["line"]) == (400, 3), reply
    # Between two lines of one request, a comment between them.
    status, reply = post_lines(server, b"ilp_fit px=2.5 3000\n# note\nilp_fit px=4i 4000\n")
    assert (status, reply["line"]) == (400, 3), reply
    assert "px" in reply["message"], reply
    with urllib.request.urlopen(f"{server.url}/exec?query=SELECT%20px%20FROM%20ilp_fit") as reply:
        assert json.load(reply)["dataset"] == [[1.5]]


def test_metrics_count_requests_by_door_and_code(server, rest):
    rest.exec("SELECT 1 AS one")
    with pytest.raises(QuestDBAPIError):
        rest.exec("SELEC 1")
    import pyarrow.flight as flight
    client = flight.connect(f"grpc://127.0.0.1:{server.grpc_port}")
    client.get_flight_info(flight.FlightDescriptor.for_command("SELECT 1 AS one"))
    with pytest.raises(KeyError):  # pyarrow's ArrowKeyError: NOT_FOUND
        client.do_get(flight.Ticket(b"00000000-0000-0000-0000-000000000000")).read_all()
    with urllib.request.urlopen(f"{server.url}/metrics") as reply:
        text = reply.read().decode()
    assert 'polaroid_requests_total{door="flight",route="GetFlightInfo",code="OK"}' in text
    assert 'polaroid_requests_total{door="flight",route="DoGet",code="NOT_FOUND"}' in text
    assert 'polaroid_requests_total{door="http",route="/exec",code="200"}' in text
    assert 'polaroid_requests_total{door="http",route="/exec",code="400"}' in text
    assert "polaroid_request_duration_seconds_bucket" in text and "polaroid_memory_budget_bytes" in text
