"""RemoteFrame: a polars LazyFrame whose plan (or data) lives on the server."""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from polaroid._expr import Expr, IntoExpr, col, duration_text as _duration, into_expr
from polaroid.v1 import polaroid_pb2 as pb

if TYPE_CHECKING:
    from polaroid._client import Client, HandleInfo

_JOIN_HOW = {
    "inner": pb.JOIN_HOW_INNER, "left": pb.JOIN_HOW_LEFT, "right": pb.JOIN_HOW_RIGHT, "full": pb.JOIN_HOW_FULL,
    "semi": pb.JOIN_HOW_SEMI, "anti": pb.JOIN_HOW_ANTI, "cross": pb.JOIN_HOW_CROSS,
}
_ASOF = {"backward": pb.ASOF_STRATEGY_BACKWARD, "forward": pb.ASOF_STRATEGY_FORWARD, "nearest": pb.ASOF_STRATEGY_NEAREST}
_KEEP = {"any": pb.UNIQUE_KEEP_ANY, "first": pb.UNIQUE_KEEP_FIRST, "last": pb.UNIQUE_KEEP_LAST, "none": pb.UNIQUE_KEEP_NONE}
_BAR_KIND = {"time": pb.BAR_KIND_TIME, "tick": pb.BAR_KIND_TICK, "volume": pb.BAR_KIND_VOLUME, "dollar": pb.BAR_KIND_DOLLAR}
_ENGINE = {"auto": pb.ENGINE_AUTO, "in-memory": pb.ENGINE_IN_MEMORY, "in_memory": pb.ENGINE_IN_MEMORY,
           "streaming": pb.ENGINE_STREAMING}
_COMPRESSION = {None: pb.IPC_COMPRESSION_NONE, "lz4": pb.IPC_COMPRESSION_LZ4, "zstd": pb.IPC_COMPRESSION_ZSTD}


def _choice(table: Mapping[Any, int], value: Any, what: str) -> int:
    if value not in table:
        raise ValueError(f"{what} must be one of {', '.join(str(k) for k in table if k is not None)}; got {value!r}")
    return table[value]


def _exprs(items: Sequence[Any], named: Mapping[str, IntoExpr]) -> list[pb.Expr]:
    flat: list[Any] = []
    for item in items:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    out = [into_expr(e).to_proto() for e in flat]
    out += [into_expr(e, str_as_col=False).alias(name).to_proto() for name, e in named.items()]
    return out


def _ohlcv_request(every: str | dt.timedelta, *, by: str | Sequence[str] | None, kind: str, threshold: float | None,
                   period: str | dt.timedelta | None, offset: str | dt.timedelta | None, time_zone: str | None,
                   fill: str | None, drop_partial: bool, time: str, price: str, size: str) -> pb.OhlcvRequest:
    """The bars a request asks for (Ohlcv, SubscribeBars), without a handle."""
    fills = {None: pb.BAR_FILL_NONE, "none": pb.BAR_FILL_NONE, "forward": pb.BAR_FILL_FORWARD}
    return pb.OhlcvRequest(
        time=time, price=price, size=size, by=_names(by), kind=_choice(_BAR_KIND, kind, "kind"),
        threshold=float(threshold or 0), every=_duration(every) if kind == "time" else "",
        period=_duration(period) if period else "", offset=_duration(offset) if offset else "",
        time_zone=time_zone or "", fill=_choice(fills, fill, "fill"), drop_partial=drop_partial)


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)



def _column_name(key: IntoExpr) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, Expr) and key.to_proto().WhichOneof("kind") == "column":
        return key.to_proto().column
    raise TypeError("sort takes column names; add a computed key with with_columns first")


class RemoteFrame:
    """A lazy frame on the server. Each method returns a new RemoteFrame (a new
    handle); nothing runs until :meth:`collect`, :meth:`to_arrow` or
    :meth:`iter_batches`. Method names and arguments follow ``polars.LazyFrame``."""

    def __init__(self, client: Client, info: pb.HandleInfo, *, owned: bool = True) -> None:
        self._client = client
        self._info = info
        self._id = info.handle
        # The server-side handle goes when this object does (if this client made it).
        self._finalizer = weakref.finalize(self, client._release, info.handle)
        if not owned:
            self._finalizer.detach()

    # -- identity

    @property
    def id(self) -> str:
        """The server's handle id."""
        return self._id

    @property
    def info(self) -> HandleInfo:
        """The handle as the server described it when it was made."""
        from polaroid._client import HandleInfo

        return HandleInfo.from_proto(self._info)

    @property
    def lineage(self) -> str:
        """How the handle was made, e.g. ``scan_parquet("trades.parquet").filter(...)``."""
        return self._info.lineage

    def __repr__(self) -> str:
        return f"<polaroid.RemoteFrame {self._id} {self._info.lineage}>"

    def _derive(self, method: Any, request: Any) -> RemoteFrame:
        return self._client._frame(self._client._call(method, request))

    @property
    def _stub(self) -> Any:
        return self._client._stub

    # -- transforms

    def select(self, *exprs: IntoExpr | Sequence[IntoExpr], **named: IntoExpr) -> RemoteFrame:
        """As ``LazyFrame.select``."""
        return self._derive(self._stub.Select, pb.SelectRequest(handle=self._id, exprs=_exprs(exprs, named)))

    def with_columns(self, *exprs: IntoExpr | Sequence[IntoExpr], **named: IntoExpr) -> RemoteFrame:
        """As ``LazyFrame.with_columns``."""
        return self._derive(self._stub.WithColumns, pb.WithColumnsRequest(handle=self._id, exprs=_exprs(exprs, named)))

    def filter(self, *predicates: IntoExpr, **constraints: Any) -> RemoteFrame:
        """As ``LazyFrame.filter``: predicates are and-ed; ``name=value`` means ``col(name) == value``."""
        parts = [into_expr(p) for p in predicates] + [col(k) == v for k, v in constraints.items()]
        if not parts:
            raise ValueError("filter needs at least one predicate")
        predicate = parts[0]
        for p in parts[1:]:
            predicate = predicate & p
        return self._derive(self._stub.Filter, pb.FilterRequest(handle=self._id, predicate=predicate.to_proto()))

    def group_by(self, *by: IntoExpr | Sequence[IntoExpr], maintain_order: bool = False) -> GroupBy:
        """As ``LazyFrame.group_by``; finish with ``.agg(...)``."""
        return GroupBy(self, _exprs(by, {}), maintain_order)

    def group_by_dynamic(self, index_column: str, *, every: str | dt.timedelta,
                         period: str | dt.timedelta | None = None, offset: str | dt.timedelta | None = None,
                         include_boundaries: bool = False, closed: str = "left", label: str = "left",
                         group_by: IntoExpr | Sequence[IntoExpr] | None = None,
                         start_by: str = "window") -> GroupBy:
        """As ``LazyFrame.group_by_dynamic`` (``index_column`` sorted within each group); finish with ``.agg(...)``."""
        window = pb.DynamicGroup(index_column=index_column, every=_duration(every),
                                 period=_duration(period) if period is not None else "",
                                 offset=_duration(offset) if offset is not None else "", closed=closed,
                                 label=label, include_boundaries=include_boundaries, start_by=start_by)
        return GroupBy(self, _exprs([] if group_by is None else [group_by], {}), False, dynamic=window)

    def rolling(self, index_column: str, *, period: str | dt.timedelta, offset: str | dt.timedelta | None = None,
                closed: str = "right", group_by: IntoExpr | Sequence[IntoExpr] | None = None) -> GroupBy:
        """As ``LazyFrame.rolling``: one window per row, ending at it; finish with ``.agg(...)``."""
        window = pb.RollingGroup(index_column=index_column, period=_duration(period),
                                 offset=_duration(offset) if offset is not None else "", closed=closed)
        return GroupBy(self, _exprs([] if group_by is None else [group_by], {}), False, rolling=window)

    def sort(self, by: str | Expr | Sequence[str | Expr], *more_by: str | Expr,
             descending: bool | Sequence[bool] = False, nulls_last: bool | Sequence[bool] = False,
             maintain_order: bool = False) -> RemoteFrame:
        """As ``LazyFrame.sort`` (by column names)."""
        keys = [*(by if isinstance(by, (list, tuple)) else [by]), *more_by]
        desc = [descending] * len(keys) if isinstance(descending, bool) else list(descending)
        nl = [nulls_last] * len(keys) if isinstance(nulls_last, bool) else list(nulls_last)
        if len(desc) != len(keys) or len(nl) != len(keys):
            raise ValueError("descending and nulls_last need one value per key, or one for all")
        sort_keys = [pb.SortKey(column=_column_name(k), descending=d, nulls_last=n) for k, d, n in zip(keys, desc, nl)]
        return self._derive(self._stub.Sort, pb.SortRequest(handle=self._id, by=sort_keys, maintain_order=maintain_order))

    def slice(self, offset: int, length: int | None = None) -> RemoteFrame:
        """As ``LazyFrame.slice``; a negative offset counts from the end."""
        request = pb.SliceRequest(handle=self._id, offset=offset)
        if length is not None:
            request.length = length
        return self._derive(self._stub.Slice, request)

    def head(self, n: int = 5) -> RemoteFrame:
        """The first ``n`` rows."""
        return self.slice(0, n)

    def limit(self, n: int = 5) -> RemoteFrame:
        """The first ``n`` rows."""
        return self.head(n)

    def tail(self, n: int = 5) -> RemoteFrame:
        """The last ``n`` rows."""
        return self.slice(-n, n)

    def unique(self, subset: str | Sequence[str] | None = None, *, keep: str = "any",
               maintain_order: bool = False) -> RemoteFrame:
        """As ``LazyFrame.unique``."""
        request = pb.UniqueRequest(handle=self._id, subset=_names(subset), keep=_choice(_KEEP, keep, "keep"),
                                   maintain_order=maintain_order)
        return self._derive(self._stub.Unique, request)

    def drop_nulls(self, subset: str | Sequence[str] | None = None) -> RemoteFrame:
        """As ``LazyFrame.drop_nulls``."""
        return self._derive(self._stub.DropNulls, pb.DropNullsRequest(handle=self._id, subset=_names(subset)))

    def drop_columns(self, columns: str | Sequence[str], *more_columns: str, strict: bool = True) -> RemoteFrame:
        """As ``LazyFrame.drop`` (``drop()`` here releases the handle): every row
        stays. ``strict=False`` skips names the frame does not have. Dropping
        every column is refused: the server's polars would answer no rows
        where polars 2 keeps the height."""
        request = pb.DropColumnsRequest(handle=self._id, columns=[*_names(columns), *more_columns], strict=strict)
        return self._derive(self._stub.DropColumns, request)

    def explode(self, columns: str | Sequence[str], *more_columns: str, empty_as_null: bool = False,
                keep_nulls: bool = True) -> RemoteFrame:
        """As ``LazyFrame.explode`` (by column names)."""
        request = pb.ExplodeRequest(handle=self._id, columns=[*_names(columns), *more_columns],
                                    empty_as_null=empty_as_null, keep_nulls=keep_nulls)
        return self._derive(self._stub.Explode, request)

    def unpivot(self, on: str | Sequence[str] | None = None, *, index: str | Sequence[str] | None = None,
                variable_name: str | None = None, value_name: str | None = None) -> RemoteFrame:
        """As ``LazyFrame.unpivot`` (by column names)."""
        request = pb.UnpivotRequest(handle=self._id, on=_names(on), index=_names(index),
                                    variable_name=variable_name or "", value_name=value_name or "")
        return self._derive(self._stub.Unpivot, request)

    def with_row_index(self, name: str = "index", offset: int = 0) -> RemoteFrame:
        """As ``LazyFrame.with_row_index``."""
        if offset < 0:
            raise ValueError("offset must not be negative")
        return self._derive(self._stub.WithRowIndex, pb.WithRowIndexRequest(handle=self._id, name=name, offset=offset))

    def rename(self, mapping: Mapping[str, str], *, strict: bool = True) -> RemoteFrame:
        """As ``LazyFrame.rename``."""
        return self._derive(self._stub.Rename, pb.RenameRequest(handle=self._id, mapping=dict(mapping), strict=strict))

    def merge_sorted(self, other: RemoteFrame, key: str | Sequence[str]) -> RemoteFrame:
        """As ``LazyFrame.merge_sorted``: two frames of one schema, each sorted ascending by ``key``,
        merged into one sorted frame; of rows with equal keys, this frame's come first."""
        keys = [key] if isinstance(key, str) else list(key)
        return self._derive(self._stub.MergeSorted, pb.MergeSortedRequest(left=self._id, right=other.id, key=keys))

    def join(self, other: RemoteFrame, on: IntoExpr | Sequence[IntoExpr] | None = None, how: str = "inner", *,
             left_on: IntoExpr | Sequence[IntoExpr] | None = None,
             right_on: IntoExpr | Sequence[IntoExpr] | None = None, suffix: str = "_right", validate: str = "m:m",
             nulls_equal: bool = False, coalesce: bool | None = None,
             maintain_order: str | None = None) -> RemoteFrame:
        """As ``LazyFrame.join``: inner, left, right, full, semi, anti or cross, on column names or
        expressions (keys computed by expressions are kept, not merged, as in polars)."""
        how_pb = _choice(_JOIN_HOW, how, "how")
        left, right = (_keys(on), _keys(on)) if on is not None else (_keys(left_on), _keys(right_on))
        if how != "cross" and not left:
            raise ValueError("join needs `on`, or `left_on` and `right_on`")
        request = pb.JoinRequest(left=self._id, right=other.id, how=how_pb, suffix=suffix, validate=validate,
                                 nulls_equal=nulls_equal, maintain_order=maintain_order or "none")
        if coalesce is not None:
            request.coalesce = coalesce
        if all(isinstance(k, str) for k in (*left, *right)):
            request.left_on.extend(left)
            request.right_on.extend(right)
        else:
            request.left_on_exprs.extend(into_expr(k).to_proto() for k in left)
            request.right_on_exprs.extend(into_expr(k).to_proto() for k in right)
        return self._derive(self._stub.Join, request)

    def join_where(self, other: RemoteFrame, *predicates: Expr, suffix: str = "_right") -> RemoteFrame:
        """As ``LazyFrame.join_where``: pairs of rows for which every predicate holds (a right-hand column
        whose name clashes is named with ``suffix`` in them)."""
        if not predicates:
            raise ValueError("join_where needs at least one predicate")
        request = pb.JoinRequest(left=self._id, right=other.id, how=pb.JOIN_HOW_WHERE, suffix=suffix,
                                 predicates=[into_expr(p).to_proto() for p in predicates])
        return self._derive(self._stub.Join, request)

    def join_asof(self, other: RemoteFrame, *, left_on: str | None = None, right_on: str | None = None,
                  on: str | None = None, by_left: str | Sequence[str] | None = None,
                  by_right: str | Sequence[str] | None = None, by: str | Sequence[str] | None = None,
                  strategy: str = "backward", suffix: str = "_right",
                  tolerance: str | int | float | dt.timedelta | None = None,
                  allow_exact_matches: bool = True) -> RemoteFrame:
        """As ``LazyFrame.join_asof``: both sides sorted by their key (within ``by`` groups)."""
        left_key, right_key = (on, on) if on is not None else (left_on, right_on)
        if left_key is None or right_key is None:
            raise ValueError("join_asof needs `on`, or `left_on` and `right_on`")
        asof = pb.AsofOptions(strategy=_choice(_ASOF, strategy, "strategy"),
                              left_by=_names(by if by is not None else by_left),
                              right_by=_names(by if by is not None else by_right),
                              allow_exact_matches=allow_exact_matches)
        if isinstance(tolerance, (str, dt.timedelta)):
            asof.tolerance_duration = _duration(tolerance)
        elif tolerance is not None:
            asof.tolerance_number = float(tolerance)
        request = pb.JoinRequest(left=self._id, right=other.id, left_on=[left_key], right_on=[right_key],
                                 how=pb.JOIN_HOW_ASOF, suffix=suffix, asof=asof)
        return self._derive(self._stub.Join, request)

    # -- time series

    def ohlcv(self, every: str | dt.timedelta = "1m", *, by: str | Sequence[str] | None = None, kind: str = "time",
              threshold: float | None = None, period: str | dt.timedelta | None = None,
              offset: str | dt.timedelta | None = None, time_zone: str | None = None, fill: str | None = None,
              drop_partial: bool = False, time: str = "ts", price: str = "price", size: str = "size") -> RemoteFrame:
        """OHLCV bars: ``kind`` time (``every``/``period``/``offset``), tick, volume or dollar
        (every ``threshold``); ``fill="forward"`` emits empty intervals with the last close."""
        request = _ohlcv_request(every, by=by, kind=kind, threshold=threshold, period=period, offset=offset,
                                 time_zone=time_zone, fill=fill, drop_partial=drop_partial, time=time, price=price,
                                 size=size)
        request.handle = self._id
        return self._derive(self._stub.Ohlcv, request)

    def _ticks(self, by: str | Sequence[str] | None, time: str, price: str, size: str, **op: Any) -> RemoteFrame:
        request = pb.TickAnalyticsRequest(handle=self._id, by=_names(by), time=time, price=price, size=size, **op)
        return self._derive(self._stub.TickAnalytics, request)

    def returns(self, *, log: bool = False, name: str = "return", by: str | Sequence[str] | None = None,
                time: str = "ts", price: str = "price", size: str = "size") -> RemoteFrame:
        """Adds simple (or log) returns of consecutive ticks per series."""
        return self._ticks(by, time, price, size, returns=pb.Returns(log=log, name=name))

    def rolling_volatility(self, window: int = 20, *, returns: str = "return", periods_per_year: float | None = None,
                           name: str = "volatility", by: str | Sequence[str] | None = None, time: str = "ts",
                           price: str = "price", size: str = "size") -> RemoteFrame:
        """Adds the rolling standard deviation of a returns column (annualized with ``periods_per_year``)."""
        op = pb.RollingVolatility(returns=returns, window=window, name=name)
        if periods_per_year is not None:
            op.periods_per_year = periods_per_year
        return self._ticks(by, time, price, size, rolling_volatility=op)

    def rolling_vwap(self, window: str | dt.timedelta = "5m", *, name: str = "vwap",
                     by: str | Sequence[str] | None = None, time: str = "ts", price: str = "price",
                     size: str = "size") -> RemoteFrame:
        """Adds sum(price*size)/sum(size) over a trailing time window."""
        return self._ticks(by, time, price, size, rolling_vwap=pb.RollingWindow(window=_duration(window), name=name))

    def rolling_twap(self, window: str | dt.timedelta = "5m", *, name: str = "twap",
                     by: str | Sequence[str] | None = None, time: str = "ts", price: str = "price",
                     size: str = "size") -> RemoteFrame:
        """Adds the time-weighted average price over a trailing time window."""
        return self._ticks(by, time, price, size, rolling_twap=pb.RollingWindow(window=_duration(window), name=name))

    def twap(self, every: str | dt.timedelta = "1m", *, by: str | Sequence[str] | None = None, time: str = "ts",
             price: str = "price", size: str = "size") -> RemoteFrame:
        """One row per series and interval: ``[by.., ts, twap]``."""
        return self._ticks(by, time, price, size, twap=pb.IntervalStat(every=_duration(every)))

    def realized_variance(self, every: str | dt.timedelta = "1m", *, by: str | Sequence[str] | None = None,
                          time: str = "ts", price: str = "price", size: str = "size") -> RemoteFrame:
        """One row per series and interval: ``[by.., ts, realized_variance]``."""
        return self._ticks(by, time, price, size, realized_variance=pb.IntervalStat(every=_duration(every)))

    def quote_metrics(self, *, bid: str = "bid", ask: str = "ask", bid_size: str = "bid_size",
                      ask_size: str = "ask_size", by: str | Sequence[str] | None = None,
                      time: str = "ts") -> RemoteFrame:
        """Adds mid, spread and microprice."""
        op = pb.QuoteMetrics(bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size)
        return self._ticks(by, time, "", "", quote_metrics=op)

    def resample_quotes(self, every: str | dt.timedelta = "1s", *, columns: Sequence[str] | None = None,
                        by: str | Sequence[str] | None = None, time: str = "ts") -> RemoteFrame:
        """The last quote per interval, carried forward: ``[by.., ts, columns..]``."""
        op = pb.ResampleQuotes(every=_duration(every), columns=list(columns or []))
        return self._ticks(by, time, "", "", resample_quotes=op)

    def clean_ticks(self, *, drop_out_of_order: bool = False, by: str | Sequence[str] | None = None,
                    time: str = "ts", price: str = "price", size: str = "size") -> RemoteFrame:
        """Drops exact duplicates; flags (``out_of_order`` column) or drops late ticks."""
        return self._ticks(by, time, price, size, clean_ticks=pb.CleanTicks(drop_out_of_order=drop_out_of_order))

    # -- running it

    def _messages(self, offset: int, limit: int | None, compression: str | None) -> Iterator[pb.IpcMessage]:
        request = pb.FetchRequest(handle=self._id, offset=offset,
                                  compression=_choice(_COMPRESSION, compression, "compression"))
        if limit is not None:
            request.limit = limit
        return self._client._stream(self._stub.Fetch, request)

    def iter_arrow_batches(self, *, offset: int = 0, limit: int | None = None,
                           compression: str | None = None) -> Iterator[pa.RecordBatch]:
        """The result as Arrow record batches, as the server streams them (bounded memory).

        Each message's bytes are wrapped, not copied: the batches point into them.
        """
        return _batches_after(_StreamState(self._messages(offset, limit, compression)))

    def iter_batches(self, *, offset: int = 0, limit: int | None = None,
                     compression: str | None = None) -> Iterator[pl.DataFrame]:
        """The result as polars DataFrames, one per streamed record batch (bounded memory)."""
        state = _StreamState(self._messages(offset, limit, compression), polars_types=True)
        try:
            for batch in _batches_after(state):
                yield _as_polars(batch)
        except _NotForPyarrow as whole:
            yield pl.read_ipc_stream(whole.stream)

    def to_arrow(self, *, offset: int = 0, limit: int | None = None, compression: str | None = None) -> pa.Table:
        """The whole result as a ``pyarrow.Table`` (streamed, then assembled without copying)."""
        state = _StreamState(self._messages(offset, limit, compression))
        batches = list(_batches_after(state))
        return pa.Table.from_batches(batches, schema=state.schema)

    def collect(self, *, offset: int = 0, limit: int | None = None) -> pl.DataFrame:
        """Run the query on the server and return the result as a ``polars.DataFrame``."""
        state = _StreamState(self._messages(offset, limit, None), polars_types=True)
        try:
            batches = list(_batches_after(state))
        except _NotForPyarrow as whole:
            return pl.read_ipc_stream(whole.stream)
        return _as_polars(pa.Table.from_batches(batches, schema=state.schema))

    def fetch(self, n_rows: int = 500) -> pl.DataFrame:
        """The first ``n_rows`` of the result."""
        return self.collect(limit=n_rows)

    def materialize(self, engine: str = "auto") -> RemoteFrame:
        """Run the query into a frame held on the server (a new handle): later queries
        on it do not recompute it. ``engine`` is auto, streaming or in-memory."""
        request = pb.CollectRequest(handle=self._id, engine=_choice(_ENGINE, engine, "engine"))
        return self._derive(self._stub.Collect, request)

    @property
    def schema(self) -> pl.Schema:
        """The result's schema, exactly as polars will see it."""
        return self.collect(limit=0).schema

    def collect_schema(self) -> pl.Schema:
        """As ``LazyFrame.collect_schema``."""
        return self.schema

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names())

    def explain(self, *, optimized: bool = True) -> str:
        """The query plan, as polars prints it (optimized unless told otherwise)."""
        reply = self._client._call(self._stub.Explain, pb.ExplainRequest(handle=self._id, unoptimized=not optimized))
        return reply.plan

    # -- the handle

    def keepalive(self) -> HandleInfo:
        """Reset the handle's idle timer; returns its current description."""
        from polaroid._client import HandleInfo

        return HandleInfo.from_proto(self._client._call(self._stub.KeepAlive, pb.HandleRequest(handle=self._id)))

    def drop(self) -> None:
        """Drop the handle on the server now (later use raises NotFoundError)."""
        self._finalizer.detach()
        with self._client._lock:
            self._client._live.discard(self._id)
        self._client._call(self._stub.Drop, pb.HandleRequest(handle=self._id))


def _as_polars(data: pa.Table | pa.RecordBatch) -> pl.DataFrame:
    """Arrow data as a polars frame, without copying, its column names as they are
    (``pl.from_arrow`` names a blank one ``column_0``)."""
    out = pl.from_arrow(data, rechunk=False)
    assert isinstance(out, pl.DataFrame)
    if "" in data.schema.names:
        out.columns = list(data.schema.names)
    return out


class _StreamState:
    """Decodes a Fetch message by message: the schema first, then batches.

    With ``polars_types``, a schema pyarrow cannot read (polars' Int128, say)
    raises :class:`_NotForPyarrow` with the whole stream, for polars to decode.
    """

    def __init__(self, messages: Iterator[pb.IpcMessage], *, polars_types: bool = False) -> None:
        self.messages = messages
        self.schema: pa.Schema | None = None
        self.polars_types = polars_types


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class _NotForPyarrow(Exception):
    """The result's types are polars' own: ``stream`` is the whole IPC stream."""

    def __init__(self, stream: bytes) -> None:
        super().__init__("pyarrow cannot read this result's types")
        self.stream = stream


def _batches_after(state: _StreamState) -> Iterator[pa.RecordBatch]:
    pending: list[bytes] = []
    for message in state.messages:
        data = message.data
        if len(data) <= 8:
            continue  # the end-of-stream marker (or nothing)
        parsed = pa.ipc.read_message(pa.py_buffer(data))
        if state.schema is None:
            try:
                state.schema = pa.ipc.read_schema(parsed)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                if not state.polars_types:
                    raise
                rest = (m.data for m in state.messages if len(m.data) > 8)
                raise _NotForPyarrow(b"".join([data, *rest, _EOS])) from None
            continue
        if parsed.type == "dictionary batch" or pending:
            # Dictionaries need the stream reader's memo: read the rest as one stream.
            pending.append(data)
            continue
        yield pa.ipc.read_record_batch(parsed, state.schema)
    if pending:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, state.schema):
            pass
        header = sink.getvalue().to_pybytes()
        yield from pa.ipc.open_stream(header[: -len(_EOS)] + b"".join(pending) + _EOS)
    if state.schema is None:
        raise RuntimeError("the server sent no schema")


class GroupBy:
    """``frame.group_by(...)``: finish with :meth:`agg`."""

    def __init__(self, frame: RemoteFrame, keys: list[pb.Expr], maintain_order: bool, *,
                 dynamic: pb.DynamicGroup | None = None, rolling: pb.RollingGroup | None = None) -> None:
        self._frame = frame
        self._keys = keys
        self._maintain_order = maintain_order
        # At most one: the request's `window` oneof.
        self._window: dict[str, Any] = {}
        if dynamic is not None:
            self._window["dynamic"] = dynamic
        elif rolling is not None:
            self._window["rolling"] = rolling

    def agg(self, *aggs: IntoExpr | Sequence[IntoExpr], **named: IntoExpr) -> RemoteFrame:
        """As ``LazyGroupBy.agg``."""
        request = pb.GroupByRequest(handle=self._frame.id, keys=self._keys, aggs=_exprs(aggs, named),
                                    maintain_order=self._maintain_order, **self._window)
        return self._frame._derive(self._frame._stub.GroupBy, request)


def _keys(value: Any) -> list[Any]:
    """Join keys: a name or expression, or a list of them."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def concat(frames: Sequence[RemoteFrame], *, how: str = "vertical", broadcast_unit_length: bool = False) -> RemoteFrame:
    """As ``pl.concat``: how is vertical, vertical_relaxed, diagonal, diagonal_relaxed, horizontal or
    horizontal_extend; all frames from one client. ``broadcast_unit_length`` (horizontal_extend
    only) repeats a one-row frame to the others' height, as polars' plans of SQL's scalar subqueries do."""
    frames = list(frames)
    if not frames:
        raise ValueError("concat needs at least one frame")
    first = frames[0]
    if len(frames) == 1:
        return first
    request = pb.ConcatRequest(handles=[f.id for f in frames], how=how, broadcast_unit_length=broadcast_unit_length)
    return first._derive(first._stub.Concat, request)
