"""The connection to a polaroid-server: sources, SQL, handles and stats."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.experimental
import polars as pl
import pyarrow as pa

from polaroid._errors import PolaroidError, from_rpc_error
from polaroid._expr import dtype_name
from polaroid.v1 import polaroid_pb2 as pb
from polaroid.v1 import polaroid_pb2_grpc as pb_grpc

T = TypeVar("T")

# Under the server's default --max-message-size (2 MiB) with room to spare.
UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class HandleInfo:
    """What the server knows about one handle."""

    id: str
    kind: str  # "plan" (lazy) or "frame" (materialized)
    schema: dict[str, str]  # column -> dtype as the server prints it
    rows: int | None
    estimated_bytes: int | None
    lineage: str
    created: dt.datetime
    last_access: dt.datetime
    name: str | None

    @classmethod
    def from_proto(cls, info: pb.HandleInfo) -> HandleInfo:
        stamp = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)  # noqa: E731
        return cls(
            id=info.handle,
            kind={pb.HANDLE_KIND_PLAN: "plan", pb.HANDLE_KIND_FRAME: "frame"}.get(info.kind, "unknown"),
            schema={f.name: f.dtype for f in info.schema.fields},
            rows=info.rows if info.HasField("rows") else None,
            estimated_bytes=info.estimated_bytes if info.HasField("estimated_bytes") else None,
            lineage=info.lineage,
            created=stamp(info.created_ms),
            last_access=stamp(info.last_access_ms),
            name=info.name if info.HasField("name") else None,
        )


@dataclass(frozen=True)
class SourceStatus:
    """A live source's state and counters (the README's "Live sources")."""

    name: str
    table: str
    url: str
    state: str  # connecting, connected, backoff or stopped
    rows: int  # appended to the table, in `batches` appends
    batches: int
    messages: int
    dropped_rows: int  # the writer fell behind, or an append failed
    decode_errors: int  # rows (or messages) that could not be decoded
    reconnects: int
    lag_ms: float | None  # the wall clock minus the last row's time when it arrived
    last_error: str | None
    skipped: int  # Kafka: messages read again after a restart, already in the table

    @classmethod
    def from_proto(cls, status: pb.SourceStatus) -> SourceStatus:
        return cls(
            name=status.name, table=status.table, url=status.url, state=status.state, rows=status.rows,
            batches=status.batches, messages=status.messages, dropped_rows=status.dropped_rows,
            decode_errors=status.decode_errors, reconnects=status.reconnects,
            lag_ms=status.lag_ms if status.HasField("lag_ms") else None,
            last_error=status.last_error if status.HasField("last_error") else None,
            skipped=status.skipped,
        )


class Client:
    """A connection to one polaroid-server. Use :func:`polaroid.connect`.

    Frames made through a client are handles on the server; each is dropped
    there when its :class:`RemoteFrame` is garbage-collected, and every one
    still alive is dropped when the client closes.

    ``options`` are more gRPC channel options. Results are read on the
    calling thread (gRPC Python's experimental ``SingleThreadedUnaryStream``);
    ``(grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 0)`` reads
    them through gRPC's own thread instead.
    """

    def __init__(self, target: str, token: str | None = None, *, timeout: float | None = None,
                 options: list[tuple[str, Any]] | None = None) -> None:
        single_threaded = grpc.experimental.ChannelOptions.SingleThreadedUnaryStream
        extra = list(options or [])
        # Results stream (Fetch, subscriptions) on the thread that reads them,
        # not handed over from gRPC's own thread message by message. gRPC
        # turns it on for the key's mere presence, whatever its value, so a
        # falsy value given here leaves the key out.
        read_on_caller = bool(dict(extra).get(single_threaded, True))
        channel_options = [
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
            *([(single_threaded, 1)] if read_on_caller else []),
            *(o for o in extra if o[0] != single_threaded),
        ]
        self.target = target
        self._channel = grpc.insecure_channel(target, options=channel_options)
        self._stub = pb_grpc.PolaroidStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- plumbing

    def _call(self, method: Callable[..., T], request: Any, *, timeout: float | None = None) -> T:
        if self._closed:
            raise PolaroidError("the client is closed")
        try:
            return method(request, metadata=self._metadata, timeout=timeout or self._timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def _stream(self, method: Callable[..., Any], request: Any, *, endless: bool = False) -> Iterator[Any]:
        """A server stream whose errors surface as PolaroidError while iterating.
        An ``endless`` one (a subscription) gets no deadline."""
        if self._closed:
            raise PolaroidError("the client is closed")
        call = method(request, metadata=self._metadata, timeout=None if endless else self._timeout)
        try:
            yield from call
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    def _frame(self, reply: pb.HandleReply) -> RemoteFrame:
        from polaroid._frame import RemoteFrame

        with self._lock:
            self._live.add(reply.info.handle)
        return RemoteFrame(self, reply.info)

    def _release(self, handle: str) -> None:
        """Drop a handle this client made; quiet when it is already gone."""
        with self._lock:
            if handle not in self._live:
                return
            self._live.discard(handle)
        if self._closed:
            return
        try:
            self._stub.Drop(pb.HandleRequest(handle=handle), metadata=self._metadata, timeout=10)
        except grpc.RpcError:
            pass  # expired, or the server is gone: nothing is held either way

    # -- sources

    def scan(self, path: str | Sequence[str], *, format: str | None = None, has_header: bool | None = None,
             separator: str | None = None, hive_partitioning: bool | None = None) -> RemoteFrame:
        """A lazy scan in the server's data directory (format from the first path's extension).

        ``path`` is a file, a directory (its files, with hive partitioning on unless
        ``hive_partitioning=False``), a glob pattern (``"days/*.parquet"``), or a list of them
        read as one frame in order; or the name of one of your tables.
        """
        return self._scan(path, format, hive_partitioning, has_header=has_header, separator=separator)

    def _scan(self, path: str | Sequence[str], format: str | None, hive_partitioning: bool | None,
              **csv: Any) -> RemoteFrame:
        formats = {None: pb.FILE_FORMAT_UNSPECIFIED, "parquet": pb.FILE_FORMAT_PARQUET,
                   "csv": pb.FILE_FORMAT_CSV, "ipc": pb.FILE_FORMAT_IPC}
        if format not in formats:
            raise ValueError(f"format must be one of parquet, csv, ipc, not {format!r}")
        request = pb.ScanRequest(format=formats[format])
        if isinstance(path, (str, os.PathLike)):
            request.path = str(path)
        else:
            request.paths.extend(str(p) for p in path)
        if hive_partitioning is not None:
            request.hive_partitioning = hive_partitioning
        for name, value in csv.items():
            if value is None:
                continue
            if name in ("csv_schema", "csv_schema_overrides"):
                getattr(request, name).extend(pb.Field(name=k, dtype=dtype_name(v)) for k, v in value.items())
            elif name == "csv_null_values":
                request.csv_null_values.extend([value] if isinstance(value, str) else value)
            else:
                setattr(request, name if name.startswith("csv_") else f"csv_{name}", value)
        return self._frame(self._call(self._stub.Scan, request))

    def subscribe_bars(self, table: str, every: str | dt.timedelta = "1m", *,
                       start: str | dt.datetime | None = None, grace: str | dt.timedelta | None = None,
                       by: str | Sequence[str] | None = "symbol", kind: str = "time", threshold: float | None = None,
                       period: str | dt.timedelta | None = None, offset: str | dt.timedelta | None = None,
                       time_zone: str | None = None, fill: str | None = None, time: str = "",
                       price: str = "price", size: str = "size") -> Iterator[pl.DataFrame]:
        """Bars of one of your tables as they close while it grows (ILP, a live source):
        a ``polars.DataFrame`` of closed bars per append that closed any, sorted by ts.

        ``start`` (a datetime, naive meaning UTC, or RFC 3339 text) first sends the bars
        closed since then; without it, only bars still open now. A time bar closes when the
        table's newest tick reaches its end plus ``grace``; a tick later than that stays in
        the table but not in the bars. ``time`` defaults to the table's designated timestamp.
        The iterator ends only with an error (for example
        ResourceExhaustedError when you fall far behind: subscribe again from your last bar).
        It returns once the server has subscribed: every write after it is in the bars.
        """
        from polaroid._frame import _StreamState, _batches_after, _duration, _ohlcv_request

        bars = _ohlcv_request(every, by=by, kind=kind, threshold=threshold, period=period, offset=offset,
                              time_zone=time_zone, fill=fill, drop_partial=False, time=time, price=price, size=size)
        if isinstance(start, dt.datetime):
            start = (start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)).isoformat()
        request = pb.SubscribeBarsRequest(table=table, bars=bars, start=start or "",
                                          grace=_duration(grace) if grace else "")
        messages = self._stream(self._stub.SubscribeBars, request, endless=True)
        # The schema comes once the server has subscribed (or the error does).
        head = next(messages, None)
        if head is None:
            raise PolaroidError("the server ended the subscription before it began")
        state = _StreamState(messages)
        state.schema = pa.ipc.read_schema(pa.ipc.read_message(pa.py_buffer(head.data)))
        return _frames(_batches_after(state))

    # -- live sources

    def start_source(self, spec: Mapping[str, Any]) -> SourceStatus:
        """Start a live source: a feed (WebSocket or Kafka) whose messages are appended
        to one of your tables. ``spec`` has the fields of a ``[[source]]`` in
        sources.toml, as a dict (``{"name": ..., "table": ..., "format": "json",
        "websocket": {"url": ...}, "rows": "/data", "columns": {...}}``).

        InvalidArgumentError names what is wrong with a spec; AlreadyExistsError
        says the name is running.
        """
        request = pb.StartSourceRequest(spec_json=json.dumps(dict(spec)))
        return SourceStatus.from_proto(self._call(self._stub.StartSource, request))

    def stop_source(self, name: str) -> SourceStatus:
        """Stop one of your sources after appending what it has pending; its final status."""
        return SourceStatus.from_proto(self._call(self._stub.StopSource, pb.StopSourceRequest(name=name)))

    def sources(self) -> list[SourceStatus]:
        """Your running sources."""
        return [SourceStatus.from_proto(s) for s in self._call(self._stub.Sources, pb.SourcesRequest()).sources]

    def table(self, name: str) -> RemoteFrame:
        """A lazy scan of one of your tables (made over the HTTP door: CREATE TABLE, ILP, /imp)."""
        return self.scan(name)

    def scan_parquet(self, source: str | Sequence[str], *, hive_partitioning: bool | None = None) -> RemoteFrame:
        """As ``pl.scan_parquet``, on the server: ``source`` (a file, a directory, a glob pattern
        or a list of them) is relative to its data directory."""
        return self.scan(source, format="parquet", hive_partitioning=hive_partitioning)

    def scan_csv(self, source: str | Sequence[str], *, has_header: bool = True, separator: str = ",",
                 comment_prefix: str | None = None, quote_char: str | None = '"', skip_rows: int = 0,
                 skip_rows_after_header: int = 0, schema: Mapping[str, Any] | None = None,
                 schema_overrides: Mapping[str, Any] | None = None,
                 null_values: str | Sequence[str] | None = None, missing_utf8_is_empty_string: bool = False,
                 ignore_errors: bool = False, try_parse_dates: bool = False, infer_schema: bool = True,
                 infer_schema_length: int | None = 100, encoding: str = "utf8",
                 truncate_ragged_lines: bool = False, decimal_comma: bool = False,
                 eol_char: str = "\n") -> RemoteFrame:
        """As ``pl.scan_csv`` (the same options and defaults), on the server."""
        if isinstance(null_values, Mapping):
            raise NotImplementedError("polaroid's scan_csv does not take null_values per column (a dict) yet")
        if schema_overrides is not None and not isinstance(schema_overrides, Mapping):
            raise NotImplementedError("polaroid's scan_csv does not take schema_overrides by position (a list) yet")
        if encoding not in ("utf8", "utf8-lossy"):
            raise ValueError(f"encoding must be 'utf8' or 'utf8-lossy', not {encoding!r}")
        return self._scan(
            source, "csv", None, has_header=has_header, separator=separator, comment_prefix=comment_prefix,
            quote_char=quote_char or "", skip_rows=skip_rows or None,
            skip_rows_after_header=skip_rows_after_header or None, csv_schema=schema,
            csv_schema_overrides=schema_overrides, csv_null_values=null_values,
            missing_is_null=not missing_utf8_is_empty_string, ignore_errors=ignore_errors,
            try_parse_dates=try_parse_dates,
            infer_schema_length=0 if not infer_schema else infer_schema_length,
            infer_schema_all=infer_schema and infer_schema_length is None or None,
            utf8_lossy=encoding == "utf8-lossy", truncate_ragged_lines=truncate_ragged_lines,
            decimal_comma=decimal_comma, eol_char=eol_char)

    def scan_ipc(self, source: str | Sequence[str], *, hive_partitioning: bool | None = None) -> RemoteFrame:
        """As ``pl.scan_ipc``, on the server."""
        return self.scan(source, format="ipc", hive_partitioning=hive_partitioning)

    def from_arrow(self, data: pa.Table | pa.RecordBatch, *, name: str | None = None) -> RemoteFrame:
        """Upload an Arrow table; it becomes a frame handle on the server."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return self._upload(sink.getvalue(), name)

    def _upload(self, body: Any, name: str | None) -> RemoteFrame:
        """An Arrow IPC stream (bytes or a buffer) sent in chunks; it becomes a frame handle."""

        def chunks() -> Iterator[pb.UploadChunk]:
            view = memoryview(body)
            first = True
            for start in range(0, max(len(view), 1), UPLOAD_CHUNK):
                yield pb.UploadChunk(name=(name or "") if first else "", data=bytes(view[start:start + UPLOAD_CHUNK]))
                first = False

        return self._frame(self._call(self._stub.Upload, chunks()))

    def from_polars(self, df: pl.DataFrame, *, name: str | None = None) -> RemoteFrame:
        """Upload a polars DataFrame; it becomes a frame handle on the server."""
        try:
            table = df.to_arrow()
        except pa.ArrowInvalid:
            # Types pyarrow lacks (polars' Int128, say): polars writes the stream itself.
            stream = io.BytesIO()
            df.write_ipc_stream(stream)
            return self._upload(stream.getbuffer(), name)
        return self.from_arrow(table, name=name)

    def sql(self, query: str, *, params: Sequence[Any] | Mapping[str, Any] | pl.DataFrame | None = None,
            **frames: RemoteFrame) -> RemoteFrame:
        """Run polars SQL over frames named by keyword: ``client.sql("SELECT * FROM t", t=frame)``.

        Table functions (``read_parquet('trades.parquet')``) read the server's data directory.
        ``params`` binds the query's placeholders: a sequence for ``?`` (or ``$1``, ``$2``),
        a mapping for ``$name``, or a polars DataFrame whose rows are executions (the
        results one after another); each value is written into the query as the SQL
        literal a user would type (``px > ?`` with 2.5 is ``px > 2.5``).
        """
        request = pb.SqlRequest(query=query, tables={name: f.id for name, f in frames.items()},
                                parameters=_parameters(params))
        return self._frame(self._call(self._stub.Sql, request))

    def sql_distributed(self, query: str, *, params: Sequence[Any] | Mapping[str, Any] | None = None,
                        **frames: RemoteFrame) -> RemoteFrame:
        """Run SQL on the server's distributed engine (DataFusion on a Ballista cluster).

        Tables are data-directory files, quoted whole (``FROM "ticks.parquet"``), the
        caller's tables, and frames backed by files (what ``scan_parquet`` returns),
        named by keyword. Frames held in the server's memory (uploads, collected
        results) are refused: executors read files. The result is a frame handle, or for a large one a plan over its spilled file.
        """
        request = pb.SqlRequest(query=query, tables={name: f.id for name, f in frames.items()}, distributed=True,
                                parameters=_parameters(params))
        return self._frame(self._call(self._stub.Sql, request))

    # -- handles

    def attach(self, handle: str) -> RemoteFrame:
        """A RemoteFrame for a handle made elsewhere (by Flight DoPut, another client).

        It is not this client's: it is not dropped when the frame is collected
        or the client closes (``drop()`` still drops it).
        """
        from polaroid._frame import RemoteFrame

        info = self._call(self._stub.KeepAlive, pb.HandleRequest(handle=handle))
        return RemoteFrame(self, info, owned=False)

    def handles(self) -> list[HandleInfo]:
        """Every live handle of this client's namespace (its token's)."""
        return [HandleInfo.from_proto(h) for h in self._call(self._stub.List, pb.ListRequest()).handles]

    def stats(self) -> dict[str, int]:
        """The server's store counters, memory budget and query slots."""
        reply = self._call(self._stub.Stats, pb.StatsRequest())
        return {f.name: getattr(reply, f.name) for f in reply.DESCRIPTOR.fields}

    # -- lifetime

    def close(self) -> None:
        """Drop every handle this client still holds, then close the channel."""
        if self._closed:
            return
        with self._lock:
            live, self._live = list(self._live), set()
        for handle in live:
            try:
                self._stub.Drop(pb.HandleRequest(handle=handle), metadata=self._metadata, timeout=10)
            except grpc.RpcError:
                pass
        self._closed = True
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<polaroid.Client {self.target}{' closed' if self._closed else ''}>"


def connect(target: str = "127.0.0.1:50051", token: str | None = None, *, timeout: float | None = None) -> Client:
    """Connect to a polaroid-server at ``host:port``; ``token`` for a server run with --auth-token.

    ``timeout`` (seconds) bounds each call. Also a context manager::

        with pr.connect("127.0.0.1:50051") as client:
            ...
    """
    return Client(target, token, timeout=timeout)


def _parameters(params: Sequence[Any] | Mapping[str, Any] | pl.DataFrame | None) -> bytes:
    """Bound values as the Arrow IPC stream SqlRequest.parameters takes: a row per execution."""
    if params is None:
        return b""
    if isinstance(params, pl.DataFrame):
        frame = params
    elif isinstance(params, Mapping):
        frame = pl.DataFrame({str(name): [value] for name, value in params.items()}, strict=False)
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        frame = pl.DataFrame({str(i): [value] for i, value in enumerate(params)}, strict=False)
    else:
        raise TypeError(f"params must be a sequence, a mapping or a polars DataFrame, not {type(params).__name__}")
    if frame.width == 0:
        return b""
    stream = io.BytesIO()
    frame.write_ipc_stream(stream)
    return stream.getvalue()


from polaroid._frame import RemoteFrame, _as_polars  # noqa: E402  (import cycle: frames refer to their client)


def _frames(batches: Iterator[pa.RecordBatch]) -> Iterator[pl.DataFrame]:
    for batch in batches:
        yield _as_polars(batch)
