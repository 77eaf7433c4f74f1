"""pyarrow.flight, a real Arrow Flight client with no Polaroid code, against
polaroid-server. Run by `make test-python` (the server binary path comes from
POLAROID_SERVER; pyarrow from the .venv that ci/python-env.sh makes)."""

import os
from pathlib import Path
import subprocess
import sys
import tempfile
import unittest

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for ci.processes
from ci.processes import free_port, wait_port  # noqa: E402

SERVER = os.environ.get("POLAROID_SERVER", "target/debug/polaroid-server")


class Server:
    """A polaroid-server child process on an ephemeral loopback port."""

    def __init__(self, *args):
        self.data = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.proc = subprocess.Popen(
            [SERVER, "--listen", f"127.0.0.1:{self.port}", "--http-listen", "off", "--ilp-listen", "off", "--pg-listen", "off", "--data-dir", self.data.name, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.location = f"grpc://127.0.0.1:{self.port}"
        wait_port(self.port, self.proc, "polaroid-server")

    def stop(self):
        self.proc.terminate()
        self.assert_code = self.proc.wait(timeout=60)
        self.data.cleanup()


def mixed_table(rows):
    ids = pa.array(range(rows), pa.int64())
    return pa.table(
        {
            "id": ids,
            "price": pc.multiply(pc.cast(ids, pa.float64()), 0.25),
            "name": pa.array([None if i % 7 == 3 else f"name-{i % 13}" for i in range(rows)], pa.string()),
            "flag": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(rows)], pa.bool_()),
            "ts": pa.array([1_700_000_000_000_000 + i * 1_500 for i in range(rows)], pa.timestamp("us", tz="UTC")),
            "small": pa.array([None if i % 4 == 1 else i - 50 for i in range(rows)], pa.int32()),
        }
    )


# The server takes DoPut messages up to --max-upload-message (64 MiB by
# default): larger tables go as several record batches.
UPLOAD_MESSAGE = 32 << 20


def put(client, name, table, options=None, max_message=UPLOAD_MESSAGE):
    kwargs = {"options": options} if options else {}
    writer, reader = client.do_put(flight.FlightDescriptor.for_path(name), table.schema, **kwargs)
    rows_per_message = max(1, max_message * table.num_rows // max(table.nbytes, 1))
    writer.write_table(table, max_chunksize=rows_per_message)
    writer.done_writing()
    handle = reader.read().to_pybytes().decode()
    writer.close()
    return handle


def same_values(got, expected):
    """Equal after casting to what came back; the only type change allowed
    is string -> large_string (polars keeps 64-bit offsets)."""
    for want, have in zip(expected.schema, got.schema):
        assert want.name == have.name, (want, have)
        if want.type != have.type:
            assert (want.type, have.type) == (pa.string(), pa.large_string()), (want, have)
    return got.equals(expected.cast(got.schema))


class FlightTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.client = flight.connect(cls.server.location)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()
        assert cls.server.assert_code == 0, "graceful shutdown exits 0"

    def test_put_and_get_a_mixed_table(self):
        table = mixed_table(20_000)
        handle = put(self.client, "mixed", table)
        got = self.client.do_get(flight.Ticket(handle)).read_all()
        self.assertEqual(got.num_rows, 20_000)
        self.assertTrue(same_values(got, table))
        self.assertEqual(got.column("name").null_count, table.column("name").null_count)
        self.assertEqual(got.schema.field("ts").type, pa.timestamp("us", tz="UTC"))
        self.assertEqual(got.schema.field("small").type, pa.int32())

    def test_listing_and_flight_info_describe_the_handle(self):
        table = mixed_table(321)
        handle = put(self.client, "described", table)
        info = self.client.get_flight_info(flight.FlightDescriptor.for_path(handle))
        self.assertEqual(info.total_records, 321)
        self.assertEqual(info.schema.names, table.schema.names)
        self.assertEqual(info.endpoints[0].ticket.ticket.decode(), handle)
        self.assertEqual(self.client.get_schema(flight.FlightDescriptor.for_path(handle)).schema, info.schema)
        listed = [f.descriptor.path[0].decode() for f in self.client.list_flights()]
        self.assertIn(handle, listed)

    def test_keepalive_then_drop_then_not_found(self):
        handle = put(self.client, "short-lived", mixed_table(10))
        kept = [r.body.to_pybytes().decode() for r in self.client.do_action(flight.Action("keepalive", handle.encode()))]
        self.assertEqual(kept, [handle])
        self.assertEqual(list(self.client.do_action(flight.Action("drop", handle.encode()))), [])
        # pyarrow raises gRPC NOT_FOUND as ArrowKeyError.
        with self.assertRaises(KeyError) as caught:
            self.client.do_get(flight.Ticket(handle)).read_all()
        self.assertIn("dropped", str(caught.exception))
        listed = [f.descriptor.path[0].decode() for f in self.client.list_flights()]
        self.assertNotIn(handle, listed)

    def test_sql_action_by_upload_name(self):
        table = pa.table({"sym": ["a", "b", "a", "c"], "qty": [1, 2, 3, 4]})
        put(self.client, "fills", table)
        query = "SELECT sym, SUM(qty) AS total FROM fills GROUP BY sym ORDER BY sym"
        [result] = list(self.client.do_action(flight.Action("sql", query.encode())))
        got = self.client.do_get(flight.Ticket(result.body.to_pybytes())).read_all()
        self.assertEqual(got.column("sym").to_pylist(), ["a", "b", "c"])
        self.assertEqual(got.column("total").to_pylist(), [4, 2, 4])

    def test_a_message_over_the_upload_limit_is_refused_and_split_ones_pass(self):
        ids = pa.array(range(10_000_000), pa.int64())  # 80 MB in one batch
        table = pa.table({"id": ids})
        writer, reader = self.client.do_put(flight.FlightDescriptor.for_path("too-big"), table.schema)
        # pyarrow reports gRPC's OUT_OF_RANGE as ArrowInvalid.
        with self.assertRaises((flight.FlightError, pa.ArrowInvalid)) as refused:
            writer.write_table(table)  # one 80 MB message
            writer.done_writing()
            self.assertIsNone(reader.read())  # no handle comes back
            writer.close()  # the server's refusal surfaces here
        self.assertIn("67108864", str(refused.exception))
        handle = put(self.client, "split", table)
        [info] = [f for f in self.client.list_flights() if f.descriptor.path == [handle.encode()]]
        self.assertEqual(info.total_records, 10_000_000)
        self.client.do_action(flight.Action("drop", handle.encode()))

    def test_a_five_million_row_round_trip(self):
        rows = 5_000_000
        ids = pa.array(range(rows), pa.int64())
        table = pa.table(
            {
                "id": ids,
                "x": pc.divide(pc.cast(ids, pa.float64()), 7.0),
                "bucket": pc.cast(pc.bit_wise_and(ids, 1023), pa.int32()),
                "label": pc.binary_join_element_wise("L", pc.cast(pc.bit_wise_and(ids, 255), pa.string()), ""),
            }
        )
        handle = put(self.client, "five-million", table)
        got = self.client.do_get(flight.Ticket(handle)).read_all()
        self.assertEqual(got.num_rows, rows)
        self.assertTrue(same_values(got, table))
        self.client.do_action(flight.Action("drop", handle.encode()))


class TokenTests(unittest.TestCase):
    def test_without_the_token_calls_are_unauthenticated(self):
        server = Server("--auth-token", "py-secret")
        try:
            anonymous = flight.connect(server.location)
            with self.assertRaises(flight.FlightUnauthenticatedError):
                list(anonymous.list_flights())
            table = mixed_table(3)
            with self.assertRaises(flight.FlightUnauthenticatedError):
                # The refusal surfaces at whichever step first hears back.
                writer, reader = anonymous.do_put(flight.FlightDescriptor.for_path("nope"), table.schema)
                writer.write_table(table)
                writer.done_writing()
                reader.read()
                writer.close()
            anonymous.close()

            authed = flight.connect(server.location)
            options = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer py-secret")])
            handle = put(authed, "mine", mixed_table(3), options)
            got = authed.do_get(flight.Ticket(handle), options).read_all()
            self.assertEqual(got.num_rows, 3)
            authed.close()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
