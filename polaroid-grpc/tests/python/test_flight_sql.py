"""ADBC's Flight SQL driver, a real Flight SQL client with no Polaroid code,
against polaroid-server: queries, prepared statements with bound
parameters, bulk ingest (polars' write_database), the catalog
(get_objects, get_table_schema) and polars' read_database over it. Run by
`make test-python`."""

import datetime as dt
import decimal
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request
import warnings

import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import polars as pl
from polars.testing import assert_frame_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for ci.processes
from ci.processes import free_port, wait_port  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", "target/debug/polaroid-server")


class FlightSqlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.TemporaryDirectory()
        cls.port, cls.http = free_port(), free_port()
        cls.proc = subprocess.Popen(
            [SERVER, "--listen", f"127.0.0.1:{cls.port}", "--http-listen", f"127.0.0.1:{cls.http}",
             "--ilp-listen", "off", "--pg-listen", "off", "--data-dir", cls.data.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(cls.port, cls.proc, "polaroid-server")
        wait_port(cls.http, cls.proc, "polaroid-server (HTTP)")
        # A stored table, made through the QuestDB door.
        for q in ["CREATE TABLE ticks (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY",
                  "INSERT INTO ticks VALUES ('2024-01-01T00:00:00Z', 'A', 1.5), ('2024-01-01T00:00:01Z', 'B', 2.5), "
                  "('2024-01-01T00:00:02Z', 'A', 3.5)"]:
            cls.http_exec(q)
        with warnings.catch_warnings():
            # The driver warns that autocommit stays on: there are no transactions to commit.
            warnings.simplefilter("ignore")
            cls.conn = flight_sql.connect(f"grpc://127.0.0.1:{cls.port}")

    @classmethod
    def http_exec(cls, query):
        return urllib.request.urlopen(f"http://127.0.0.1:{cls.http}/exec?" + urllib.parse.urlencode({"query": query})).read()

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        cls.proc.terminate()
        cls.proc.wait(timeout=60)
        cls.data.cleanup()

    def test_queries_run_and_polars_reads_them(self):
        trades = pl.read_parquet(Path(self.data.name) / "trades.parquet")
        query = "SELECT symbol, count(*) AS n, sum(size) AS size FROM read_parquet('trades.parquet') GROUP BY symbol ORDER BY symbol"
        got = pl.read_database(query, connection=self.conn)
        want = trades.group_by("symbol").agg(pl.len().alias("n"), pl.col("size").sum()).sort("symbol")
        assert_frame_equal(got, want)
        with self.conn.cursor() as cur:
            # Executed twice, the prepared statement runs again.
            cur.execute("SELECT sym, px FROM ticks WHERE px > 2 ORDER BY ts")
            self.assertEqual(cur.fetchall(), [("B", 2.5), ("A", 3.5)])
            cur.execute("SELECT sym, px FROM ticks WHERE px > 2 ORDER BY ts")
            self.assertEqual(cur.fetch_arrow_table().num_rows, 2)

    def test_bound_parameters_are_the_values_as_if_typed(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT sym, px FROM ticks WHERE px > ? AND sym = ? ORDER BY ts", (2.0, "A"))
            self.assertEqual(cur.fetchall(), [("A", 3.5)])
            # A quote in a value is the value's, not the query's.
            cur.execute("SELECT count(*) AS n FROM ticks WHERE sym = ?", ("A' OR '1'='1",))
            self.assertEqual(cur.fetchall(), [(0,)])
            # Numbered ones repeat; placeholders in text or comments are text.
            cur.execute("SELECT $1 + $1 AS x, '?' AS q -- and ?\n", (21,))
            self.assertEqual(cur.fetchall(), [(42, "?")])
            # An instant in a zone is compared as its UTC time (01:00:01+01:00 is 00:00:01Z).
            since = dt.datetime(2024, 1, 1, 1, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
            cur.execute("SELECT px FROM ticks WHERE ts >= ? ORDER BY ts", (since,))
            self.assertEqual(cur.fetchall(), [(2.5,), (3.5,)])
            cur.execute("SELECT sym FROM ticks ORDER BY ts LIMIT ?", (2,))
            self.assertEqual(cur.fetchall(), [("A",), ("B",)])
            # Each value comes back as itself, of its own type.
            values = (dt.date(2024, 2, 29), decimal.Decimal("12.345"), dt.timedelta(seconds=90, microseconds=5),
                      dt.time(9, 30, 1, 5), dt.datetime(1969, 12, 31, 23, 59, 59, 999999), 2**63 - 1, -7, 0.1, True, None, "é'")
            cur.execute("SELECT " + ", ".join(f"? AS c{i}" for i in range(len(values))), values)
            self.assertEqual(cur.fetchall(), [values])
        # A parquet file's zoned timestamps beside a bound one without a zone (UTC).
        trades = pl.read_parquet(Path(self.data.name) / "trades.parquet")
        since = trades["ts"].sort()[len(trades) // 2]
        with self.conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM read_parquet('trades.parquet') WHERE ts >= ?",
                        (since.astimezone(dt.timezone.utc).replace(tzinfo=None),))
            self.assertEqual(cur.fetchall(), [(trades.filter(pl.col("ts") >= since).height,)])
        # polars' read_database passes parameters through.
        got = pl.read_database("SELECT * FROM ticks WHERE px > ? ORDER BY ts", self.conn, execute_options={"parameters": [2.0]})
        want = pl.read_database("SELECT * FROM ticks ORDER BY ts", self.conn).filter(pl.col("px") > 2.0)
        assert_frame_equal(got, want)

    def test_bad_parameters_are_precise_errors(self):
        cases = [("SELECT ?, ? AS y", (1,), "the query takes 2 parameter(s) and 1 were bound"),
                 ("SELECT ? AS x", None, "the query takes 1 parameter(s) (?) and none was bound"),
                 ("SELECT 1 AS x", (1,), "but the query has no placeholder"),
                 ("SELECT ? AS x", (b"ab",), "parameter 0 is binary"),
                 ("SELECT ?, $1", (1, 2), "mixes kinds of parameters")]
        for query, parameters, message in cases:
            with self.subTest(query=query), self.conn.cursor() as cur:
                with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                    cur.execute(query, parameters)
                self.assertIn(message, str(raised.exception))
                self.assertIn("INVALID_ARGUMENT", str(raised.exception))
        # A bound path is checked as a typed one: inside the data directory.
        with self.conn.cursor() as cur, self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
            cur.execute("SELECT * FROM read_csv(?)", ("../../etc/passwd",))
        self.assertIn("(PermissionDenied;", str(raised.exception))
        self.assertIn("uses '..'; paths must stay inside the server's data directory", str(raised.exception))

    def test_a_prepared_statement_reads_the_table_as_it_is_at_each_execution(self):
        with self.conn.cursor() as cur:
            # The driver keeps a prepared statement while its text is the same.
            pl.DataFrame({"x": [1, 2]}).write_database("seen", self.conn, engine="adbc")
            cur.execute("SELECT count(*) AS n FROM seen")
            self.assertEqual(cur.fetchall(), [(2,)])
            pl.DataFrame({"x": [3]}).write_database("seen", self.conn, engine="adbc", if_table_exists="append")
            cur.execute("SELECT count(*) AS n FROM seen")
            self.assertEqual(cur.fetchall(), [(3,)])
            pl.DataFrame({"x": [4]}).write_database("seen", self.conn, engine="adbc", if_table_exists="replace")
            cur.execute("SELECT count(*) AS n FROM seen")
            self.assertEqual(cur.fetchall(), [(1,)])

    def test_bulk_ingest_stores_a_table_every_door_reads(self):
        frame = pl.DataFrame({
            "i8": pl.Series([1, -2, None], dtype=pl.Int8), "u32": pl.Series([1, 2, 4_000_000_000], dtype=pl.UInt32),
            "f": [1.5, None, float("nan")], "s": ["a", None, "é"], "b": [True, None, False],
            "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 3, 4, 5, 123456), dt.datetime(1969, 12, 31)],
            "paris": pl.Series([dt.datetime(2024, 1, 1)] * 3).dt.replace_time_zone("Europe/Paris"),
            "ms": pl.Series([dt.datetime(2024, 7, 1, 0, 0, 0, 1000)] * 3).dt.cast_time_unit("ms"),
        })
        self.assertEqual(frame.write_database("loaded", self.conn, engine="adbc"), 3)
        got = pl.read_database("SELECT * FROM loaded", self.conn)
        # Stored as the tables' types: unsigned integers widen, an instant in a zone is its UTC time.
        want = frame.with_columns(pl.col("u32").cast(pl.Int64), pl.col("paris").dt.convert_time_zone("UTC").dt.replace_time_zone(None))
        assert_frame_equal(got, want)
        self.assertEqual(got["paris"][0], dt.datetime(2023, 12, 31, 23, 0))
        # Appended, replaced, or refused as the mode says.
        self.assertEqual(frame.write_database("loaded", self.conn, engine="adbc", if_table_exists="append"), 3)
        self.assertEqual(pl.read_database("SELECT count(*) AS n FROM loaded", self.conn)["n"][0], 6)
        with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
            frame.write_database("loaded", self.conn, engine="adbc")
        self.assertIn("table already exists: loaded", str(raised.exception))
        self.assertEqual(frame.head(1).write_database("loaded", self.conn, engine="adbc", if_table_exists="replace"), 1)
        self.assertEqual(pl.read_database("SELECT count(*) AS n FROM loaded", self.conn)["n"][0], 1)
        with self.conn.cursor() as cur, self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
            cur.adbc_ingest("missing", frame.to_arrow(), mode="append")
        self.assertIn("NOT_FOUND", str(raised.exception))
        self.assertIn("table does not exist: missing", str(raised.exception))
        # A type no table holds as it is is refused, not stored as another.
        for column in [pl.Series("d", [dt.date(2024, 1, 1)]), pl.Series("d", [[1, 2]]), pl.Series("d", [decimal.Decimal("1.5")])]:
            with self.subTest(dtype=column.dtype), self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                pl.DataFrame([column]).write_database("refused", self.conn, engine="adbc")
            self.assertIn(f"column d is {column.dtype}".lower().split("(")[0], str(raised.exception).lower())
        # Rows appended to a table the HTTP door made are the HTTP door's too.
        self.http_exec("CREATE TABLE fills (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY")
        extra = pl.DataFrame({"ts": [dt.datetime(2024, 1, 1, 0, 0, 3)], "sym": ["C"], "px": [4.5]})
        extra.write_database("fills", self.conn, engine="adbc", if_table_exists="append")
        self.assertIn(b'"dataset":[["C",4.5]]', self.http_exec("SELECT sym, px FROM fills"))

    def test_insert_appends_rows_by_execute_and_executemany(self):
        self.http_exec("CREATE TABLE orders (ts TIMESTAMP, sym SYMBOL, qty INT, px DOUBLE) timestamp(ts) PARTITION BY DAY")
        t0 = dt.datetime(2024, 1, 1)
        with self.conn.cursor() as cur:
            # SQL's literals; an INSERT run by execute answers the rows stored.
            cur.execute("INSERT INTO orders VALUES (TIMESTAMP '2024-01-01 00:00:01', 'A', 5, 1.5), "
                        "('2024-01-01T00:00:02Z', NULL, -1, NULL)")
            self.assertEqual(cur.fetchall(), [(2,)])
            # Bound values, named columns in any order.
            cur.execute("INSERT INTO orders (sym, ts, qty) VALUES (?, ?, ?)", ("B", t0 + dt.timedelta(seconds=3), 7))
            self.assertEqual(cur.fetchall(), [(1,)])
            # executemany: the rows themselves (one in a zone stored as its UTC time).
            rows = [(t0 + dt.timedelta(seconds=10 + i), "C", i, i / 4) for i in range(1000)]
            rows.append((dt.datetime(2024, 1, 1, 2, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))), "D", 0, 0.0))
            cur.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
            self.assertEqual(cur.rowcount, 1001)
            # A SELECT as the source.
            cur.execute("INSERT INTO orders SELECT ts + INTERVAL '1 day', sym, qty * 10, px FROM orders WHERE sym = 'A'")
            self.assertEqual(cur.fetchall(), [(1,)])
        got = pl.read_database("SELECT * FROM orders ORDER BY ts, sym", self.conn)
        want = pl.DataFrame(
            [(t0 + dt.timedelta(seconds=1), "A", 5, 1.5), (t0 + dt.timedelta(seconds=2), None, -1, None),
             (t0 + dt.timedelta(seconds=3), "B", 7, None)]
            + [r[:4] for r in rows[:-1]] + [(t0 + dt.timedelta(hours=1), "D", 0, 0.0)]
            + [(t0 + dt.timedelta(days=1, seconds=1), "A", 50, 1.5)],
            schema={"ts": pl.Datetime("us"), "sym": pl.String, "qty": pl.Int32, "px": pl.Float64}, orient="row")
        assert_frame_equal(got, want.sort("ts", "sym", nulls_last=False), check_dtypes=False)
        self.assertEqual(got["qty"].dtype, pl.Int32)
        # Refused with the reason, storing nothing.
        for query, parameters, message in [
                ("INSERT INTO orders (ts, qty) VALUES (TIMESTAMP '2024-01-01', 3000000000)", None, "cannot store i64 as i32"),
                ("INSERT INTO orders (qty) VALUES (1)", None, "designated timestamp ts of orders cannot be null"),
                ("INSERT INTO nope VALUES (1)", None, "table does not exist: nope"),
                ("INSERT INTO orders VALUES (?, ?, ?, ?)", (1,), "takes 4 parameter(s) and 1 were bound")]:
            with self.subTest(query=query), self.conn.cursor() as cur, self.assertRaises(adbc_driver_manager.Error) as raised:
                cur.execute(query, parameters)
            self.assertIn(message, str(raised.exception))
        with self.conn.cursor() as cur, self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
            cur.executemany("SELECT ?", [(1,), (2,)])
        self.assertIn("a query runs with execute, not executemany", str(raised.exception))
        self.assertEqual(pl.read_database("SELECT count(*) AS n FROM orders", self.conn)["n"][0], len(want))

    def test_drop_and_truncate_so_pandas_to_sql_replaces(self):
        import pandas as pd
        frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        self.assertEqual(frame.to_sql("pandas_t", self.conn, index=False), 2)
        self.assertEqual(frame.head(1).to_sql("pandas_t", self.conn, index=False, if_exists="append"), 1)
        self.assertEqual(pd.read_sql("SELECT count(*) AS n FROM pandas_t", self.conn)["n"][0], 3)
        # pandas replaces by DROP TABLE, then a bulk ingest that creates.
        self.assertEqual(pd.DataFrame({"c": [9.5]}).to_sql("pandas_t", self.conn, index=False, if_exists="replace"), 1)
        assert_frame_equal(pl.read_database("SELECT * FROM pandas_t", self.conn), pl.DataFrame({"c": [9.5]}))
        with self.conn.cursor() as cur:
            cur.execute("TRUNCATE TABLE pandas_t")
            self.assertEqual(cur.fetchall(), [(0,)])
            cur.execute("SELECT count(*) AS n FROM pandas_t")
            self.assertEqual(cur.fetchall(), [(0,)])
            with self.assertRaises(adbc_driver_manager.Error) as raised:
                cur.execute("DROP TABLE pandas_t, nope")
            self.assertIn("table does not exist: nope", str(raised.exception))
            cur.execute("DROP TABLE IF EXISTS pandas_t, nope")
            with self.assertRaises(adbc_driver_manager.Error) as raised:
                cur.execute("SELECT * FROM pandas_t")
            self.assertIn("relation 'pandas_t' was not found", str(raised.exception))

    def test_a_message_past_the_upload_limit_is_refused_with_the_option_named(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as data:
            proc = subprocess.Popen([SERVER, "--listen", f"127.0.0.1:{port}", "--http-listen", "off", "--ilp-listen", "off", "--pg-listen", "off",
                                     "--data-dir", data, "--max-upload-message", "64KiB"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port, proc, "polaroid-server")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    conn = flight_sql.connect(f"grpc://127.0.0.1:{port}")
                with conn:
                    with self.assertRaises(adbc_driver_manager.Error) as raised:
                        pl.DataFrame({"a": range(100_000)}).write_database("large", conn, engine="adbc")
                    self.assertIn("(the server's --max-upload-message)", str(raised.exception))
                    # Nothing was made of the refused load.
                    self.assertEqual(pl.DataFrame({"a": range(10)}).write_database("large", conn, engine="adbc"), 10)
            finally:
                proc.terminate()
                proc.wait(timeout=60)

    def test_a_temporary_ingest_is_an_upload_named_so(self):
        frame = pl.DataFrame({"a": [1, 2, 3]})
        with self.conn.cursor() as cur:
            cur.adbc_ingest("scratch", frame.to_arrow(), mode="create", temporary=True)
            cur.execute("SELECT sum(a) AS s FROM scratch")
            self.assertEqual(cur.fetchall(), [(6,)])
        tables = [t["table_name"] for c in self.conn.adbc_get_objects().read_all().to_pylist()
                  for s in c["catalog_db_schemas"] for t in s["db_schema_tables"]]
        self.assertNotIn("scratch", tables)

    def test_a_symbol_column_reads_as_text(self):
        # A table's SYMBOL column is a categorical to polars: LIKE, `~` and
        # the string functions read its text (they failed, patch 0103).
        with self.conn.cursor() as cur:
            cur.execute("SELECT UPPER(sym) AS u, LENGTH(sym) AS n, sym ~ '^A' AS a FROM ticks "
                        "WHERE sym LIKE 'A%' OR sym ILIKE 'b' ORDER BY ts")
            self.assertEqual(cur.fetchall(), [("A", 1, True), ("B", 1, False), ("A", 1, True)])

    def test_a_bad_query_is_a_precise_error(self):
        with self.conn.cursor() as cur:
            with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                cur.execute("SELECT nope FROM ticks")
        self.assertIn('unable to find column "nope"', str(raised.exception))
        self.assertIn("INVALID_ARGUMENT", str(raised.exception))

    def test_show_tables_lists_the_callers_tables_and_other_changes_are_refused(self):
        with self.conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            self.assertIn(("ticks",), cur.fetchall())
            # polars-sql would run it in the query's own context and forget it.
            with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                cur.execute("UPDATE ticks SET px = 0")
            self.assertIn("is not run by this SQL, which reads", str(raised.exception))
            cur.execute("SELECT count(*) AS n FROM ticks")
            self.assertEqual(cur.fetchall(), [(3,)])

    def test_create_table_of_columns_or_of_a_query(self):
        trades = pl.read_parquet(Path(self.data.name) / "trades.parquet")
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE marks (ts TIMESTAMP, sym VARCHAR, px DOUBLE PRECISION, n BIGINT)")
            cur.execute("INSERT INTO marks VALUES (?, ?, ?, ?)", (dt.datetime(2024, 1, 1), "A", 1.5, 2))
            cur.execute("SELECT * FROM marks")
            self.assertEqual(cur.fetchall(), [(dt.datetime(2024, 1, 1), "A", 1.5, 2)])
            # A file's rows stored as a table (its UTC timestamps as the tables' time).
            cur.execute("CREATE TABLE big_trades AS SELECT * FROM read_parquet('trades.parquet') WHERE size >= ?", (500,))
            self.assertEqual(cur.fetchall(), [(trades.filter(pl.col("size") >= 500).height,)])
        got = pl.read_database("SELECT * FROM big_trades", self.conn)
        want = trades.filter(pl.col("size") >= 500).with_columns(pl.col("ts").dt.replace_time_zone(None))
        assert_frame_equal(got, want)
        for query, message in [("CREATE TABLE marks (a INT)", "table already exists: marks"),
                               ("CREATE TABLE nn (a INT NOT NULL)", "keep no keys or constraints"),
                               ("CREATE TABLE d (a DATE)", "column a is DATE, which no table type holds")]:
            with self.subTest(query=query), self.conn.cursor() as cur, self.assertRaises(adbc_driver_manager.Error) as raised:
                cur.execute(query)
            self.assertIn(message, str(raised.exception))

    def test_the_catalog_lists_the_callers_tables(self):
        # (Other tests add tables; the filter keeps this one's.)
        objects = self.conn.adbc_get_objects(table_name_filter="tick%").read_all().to_pylist()
        tables = [t for c in objects for s in c["catalog_db_schemas"] for t in s["db_schema_tables"]]
        self.assertEqual([t["table_name"] for t in tables], ["ticks"])
        self.assertEqual([c["column_name"] for c in tables[0]["table_columns"]], ["ts", "sym", "px"])
        none = self.conn.adbc_get_objects(table_name_filter="quo%").read_all().to_pylist()
        self.assertEqual([t for c in none for s in c["catalog_db_schemas"] for t in s["db_schema_tables"]], [])
        schema = self.conn.adbc_get_table_schema("ticks")
        self.assertEqual(schema.names, ["ts", "sym", "px"])
        self.assertEqual(str(schema.field("px").type), "double")
        self.assertEqual(self.conn.adbc_get_table_types(), ["TABLE"])
        # GetSqlInfo: who answers.
        info = self.conn.adbc_get_info()
        self.assertEqual(info["vendor_name"], "polaroid")
        self.assertRegex(info["vendor_version"], r"^\d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
