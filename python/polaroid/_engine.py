"""Run real polars code on a polaroid-server: ``lf.collect(engine=pr.Engine(client))``.

polars hands an engine its optimized plan through a post-optimization
callback and a plan visitor (the hook cudf-polars' GPU engine uses). We walk
that plan, rebuild it as requests on the server, and give polars back a
function that fetches the result. A node or expression we cannot translate
raises :class:`UnsupportedError` naming it, or with ``fallback=True`` the
query runs locally, with a warning.

Supported polars: 2.1 (plan visitor version 16); other versions are refused
with a clear error rather than mistranslated.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from polars.io.plugins import register_io_source
from polars.lazyframe.engine import Engine as _PolarsEngine

from polaroid._errors import InternalError, PolaroidError
from polaroid import _expr as pr_expr
from polaroid._expr import Expr, col, len as pr_len, lit, when
from polaroid._frame import RemoteFrame, concat

if TYPE_CHECKING:
    from polaroid._client import Client

SUPPORTED_POLARS = ("2.1",)
SUPPORTED_IR_VERSIONS = (16,)


class UnsupportedError(PolaroidError, NotImplementedError):
    """A plan node or expression the server cannot run (yet)."""


_INT_BITS = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64, pl.UInt8: 8, pl.UInt16: 16, pl.UInt32: 32,
             pl.UInt64: 64}


def _widens(source: Any, target: Any) -> bool:
    """Whether every value of `source` fits `target` exactly (a cast that cannot overflow)."""
    if source == target:
        return True
    src, dst = _INT_BITS.get(source), _INT_BITS.get(target)
    if src is not None and dst is not None:
        if source.is_signed_integer() and not target.is_signed_integer():
            return False
        return dst > src if target.is_signed_integer() and not source.is_signed_integer() else dst >= src
    if src is not None and target == pl.Float64:
        return src <= 32
    return source == pl.Float32 and target == pl.Float64


def _project(frame: RemoteFrame, columns: list[str]) -> RemoteFrame:
    """polars' projection of a plan's node to ``columns``.

    polars projects no column where only the row count is used
    (`filter(...).select(pl.len())`); the frame then stays whole: the nodes
    above read none of its columns, and the server's own optimizer prunes
    them again. (A select of nothing, or dropping every column, would be an
    empty frame of no rows on the server's polars.)
    """
    return frame.select(columns) if columns else frame


def _duration_text(window: Any) -> str:
    """polars' Duration, as the visitor shows it (months, weeks, days, ns, counts rows, negative), as text."""
    months, weeks, days, ns, rows, negative = window
    if rows:
        text = f"{ns}i"
    else:
        text = "".join(f"{n}{unit}" for n, unit in ((months, "mo"), (weeks, "w"), (days, "d"), (ns, "ns")) if n) or "0ns"
    return f"-{text}" if negative else text


def _plain(value: Any, dtype: Any) -> Any:
    """A literal's value as Python: a list for a Series or one list value."""
    if type(value).__name__ == "PySeries":  # the visitor hands some over unwrapped
        value = pl.Series._from_pyseries(value)
    if isinstance(value, pl.Series):
        if isinstance(dtype, pl.List) and value.dtype == dtype and value.len() == 1:
            return value[0].to_list()  # one list value (an imploded set)
        return value.to_list()
    return value


# A Series literal travels value by value in the request: past this, a frame is the way.
_SERIES_LITERAL_LIMIT = 100_000


def _unsupported(what: str) -> UnsupportedError:
    return UnsupportedError(f"polaroid cannot run {what} on the server yet")


class Engine(_PolarsEngine):
    """A polars engine that runs the whole optimized plan on a polaroid-server.

    ``root`` is the local directory that mirrors the server's data directory
    (default: the working directory): file paths in the plan are sent relative
    to it. ``fallback=True`` runs what cannot be translated locally, with a
    warning, instead of raising: the largest parts of the plan below it that
    can run on the server still do, and polars runs the rest on their results.
    """

    def __init__(self, client: Client, *, root: str | os.PathLike[str] | None = None,
                 fallback: bool = False) -> None:
        if not pl.__version__.startswith(SUPPORTED_POLARS):
            raise UnsupportedError(f"polaroid.Engine supports polars {', '.join(SUPPORTED_POLARS)}; "
                                   f"this is polars {pl.__version__}")
        self.client = client
        self.root = Path(root) if root is not None else None
        self.fallback = fallback

    @property
    def name(self) -> str:
        return "polaroid"

    def __repr__(self) -> str:
        return f"polaroid.Engine({self.client.target!r})"

    def collect(self, lf: pl.LazyFrame, *, optimizations: Any, background: bool = False,
                post_opt_callback: Any = None) -> pl.DataFrame:  # type: ignore[override]
        if background:
            raise UnsupportedError("background collection")
        return self._run(lf, optimizations, _fetch_here)

    def _run(self, lf: pl.LazyFrame, optimizations: Any, finish: Callable[[Any, RemoteFrame], None]) -> pl.DataFrame:
        """polars plans ``lf``; the translated plan goes to ``finish`` (which makes its
        root a fetch, say), and polars runs what it leaves."""
        # polars wraps what the callback raises in a ComputeError; hand the
        # caller our own error instead, with its type.
        raised: list[BaseException] = []

        def take_over(nt: Any, duration: Any = None) -> None:
            try:
                self._take_over(nt, lf, finish)
            except BaseException as err:
                raised.append(err)
                raise

        try:
            return lf.collect(engine="in-memory", optimizations=optimizations, post_opt_callback=take_over)
        except pl.exceptions.ComputeError:
            if raised and isinstance(raised[0], _Unsimplified) and optimizations.simplify_expression:
                # polars' simplifier turned sort_by().first()/last() into min_by/max_by, which its
                # plan visitor cannot show: plan the query again as written.
                as_written = copy.copy(optimizations)
                as_written.simplify_expression = False
                return self._run(lf, as_written, finish)
            if raised:
                raise (raised[0].refusal if isinstance(raised[0], _Unsimplified) else raised[0]) from None
            raise

    def _result_lazy(self, lf: pl.LazyFrame, optimizations: Any) -> pl.LazyFrame:
        """``lf``'s result as a LazyFrame that streams it from the server, batch by batch,
        for polars' own sinks and batch iterators. Under a fallback, polars' local result."""
        translated: list[tuple[RemoteFrame, Any]] = []

        def plan_only(nt: Any, remote: RemoteFrame) -> None:
            expected = nt.get_schema()
            translated.append((remote, expected))
            nt.set_udf(lambda *_args, **_kwargs: pl.DataFrame(schema=expected))

        local = self._run(lf, optimizations, plan_only)
        if not translated:  # it fell back: polars computed it here
            return local.lazy()
        remote, expected = translated[0]

        def batches(with_columns: list[str] | None, predicate: Any, n_rows: int | None,
                    _batch_size: int | None) -> Iterator[pl.DataFrame]:
            left = n_rows
            for frame in remote.iter_batches():
                frame = _checked(frame, expected)
                if predicate is not None:  # before the projection: it may read other columns
                    frame = frame.filter(predicate)
                if with_columns is not None:
                    frame = frame.select(with_columns)
                if left is not None:
                    frame = frame.head(left)
                    left -= frame.height
                yield frame
                if left is not None and left <= 0:
                    return

        return register_io_source(batches, schema=expected, explain_name="polaroid")

    def collect_batches(self, lf: pl.LazyFrame, *, optimizations: Any, maintain_order: bool = True,
                        chunk_size: int | None = None, lazy: bool = False) -> Any:
        """The result in batches, as the server streams it (bounded memory)."""
        return self._result_lazy(lf, optimizations).collect_batches(maintain_order=maintain_order,
                                                                   chunk_size=chunk_size, lazy=lazy)

    # Sinks: the result streams from the server into polars' own writer, here.
    def sink_parquet(self, lf: pl.LazyFrame, path: Any, *, optimizations: Any, **options: Any) -> None:
        self._result_lazy(lf, optimizations).sink_parquet(path, **options)

    def sink_ipc(self, lf: pl.LazyFrame, path: Any, *, optimizations: Any, **options: Any) -> None:
        self._result_lazy(lf, optimizations).sink_ipc(path, **options)

    def sink_csv(self, lf: pl.LazyFrame, path: Any, *, optimizations: Any, **options: Any) -> None:
        self._result_lazy(lf, optimizations).sink_csv(path, **options)

    def sink_ndjson(self, lf: pl.LazyFrame, path: Any, *, optimizations: Any, **options: Any) -> None:
        self._result_lazy(lf, optimizations).sink_ndjson(path, **options)

    def sink_batches(self, lf: pl.LazyFrame, function: Callable[[pl.DataFrame], bool | None], *,
                     optimizations: Any, **options: Any) -> None:
        self._result_lazy(lf, optimizations).sink_batches(function, **options)

    def collect_all(self, lfs: Iterable[pl.LazyFrame], *, optimizations: Any) -> list[pl.DataFrame]:
        """Several queries at once: each runs on the server while the others wait for theirs."""
        lfs = list(lfs)
        if len(lfs) <= 1:
            return [self.collect(lf, optimizations=optimizations) for lf in lfs]
        with ThreadPoolExecutor(max_workers=min(len(lfs), 8), thread_name_prefix="polaroid-collect") as pool:
            return list(pool.map(lambda lf: self.collect(lf, optimizations=optimizations), lfs))

    def collect_async(self, lf: pl.LazyFrame, *, optimizations: Any, gevent: bool = False) -> Any:
        return _awaitable(_background().submit(self.collect, lf, optimizations=optimizations), gevent)

    def collect_all_async(self, lfs: Iterable[pl.LazyFrame], *, optimizations: Any, gevent: bool = False) -> Any:
        return _awaitable(_background().submit(self.collect_all, list(lfs), optimizations=optimizations), gevent)

    def execute(self, lf: pl.LazyFrame, *, optimizations: Any) -> Any:
        from polars.lazyframe.query_result import SingleNodeQueryResult

        return SingleNodeQueryResult(self.collect(lf, optimizations=optimizations))  # type: ignore[arg-type]

    def _take_over(self, nt: Any, lf: pl.LazyFrame, finish: Callable[[Any, RemoteFrame], None]) -> None:
        """The post-optimization callback: translate, then hand the plan to ``finish``."""
        major = nt.version()[0]
        if major not in SUPPORTED_IR_VERSIONS:
            raise UnsupportedError(f"polars' plan visitor version {nt.version()} (supported: {SUPPORTED_IR_VERSIONS})")
        done: dict[int, RemoteFrame] = {}  # plan nodes already translated, for a fallback's second look
        try:
            remote = _Translator(self, nt, lf, done).plan()
        except UnsupportedError as err:
            if "min_by/max_by" in str(err):
                raise _Unsimplified(err) from None  # before any fallback: collect() plans it again
            if not self.fallback:
                raise
            parts = _offload_inputs(_Translator(self, nt, lf, done))
            where = f", except {parts} part(s) of its plan below that, which run on the server" if parts else ""
            warnings.warn(f"{err}; running this query locally{where}", stacklevel=2)
            return
        finish(nt, remote)


_POOL: list[ThreadPoolExecutor] = []


def _background() -> ThreadPoolExecutor:
    """Threads for collect_async (made on first use)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="polaroid-async"))
    return _POOL[0]


class _Awaitable:
    """A collect running in a thread, for ``await``."""

    def __init__(self, future: Future[Any]) -> None:
        self.future = future

    def __await__(self) -> Any:
        return asyncio.wrap_future(self.future).__await__()


def _awaitable(future: Future[Any], gevent: bool) -> _Awaitable:
    if gevent:
        future.cancel()
        raise UnsupportedError("collect_async(gevent=True) (asyncio only)")
    return _Awaitable(future)


def _fetch_here(nt: Any, remote: RemoteFrame) -> None:
    """The visitor's current node becomes a fetch of ``remote`` (its schema checked)."""
    expected = nt.get_schema()
    nt.set_udf(lambda *_args, **_kwargs: _checked(remote.collect(), expected))


def _offload_inputs(translator: _Translator) -> int:
    """Below a node that cannot be translated: each input whose whole subtree can becomes a
    fetch from the server; the others are searched deeper. How many went to the server.

    An in-memory frame alone stays local (sending it to fetch it back gains nothing).
    """
    nt = translator.nt
    here, parts = nt.get_node(), 0
    for index in nt.get_inputs():
        nt.set_node(index)
        try:
            if type(nt.view_current_node()).__name__ == "DataFrameScan":
                continue
            remote = translator.plan()
        except (UnsupportedError, NotImplementedError):
            parts += _offload_inputs(translator)
        else:
            _fetch_here(nt, remote)
            parts += 1
        finally:
            nt.set_node(here)
    return parts


class _Unsimplified(Exception):
    """The plan holds what only polars' expression simplifier made (min_by/max_by)."""

    def __init__(self, refusal: UnsupportedError) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def _as_text(dtype: Any) -> Any:
    """``dtype`` as the server sends it: categoricals (also in structs and lists) as strings."""
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.String
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _as_text(f.dtype) for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return pl.List(_as_text(dtype.inner))
    if isinstance(dtype, pl.Array):
        return pl.Array(_as_text(dtype.inner), dtype.shape)
    return dtype


def _checked(df: pl.DataFrame, expected: Any) -> pl.DataFrame:
    """The server's result, if it has the columns and types polars planned for.

    A translation that differs from polars shows here first; an error beats
    handing back another query's answer.
    """
    got = dict(df.schema)
    # Categoricals travel as text (the server's IPC): polars gets them back as it planned them.
    recast = {name: dtype for name, dtype in expected.items()
              if name in got and got[name] != dtype and _as_text(dtype) == got[name]}
    if recast:
        df = df.with_columns(pl.col(name).cast(dtype) for name, dtype in recast.items())
        got = dict(df.schema)
    if got != dict(expected):
        raise InternalError(f"pr.Engine: the server's result has the schema {got}, where polars expects "
                            f"{dict(expected)}; this is a polaroid bug, please report it with the query")
    return df


_BINARY = {
    "Eq": "__eq__", "EqValidity": "eq_missing", "NotEq": "__ne__", "NotEqValidity": "ne_missing",
    "Lt": "__lt__", "LtEq": "__le__", "Gt": "__gt__", "GtEq": "__ge__", "Plus": "__add__", "Minus": "__sub__",
    "Multiply": "__mul__", "TrueDivide": "__truediv__", "FloorDivide": "__floordiv__", "Modulus": "__mod__",
    "And": "__and__", "Or": "__or__", "LogicalAnd": "__and__", "LogicalOr": "__or__", "Xor": "__xor__",
}

_AGG = {"sum", "mean", "min", "max", "first", "last", "median", "n_unique", "count", "implode"}

# Functions of one input and no options, named as in the visitor and the Python API.
_UNARY = {"sin", "cos", "tan", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
          "arctanh", "degrees", "radians", "rle", "rle_id", "peak_max", "peak_min"}

_TOTALS = {"days", "hours", "minutes", "seconds", "milliseconds", "microseconds", "nanoseconds"}

_JOIN_HOW = {"Inner": "inner", "Left": "left", "Right": "right", "Full": "full", "Semi": "semi", "Anti": "anti",
             "Cross": "cross"}


# A join's validate= in polars' serialized plan (MessagePack with field names: the
# field's name, then the variant's as a short string, its length in the prefix byte).
_VALIDATION = re.compile(rb"validation(?:\xa8(OneToOne)|\xa9(OneToMany|ManyToOne)|\xaa(ManyToMany))")
_VALIDATE = {b"OneToOne": "1:1", b"OneToMany": "1:m", b"ManyToOne": "m:1", b"ManyToMany": "m:m"}


def _join_validations(lf: pl.LazyFrame) -> list[str]:
    """Each join's validate= in the plan as written (pl.LazyFrame.serialize)."""
    try:
        blob = lf.serialize()
    except Exception as err:  # a Python function in the plan, say
        raise _unsupported(f"a join whose validate= cannot be read from the plan ({err})") from None
    return [_VALIDATE[next(g for g in m.groups() if g)] for m in _VALIDATION.finditer(blob)]


def _enum_name(value: Any) -> str:
    """``BooleanFunction.IsIn`` -> ``IsIn``; plain strings pass through."""
    return getattr(value, "name", None) or str(value).rsplit(".", 1)[-1]


class _Translator:
    """One optimized plan, walked from the root, into server requests."""

    def __init__(self, engine: Engine, nt: Any, lf: pl.LazyFrame, done: dict[int, RemoteFrame]) -> None:
        self.engine = engine
        self.client = engine.client
        self.nt = nt
        self.lf = lf
        self.root = nt.get_node()
        self.cache: dict[Any, RemoteFrame] = {}
        self.done = done
        self.validations: list[str] | None = None

    def _validate(self) -> str:
        """The join's ``validate=``. polars' plan visitor does not show it, so it is read from the
        plan as written; with several joins, which one asked cannot be told: refused."""
        if self.validations is None:
            self.validations = _join_validations(self.lf)
        asked = [v for v in self.validations if v != "m:m"]
        if not asked:
            return "m:m"
        if len(self.validations) == 1 and self._joins_in_plan() == 1:
            return asked[0]
        raise _unsupported(f"validate={asked[0]!r} in a plan of several joins (polars' plan visitor does not show "
                           "a join's validate=, so which join it checks cannot be told)")

    def _joins_in_plan(self) -> int:
        here, count, todo = self.nt.get_node(), 0, [self.root]
        try:
            while todo:
                self.nt.set_node(todo.pop())
                count += type(self.nt.view_current_node()).__name__ == "Join"
                todo.extend(self.nt.get_inputs())
        finally:
            self.nt.set_node(here)
        return count

    # -- plan nodes

    def plan(self) -> RemoteFrame:
        try:
            node = self.nt.view_current_node()
        except NotImplementedError as err:  # polars cannot show it to Python at all
            raise _unsupported(f"a plan node polars does not expose ({err})") from None
        kind = type(node).__name__
        method = getattr(self, f"_node_{kind}", None)
        if method is None:
            raise _unsupported(f"the plan node {kind}")
        return method(node)

    def _input(self, index: int) -> RemoteFrame:
        if index in self.done:
            return self.done[index]
        here = self.nt.get_node()
        self.nt.set_node(index)
        try:
            self.done[index] = self.plan()
            return self.done[index]
        finally:
            self.nt.set_node(here)

    def _schema_of(self, index: int) -> dict[str, Any]:
        here = self.nt.get_node()
        self.nt.set_node(index)
        try:
            return self.nt.get_schema()
        finally:
            self.nt.set_node(here)

    def _path(self, path: str) -> str:
        p = Path(path)
        if not p.is_absolute():
            return path
        root = (self.engine.root or Path.cwd()).resolve()
        try:
            return str(p.resolve().relative_to(root))
        except ValueError:
            raise _unsupported(f"a scan of {path}, outside {root} (the directory that mirrors the server's "
                               "data directory; pass root= to pl.Engine)") from None

    def _node_Scan(self, node: Any) -> RemoteFrame:
        kind = node.scan_type[0] if isinstance(node.scan_type, tuple) else node.scan_type
        if kind not in ("parquet", "csv", "ipc"):
            raise _unsupported(f"a {kind} scan")
        opts = node.file_options
        path_column = opts.include_file_paths
        if path_column is not None and len(node.paths) != 1:
            raise _unsupported("a scan of several files with file paths")
        paths = [self._path(str(p)) for p in node.paths]
        source = paths[0] if len(paths) == 1 else paths
        hive = opts.hive_options or {}
        if hive.get("enabled") and hive.get("schema") is not None:
            raise _unsupported("a scan with hive_schema")
        # The scan's own columns (those the plan reads), without a pushed-down row index.
        columns = dict(self.nt.get_schema())
        if opts.row_index is not None:
            columns.pop(opts.row_index[0], None)
        if path_column is not None:
            columns.pop(path_column, None)
        if kind == "csv":
            frame = self._csv_scan(source, node.scan_type[1], columns, projected=opts.with_columns is not None)
        else:
            frame = self.client.scan(source, format=kind, hive_partitioning=bool(hive.get("enabled")))
        if path_column is not None:
            # The path as polars names it here (the server's own differs): one file, one value.
            frame = frame.with_columns(lit(str(node.paths[0])).alias(path_column))
        # In polars' order: rows are numbered as in the file, the scan's slice
        # takes the file's rows (a head() pushed down), then its predicate
        # filters those, then the projection keeps what the plan reads.
        if opts.row_index is not None:
            name, offset = opts.row_index
            frame = frame.with_row_index(name, offset)
        if opts.n_rows is not None:
            offset, length = opts.n_rows
            frame = frame.slice(offset, length)
        if node.predicate is not None:
            frame = frame.filter(self.expr(node.predicate.node))
        if opts.with_columns is not None:  # [] too: under a row index, the plan may read no file column
            columns = list(opts.with_columns)
            if opts.row_index is not None and opts.row_index[0] not in columns:
                columns.insert(0, opts.row_index[0])  # the projection names the file's columns only
            if path_column is not None and path_column not in columns:
                columns.append(path_column)
            frame = _project(frame, columns)
        if path_column is not None:
            frame = _project(frame, list(self.nt.get_schema()))  # the path column where polars puts it
        return frame

    def _csv_scan(self, source: str | list[str], options_json: str, columns: dict[str, Any],
                  projected: bool) -> RemoteFrame:
        """A CSV scan with polars' options (as the visitor shows them, JSON).

        The column types polars resolved here travel with it, so the server
        infers nothing: the whole schema when the scan reads every column,
        else the types of the columns it reads (found by the header's names).
        """
        o = json.loads(options_json)
        p = o["parse_options"]
        for key, default in (("skip_lines", 0), ("raise_if_empty", True), ("column_names_overwrite", None),
                             ("dtype_overwrite", None)):
            if o.get(key, default) != default:
                raise _unsupported(f"a CSV scan with {key}={o[key]!r}")
        nulls = p.get("null_values")
        if nulls is not None:
            if "AllColumnsSingle" in nulls:
                nulls = [nulls["AllColumnsSingle"]]
            elif "AllColumns" in nulls:
                nulls = nulls["AllColumns"]
            else:
                raise _unsupported("a CSV scan with null_values per column")
        comment = p.get("comment_prefix")
        if comment is not None:
            comment = chr(comment["Single"]) if "Single" in comment else comment["Multi"]
        if not o["has_header"] and projected:
            # Headerless columns are named by position, and polars versions number them differently.
            raise _unsupported("a CSV scan without a header that reads only some columns (pass schema=)")
        whole = None if projected else columns
        return self.client._scan(
            source, "csv", None, has_header=o["has_header"], separator=chr(p["separator"]),
            skip_rows=o["skip_rows"] or None, skip_rows_after_header=o["skip_rows_after_header"] or None,
            csv_null_values=nulls, quote_char=chr(p["quote_char"]) if p["quote_char"] is not None else "",
            comment_prefix=comment, missing_is_null=p["missing_is_null"], try_parse_dates=p["try_parse_dates"],
            decimal_comma=p["decimal_comma"], ignore_errors=o["ignore_errors"],
            truncate_ragged_lines=p["truncate_ragged_lines"], eol_char=chr(p["eol_char"]),
            utf8_lossy=p["encoding"] == "LossyUtf8", csv_schema=whole, csv_schema_overrides=columns if projected else None)

    def _node_DataFrameScan(self, node: Any) -> RemoteFrame:
        df = pl.DataFrame._from_pydf(node.df)
        if node.projection is not None:
            df = df.select(list(node.projection))
        frame = self.client.from_polars(df)
        if node.selection is not None:
            frame = frame.filter(self.expr(node.selection.node))
        return frame

    def _node_Cache(self, node: Any) -> RemoteFrame:
        if node.id_ not in self.cache:
            self.cache[node.id_] = self._input(node.input)
        return self.cache[node.id_]

    def _node_Filter(self, node: Any) -> RemoteFrame:
        frame = self._input(node.input)
        predicate = self.expr(node.predicate.node)
        return frame if predicate is None else frame.filter(predicate)

    def _node_Select(self, node: Any) -> RemoteFrame:
        return self._input(node.input).select(self.named(node.expr))

    def _node_HStack(self, node: Any) -> RemoteFrame:
        return self._input(node.input).with_columns(self.named(node.exprs))

    def _node_SimpleProjection(self, node: Any) -> RemoteFrame:
        return _project(self._input(node.input), list(self.nt.get_schema()))

    def _node_GroupBy(self, node: Any) -> RemoteFrame:
        frame = self._input(node.input)
        dynamic, rolling = node.options.dynamic, node.options.rolling
        if dynamic is not None:
            every, period, offset = (_duration_text(d) for d in (dynamic.every, dynamic.period, dynamic.offset))
            group = frame.group_by_dynamic(
                dynamic.index_column, every=every, period=period, offset=offset,  # type: ignore[arg-type]
                include_boundaries=dynamic.include_boundaries, closed=dynamic.closed_window,
                label=str(dynamic.label).replace("_", ""), group_by=self.named(node.keys),
                start_by=str(dynamic.start_by).replace("_", "").replace("windowbound", "window"))
        elif rolling is not None:
            group = frame.rolling(rolling.index_column, period=_duration_text(rolling.period),  # type: ignore[arg-type]
                                  offset=_duration_text(rolling.offset), closed=rolling.closed_window,
                                  group_by=self.named(node.keys))
        else:
            group = frame.group_by(self.named(node.keys), maintain_order=node.maintain_order)
        grouped = group.agg(self.named(node.aggs))
        return self._sliced(grouped, node.options.slice)

    def _node_Sort(self, node: Any) -> RemoteFrame:
        maintain_order, nulls_last, descending = node.sort_options[:3]
        # The server sorts by columns: an expression becomes one for the sort.
        frame, keys, computed = self._keyed(self._input(node.input), node.by_column, "sort_key_",
                                            set(self._schema_of(node.input)))
        frame = frame.sort(keys, descending=list(descending), nulls_last=list(nulls_last),
                           maintain_order=maintain_order)
        if computed:
            frame = frame.select(list(self.nt.get_schema()))
        return self._sliced(frame, node.slice)

    def _sliced(self, frame: RemoteFrame, slice_: Any) -> RemoteFrame:
        if slice_ is None:
            return frame
        offset, length = slice_[0], slice_[1]
        return frame.slice(offset, length)

    def _node_Slice(self, node: Any) -> RemoteFrame:
        return self._input(node.input).slice(node.offset, node.len)

    def _node_Distinct(self, node: Any) -> RemoteFrame:
        keep, subset, maintain_order, slice_ = node.options
        frame = self._input(node.input).unique(list(subset) if subset is not None else None,
                                               keep=str(keep).lower(), maintain_order=maintain_order)
        return self._sliced(frame, slice_)

    def _node_Union(self, node: Any) -> RemoteFrame:
        frames = [self._input(i) for i in node.inputs]
        return self._sliced(concat(frames), node.slice)

    def _node_HConcat(self, node: Any) -> RemoteFrame:
        # (parallel, strict, broadcast_unit_length): strict is how="horizontal", else "horizontal_extend";
        # polars broadcasts one-row frames only when not strict (SQL's scalar subqueries).
        _parallel, strict, broadcast = node.options
        frames = [self._input(i) for i in node.inputs]
        if strict:
            return concat(frames, how="horizontal")
        return concat(frames, how="horizontal_extend", broadcast_unit_length=bool(broadcast))

    def _node_MergeSorted(self, node: Any) -> RemoteFrame:
        # The server keeps the left frame's rows first among equal keys: one of the orders polars allows.
        return self._input(node.input_left).merge_sorted(self._input(node.input_right), list(node.key))

    def _node_Join(self, node: Any) -> RemoteFrame:
        how, *rest = node.options
        if node.predicate is not None and how != ("Inner", "fused_predicate"):
            raise _unsupported(f"a {how} join with a predicate")
        # (how, nulls_equal, slice, suffix, coalesce, maintain_order)
        suffix = rest[2] if len(rest) > 2 and isinstance(rest[2], str) else "_right"
        name = how[0] if isinstance(how, tuple) else how
        nulls_equal = bool(rest[0]) if rest else False
        coalesce = rest[3] if len(rest) > 3 else None
        maintain_order = rest[4] if len(rest) > 4 else None
        left, right = self._input(node.input_left), self._input(node.input_right)
        if isinstance(how, tuple) and how[0] in ("IEJoin", "AsOf"):
            if nulls_equal or maintain_order not in (None, "none") or (how[0] == "AsOf" and coalesce is False):
                raise _unsupported(f"a {how[0]} join with nulls_equal, maintain_order or coalesce=False")
        if isinstance(how, tuple) and how[0] == "IEJoin":
            # left_on[i] <op i> right_on[i] for each inequality polars kept in the join. A key that
            # is an expression (a cast polars added to compare a decimal with a float) is computed
            # as a column of its side first, and left out after.
            clashing = set(self._schema_of(node.input_left))
            taken = clashing | set(self._schema_of(node.input_right))
            left, left_on, left_tmp = self._keyed(left, node.left_on, "l", taken)
            right, right_on, right_tmp = self._keyed(right, node.right_on, "r", taken)
            predicates = []
            for op, l_name, r_name in zip([op for op in how[1:3] if op is not None], left_on, right_on):
                r_name = r_name + suffix if r_name in clashing else r_name
                predicates.append(getattr(col(l_name), _BINARY[_enum_name(op)])(col(r_name)))
            joined = left.join_where(right, *predicates, suffix=suffix)
            if left_tmp or right_tmp:
                joined = joined.select(list(self.nt.get_schema()))  # the join's own columns: no added keys
        elif isinstance(how, tuple) and how[0] == "AsOf":
            left_on = [self._key(e) for e in node.left_on]
            right_on = [self._key(e) for e in node.right_on]
            _, strategy, tolerance, tolerance_str, left_by, right_by = how[:6]
            joined = left.join_asof(right, left_on=left_on[0], right_on=right_on[0], by_left=left_by,
                                    by_right=right_by, strategy=str(strategy).lower(), suffix=suffix,
                                    tolerance=tolerance_str if tolerance_str is not None else tolerance,
                                    allow_exact_matches=bool(how[6]) if len(how) > 6 else True)
        else:
            if name not in _JOIN_HOW:
                raise _unsupported(f"a {name} join")
            kwargs: dict[str, Any] = {}
            if name != "Cross":
                # Keys on each side's own columns: a name where it is a column, else the expression.
                kwargs["left_on"] = [self._key_expr(e) for e in node.left_on]
                kwargs["right_on"] = [self._key_expr(e) for e in node.right_on]
            if isinstance(coalesce, bool) and name in ("Inner", "Left", "Right", "Full"):
                kwargs["coalesce"] = coalesce
            joined = left.join(right, how=_JOIN_HOW[name], suffix=suffix, nulls_equal=nulls_equal,
                               maintain_order=maintain_order, validate=self._validate(), **kwargs)
            if node.predicate is not None:
                # join_where's equalities became the keys; the rest filters the pairs (by output names).
                joined = joined.filter(self.expr(node.predicate.node))
        return self._sliced(joined, rest[1] if len(rest) > 1 else None)

    def _keyed(self, frame: RemoteFrame, keys: list[Any], prefix: str,
               taken: set[str]) -> tuple[RemoteFrame, list[str], list[str]]:
        """Each sort or join key as a column name of ``frame``: expressions become new columns (named
        apart from ``taken``), which the caller leaves out after."""
        names, added, exprs = [], [], []
        for i, e in enumerate(keys):
            view = self.nt.view_expression(e.node)
            if type(view).__name__ == "Column":
                names.append(view.name)
                continue
            name = f"__polaroid_{prefix}{i}"
            while name in taken:
                name += "_"
            taken.add(name)
            names.append(name)
            added.append(name)
            exprs.append(self.expr(e.node).alias(name))
        return (frame.with_columns(*exprs) if exprs else frame), names, added

    def _key(self, e: Any) -> str:
        view = self.nt.view_expression(e.node)
        if type(view).__name__ != "Column":
            raise _unsupported("an as-of join on an expression (only on columns)")
        return view.name

    def _key_expr(self, e: Any) -> str | Expr:
        view = self.nt.view_expression(e.node)
        return view.name if type(view).__name__ == "Column" else self.expr(e.node)

    def _node_MapFunction(self, node: Any) -> RemoteFrame:
        function = node.function if isinstance(node.function, tuple) else (node.function,)
        name, args = function[0], function[1:]
        if name == "explode":
            columns, empty_as_null, keep_nulls = args
            return self._input(node.input).explode(list(columns), empty_as_null=empty_as_null, keep_nulls=keep_nulls)
        if name == "unpivot":
            index, on, variable_name, value_name = args
            return self._input(node.input).unpivot(list(on), index=list(index), variable_name=variable_name,
                                                   value_name=value_name)
        if name == "row_index":
            return self._input(node.input).with_row_index(args[0], args[1])
        if name == "unnest" and (len(args) < 2 or args[1] is None):
            # Each struct's fields in its place: a select of struct.field for each.
            structs, source = set(args[0]), self._schema_of(node.input)
            exprs = []
            for column in source:
                if column not in structs:
                    exprs.append(col(column))
                    continue
                exprs.extend(col(column).struct.field(f.name).alias(f.name) for f in source[column].fields)
            return self._input(node.input).select(exprs)
        raise _unsupported(f"the plan function {name}")

    # -- expressions

    def named(self, exprs: list[Any]) -> list[Expr]:
        return [self.expr(e.node).alias(e.output_name) for e in exprs]

    def expr(self, node: int) -> Expr:
        try:
            view = self.nt.view_expression(node)
        except NotImplementedError as err:  # e.g. min_by/max_by, which sort_by().first() becomes
            raise _unsupported(f"an expression polars does not expose ({err})") from None
        kind = type(view).__name__
        method = getattr(self, f"_expr_{kind}", None)
        if method is None:
            raise _unsupported(f"the expression {kind}")
        if kind == "Function":
            return self._expr_Function(view, node)
        return method(view)

    def _expr_Column(self, e: Any) -> Expr:
        return col(e.name)

    def _expr_Literal(self, e: Any) -> Expr:
        if isinstance(e.dtype, pl.Struct) and not e.dtype.fields:
            # polars' placeholder column that keeps a frame's height (LazyFrame.gather_every
            # adds one): only its length is used, so any scalar stands in for the empty struct.
            return lit(False)
        value = _plain(e.value, e.dtype)
        if isinstance(value, list):
            if not isinstance(e.dtype, pl.List):
                # A column of values (pl.lit(a_series)): one list value, exploded, as the series' type.
                if len(value) > _SERIES_LITERAL_LIMIT:
                    raise _unsupported(f"a Series literal of {len(value):,} values (over "
                                       f"{_SERIES_LITERAL_LIMIT:,}: join a frame instead)")
                if isinstance(e.dtype, (pl.List, pl.Array, pl.Struct, pl.Object, pl.Categorical, pl.Enum)):
                    raise _unsupported(f"a Series literal of {e.dtype}")
                return pr_expr._list_literal(value).explode().cast(e.dtype)
            # One list value (replace's old and new values, an imploded is_in set).
            return pr_expr._list_literal(value)
        try:
            return lit(value, e.dtype)
        except (TypeError, ValueError) as err:
            raise _unsupported(f"a literal of type {e.dtype} ({err})") from None

    def _expr_Len(self, e: Any) -> Expr:
        return pr_len()

    def _expr_Cast(self, e: Any) -> Expr:
        # options: 0 strict, 1 non-strict, 2 overflowing. polars makes casts
        # that cannot lose a value overflowing (nothing to check); those are
        # run as they are. A user's wrap_numerical=True that could wrap is
        # not in the protocol: refused rather than run as non-strict.
        if e.options == 2 and isinstance(e.dtype, (pl.Float32, pl.Float64)):
            # To a float nothing wraps (a value too large is inf), strict or not.
            return self.expr(e.expr).cast(e.dtype, strict=False)
        if e.options == 2:
            try:
                source = self._dtype_of(e.expr)
            except pl.exceptions.PolarsError:  # not resolvable where it sits (a scan's own predicate)
                source = None
            if not _widens(source, e.dtype):
                raise _unsupported("a cast that wraps numbers around (wrap_numerical=True)")
        if isinstance(e.dtype, pl.Enum):
            raise _unsupported(f"a cast to {e.dtype}")
        try:
            return self.expr(e.expr).cast(e.dtype, strict=e.options == 0)
        except TypeError as err:  # a dtype the protocol has no name for
            raise _unsupported(f"a cast to {e.dtype} ({err})") from None

    def _expr_BinaryExpr(self, e: Any) -> Expr:
        op = _enum_name(e.op)
        if op not in _BINARY:
            raise _unsupported(f"the operator {op}")
        return getattr(self.expr(e.left), _BINARY[op])(self.expr(e.right))

    def _expr_Ternary(self, e: Any) -> Expr:
        return when(self.expr(e.predicate)).then(self.expr(e.truthy)).otherwise(self.expr(e.falsy))

    def _expr_Agg(self, e: Any) -> Expr:
        inner = self.expr(e.arguments[0])
        if e.name == "count":
            # count's option is include_nulls: pl.col(..).len() is count(True).
            return inner.len() if e.options else inner.count()
        if e.name in ("min", "max") and e.options:
            raise _unsupported(f"nan_{e.name} (NaN-propagating {e.name})")
        if e.name == "sum" and e.options:
            # SQL's SUM: null where there is nothing to add (polars' sum says 0).
            return when(inner.count() == 0).then(lit(None)).otherwise(inner.sum())
        if e.name in _AGG:
            return getattr(inner, e.name)()
        if e.name == "item":
            return inner.item(allow_empty=bool(e.options))
        if e.name in ("first_non_null", "last_non_null"):  # first/last(ignore_nulls=True)
            kept = inner.drop_nulls()
            return kept.first() if e.name == "first_non_null" else kept.last()
        if e.name in ("std", "var"):
            return getattr(inner, e.name)(ddof=e.options)
        raise _unsupported(f"the aggregation {e.name}")

    def _expr_Window(self, e: Any) -> Expr:
        mapping = getattr(e.options, "kind", "groups_to_rows")
        if mapping not in ("groups_to_rows", "explode", "join"):
            raise _unsupported(f"a window with mapping_strategy={mapping!r}")
        order_by = [self.expr(e.order_by)] if e.order_by is not None else None
        return self.expr(e.function).over([self.expr(p) for p in e.partition_by], order_by=order_by,
                                          descending=e.order_by_descending, nulls_last=e.order_by_nulls_last,
                                          mapping_strategy="group_to_rows" if mapping == "groups_to_rows" else mapping)

    def _expr_SortBy(self, e: Any) -> Expr:
        maintain_order, nulls_last, descending = e.sort_options[:3]
        return self.expr(e.expr).sort_by([self.expr(b) for b in e.by], descending=list(descending),
                                         nulls_last=list(nulls_last), maintain_order=bool(maintain_order))

    def _expr_Sort(self, e: Any) -> Expr:
        _maintain_order, nulls_last, descending = e.options[:3]
        return self.expr(e.expr).sort(descending=descending, nulls_last=nulls_last)

    def _expr_Gather(self, e: Any) -> Expr:
        view = self.nt.view_expression(e.idx)
        indices = self._literal_arg(e.idx) if type(view).__name__ == "Literal" else self.expr(e.idx)
        if getattr(e, "scalar", False):  # .get(): one value, a scalar in a group
            return self.expr(e.expr).get(indices)
        return self.expr(e.expr).gather(indices)

    def _expr_Rolling(self, e: Any) -> Expr:
        return self.expr(e.function).rolling(self.expr(e.index_column), period=_duration_text(e.period),
                                             offset=_duration_text(e.offset), closed=str(e.closed_window))

    def _expr_Explode(self, e: Any) -> Expr:
        empty_as_null, keep_nulls = e.options
        return self.expr(e.expr).explode(empty_as_null=bool(empty_as_null), keep_nulls=bool(keep_nulls))

    def _expr_Filter(self, e: Any) -> Expr:
        return self.expr(e.input).filter(self.expr(e.by))

    def _expr_Slice(self, e: Any) -> Expr:
        return self.expr(e.input).slice(self.expr(e.offset), self.expr(e.length))

    def _literal_or_expr(self, node: int) -> Any:
        """A function argument: its value if a literal, else the expression (per row)."""
        view = self.nt.view_expression(node)
        return self._literal_arg(node) if type(view).__name__ == "Literal" else self.expr(node)

    def _literal_arg(self, node: int) -> Any:
        view = self.nt.view_expression(node)
        if type(view).__name__ != "Literal":
            raise _unsupported("a function argument that is not a literal")
        return _plain(view.value, view.dtype)

    def _expr_Function(self, e: Any, node: int) -> Expr:
        data = e.function_data if isinstance(e.function_data, tuple) else (e.function_data,)
        head, args = data[0], data[1:]
        inputs = e.input
        x = self.expr(inputs[0]) if inputs else None
        family = type(head).__name__ if not isinstance(head, str) else ""
        name = _enum_name(head)
        if name == "dynamic_pred":
            # A top-k pruning predicate polars adds under a sort+slice: dropping it keeps the result.
            return lit(True)
        if family == "BooleanFunction":
            if name == "IsIn":
                view = self.nt.view_expression(inputs[1])
                other = self._literal_arg(inputs[1]) if type(view).__name__ == "Literal" else self.expr(inputs[1])
                return x.is_in(other, nulls_equal=bool(args[0]))  # type: ignore[union-attr]
            simple = {"IsNull": "is_null", "IsNotNull": "is_not_null", "IsNan": "is_nan", "IsNotNan": "is_not_nan",
                      "IsInfinite": "is_infinite", "IsFinite": "is_finite",
                      "Not": "__invert__", "IsDuplicated": "is_duplicated", "IsUnique": "is_unique",
                      "IsFirstDistinct": "is_first_distinct", "IsLastDistinct": "is_last_distinct"}
            if name in simple:
                return getattr(x, simple[name])()
            if name == "IsBetween":
                lower, upper = self.expr(inputs[1]), self.expr(inputs[2])
                return x.is_between(lower, upper, closed=str(args[0]))  # type: ignore[union-attr]
            if name in ("Any", "All"):
                return getattr(x, name.lower())(ignore_nulls=bool(args[0]))
            if name == "HasNulls":
                return x.has_nulls()  # type: ignore[union-attr]
            if name == "IsClose":
                abs_tol, rel_tol, nans_equal = args
                return x.is_close(self.expr(inputs[1]), abs_tol=abs_tol, rel_tol=rel_tol,  # type: ignore[union-attr]
                                  nans_equal=bool(nans_equal))
        elif family == "StringFunction":
            if name == "Strptime":
                return self._strptime(args, x, self._dtype_of(node))  # type: ignore[arg-type]
            return self._string(name, args, x, inputs)  # type: ignore[arg-type]
        elif family == "ListFunction":
            return self._list(name, args, x, inputs)  # type: ignore[arg-type]
        elif family == "ArrayFunction":
            return self._array(name, args, x, inputs)  # type: ignore[arg-type]
        elif family == "TemporalFunction":
            return self._temporal(name, args, x, inputs)  # type: ignore[arg-type]
        elif family == "RollingFunction" and name == "CorrCov":
            # (window_size, min_samples, ddof (None for corr), is_corr): of two inputs.
            window, min_samples, ddof, is_corr = args
            method = pr_expr.rolling_corr if is_corr else pr_expr.rolling_cov
            return method(x, self.expr(inputs[1]), window_size=window, min_samples=min_samples,  # type: ignore[arg-type]
                          ddof=1 if ddof is None else ddof)
        elif family == "RollingFunction":
            # (window_size, min_samples, weights, center, fn_params): ddof is std/var's only parameter.
            window, min_samples, weights, center, params = (*args, None, None, ())[:5]
            center = bool(center)
            if name in ("Skew", "Kurtosis") and weights is None:
                if name == "Skew":
                    return x.rolling_skew(window, bias=bool(params[0]), min_samples=min_samples,  # type: ignore[union-attr]
                                          center=center)
                fisher, bias = params
                return x.rolling_kurtosis(window, fisher=bool(fisher), bias=bool(bias),  # type: ignore[union-attr]
                                          min_samples=min_samples, center=center)
            op = {"Sum": "rolling_sum", "Mean": "rolling_mean", "Min": "rolling_min", "Max": "rolling_max",
                  "Std": "rolling_std", "Var": "rolling_var"}.get(name)
            if name == "Quantile" and weights is None and params:
                quantile, method = params
                if (quantile, method) == (0.5, "linear"):
                    return x.rolling_median(window, min_samples=min_samples, center=center)  # type: ignore[union-attr]
                return x.rolling_quantile(quantile, str(method), window, min_samples=min_samples,  # type: ignore[union-attr]
                                          center=center)
            if op and weights is None:
                if name in ("Std", "Var"):
                    return getattr(x, op)(window, min_samples=min_samples, center=center,
                                          ddof=params[0] if params else 1)
                if not params:
                    return getattr(x, op)(window, min_samples=min_samples, center=center)
        elif family == "RollingFunctionBy":
            # (window as (months, weeks, days, ns, negative, index count), min_samples, closed, fn_params)
            window, min_samples, closed, params = args
            op = {"SumBy": "rolling_sum_by", "MeanBy": "rolling_mean_by", "MinBy": "rolling_min_by",
                  "MaxBy": "rolling_max_by", "StdBy": "rolling_std_by", "VarBy": "rolling_var_by"}.get(name)
            if name == "QuantileBy" and tuple(params) == (0.5, "linear"):
                op, params = "rolling_median_by", ()
            duration = _duration_text(window)
            if op and not window[4]:  # a window of time, not of rows
                by = self.expr(inputs[1])
                if name in ("StdBy", "VarBy"):
                    return getattr(x, op)(by, duration, min_samples=min_samples, closed=closed,
                                          ddof=params[0] if params else 1)
                if not params:
                    return getattr(x, op)(by, duration, min_samples=min_samples, closed=closed)
        elif name in ("cum_sum", "cum_prod", "cum_min", "cum_max", "cum_count"):
            return getattr(x, name)(reverse=bool(args[0]) if args else False)
        elif name == "shift_and_fill":
            return x.shift(self._literal_arg(inputs[1]), fill_value=self.expr(inputs[2]))  # type: ignore[union-attr]
        elif name == "fill_null_with_strategy" and args and args[0] in ("forward", "backward"):
            return getattr(x, f"{args[0]}_fill")(args[1] if len(args) > 1 else None)
        elif name == "clip":
            has_lower, has_upper = args[0], args[1]
            bounds = iter(inputs[1:])
            lower = self.expr(next(bounds)) if has_lower else None
            upper = self.expr(next(bounds)) if has_upper else None
            return x.clip(lower, upper)  # type: ignore[union-attr]
        elif name == "pow":
            return x.pow(self.expr(inputs[1]))  # type: ignore[union-attr]
        elif name == "rank" and args and args[2] is None and args[0] != "random":
            return x.rank(str(args[0]), descending=bool(args[1]))  # type: ignore[union-attr]
        elif name in ("sum_horizontal", "mean_horizontal"):
            return getattr(pr_expr, name)([self.expr(i) for i in inputs], ignore_nulls=bool(args[0]))
        elif name in ("min_horizontal", "max_horizontal"):
            return getattr(pr_expr, name)([self.expr(i) for i in inputs])
        elif family == "EwmFunction" and name == "MeanBy":
            (half_life,) = args
            return x.ewm_mean_by(self.expr(inputs[1]), half_life=_duration_text(half_life))  # type: ignore[union-attr]
        elif family == "EwmFunction" and len(args) == 5:
            # (alpha, adjust, bias, min_samples, ignore_nulls)
            alpha, adjust, bias, min_samples, ignore_nulls = args
            options = {"adjust": adjust, "min_samples": min_samples, "ignore_nulls": ignore_nulls}
            if name == "Mean":
                return x.ewm_mean(alpha=alpha, **options)  # type: ignore[union-attr]
            if name in ("Std", "Var"):
                return getattr(x, f"ewm_{name.lower()}")(alpha=alpha, bias=bias, **options)
        elif name == "interpolate":
            return x.interpolate(str(args[0]))  # type: ignore[union-attr]
        elif name in _UNARY:
            return getattr(x, name)()
        elif name == "to_physical":
            if isinstance(self._dtype_of(inputs[0]), (pl.Categorical, pl.Enum)):
                # A category's number is polars' own (a global string cache): the server's differs.
                raise _unsupported("to_physical of a categorical")
            return x.to_physical()  # type: ignore[union-attr]
        elif name == "set_sorted":
            return x  # type: ignore[return-value]  # a flag polars trusts; the values are the same
        elif name == "extend_constant":
            return x.extend_constant(self.expr(inputs[1]), self.expr(inputs[2]))  # type: ignore[union-attr]
        elif name == "repeat_by":
            return x.repeat_by(self.expr(inputs[1]))  # type: ignore[union-attr]
        elif name == "repeat":
            return pr_expr.repeat(x, self.expr(inputs[1]))  # type: ignore[arg-type]
        elif name == "concat" and len(inputs) == 2:  # append
            return x.append(self.expr(inputs[1]), upcast=bool(args[0]))  # type: ignore[union-attr]
        elif family == "RangeFunction" and name in ("DateRange", "DatetimeRange") and args[-1] == "start_end_interval":
            interval, closed = _duration_text(args[0]), str(args[1])
            start, end = self.expr(inputs[0]), self.expr(inputs[1])
            if name == "DateRange":
                return pr_expr.date_range(start, end, interval, closed=closed)
            return pr_expr.datetime_range(start, end, interval, closed=closed, time_unit=args[2], time_zone=args[3])
        elif name == "atan2":
            return pr_expr.arctan2(x, self.expr(inputs[1]))  # type: ignore[arg-type]
        elif name == "argwhere":
            return pr_expr.arg_where(x)  # type: ignore[arg-type]
        elif name == "hist":
            bin_count, include_category, include_breakpoint = args
            bins = self._literal_arg(inputs[1]) if len(inputs) > 1 else None
            return x.hist(bins, bin_count=bin_count, include_category=bool(include_category),  # type: ignore[union-attr]
                          include_breakpoint=bool(include_breakpoint))
        elif name == "index_of":
            return x.index_of(self.expr(inputs[1]))  # type: ignore[union-attr]
        elif name in ("min_by", "max_by"):
            return getattr(x, name)(self.expr(inputs[1]))
        elif name == "skew":
            return x.skew(bias=bool(args[0]))  # type: ignore[union-attr]
        elif name == "kurtosis":
            fisher, bias = args
            return x.kurtosis(fisher=bool(fisher), bias=bool(bias))  # type: ignore[union-attr]
        elif name == "entropy":
            base, normalize = args
            return x.entropy(base, normalize=bool(normalize))  # type: ignore[union-attr]
        elif name == "search_sorted":
            side, descending = args
            return x.search_sorted(self.expr(inputs[1]), str(side), descending=bool(descending))  # type: ignore[union-attr]
        elif name == "interpolate_by":
            return x.interpolate_by(self.expr(inputs[1]))  # type: ignore[union-attr]
        elif name == "cut":
            breaks, labels, left_closed, include_breaks = args
            return x.cut(breaks, labels=labels, left_closed=bool(left_closed),  # type: ignore[union-attr]
                         include_breaks=bool(include_breaks))
        elif name == "qcut":
            quantiles, labels, left_closed, allow_duplicates, include_breaks = args
            return x.qcut(quantiles, labels=labels, left_closed=bool(left_closed),  # type: ignore[union-attr]
                          allow_duplicates=bool(allow_duplicates), include_breaks=bool(include_breaks))
        elif name == "arg_max" and args:
            # polars' visitor names arg_sort "arg_max", with arg_sort's (descending, nulls_last).
            return x.arg_sort(descending=bool(args[0]), nulls_last=bool(args[1]))  # type: ignore[union-attr]
        elif name in ("null_count", "arg_min", "arg_max", "log1p", "floor", "ceil", "sign", "product", "drop_nulls",
                      "drop_nans"):
            return getattr(x, name)()
        elif name == "unique":
            return x.unique()  # type: ignore[union-attr]  # the server keeps first-seen order: one valid answer
        elif name == "gather_every":
            offset, n = args
            return x.gather_every(n, offset)  # type: ignore[union-attr]
        elif name == "top_k" and len(inputs) == 2:
            k = self._literal_arg(inputs[1])
            return x.bottom_k(k) if args[0] else x.top_k(k)  # type: ignore[union-attr]
        elif name == "mode":
            return x.mode(maintain_order=bool(args[0]))  # type: ignore[union-attr]
        elif name in ("approx_n_unique", "unique_counts"):
            return getattr(x, name)()
        elif family == "RangeFunction" and name == "IntRange":
            step, dtype = args
            return pr_expr.int_range(self.expr(inputs[0]), self.expr(inputs[1]), step, dtype=dtype)
        elif family == "RangeFunction" and name == "IntRanges":
            start, end, step = (self.expr(i) for i in inputs)
            return pr_expr.int_ranges(start, end, step, dtype=args[0])
        elif name == "log" and len(inputs) == 2:
            return x.log(self._literal_arg(inputs[1]))  # type: ignore[union-attr]
        elif name in ("replace", "replace_strict"):
            old, new = self.expr(inputs[1]), self.expr(inputs[2])
            if name == "replace":
                return x.replace(old, new)  # type: ignore[union-attr]
            default = self.expr(inputs[3]) if len(inputs) > 3 else None
            # The visitor does not show return_dtype: the expression's own type is it.
            return x.replace_strict(old, new, default=default, return_dtype=self._dtype_of(node))  # type: ignore[union-attr]
        elif name == "corr":
            other = self.expr(inputs[1])
            if args[0] == "pearson":
                return pr_expr.corr(x, other)
            if args[0] == "spearman_rank":
                return pr_expr.corr(x, other, method="spearman", propagate_nans=bool(args[1]))
            if args[0] == "covariance":
                return pr_expr.cov(x, other, ddof=args[1])
        elif name == "as_struct":
            # The visitor shows the fields' expressions, not their names: the struct's type has them.
            fields = self._dtype_of(node).fields
            return pr_expr.struct([self.expr(i).alias(f.name) for i, f in zip(inputs, fields)])
        elif name == "value_counts":
            sort, parallel, count_name, normalize = args
            return x.value_counts(sort=sort, parallel=parallel, name=count_name, normalize=normalize)  # type: ignore[union-attr]
        elif name == "top_k_by" and len(inputs) > 2:
            k = self._literal_arg(inputs[1])
            return x.top_k_by([self.expr(i) for i in inputs[2:]], k, reverse=list(args[0]))  # type: ignore[union-attr]
        elif family == "StructFunction" and name == "FieldByName":
            return x.struct.field(args[0])  # type: ignore[union-attr]
        elif family == "StructFunction" and name == "RenameFields":
            return x.struct.rename_fields(list(args[0]))  # type: ignore[union-attr]
        elif name == "coalesce":
            return pr_expr.coalesce([self.expr(i) for i in inputs])
        elif name == "fill_null_with_strategy" and args and args[0] in ("zero", "one", "mean", "min", "max"):
            return x.fill_null(strategy=args[0])  # type: ignore[union-attr]
        elif name == "diff" and args and args[0] != "ignore":
            raise _unsupported(f"diff with null_behavior={args[0]!r}")
        elif name in ("shift", "diff", "pct_change"):
            n = self._literal_arg(inputs[1]) if len(inputs) > 1 else 1
            return getattr(x, name)(n)
        elif name == "fill_null":
            return x.fill_null(self.expr(inputs[1]))  # type: ignore[union-attr]
        elif name in ("abs", "sqrt", "cbrt", "exp", "reverse", "arg_unique"):
            return getattr(x, name)()
        elif name == "negate":
            return -x  # type: ignore[operator]
        elif name == "round_sig_figs":
            return x.round_sig_figs(args[0])  # type: ignore[union-attr]
        elif name == "round":
            return x.round(args[0], str(args[1]) if len(args) > 1 else "half_to_even")  # type: ignore[union-attr]
        elif name == "quantile":
            return x.quantile(self._literal_arg(inputs[1]), str(args[0]).lower())  # type: ignore[union-attr]
        raise _unsupported(f"the function {name}{args if args else ''}")

    def _dtype_of(self, node: int) -> Any:
        """An expression's type, resolved against the input of the plan node it belongs to."""
        here = self.nt.get_node()
        inputs = self.nt.get_inputs()
        if inputs:
            self.nt.set_node(inputs[0])
        try:
            return self.nt.get_dtype(node)
        finally:
            self.nt.set_node(here)

    def _strptime(self, args: tuple, x: Expr, dtype: Any) -> Expr:
        # (format, strict, exact, cache); the target type is the expression's own.
        fmt, strict, exact = args[0], bool(args[1]), bool(args[2])
        if dtype == pl.Date:
            return x.str.to_date(fmt, strict=strict, exact=exact)
        if isinstance(dtype, pl.Datetime):
            return x.str.to_datetime(fmt, time_unit=dtype.time_unit, time_zone=dtype.time_zone, strict=strict,
                                     exact=exact)
        if dtype == pl.Time:
            return x.str.to_time(fmt, strict=strict)
        raise _unsupported(f"strptime to {dtype}")

    def _string(self, name: str, args: tuple, x: Expr, inputs: list[int]) -> Expr:
        if name == "Lowercase":
            return x.str.to_lowercase()
        if name == "Uppercase":
            return x.str.to_uppercase()
        if name == "LenChars":
            return x.str.len_chars()
        if name == "LenBytes":
            return x.str.len_bytes()
        if name == "Contains" and len(inputs) == 2:
            literal, strict = args
            return x.str.contains(self._literal_or_expr(inputs[1]), literal=bool(literal), strict=bool(strict))
        if name == "Replace" and len(inputs) == 3:
            n, literal = args
            pattern, value = self._literal_arg(inputs[1]), self._literal_arg(inputs[2])
            if n == -1:
                return x.str.replace_all(pattern, value, literal=bool(literal))
            return x.str.replace(pattern, value, literal=bool(literal), n=n)
        if name in ("StripPrefix", "StripSuffix"):
            affix = self._literal_or_expr(inputs[1])
            return x.str.strip_prefix(affix) if name == "StripPrefix" else x.str.strip_suffix(affix)
        if name == "ToDecimal":
            return x.str.to_decimal(scale=args[0])
        if name == "Normalize":
            return x.str.normalize(str(args[0]).upper())
        if name in ("HexEncode", "Base64Encode"):
            return x.str.encode("hex" if name == "HexEncode" else "base64")
        if name in ("HexDecode", "Base64Decode"):
            return x.str.decode("hex" if name == "HexDecode" else "base64", strict=bool(args[0]))
        if name == "ConcatVertical":
            delimiter, ignore_nulls = args
            return x.str.join(delimiter, ignore_nulls=bool(ignore_nulls))
        if name in ("StripChars", "StripCharsStart", "StripCharsEnd"):
            method = {"StripChars": "strip_chars", "StripCharsStart": "strip_chars_start",
                      "StripCharsEnd": "strip_chars_end"}[name]
            return getattr(x.str, method)(self._literal_arg(inputs[1]) if len(inputs) > 1 else None)
        if name in ("Head", "Tail"):
            return getattr(x.str, name.lower())(self._literal_arg(inputs[1]))
        if name in ("PadStart", "PadEnd"):
            return getattr(x.str, "pad_start" if name == "PadStart" else "pad_end")(self._literal_arg(inputs[1]),
                                                                                   args[0])
        if name == "ToInteger" and len(inputs) == 2:
            return x.str.to_integer(base=self._literal_arg(inputs[1]), strict=bool(args[0]))
        if name == "Reverse":
            return x.str.reverse()
        if name == "ZFill":
            return x.str.zfill(self._literal_arg(inputs[1]))
        if name == "Extract":
            return x.str.extract(self._literal_arg(inputs[1]), args[0])
        if name == "ExtractAll":
            return x.str.extract_all(self._literal_arg(inputs[1]))
        if name == "CountMatches":
            return x.str.count_matches(self._literal_arg(inputs[1]), literal=bool(args[0]))
        if name == "Format":
            # (the text without its placeholders, the byte offset where each input goes)
            text, offsets = args[0].encode(), args[1]
            parts: list[Expr] = []
            done = 0
            for offset, node in zip(offsets, inputs):
                if offset > done:
                    parts.append(lit(text[done:offset].decode()))
                parts.append(self.expr(node))
                done = offset
            if done < len(text):
                parts.append(lit(text[done:].decode()))
            return pr_expr.concat_str(parts)
        if name == "ConcatHorizontal":
            parts = [self.expr(i) for i in inputs]
            return pr_expr.concat_str(parts, separator=str(args[0]), ignore_nulls=bool(args[1]))
        if name == "Slice" and len(inputs) == 3:
            return x.str.slice(self._literal_or_expr(inputs[1]), self._literal_or_expr(inputs[2]))
        if name == "Split" and len(inputs) == 2:
            return x.str.split(self._literal_arg(inputs[1]), inclusive=bool(args[0]))
        if name == "StartsWith":
            return x.str.starts_with(self._literal_or_expr(inputs[1]))
        if name == "EndsWith":
            return x.str.ends_with(self._literal_or_expr(inputs[1]))
        if name == "Find":
            literal, strict = args
            return x.str.find(self._literal_arg(inputs[1]), literal=bool(literal), strict=bool(strict))
        if name == "SplitExact":
            n, inclusive = args
            return x.str.split_exact(self._literal_arg(inputs[1]), n, inclusive=bool(inclusive))
        if name == "SplitN":
            return x.str.splitn(self._literal_arg(inputs[1]), args[0])
        if name == "ContainsAny":
            return x.str.contains_any(self._literal_arg(inputs[1]), ascii_case_insensitive=bool(args[0]))
        if name == "ReplaceMany":
            case, leftmost = args
            return x.str.replace_many(self._literal_arg(inputs[1]), self._literal_arg(inputs[2]),
                                      ascii_case_insensitive=bool(case), leftmost=bool(leftmost))
        if name in ("ExtractMany", "FindMany"):
            case, overlapping, leftmost = args
            method = x.str.extract_many if name == "ExtractMany" else x.str.find_many
            return method(self._literal_arg(inputs[1]), ascii_case_insensitive=bool(case),
                          overlapping=bool(overlapping), leftmost=bool(leftmost))
        raise _unsupported(f"the string function {name}")

    def _list(self, name: str, args: tuple, x: Expr, inputs: list[int]) -> Expr:
        simple = {"Length": "len", "Sum": "sum", "Mean": "mean", "Min": "min", "Max": "max"}
        if name in simple:
            return getattr(x.list, simple[name])()
        if name == "Get":
            return x.list.get(self.expr(inputs[1]), null_on_oob=bool(args[0]))
        if name == "Contains":
            return x.list.contains(self.expr(inputs[1]), nulls_equal=bool(args[0]))
        if name == "Join":
            return x.list.join(self._literal_arg(inputs[1]), ignore_nulls=bool(args[0]))
        if name == "Slice":
            return x.list.slice(self.expr(inputs[1]), self.expr(inputs[2]))
        if name == "Concat":
            return pr_expr.concat_list([self.expr(i) for i in inputs])
        if name == "Sort":
            descending, nulls_last = bool(args[0]), bool(args[1])
            return x.list.sort(descending=descending, nulls_last=nulls_last)
        if name == "Median":
            return x.list.median()
        if name in ("Std", "Var"):
            return getattr(x.list, name.lower())(ddof=args[0])
        if name == "GatherEvery":
            return x.list.gather_every(self._literal_arg(inputs[1]), self._literal_arg(inputs[2]))
        if name in ("ArgMin", "ArgMax", "DropNulls"):
            return getattr(x.list, {"ArgMin": "arg_min", "ArgMax": "arg_max", "DropNulls": "drop_nulls"}[name])()
        if name == "Diff":
            n, null_behavior = args
            return x.list.diff(n, str(null_behavior))
        if name == "Shift":
            return x.list.shift(self._literal_arg(inputs[1]))
        if name == "Gather":
            return x.list.gather(self._literal_or_expr(inputs[1]), null_on_oob=bool(args[0]))
        if name == "CountMatches":
            return x.list.count_matches(self.expr(inputs[1]))
        if name == "SetOperation":
            return getattr(x.list, f"set_{args[0]}")(self.expr(inputs[1]))
        if name == "ToArray":
            return x.list.to_array(args[0])
        if name == "ToStruct" and isinstance(args[0], list):
            return x.list.to_struct(fields=args[0])
        raise _unsupported(f"the list function {name}")

    def _array(self, name: str, args: tuple, x: Expr, inputs: list[int]) -> Expr:
        simple = {"Length": "len", "Sum": "sum", "Mean": "mean", "Median": "median", "Min": "min", "Max": "max",
                  "ArgMin": "arg_min", "ArgMax": "arg_max", "ToList": "to_list"}
        if name in simple:
            return getattr(x.arr, simple[name])()
        if name in ("Std", "Var"):
            return getattr(x.arr, name.lower())(ddof=args[0])
        if name == "Sort":
            return x.arr.sort(descending=bool(args[0]), nulls_last=bool(args[1]))
        if name == "Get":
            return x.arr.get(self.expr(inputs[1]), null_on_oob=bool(args[0]))
        if name == "Join":
            return x.arr.join(self._literal_arg(inputs[1]), ignore_nulls=bool(args[0]))
        if name == "Contains":
            return x.arr.contains(self.expr(inputs[1]), nulls_equal=bool(args[0]))
        if name == "Shift":
            return x.arr.shift(self._literal_arg(inputs[1]))
        if name == "Explode":
            empty_as_null, keep_nulls = args
            return x.arr.explode(empty_as_null=bool(empty_as_null), keep_nulls=bool(keep_nulls))
        raise _unsupported(f"the array function {name}")

    def _temporal(self, name: str, args: tuple, x: Expr, inputs: list[int]) -> Expr:
        simple = {"Year": "year", "Month": "month", "Day": "day", "Hour": "hour", "Minute": "minute",
                  "Second": "second", "Millisecond": "millisecond", "WeekDay": "weekday", "OrdinalDay": "ordinal_day",
                  "Date": "date"}
        if name in simple:
            return getattr(x.dt, simple[name])()
        if name == "Truncate":
            return x.dt.truncate(self._literal_arg(inputs[1]))
        if name == "ToString":
            return x.dt.strftime(str(args[0]))
        if name == "OffsetBy":
            return x.dt.offset_by(self.expr(inputs[1]))
        if name == "ConvertTimeZone":
            return x.dt.convert_time_zone(args[0])
        if name in ("Week", "Quarter", "Time", "Microsecond", "Nanosecond", "Century", "Millennium"):
            return getattr(x.dt, name.lower())()
        renamed = {"IsoYear": "iso_year", "IsLeapYear": "is_leap_year", "DaysInMonth": "days_in_month",
                   "BaseUtcOffset": "base_utc_offset", "DSTOffset": "dst_offset"}
        if name in renamed:
            return getattr(x.dt, renamed[name])()
        if name == "Combine":
            return x.dt.combine(self.expr(inputs[1]), str(args[0]))
        if name == "CastTimeUnit":
            return x.dt.cast_time_unit(str(args[0]))
        if name in ("MonthStart", "MonthEnd"):
            return getattr(x.dt, "month_start" if name == "MonthStart" else "month_end")()
        if name == "Round":
            return x.dt.round(self._literal_arg(inputs[1]))
        if name == "TimeStamp":
            return x.dt.epoch(str(args[0]))
        if name == "ReplaceTimeZone":
            # (time_zone, non_existent); inputs[1] is ambiguous (a literal; a column of choices is refused).
            return x.dt.replace_time_zone(args[0], ambiguous=self._literal_arg(inputs[1]), non_existent=str(args[1]))
        if name == "Replace":
            # inputs: the values, year, month, day, hour, minute, second, microsecond (a null
            # literal keeps the part), ambiguous.
            *parts, ambiguous = inputs[1:]
            names = ("year", "month", "day", "hour", "minute", "second", "microsecond")
            return x.dt.replace(**dict(zip(names, (self.expr(p) for p in parts))),
                                ambiguous=self._literal_arg(ambiguous))
        if name == "Duration":
            # inputs: weeks, days, hours, minutes, seconds, milliseconds, microseconds, nanoseconds.
            parts = dict(zip(("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds",
                              "nanoseconds"), (self.expr(i) for i in inputs)))
            return pr_expr.duration(**parts, time_unit=str(args[0]))
        if name == "DatetimeFunction":
            # inputs: year, month, day, hour, minute, second, microsecond, ambiguous.
            time_unit, time_zone = args
            *parts, ambiguous = inputs
            return pr_expr.datetime(*(self.expr(p) for p in parts), time_unit=str(time_unit), time_zone=time_zone,
                                    ambiguous=self._literal_arg(ambiguous))
        if name.startswith("Total") and name[5:].lower() in _TOTALS:
            return getattr(x.dt, f"total_{name[5:].lower()}")(fractional=bool(args[0]))
        raise _unsupported(f"the temporal function {name}")
