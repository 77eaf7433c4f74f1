"""ADBC's Flight SQL driver, a real Flight SQL client with no Polaroid code,
against polaroid-server: queries, prepared statements, the catalog
(get_objects, get_table_schema) and polars' read_database over it. Run by
`make test-python`."""

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
             "--ilp-listen", "off", "--data-dir", cls.data.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(cls.port, cls.proc, "polaroid-server")
        wait_port(cls.http, cls.proc, "polaroid-server (HTTP)")
        # A stored table, made through the QuestDB door.
        for q in ["CREATE TABLE ticks (ts TIMESTAMP, sym SYMBOL, px DOUBLE) timestamp(ts) PARTITION BY DAY",
                  "INSERT INTO ticks VALUES ('2024-01-01T00:00:00Z', 'A', 1.5), ('2024-01-01T00:00:01Z', 'B', 2.5), "
                  "('2024-01-01T00:00:02Z', 'A', 3.5)"]:
            urllib.request.urlopen(f"http://127.0.0.1:{cls.http}/exec?" + urllib.parse.urlencode({"query": q})).read()
        with warnings.catch_warnings():
            # The driver warns that autocommit stays on: there are no transactions to commit.
            warnings.simplefilter("ignore")
            cls.conn = flight_sql.connect(f"grpc://127.0.0.1:{cls.port}")

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

    def test_a_bad_query_is_a_precise_error(self):
        with self.conn.cursor() as cur:
            with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                cur.execute("SELECT nope FROM ticks")
        self.assertIn('unable to find column "nope"', str(raised.exception))
        self.assertIn("INVALID_ARGUMENT", str(raised.exception))

    def test_show_tables_lists_the_callers_tables_and_changes_are_refused(self):
        with self.conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            self.assertIn(("ticks",), cur.fetchall())
            # polars-sql would create it in the query's own context and forget it.
            with self.assertRaises(adbc_driver_manager.ProgrammingError) as raised:
                cur.execute("CREATE TABLE copy AS SELECT * FROM ticks")
            self.assertIn("is not run by this SQL, which reads", str(raised.exception))
            cur.execute("SELECT count(*) AS n FROM ticks")
            self.assertEqual(cur.fetchall(), [(3,)])

    def test_the_catalog_lists_the_callers_tables(self):
        objects = self.conn.adbc_get_objects().read_all().to_pylist()
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
