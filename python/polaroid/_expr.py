"""Expressions: the polars expression API, built as the server's expression tree.

Every method mirrors the polars method of the same name and arguments; the
server translates the tree into a real polars expression, and refuses what it
cannot run with an error naming the function and where it sits in the tree.
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

import polars as pl

from polaroid.v1 import polaroid_pb2 as pb

IntoExpr = Union["Expr", str, int, float, bool, bytes, None, dt.date, dt.datetime, dt.time, dt.timedelta]

_SIMPLE_DTYPES: dict[Any, str] = {
    pl.Boolean: "bool",
    pl.Int8: "i8",
    pl.Int16: "i16",
    pl.Int32: "i32",
    pl.Int64: "i64",
    pl.Int128: "i128",
    pl.UInt8: "u8",
    pl.UInt16: "u16",
    pl.UInt32: "u32",
    pl.UInt64: "u64",
    pl.Float32: "f32",
    pl.Float64: "f64",
    pl.String: "str",
    pl.Binary: "binary",
    pl.Date: "date",
    pl.Time: "time",
    pl.Null: "null",
    pl.Categorical: "cat",
}


def dtype_name(dtype: Any) -> str:
    """The server's name for a polars dtype (``pl.Int32`` -> ``"i32"``,
    ``pl.Datetime("ms", "UTC")`` -> ``"datetime[ms, UTC]"``). Strings pass through."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, pl.Datetime):
        unit = dtype.time_unit or "us"
        return f"datetime[{unit}, {dtype.time_zone}]" if dtype.time_zone else f"datetime[{unit}]"
    if isinstance(dtype, pl.Duration):
        return f"duration[{dtype.time_unit or 'us'}]"
    if isinstance(dtype, pl.Decimal):
        return f"decimal[{dtype.precision or 38}, {dtype.scale}]"
    if isinstance(dtype, pl.List):
        return f"list[{dtype_name(dtype.inner)}]"
    if isinstance(dtype, pl.Array):
        shape = dtype.shape
        width = str(shape[0]) if not shape[1:] else f"({', '.join(map(str, shape))})"
        leaf = dtype.inner
        while isinstance(leaf, pl.Array):
            leaf = leaf.inner
        return f"array[{dtype_name(leaf)}, {width}]"
    if dtype is pl.Datetime:
        return "datetime[us]"
    if dtype is pl.Duration:
        return "duration[us]"
    for known, name in _SIMPLE_DTYPES.items():
        if dtype is known or dtype == known:
            return name
    raise TypeError(f"polaroid cannot send the dtype {dtype!r} to the server yet")


_UNITS = {"ns": pb.TIME_UNIT_NANOSECONDS, "us": pb.TIME_UNIT_MICROSECONDS, "ms": pb.TIME_UNIT_MILLISECONDS}


def _zone_name(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)  # zoneinfo.ZoneInfo
    if key:
        return key
    if tz.utcoffset(None) == dt.timedelta(0):
        return "UTC"
    raise ValueError(f"time zone {tz!r} has no IANA name; use zoneinfo.ZoneInfo")


def to_literal(value: Any, dtype: Any = None) -> pb.Literal:
    """A Python value as the server's literal (a typed null needs ``dtype``)."""
    out = pb.Literal()
    if value is None:
        out.null.SetInParent()
    elif isinstance(value, bool):
        out.boolean = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            out.int64 = value
        elif 0 <= value < 2**64:
            out.uint64 = value
        else:
            raise OverflowError(f"{value} does not fit in 64 bits")
    elif isinstance(value, float):
        out.float64 = value
    elif isinstance(value, str):
        out.string = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.binary = bytes(value)
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None:
            micros = (value - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
            out.datetime.CopyFrom(pb.DatetimeValue(value=micros, unit=pb.TIME_UNIT_MICROSECONDS))
        else:
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            micros = (value - epoch) // dt.timedelta(microseconds=1)
            out.datetime.CopyFrom(pb.DatetimeValue(value=micros, unit=pb.TIME_UNIT_MICROSECONDS,
                                                   time_zone=_zone_name(value.tzinfo)))
    elif isinstance(value, dt.date):
        out.date = (value - dt.date(1970, 1, 1)).days
    elif isinstance(value, dt.timedelta):
        out.duration.CopyFrom(pb.DurationValue(value=value // dt.timedelta(microseconds=1),
                                               unit=pb.TIME_UNIT_MICROSECONDS))
    elif isinstance(value, dt.time):
        out.time = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000_000 + value.microsecond * 1000
    elif isinstance(value, decimal.Decimal):
        # Exact text, cast on the server to the decimal type (the value's own digits unless dtype says).
        if not value.is_finite():
            raise ValueError(f"a Decimal literal must be finite, not {value}")
        out.string = builtins.format(value, "f")
        if dtype is None:
            dtype = pl.Decimal(38, max(0, -int(value.as_tuple().exponent)))
    else:
        raise TypeError(f"polaroid cannot send a literal of type {type(value).__name__}")
    if dtype is not None:
        out.dtype = dtype_name(dtype)
    elif value is None:
        out.dtype = "null"
    return out


def _ewm_alpha(com: float | None, span: float | None, half_life: float | None, alpha: float | None) -> float:
    """The smoothing factor from whichever of polars' four ways gives it."""
    ways = (("com", com), ("span", span), ("half_life", half_life), ("alpha", alpha))
    given = [(k, v) for k, v in ways if v is not None]
    if builtins.len(given) != 1:  # this module's len() is pl.len's
        raise ValueError("give exactly one of com, span, half_life, alpha")
    kind, value = given[0]
    if kind == "com":
        if value < 0:
            raise ValueError("com must be >= 0")
        return 1.0 / (1.0 + value)
    if kind == "span":
        if value < 1:
            raise ValueError("span must be >= 1")
        return 2.0 / (value + 1.0)
    if kind == "half_life":
        if value <= 0:
            raise ValueError("half_life must be > 0")
        return 1.0 - math.exp(-math.log(2.0) / value)
    if not 0 < value <= 1:
        raise ValueError("alpha must be in (0, 1]")
    return float(value)


def duration_text(value: str | dt.timedelta) -> str:
    """A polars duration string (``"5m"``); a timedelta becomes whole microseconds."""
    if isinstance(value, dt.timedelta):
        return f"{value // dt.timedelta(microseconds=1)}us"
    return value


def _options(**options: Any) -> dict[str, pb.Literal]:
    return {k: to_literal(v) for k, v in options.items() if v is not None}


def into_expr(value: IntoExpr, *, str_as_col: bool = True) -> Expr:
    """Strings name columns (as in polars' select/group_by); other values are literals."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, str) and str_as_col:
        return col(value)
    return lit(value)


class Expr:
    """A server-side polars expression. Build with :func:`col`, :func:`lit`,
    :func:`len` and :func:`when`, then chain methods as in polars."""

    __slots__ = ("_pb",)

    def __init__(self, message: pb.Expr) -> None:
        self._pb = message

    def to_proto(self) -> pb.Expr:
        """The expression tree as the server receives it."""
        return self._pb

    def __repr__(self) -> str:
        return f"<polaroid.Expr {self._pb.WhichOneof('kind')}>"

    def __bool__(self) -> bool:
        raise TypeError("a polaroid expression has no truth value: use & | ~ instead of and/or/not")

    # -- building blocks

    def _fn(self, name: str, /, *args: IntoExpr, **options: Any) -> Expr:
        message = pb.Function(name=name, args=[self._pb, *(into_expr(a, str_as_col=False)._pb for a in args)])
        for key, value in _options(**options).items():
            message.options[key].CopyFrom(value)
        return Expr(pb.Expr(function=message))

    def _binary(self, op: int, other: IntoExpr, *, reflected: bool = False) -> Expr:
        other_pb = into_expr(other, str_as_col=False)._pb
        left, right = (other_pb, self._pb) if reflected else (self._pb, other_pb)
        return Expr(pb.Expr(binary=pb.BinaryExpr(left=left, op=op, right=right)))

    # -- operators

    def __add__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_ADD, o)
    def __radd__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_ADD, o, reflected=True)
    def __sub__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_SUB, o)
    def __rsub__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_SUB, o, reflected=True)
    def __mul__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_MUL, o)
    def __rmul__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_MUL, o, reflected=True)
    def __truediv__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_TRUE_DIV, o)
    def __rtruediv__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_TRUE_DIV, o, reflected=True)
    def __floordiv__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_FLOOR_DIV, o)
    def __rfloordiv__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_FLOOR_DIV, o, reflected=True)
    def __mod__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_MOD, o)
    def __rmod__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_MOD, o, reflected=True)
    def __eq__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_EQ, o)  # type: ignore[override]
    def __ne__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_NEQ, o)  # type: ignore[override]
    def __lt__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_LT, o)
    def __le__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_LT_EQ, o)
    def __gt__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_GT, o)
    def __ge__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_GT_EQ, o)
    def __and__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_AND, o)
    def __rand__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_AND, o, reflected=True)
    def __or__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_OR, o)
    def __ror__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_OR, o, reflected=True)
    def __xor__(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_XOR, o)
    def __invert__(self) -> Expr: return Expr(pb.Expr(**{"not": pb.Not(expr=self._pb)}))
    def __neg__(self) -> Expr: return self._fn("neg")

    __hash__ = None  # type: ignore[assignment]  # == builds an expression, as in polars

    def add(self, o: IntoExpr) -> Expr: return self + o
    def sub(self, o: IntoExpr) -> Expr: return self - o
    def mul(self, o: IntoExpr) -> Expr: return self * o
    def truediv(self, o: IntoExpr) -> Expr: return self / o
    def floordiv(self, o: IntoExpr) -> Expr: return self // o
    def mod(self, o: IntoExpr) -> Expr: return self % o
    def eq(self, o: IntoExpr) -> Expr: return self == o
    def ne(self, o: IntoExpr) -> Expr: return self != o
    def lt(self, o: IntoExpr) -> Expr: return self < o
    def le(self, o: IntoExpr) -> Expr: return self <= o
    def gt(self, o: IntoExpr) -> Expr: return self > o
    def ge(self, o: IntoExpr) -> Expr: return self >= o
    def and_(self, *others: IntoExpr) -> Expr:
        out = self
        for o in others:
            out = out & o
        return out
    def or_(self, *others: IntoExpr) -> Expr:
        out = self
        for o in others:
            out = out | o
        return out
    def not_(self) -> Expr: return ~self
    def eq_missing(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_EQ_MISSING, o)
    def ne_missing(self, o: IntoExpr) -> Expr: return self._binary(pb.BINARY_OP_NEQ_MISSING, o)

    # -- naming and types

    def alias(self, name: str) -> Expr:
        return Expr(pb.Expr(alias=pb.Alias(expr=self._pb, name=name)))

    def cast(self, dtype: Any, *, strict: bool = True) -> Expr:
        return Expr(pb.Expr(cast=pb.Cast(expr=self._pb, dtype=dtype_name(dtype), non_strict=not strict)))

    # -- aggregations

    def sum(self) -> Expr: return self._fn("sum")
    def mean(self) -> Expr: return self._fn("mean")
    def min(self) -> Expr: return self._fn("min")
    def max(self) -> Expr: return self._fn("max")
    def first(self) -> Expr: return self._fn("first")
    def last(self) -> Expr: return self._fn("last")
    def count(self) -> Expr: return self._fn("count")
    def len(self) -> Expr: return self._fn("len")
    def n_unique(self) -> Expr: return self._fn("n_unique")
    def median(self) -> Expr: return self._fn("median")
    def null_count(self) -> Expr: return self._fn("null_count")
    def has_nulls(self) -> Expr: return self._fn("has_nulls")
    def product(self) -> Expr: return self._fn("product")
    def implode(self) -> Expr: return self._fn("implode")
    def arg_min(self) -> Expr: return self._fn("arg_min")
    def arg_max(self) -> Expr: return self._fn("arg_max")
    def arg_unique(self) -> Expr: return self._fn("arg_unique")

    def skew(self, *, bias: bool = True) -> Expr:
        """As polars' (``bias=False`` corrects for the sample's size)."""
        return self._fn("skew", bias=bias)

    def kurtosis(self, *, fisher: bool = True, bias: bool = True) -> Expr:
        """As polars' (Fisher's definition subtracts 3, a normal's kurtosis)."""
        return self._fn("kurtosis", fisher=fisher, bias=bias)
    def top_k(self, k: int = 5) -> Expr: return self._fn("top_k", k=k)
    def top_k_by(self, by: IntoExpr | Sequence[IntoExpr], k: int = 5, *,
                 reverse: bool | Sequence[bool] = False) -> Expr:
        """As polars': the values at the k largest keys (smallest where reverse)."""
        return self._k_by("top_k_by", by, k, reverse)
    def bottom_k_by(self, by: IntoExpr | Sequence[IntoExpr], k: int = 5, *,
                    reverse: bool | Sequence[bool] = False) -> Expr:
        return self._k_by("bottom_k_by", by, k, reverse)
    def _k_by(self, name: str, by: Any, k: int, reverse: bool | Sequence[bool]) -> Expr:
        flags = [reverse] if isinstance(reverse, bool) else list(reverse)
        return self._fn(name, *[into_expr(b) for b in _as_list(by)], k=k)._listed(descending=[bool(f) for f in flags])
    def _listed(self, **lists: Sequence[Any] | None) -> Expr:
        """This function with list-valued options (``None``: left out)."""
        for key, values in lists.items():
            if values is not None:
                self._pb.function.options[key].CopyFrom(
                    pb.Literal(list=pb.LiteralList(values=[to_literal(v) for v in values])))
        return self
    def gather(self, indices: int | Sequence[int] | Expr) -> Expr:
        """As polars': the values at these row indices (negative count from the end)."""
        if isinstance(indices, Expr):
            return self._fn("gather", indices)
        if isinstance(indices, int):
            return self._fn("gather", lit(indices))
        return self._fn("gather")._listed(indices=[int(i) for i in indices])
    def value_counts(self, *, sort: bool = False, parallel: bool = False, name: str | None = None,
                     normalize: bool = False) -> Expr:
        """As polars': a struct per distinct value, the value and its count (or proportion)."""
        return self._fn("value_counts", sort=sort, parallel=parallel, name=name, normalize=normalize)
    def bottom_k(self, k: int = 5) -> Expr: return self._fn("bottom_k", k=k)
    def mode(self, *, maintain_order: bool = False) -> Expr: return self._fn("mode", maintain_order=maintain_order)
    def approx_n_unique(self) -> Expr: return self._fn("approx_n_unique")
    def unique_counts(self) -> Expr: return self._fn("unique_counts")
    def arg_sort(self, *, descending: bool = False, nulls_last: bool = False) -> Expr:
        return self._fn("arg_sort", descending=descending, nulls_last=nulls_last)
    def any(self, *, ignore_nulls: bool = True) -> Expr: return self._fn("any", ignore_nulls=ignore_nulls)
    def all(self, *, ignore_nulls: bool = True) -> Expr: return self._fn("all", ignore_nulls=ignore_nulls)
    def std(self, ddof: int = 1) -> Expr: return self._fn("std", ddof=ddof)
    def var(self, ddof: int = 1) -> Expr: return self._fn("var", ddof=ddof)
    def quantile(self, quantile: float, interpolation: str = "nearest") -> Expr:
        return self._fn("quantile", quantile=float(quantile), interpolation=interpolation)

    # -- elementwise

    def is_null(self) -> Expr: return self._fn("is_null")
    def is_not_null(self) -> Expr: return self._fn("is_not_null")
    def is_nan(self) -> Expr: return self._fn("is_nan")
    def is_infinite(self) -> Expr: return self._fn("is_infinite")
    def is_finite(self) -> Expr: return self._fn("is_finite")
    def fill_null(self, value: IntoExpr | None = None, strategy: str | None = None) -> Expr:
        """As polars': a value, or a strategy (forward, backward, zero, one, mean, min, max)."""
        if (value is None) == (strategy is None):
            raise ValueError("fill_null takes a value or a strategy")
        if strategy in ("forward", "backward"):
            return self._fn(f"{strategy}_fill")
        if strategy is not None:
            return self._fn("fill_null_strategy", strategy=strategy)
        return self._fn("fill_null", value)
    def drop_nulls(self) -> Expr: return self._fn("drop_nulls")
    def drop_nans(self) -> Expr: return self._fn("drop_nans")
    def is_in(self, other: IntoExpr | Iterable[Any], *, nulls_equal: bool = False) -> Expr:
        if isinstance(other, Expr):
            return self._fn("is_in", other, nulls_equal=nulls_equal)
        values = list(other)  # type: ignore[arg-type]
        message = pb.Function(name="is_in", args=[self._pb, _list_literal(values)._pb])
        message.options["nulls_equal"].CopyFrom(to_literal(nulls_equal))
        return Expr(pb.Expr(function=message))
    def is_between(self, lower: IntoExpr, upper: IntoExpr, closed: str = "both") -> Expr:
        return self._fn("is_between", lower, upper, closed=closed)
    def is_not_nan(self) -> Expr: return self._fn("is_not_nan")
    def fill_nan(self, value: IntoExpr) -> Expr: return self._fn("fill_nan", value)
    def forward_fill(self, limit: int | None = None) -> Expr: return self._fn("forward_fill", limit=limit)
    def backward_fill(self, limit: int | None = None) -> Expr: return self._fn("backward_fill", limit=limit)
    def clip(self, lower_bound: IntoExpr | None = None, upper_bound: IntoExpr | None = None) -> Expr:
        if lower_bound is not None and upper_bound is not None:
            return self._fn("clip", lower_bound, upper_bound)
        if lower_bound is not None:
            return self._fn("clip_min", lower_bound)
        if upper_bound is not None:
            return self._fn("clip_max", upper_bound)
        return self
    def pow(self, exponent: IntoExpr) -> Expr: return self._fn("pow", exponent)
    def __pow__(self, exponent: IntoExpr) -> Expr: return self.pow(exponent)
    def __rpow__(self, base: IntoExpr) -> Expr: return lit(base)._fn("pow", self)
    def log1p(self) -> Expr: return self._fn("log1p")
    def sign(self) -> Expr: return self._fn("sign")
    def is_duplicated(self) -> Expr: return self._fn("is_duplicated")
    def is_unique(self) -> Expr: return self._fn("is_unique")
    def is_first_distinct(self) -> Expr: return self._fn("is_first_distinct")
    def is_last_distinct(self) -> Expr: return self._fn("is_last_distinct")
    def interpolate(self, method: str = "linear") -> Expr: return self._fn("interpolate", method=method)
    def floor(self) -> Expr: return self._fn("floor")
    def ceil(self) -> Expr: return self._fn("ceil")
    def abs(self) -> Expr: return self._fn("abs")
    def round(self, decimals: int = 0, mode: str = "half_to_even") -> Expr:
        """As polars': half_to_even (its default), half_away_from_zero or to_zero."""
        return self._fn("round", decimals=decimals, mode=mode)
    def round_sig_figs(self, digits: int) -> Expr: return self._fn("round_sig_figs", digits=digits)
    def sqrt(self) -> Expr: return self._fn("sqrt")
    def cbrt(self) -> Expr: return self._fn("cbrt")
    def log(self, base: float = 2.718281828459045) -> Expr: return self._fn("log", base=float(base))
    def exp(self) -> Expr: return self._fn("exp")
    def sin(self) -> Expr: return self._fn("sin")
    def cos(self) -> Expr: return self._fn("cos")
    def tan(self) -> Expr: return self._fn("tan")
    def cot(self) -> Expr: return self._fn("cot")
    def arcsin(self) -> Expr: return self._fn("arcsin")
    def arccos(self) -> Expr: return self._fn("arccos")
    def arctan(self) -> Expr: return self._fn("arctan")
    def sinh(self) -> Expr: return self._fn("sinh")
    def cosh(self) -> Expr: return self._fn("cosh")
    def tanh(self) -> Expr: return self._fn("tanh")
    def arcsinh(self) -> Expr: return self._fn("arcsinh")
    def arccosh(self) -> Expr: return self._fn("arccosh")
    def arctanh(self) -> Expr: return self._fn("arctanh")
    def degrees(self) -> Expr: return self._fn("degrees")
    def radians(self) -> Expr: return self._fn("radians")
    def hist(self, bins: Sequence[float] | None = None, *, bin_count: int | None = None,
             include_category: bool = False, include_breakpoint: bool = False) -> Expr:
        """As polars': counts per bin, of the given edges or of ``bin_count`` equal bins."""
        edges = () if bins is None else (_list_literal([float(b) for b in bins]),)
        return self._fn("hist", *edges, bin_count=bin_count, include_category=include_category,
                        include_breakpoint=include_breakpoint)
    def index_of(self, element: IntoExpr) -> Expr:
        """The first index of ``element`` (one value), or null."""
        return self._fn("index_of", into_expr(element, str_as_col=False))
    def is_close(self, other: IntoExpr, *, abs_tol: float = 0.0, rel_tol: float = 1e-09,
                 nans_equal: bool = False) -> Expr:
        return self._fn("is_close", into_expr(other, str_as_col=False), abs_tol=float(abs_tol),
                        rel_tol=float(rel_tol), nans_equal=nans_equal)
    def entropy(self, base: float = 2.718281828459045, *, normalize: bool = True) -> Expr:
        return self._fn("entropy", base=float(base), normalize=normalize)
    def rle(self) -> Expr: return self._fn("rle")
    def to_physical(self) -> Expr:
        """As polars': the values as stored (a date's day number, a datetime's integer count)."""
        return self._fn("to_physical")
    def item(self, *, allow_empty: bool = False) -> Expr:
        """As polars': the one value (of a group); more than one is an error, none too unless allow_empty."""
        return self._fn("item", allow_empty=allow_empty)
    def get(self, index: IntoExpr, *, null_on_oob: bool = False) -> Expr:
        """As polars': one value (negative counts from the end); a scalar in a group."""
        return self._fn("get", index, null_on_oob=null_on_oob)
    def append(self, other: IntoExpr, *, upcast: bool = True) -> Expr:
        return self._fn("append", into_expr(other), upcast=upcast)
    def extend_constant(self, value: IntoExpr, n: IntoExpr) -> Expr:
        return self._fn("extend_constant", value, n)
    def repeat_by(self, by: IntoExpr) -> Expr: return self._fn("repeat_by", into_expr(by))
    def explode(self, *, empty_as_null: bool = False, keep_nulls: bool = True) -> Expr:
        return self._fn("explode", empty_as_null=empty_as_null, keep_nulls=keep_nulls)
    def rolling(self, index_column: IntoExpr, *, period: str | dt.timedelta,
                offset: str | dt.timedelta | None = None, closed: str = "right") -> Expr:
        """As polars': this aggregation over each row's window of ``index_column`` (sorted),
        [t + offset, t + offset + period], offset -period by default."""
        return self._fn("rolling", into_expr(index_column), period=duration_text(period),
                        offset=None if offset is None else duration_text(offset), closed=closed)
    def set_sorted(self, *, descending: bool = False) -> Expr:
        """A no-op here: polars trusts the flag, the server computes without it (the same answer on sorted data)."""
        return self
    def rle_id(self) -> Expr: return self._fn("rle_id")
    def peak_max(self) -> Expr: return self._fn("peak_max")
    def peak_min(self) -> Expr: return self._fn("peak_min")
    def search_sorted(self, element: IntoExpr, side: str = "any", *, descending: bool = False) -> Expr:
        """As polars': where ``element``'s values would go in this (sorted) column."""
        return self._fn("search_sorted", element, side=side, descending=descending)
    def interpolate_by(self, by: IntoExpr) -> Expr: return self._fn("interpolate_by", into_expr(by))
    def cut(self, breaks: Sequence[float], *, labels: Sequence[str] | None = None, left_closed: bool = False,
            include_breaks: bool = False) -> Expr:
        """As polars': the interval each value falls in (a Categorical)."""
        return self._fn("cut", left_closed=left_closed, include_breaks=include_breaks)._listed(
            breaks=[float(b) for b in breaks], labels=labels)
    def qcut(self, quantiles: Sequence[float] | int, *, labels: Sequence[str] | None = None,
             left_closed: bool = False, allow_duplicates: bool = False, include_breaks: bool = False) -> Expr:
        """As polars': the quantile interval each value falls in; an int is that many equal bins."""
        options = {"left_closed": left_closed, "allow_duplicates": allow_duplicates, "include_breaks": include_breaks}
        if isinstance(quantiles, int):
            return self._fn("qcut", n=quantiles, **options)._listed(labels=labels)
        return self._fn("qcut", **options)._listed(quantiles=[float(q) for q in quantiles], labels=labels)

    # -- over rows

    def shift(self, n: int = 1, *, fill_value: IntoExpr | None = None) -> Expr:
        return self._fn("shift", n=n) if fill_value is None else self._fn("shift", fill_value, n=n)
    def rank(self, method: str = "average", *, descending: bool = False) -> Expr:
        return self._fn("rank", method=method, descending=descending)
    def diff(self, n: int = 1) -> Expr: return self._fn("diff", n=n)
    def pct_change(self, n: int = 1) -> Expr: return self._fn("pct_change", n=n)
    def cum_sum(self, *, reverse: bool = False) -> Expr: return self._fn("cum_sum", reverse=reverse)
    def cum_prod(self, *, reverse: bool = False) -> Expr: return self._fn("cum_prod", reverse=reverse)
    def cum_min(self, *, reverse: bool = False) -> Expr: return self._fn("cum_min", reverse=reverse)
    def cum_max(self, *, reverse: bool = False) -> Expr: return self._fn("cum_max", reverse=reverse)
    def cum_count(self, *, reverse: bool = False) -> Expr: return self._fn("cum_count", reverse=reverse)
    def rolling_sum(self, window_size: int, *, min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_sum", window_size=window_size, min_periods=min_samples, center=center or None)
    def rolling_mean(self, window_size: int, *, min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_mean", window_size=window_size, min_periods=min_samples, center=center or None)
    def rolling_min(self, window_size: int, *, min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_min", window_size=window_size, min_periods=min_samples, center=center or None)
    def rolling_max(self, window_size: int, *, min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_max", window_size=window_size, min_periods=min_samples, center=center or None)
    def rolling_median(self, window_size: int, *, min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_median", window_size=window_size, min_periods=min_samples, center=center or None)
    def rolling_quantile(self, quantile: float, interpolation: str = "nearest", window_size: int = 2, *,
                         min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_quantile", window_size=window_size, min_periods=min_samples,
                        center=center or None, quantile=float(quantile), interpolation=interpolation)
    def ewm_mean_by(self, by: IntoExpr, *, half_life: str | dt.timedelta) -> Expr:
        return self._fn("ewm_mean_by", into_expr(by), half_life=duration_text(half_life))
    def replace(self, old: Any, new: Any = None) -> Expr:
        """As polars': a mapping, or old and new values (lists or one each)."""
        old, new = _old_new(old, new)
        return self._fn("replace", old, new)
    def replace_strict(self, old: Any, new: Any = None, *, default: IntoExpr | None = None,
                       return_dtype: Any = None) -> Expr:
        old, new = _old_new(old, new)
        more = [] if default is None else [into_expr(default, str_as_col=False)]
        return self._fn("replace_strict", old, new, *more,
                        return_dtype=None if return_dtype is None else dtype_name(return_dtype))
    def rolling_std(self, window_size: int, *, min_samples: int | None = None, center: bool = False,
                    ddof: int = 1) -> Expr:
        return self._fn("rolling_std", window_size=window_size, min_periods=min_samples, center=center or None,
                        ddof=ddof)
    def rolling_var(self, window_size: int, *, min_samples: int | None = None, center: bool = False,
                    ddof: int = 1) -> Expr:
        return self._fn("rolling_var", window_size=window_size, min_periods=min_samples, center=center or None,
                        ddof=ddof)
    def rolling_skew(self, window_size: int, *, bias: bool = True, min_samples: int | None = None,
                     center: bool = False) -> Expr:
        return self._fn("rolling_skew", window_size=window_size, min_periods=min_samples, center=center or None,
                        bias=bias)
    def rolling_kurtosis(self, window_size: int, *, fisher: bool = True, bias: bool = True,
                         min_samples: int | None = None, center: bool = False) -> Expr:
        return self._fn("rolling_kurtosis", window_size=window_size, min_periods=min_samples, center=center or None,
                        fisher=fisher, bias=bias)
    def min_by(self, by: IntoExpr) -> Expr:
        """This expression's value where ``by`` is least (the first such row)."""
        return self._fn("min_by", into_expr(by))
    def max_by(self, by: IntoExpr) -> Expr:
        """This expression's value where ``by`` is greatest (the first such row)."""
        return self._fn("max_by", into_expr(by))

    # Exponentially weighted, as polars: give one of com, span, half_life, alpha.
    def _ewm(self, name: str, com: float | None, span: float | None, half_life: float | None, alpha: float | None,
             **options: Any) -> Expr:
        return self._fn(name, alpha=_ewm_alpha(com, span, half_life, alpha), **options)
    def ewm_mean(self, com: float | None = None, span: float | None = None, half_life: float | None = None,
                 alpha: float | None = None, *, adjust: bool = True, min_samples: int = 1,
                 ignore_nulls: bool = False) -> Expr:
        return self._ewm("ewm_mean", com, span, half_life, alpha, adjust=adjust, min_periods=min_samples,
                         ignore_nulls=ignore_nulls)
    def ewm_std(self, com: float | None = None, span: float | None = None, half_life: float | None = None,
                alpha: float | None = None, *, adjust: bool = True, bias: bool = False, min_samples: int = 1,
                ignore_nulls: bool = False) -> Expr:
        return self._ewm("ewm_std", com, span, half_life, alpha, adjust=adjust, bias=bias, min_periods=min_samples,
                         ignore_nulls=ignore_nulls)
    def ewm_var(self, com: float | None = None, span: float | None = None, half_life: float | None = None,
                alpha: float | None = None, *, adjust: bool = True, bias: bool = False, min_samples: int = 1,
                ignore_nulls: bool = False) -> Expr:
        return self._ewm("ewm_var", com, span, half_life, alpha, adjust=adjust, bias=bias, min_periods=min_samples,
                         ignore_nulls=ignore_nulls)

    # Windows of time over a sorted column `by`, as polars' rolling_*_by.
    def _rolling_by(self, name: str, by: IntoExpr, window_size: str | dt.timedelta, min_samples: int,
                    closed: str, **more: Any) -> Expr:
        return self._fn(name, into_expr(by), window_size=duration_text(window_size), min_periods=min_samples,
                        closed=closed, **more)
    def rolling_sum_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                       closed: str = "right") -> Expr:
        return self._rolling_by("rolling_sum_by", by, window_size, min_samples, closed)
    def rolling_mean_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                        closed: str = "right") -> Expr:
        return self._rolling_by("rolling_mean_by", by, window_size, min_samples, closed)
    def rolling_min_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                       closed: str = "right") -> Expr:
        return self._rolling_by("rolling_min_by", by, window_size, min_samples, closed)
    def rolling_max_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                       closed: str = "right") -> Expr:
        return self._rolling_by("rolling_max_by", by, window_size, min_samples, closed)
    def rolling_median_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                          closed: str = "right") -> Expr:
        return self._rolling_by("rolling_median_by", by, window_size, min_samples, closed)
    def rolling_std_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                       closed: str = "right", ddof: int = 1) -> Expr:
        return self._rolling_by("rolling_std_by", by, window_size, min_samples, closed, ddof=ddof)
    def rolling_var_by(self, by: IntoExpr, window_size: str | dt.timedelta, *, min_samples: int = 1,
                       closed: str = "right", ddof: int = 1) -> Expr:
        return self._rolling_by("rolling_var_by", by, window_size, min_samples, closed, ddof=ddof)

    # -- order

    def sort(self, *, descending: bool = False, nulls_last: bool = False) -> Expr:
        return self._fn("sort", descending=descending, nulls_last=nulls_last)
    def reverse(self) -> Expr: return self._fn("reverse")
    def unique(self) -> Expr: return self._fn("unique")
    def head(self, n: int = 10) -> Expr: return self._fn("head", n=n)
    def gather_every(self, n: int, offset: int = 0) -> Expr: return self._fn("gather_every", n=n, offset=offset)
    def slice(self, offset: IntoExpr, length: IntoExpr | None = None) -> Expr:
        return self._fn("slice", offset, len() if length is None else length)
    def filter(self, *predicates: IntoExpr) -> Expr:
        if not predicates:
            raise ValueError("filter needs at least one predicate")
        combined = into_expr(predicates[0])
        for p in predicates[1:]:
            combined = combined & into_expr(p)
        return self._fn("filter", combined)
    def tail(self, n: int = 10) -> Expr: return self._fn("tail", n=n)

    def sort_by(self, by: IntoExpr | Sequence[IntoExpr], *more_by: IntoExpr,
                descending: bool | Sequence[bool] = False, nulls_last: bool | Sequence[bool] = False,
                maintain_order: bool = False) -> Expr:
        """As polars': ``maintain_order`` keeps the order of values with equal keys."""
        keys = [*(by if isinstance(by, (list, tuple)) else [by]), *more_by]
        flags = [descending] if isinstance(descending, bool) else list(descending)
        nulls = [nulls_last] if isinstance(nulls_last, bool) else list(nulls_last)
        return Expr(pb.Expr(sort_by=pb.SortBy(expr=self._pb, by=[into_expr(k)._pb for k in keys], descending=flags,
                                              nulls_last=nulls, maintain_order=maintain_order)))

    def over(self, partition_by: IntoExpr | Sequence[IntoExpr] | None = None, *more: IntoExpr,
             order_by: IntoExpr | Sequence[IntoExpr] | None = None, descending: bool = False,
             nulls_last: bool = False, mapping_strategy: str = "group_to_rows") -> Expr:
        """As polars': per partition, rows in ``order_by`` order; mapping_strategy
        group_to_rows, explode or join."""
        keys = [*_as_list(partition_by), *more]
        strategies = {"group_to_rows": "groups_to_rows", "explode": "explode", "join": "join"}
        if mapping_strategy not in strategies:
            raise ValueError(f"mapping_strategy must be one of {', '.join(strategies)}, not {mapping_strategy!r}")
        return Expr(pb.Expr(over=pb.Over(
            expr=self._pb, partition_by=[into_expr(k)._pb for k in keys],
            order_by=[into_expr(k)._pb for k in _as_list(order_by)], order_descending=descending,
            order_nulls_last=nulls_last, mapping_strategy=strategies[mapping_strategy])))

    # -- namespaces

    @property
    def struct(self) -> StructNamespace:
        return StructNamespace(self)

    @property
    def str(self) -> StringNamespace:
        return StringNamespace(self)

    @property
    def dt(self) -> DateTimeNamespace:
        return DateTimeNamespace(self)

    @property
    def list(self) -> ListNamespace:
        return ListNamespace(self)

    @property
    def arr(self) -> ArrayNamespace:
        return ArrayNamespace(self)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _old_new(old: Any, new: Any) -> tuple[Expr, Expr]:
    """replace()'s arguments as two list literals (a mapping: its keys and values)."""
    if new is None:
        if not isinstance(old, dict):
            raise TypeError("replace takes a mapping, or old and new values")
        old, new = list(old.keys()), list(old.values())
    as_list = (lambda v: v if isinstance(v, Expr) else _list_literal(list(v) if isinstance(v, (list, tuple)) else [v]))
    return as_list(old), as_list(new)


def _list_literal(values: list[Any]) -> Expr:
    """A list of scalars as one list value (the set of ``is_in([...])``)."""
    elements = []
    for v in values:
        element = to_literal(v)
        element.ClearField("dtype")
        elements.append(element)
    return Expr(pb.Expr(literal=pb.Literal(list=pb.LiteralList(values=elements))))


class StringNamespace:
    """``expr.str``: polars' string functions."""

    def __init__(self, expr: Expr) -> None:
        self._e = expr

    def contains(self, pattern: str | Expr, *, literal: bool = False, strict: bool = True) -> Expr:
        """As polars': a regex (or literal) per row when ``pattern`` is an expression."""
        if isinstance(pattern, Expr):
            return self._e._fn("str.contains", pattern, literal=literal, strict=strict)
        return self._e._fn("str.contains", pattern=pattern, literal=literal, strict=strict)
    def starts_with(self, prefix: str | Expr) -> Expr: return self._affix("str.starts_with", "prefix", prefix)
    def ends_with(self, suffix: str | Expr) -> Expr: return self._affix("str.ends_with", "suffix", suffix)
    def strip_prefix(self, prefix: str | Expr) -> Expr: return self._affix("str.strip_prefix", "prefix", prefix)
    def strip_suffix(self, suffix: str | Expr) -> Expr: return self._affix("str.strip_suffix", "suffix", suffix)
    def _affix(self, name: str, key: str, affix: str | Expr) -> Expr:
        if isinstance(affix, Expr):
            return self._e._fn(name, affix)
        return self._e._fn(name, **{key: affix})
    def to_decimal(self, *, scale: int) -> Expr: return self._e._fn("str.to_decimal", scale=scale)
    def normalize(self, form: str = "NFC") -> Expr:
        """As polars': Unicode normalization (NFC, NFKC, NFD or NFKD)."""
        return self._e._fn("str.normalize", form=form)
    def encode(self, encoding: str) -> Expr:
        """As polars': hex or base64 text of each string's bytes."""
        if encoding not in ("hex", "base64"):
            raise ValueError(f"encoding must be hex or base64, not {encoding!r}")
        return self._e._fn(f"str.{encoding}_encode")
    def decode(self, encoding: str, *, strict: bool = True) -> Expr:
        """As polars': hex or base64 text back into binary."""
        if encoding not in ("hex", "base64"):
            raise ValueError(f"encoding must be hex or base64, not {encoding!r}")
        return self._e._fn(f"str.{encoding}_decode", strict=strict)
    def join(self, delimiter: str = "", *, ignore_nulls: bool = True) -> Expr:
        """As polars': the column's strings as one (an aggregation)."""
        return self._e._fn("str.join", delimiter=delimiter, ignore_nulls=ignore_nulls)
    def to_lowercase(self) -> Expr: return self._e._fn("str.to_lowercase")
    def to_uppercase(self) -> Expr: return self._e._fn("str.to_uppercase")
    def len_chars(self) -> Expr: return self._e._fn("str.len_chars")
    def len_bytes(self) -> Expr: return self._e._fn("str.len_bytes")
    def strip_chars(self, characters: str | None = None) -> Expr:
        return self._e._fn("str.strip_chars", characters=characters)
    def strip_chars_start(self, characters: str | None = None) -> Expr:
        return self._e._fn("str.strip_chars_start", characters=characters)
    def strip_chars_end(self, characters: str | None = None) -> Expr:
        return self._e._fn("str.strip_chars_end", characters=characters)
    def head(self, n: int) -> Expr: return self._e._fn("str.head", n=n)
    def tail(self, n: int) -> Expr: return self._e._fn("str.tail", n=n)
    def pad_start(self, length: int, fill_char: str = " ") -> Expr:
        return self._e._fn("str.pad_start", length=length, fill_char=fill_char)
    def pad_end(self, length: int, fill_char: str = " ") -> Expr:
        return self._e._fn("str.pad_end", length=length, fill_char=fill_char)
    def zfill(self, length: int) -> Expr: return self._e._fn("str.zfill", length=length)
    def reverse(self) -> Expr: return self._e._fn("str.reverse")
    def to_integer(self, *, base: int = 10, strict: bool = True) -> Expr:
        return self._e._fn("str.to_integer", base=base, strict=strict)
    def extract(self, pattern: str, group_index: int = 1) -> Expr:
        return self._e._fn("str.extract", pattern=pattern, group_index=group_index)
    def extract_all(self, pattern: str) -> Expr:
        """Every match of the regex ``pattern``, as a list of strings."""
        return self._e._fn("str.extract_all", pattern=pattern)
    def count_matches(self, pattern: str, *, literal: bool = False) -> Expr:
        return self._e._fn("str.count_matches", pattern=pattern, literal=literal)
    def replace_all(self, pattern: str, value: str, *, literal: bool = False) -> Expr:
        return self._e._fn("str.replace_all", pattern=pattern, value=value, literal=literal)
    def replace(self, pattern: str, value: str, *, literal: bool = False, n: int = 1) -> Expr:
        """As polars': the first ``n`` matches (-1: all)."""
        return self._e._fn("str.replace", pattern=pattern, value=value, literal=literal, n=None if n == 1 else n)
    def slice(self, offset: int | Expr, length: int | Expr | None = None) -> Expr:
        if isinstance(offset, Expr) or isinstance(length, Expr):
            return self._e._fn("str.slice", offset, lit(None, "u64") if length is None else length)
        return self._e._fn("str.slice", offset=offset, length=length)
    def to_datetime(self, format: str | None = None, *, time_unit: str | None = None, time_zone: str | None = None,
                    strict: bool = True, exact: bool = True) -> Expr:
        return self._e._fn("str.to_datetime", format=format, time_unit=time_unit, time_zone=time_zone, strict=strict,
                           exact=exact)
    def find(self, pattern: str, *, literal: bool = False, strict: bool = True) -> Expr:
        return self._e._fn("str.find", pattern=pattern, literal=literal, strict=strict)
    def split_exact(self, by: str, n: int, *, inclusive: bool = False) -> Expr:
        """As polars': a struct of n + 1 fields (field_0, ...), null where there are fewer parts."""
        return self._e._fn("str.split_exact", by=by, n=n, inclusive=inclusive)
    def splitn(self, by: str, n: int) -> Expr:
        """As polars': a struct of n fields, the last holding the rest of the string."""
        return self._e._fn("str.splitn", by=by, n=n)
    def contains_any(self, patterns: Sequence[str], *, ascii_case_insensitive: bool = False) -> Expr:
        return self._e._fn("str.contains_any", ascii_case_insensitive=ascii_case_insensitive)._listed(
            patterns=list(patterns))
    def replace_many(self, patterns: Sequence[str] | Mapping[str, str], replace_with: Sequence[str] | str | None = None,
                     *, ascii_case_insensitive: bool = False, leftmost: bool = False) -> Expr:
        """As polars': every pattern (literal) replaced by its replacement, or by one for all."""
        if isinstance(patterns, Mapping):
            if replace_with is not None:
                raise TypeError("replace_many takes a mapping, or patterns and replace_with")
            patterns, replace_with = list(patterns.keys()), list(patterns.values())
        if replace_with is None:
            raise TypeError("replace_many needs replace_with (or a mapping)")
        replacements = [replace_with] if isinstance(replace_with, str) else list(replace_with)
        return self._e._fn("str.replace_many", ascii_case_insensitive=ascii_case_insensitive, leftmost=leftmost)._listed(
            patterns=list(patterns), replace_with=replacements)
    def extract_many(self, patterns: Sequence[str], *, ascii_case_insensitive: bool = False, overlapping: bool = False,
                     leftmost: bool = False) -> Expr:
        return self._e._fn("str.extract_many", ascii_case_insensitive=ascii_case_insensitive, overlapping=overlapping,
                           leftmost=leftmost)._listed(patterns=list(patterns))
    def find_many(self, patterns: Sequence[str], *, ascii_case_insensitive: bool = False, overlapping: bool = False,
                  leftmost: bool = False) -> Expr:
        return self._e._fn("str.find_many", ascii_case_insensitive=ascii_case_insensitive, overlapping=overlapping,
                           leftmost=leftmost)._listed(patterns=list(patterns))
    def split(self, by: str, *, inclusive: bool = False) -> Expr:
        return self._e._fn("str.split", by=by, inclusive=inclusive)
    def to_date(self, format: str | None = None, *, strict: bool = True, exact: bool = True) -> Expr:
        return self._e._fn("str.to_date", format=format, strict=strict, exact=exact)
    def strptime(self, dtype: Any, format: str | None = None, *, strict: bool = True, exact: bool = True) -> Expr:
        if dtype == pl.Date:
            return self.to_date(format, strict=strict, exact=exact)
        if isinstance(dtype, pl.Datetime):
            return self.to_datetime(format, time_unit=dtype.time_unit, time_zone=dtype.time_zone, strict=strict,
                                    exact=exact)
        if dtype == pl.Datetime:
            return self.to_datetime(format, strict=strict, exact=exact)
        if dtype == pl.Time:
            return self.to_time(format, strict=strict)
        raise TypeError(f"strptime parses to pl.Date, pl.Datetime or pl.Time, not {dtype}")
    def to_time(self, format: str | None = None, *, strict: bool = True) -> Expr:
        return self._e._fn("str.to_time", format=format, strict=strict)


class StructNamespace:
    """``expr.struct``: polars' struct functions."""

    def __init__(self, expr: Expr) -> None:
        self._e = expr

    def field(self, name: str) -> Expr: return self._e._fn("struct.field", name=name)
    def rename_fields(self, names: Sequence[str]) -> Expr:
        return self._e._fn("struct.rename_fields")._listed(names=list(names))


class ListNamespace:
    """``expr.list``: polars' list functions."""

    def __init__(self, expr: Expr) -> None:
        self._e = expr

    def slice(self, offset: IntoExpr, length: IntoExpr | None = None) -> Expr:
        return self._e._fn("list.slice", offset, lit(None, "u64") if length is None else length)

    def len(self) -> Expr: return self._e._fn("list.len")
    def sum(self) -> Expr: return self._e._fn("list.sum")
    def mean(self) -> Expr: return self._e._fn("list.mean")
    def min(self) -> Expr: return self._e._fn("list.min")
    def max(self) -> Expr: return self._e._fn("list.max")
    def get(self, index: IntoExpr, *, null_on_oob: bool = False) -> Expr:
        return self._e._fn("list.get", index, null_on_oob=null_on_oob)
    def first(self) -> Expr: return self.get(0, null_on_oob=True)
    def last(self) -> Expr: return self.get(-1, null_on_oob=True)
    def contains(self, item: IntoExpr, *, nulls_equal: bool = True) -> Expr:
        return self._e._fn("list.contains", item, nulls_equal=nulls_equal)
    def join(self, separator: str, *, ignore_nulls: bool = False) -> Expr:
        return self._e._fn("list.join", separator=separator, ignore_nulls=ignore_nulls)
    def sort(self, *, descending: bool = False, nulls_last: bool = False) -> Expr:
        return self._e._fn("list.sort", descending=descending, nulls_last=nulls_last)
    def median(self) -> Expr: return self._e._fn("list.median")
    def std(self, ddof: int = 1) -> Expr: return self._e._fn("list.std", ddof=ddof)
    def var(self, ddof: int = 1) -> Expr: return self._e._fn("list.var", ddof=ddof)
    def gather_every(self, n: int, offset: int = 0) -> Expr:
        return self._e._fn("list.gather_every", n=n, offset=offset)
    def head(self, n: int = 5) -> Expr: return self.slice(0, n)
    def tail(self, n: int = 5) -> Expr: return self.slice(-n, n) if n > 0 else self.slice(0, 0)
    def arg_min(self) -> Expr: return self._e._fn("list.arg_min")
    def arg_max(self) -> Expr: return self._e._fn("list.arg_max")
    def drop_nulls(self) -> Expr: return self._e._fn("list.drop_nulls")
    def diff(self, n: int = 1, null_behavior: str = "ignore") -> Expr:
        return self._e._fn("list.diff", n=n, null_behavior=null_behavior)
    def shift(self, n: int = 1) -> Expr: return self._e._fn("list.shift", n=n)
    def gather(self, indices: IntoExpr | Sequence[int], *, null_on_oob: bool = False) -> Expr:
        """As polars': each list's values at these indices (a list for all rows, or an expression)."""
        if isinstance(indices, (list, tuple)):
            indices = _list_literal([int(i) for i in indices])
        return self._e._fn("list.gather", indices, null_on_oob=null_on_oob)
    def count_matches(self, element: IntoExpr) -> Expr: return self._e._fn("list.count_matches", element)
    def set_union(self, other: IntoExpr) -> Expr: return self._e._fn("list.set_union", into_expr(other))
    def set_difference(self, other: IntoExpr) -> Expr: return self._e._fn("list.set_difference", into_expr(other))
    def set_intersection(self, other: IntoExpr) -> Expr:
        return self._e._fn("list.set_intersection", into_expr(other))
    def set_symmetric_difference(self, other: IntoExpr) -> Expr:
        return self._e._fn("list.set_symmetric_difference", into_expr(other))
    def to_struct(self, *, fields: Sequence[str]) -> Expr:
        """As polars' with a list of field names: the first len(fields) values as a struct."""
        return self._e._fn("list.to_struct")._listed(fields=list(fields))
    def to_array(self, width: int) -> Expr:
        """Each list as an array of ``width`` values (a list of another length is an error)."""
        return self._e._fn("list.to_array", width=width)


class ArrayNamespace:
    """``expr.arr``: polars' functions of fixed-width arrays."""

    def __init__(self, expr: Expr) -> None:
        self._e = expr

    def len(self) -> Expr: return self._e._fn("arr.len")
    def sum(self) -> Expr: return self._e._fn("arr.sum")
    def mean(self) -> Expr: return self._e._fn("arr.mean")
    def median(self) -> Expr: return self._e._fn("arr.median")
    def min(self) -> Expr: return self._e._fn("arr.min")
    def max(self) -> Expr: return self._e._fn("arr.max")
    def std(self, ddof: int = 1) -> Expr: return self._e._fn("arr.std", ddof=ddof)
    def var(self, ddof: int = 1) -> Expr: return self._e._fn("arr.var", ddof=ddof)
    def arg_min(self) -> Expr: return self._e._fn("arr.arg_min")
    def arg_max(self) -> Expr: return self._e._fn("arr.arg_max")
    def to_list(self) -> Expr: return self._e._fn("arr.to_list")
    def sort(self, *, descending: bool = False, nulls_last: bool = False) -> Expr:
        return self._e._fn("arr.sort", descending=descending, nulls_last=nulls_last)
    def get(self, index: IntoExpr, *, null_on_oob: bool = False) -> Expr:
        return self._e._fn("arr.get", index, null_on_oob=null_on_oob)
    def first(self) -> Expr: return self.get(0, null_on_oob=True)
    def last(self) -> Expr: return self.get(-1, null_on_oob=True)
    def contains(self, item: IntoExpr, *, nulls_equal: bool = True) -> Expr:
        return self._e._fn("arr.contains", item, nulls_equal=nulls_equal)
    def join(self, separator: str, *, ignore_nulls: bool = False) -> Expr:
        return self._e._fn("arr.join", separator=separator, ignore_nulls=ignore_nulls)
    def shift(self, n: int = 1) -> Expr: return self._e._fn("arr.shift", n=n)
    def explode(self, *, empty_as_null: bool = False, keep_nulls: bool = True) -> Expr:
        return self._e._fn("arr.explode", empty_as_null=empty_as_null, keep_nulls=keep_nulls)


class DateTimeNamespace:
    """``expr.dt``: polars' temporal functions."""

    def __init__(self, expr: Expr) -> None:
        self._e = expr

    def year(self) -> Expr: return self._e._fn("dt.year")
    def month(self) -> Expr: return self._e._fn("dt.month")
    def day(self) -> Expr: return self._e._fn("dt.day")
    def hour(self) -> Expr: return self._e._fn("dt.hour")
    def minute(self) -> Expr: return self._e._fn("dt.minute")
    def second(self) -> Expr: return self._e._fn("dt.second")
    def millisecond(self) -> Expr: return self._e._fn("dt.millisecond")
    def weekday(self) -> Expr: return self._e._fn("dt.weekday")
    def ordinal_day(self) -> Expr: return self._e._fn("dt.ordinal_day")
    def date(self) -> Expr: return self._e._fn("dt.date")
    def truncate(self, every: str) -> Expr: return self._e._fn("dt.truncate", every=every)
    def strftime(self, format: str) -> Expr: return self._e._fn("dt.strftime", format=format)
    def to_string(self, format: str) -> Expr: return self.strftime(format)
    def convert_time_zone(self, time_zone: str) -> Expr:
        return self._e._fn("dt.convert_time_zone", time_zone=time_zone)
    def replace(self, *, year: IntoExpr | None = None, month: IntoExpr | None = None, day: IntoExpr | None = None,
                hour: IntoExpr | None = None, minute: IntoExpr | None = None, second: IntoExpr | None = None,
                microsecond: IntoExpr | None = None, ambiguous: str = "raise") -> Expr:
        """As polars': the values with the given parts replaced (numbers or expressions;
        strings name columns), the others kept."""
        parts = [year, month, day, hour, minute, second, microsecond]
        return self._e._fn("dt.replace", *(lit(None) if p is None else into_expr(p) for p in parts),
                           ambiguous=ambiguous)
    def replace_time_zone(self, time_zone: str | None, *, ambiguous: str = "raise",
                          non_existent: str = "raise") -> Expr:
        """As polars': a wall time a DST change repeats is ``ambiguous`` (raise, earliest, latest,
        null); one it skips is ``non_existent`` (raise, null)."""
        return self._e._fn("dt.replace_time_zone", time_zone=time_zone or "",
                           ambiguous=None if ambiguous == "raise" else ambiguous,
                           non_existent=None if non_existent == "raise" else non_existent)
    def epoch(self, time_unit: str = "us") -> Expr: return self._e._fn("dt.epoch", unit=time_unit)
    def timestamp(self, time_unit: str = "us") -> Expr: return self.epoch(time_unit)
    def week(self) -> Expr: return self._e._fn("dt.week")
    def microsecond(self) -> Expr: return self._e._fn("dt.microsecond")
    def nanosecond(self) -> Expr: return self._e._fn("dt.nanosecond")
    def century(self) -> Expr: return self._e._fn("dt.century")
    def millennium(self) -> Expr: return self._e._fn("dt.millennium")
    def iso_year(self) -> Expr: return self._e._fn("dt.iso_year")
    def is_leap_year(self) -> Expr: return self._e._fn("dt.is_leap_year")
    def days_in_month(self) -> Expr: return self._e._fn("dt.days_in_month")
    def base_utc_offset(self) -> Expr: return self._e._fn("dt.base_utc_offset")
    def dst_offset(self) -> Expr: return self._e._fn("dt.dst_offset")
    def combine(self, time: IntoExpr, time_unit: str = "us") -> Expr:
        """As polars': the date with ``time`` (a Time) as its time of day."""
        return self._e._fn("dt.combine", into_expr(time, str_as_col=False), time_unit=time_unit)
    def month_start(self) -> Expr: return self._e._fn("dt.month_start")
    def cast_time_unit(self, time_unit: str) -> Expr: return self._e._fn("dt.cast_time_unit", unit=time_unit)
    def month_end(self) -> Expr: return self._e._fn("dt.month_end")
    def quarter(self) -> Expr: return self._e._fn("dt.quarter")
    def time(self) -> Expr: return self._e._fn("dt.time")
    def round(self, every: str) -> Expr: return self._e._fn("dt.round", every=every)
    def total_days(self, *, fractional: bool = False) -> Expr: return self._total("days", fractional)
    def total_hours(self, *, fractional: bool = False) -> Expr: return self._total("hours", fractional)
    def total_minutes(self, *, fractional: bool = False) -> Expr: return self._total("minutes", fractional)
    def total_seconds(self, *, fractional: bool = False) -> Expr: return self._total("seconds", fractional)
    def total_milliseconds(self, *, fractional: bool = False) -> Expr: return self._total("milliseconds", fractional)
    def total_microseconds(self, *, fractional: bool = False) -> Expr: return self._total("microseconds", fractional)
    def total_nanoseconds(self, *, fractional: bool = False) -> Expr: return self._total("nanoseconds", fractional)
    def _total(self, unit: str, fractional: bool) -> Expr:
        return self._e._fn(f"dt.total_{unit}", fractional=fractional)
    def offset_by(self, by: str | Expr) -> Expr: return self._e._fn("dt.offset_by", by)


def col(name: str) -> Expr:
    """A column by name, as ``pl.col``."""
    return Expr(pb.Expr(column=name))


def lit(value: Any, dtype: Any = None) -> Expr:
    """A literal, as ``pl.lit``; ``dtype`` casts it (and types a null)."""
    if isinstance(value, Expr):
        return value
    return Expr(pb.Expr(literal=to_literal(value, dtype)))


def _horizontal(name: str, exprs: tuple[Any, ...], **options: Any) -> Expr:
    items = [e for x in exprs for e in (x if isinstance(x, (list, tuple)) else [x])]
    if not items:
        raise ValueError(f"{name} needs at least one expression")
    message = pb.Function(name=name, args=[into_expr(e)._pb for e in items])
    for key, value in _options(**options).items():
        message.options[key].CopyFrom(value)
    return Expr(pb.Expr(function=message))


def int_range(start: IntoExpr, end: IntoExpr | None = None, step: int = 1, *, dtype: Any = "i64") -> Expr:
    """Integers from start up to end (excluded), as ``pl.int_range``; ``int_range(n)`` counts from 0."""
    if end is None:
        start, end = 0, start
    message = pb.Function(name="int_range", args=[into_expr(start, str_as_col=False)._pb,
                                                  into_expr(end, str_as_col=False)._pb])
    for key, value in _options(step=step, dtype=dtype_name(dtype)).items():
        message.options[key].CopyFrom(value)
    return Expr(pb.Expr(function=message))


def int_ranges(start: IntoExpr, end: IntoExpr | None = None, step: IntoExpr = 1, *, dtype: Any = "i64") -> Expr:
    """A list of integers per row, from start up to end (excluded), as ``pl.int_ranges``;
    strings are columns."""
    if end is None:
        start, end = 0, start
    message = pb.Function(name="int_ranges", args=[into_expr(e)._pb for e in (start, end, step)])
    message.options["dtype"].CopyFrom(_options(dtype=dtype_name(dtype))["dtype"])
    return Expr(pb.Expr(function=message))


def struct(*exprs: IntoExpr | Sequence[IntoExpr], **named_exprs: IntoExpr) -> Expr:
    """A struct column of the expressions (fields named by their output names), as ``pl.struct``."""
    named = [into_expr(e).alias(n) for n, e in named_exprs.items()]
    return _horizontal("as_struct", (*exprs, *named))


def corr(a: IntoExpr, b: IntoExpr, *, method: str = "pearson", propagate_nans: bool = False) -> Expr:
    """Correlation of two columns, as ``pl.corr`` (pearson or spearman)."""
    return into_expr(a)._fn("corr", into_expr(b), method=method,
                            propagate_nans=propagate_nans if method == "spearman" else None)


def cov(a: IntoExpr, b: IntoExpr, *, ddof: int = 1) -> Expr:
    """Covariance of two columns, as ``pl.cov``."""
    return into_expr(a)._fn("cov", into_expr(b), ddof=ddof)


def rolling_corr(a: IntoExpr, b: IntoExpr, *, window_size: int, min_samples: int | None = None,
                 ddof: int = 1) -> Expr:
    """As ``pl.rolling_corr``: the correlation of two columns over each row's last ``window_size`` rows."""
    return into_expr(a)._fn("rolling_corr", into_expr(b), window_size=window_size, min_periods=min_samples, ddof=ddof)


def rolling_cov(a: IntoExpr, b: IntoExpr, *, window_size: int, min_samples: int | None = None,
                ddof: int = 1) -> Expr:
    """As ``pl.rolling_cov``: the covariance of two columns over each row's last ``window_size`` rows."""
    return into_expr(a)._fn("rolling_cov", into_expr(b), window_size=window_size, min_periods=min_samples, ddof=ddof)


def repeat(value: IntoExpr, n: IntoExpr) -> Expr:
    """As ``pl.repeat``: ``value`` n times (strings are values here, as in polars)."""
    return into_expr(value, str_as_col=False)._fn("repeat", n)


def date_range(start: IntoExpr, end: IntoExpr, interval: str | dt.timedelta = "1d", *, closed: str = "both") -> Expr:
    """As ``pl.date_range`` (lazily): dates from start to end, ``interval`` apart (whole days)."""
    return into_expr(start, str_as_col=False)._fn("date_range", into_expr(end, str_as_col=False),
                                                  interval=duration_text(interval), closed=closed)


def datetime_range(start: IntoExpr, end: IntoExpr, interval: str | dt.timedelta = "1d", *, closed: str = "both",
                   time_unit: str | None = None, time_zone: str | None = None) -> Expr:
    """As ``pl.datetime_range`` (lazily): datetimes from start to end, ``interval`` apart."""
    return into_expr(start, str_as_col=False)._fn("datetime_range", into_expr(end, str_as_col=False),
                                                  interval=duration_text(interval), closed=closed,
                                                  time_unit=time_unit, time_zone=time_zone)


def arctan2(y: IntoExpr, x: IntoExpr) -> Expr:
    """As polars': the angle of the point (x, y), in radians."""
    return into_expr(y)._fn("arctan2", into_expr(x))


def arg_where(condition: IntoExpr) -> Expr:
    """As polars': the row indices where ``condition`` holds."""
    return into_expr(condition)._fn("arg_where")


def datetime(year: IntoExpr, month: IntoExpr, day: IntoExpr, hour: IntoExpr | None = None,
             minute: IntoExpr | None = None, second: IntoExpr | None = None, microsecond: IntoExpr | None = None,
             *, time_unit: str = "us", time_zone: str | None = None, ambiguous: str = "raise") -> Expr:
    """As ``pl.datetime``: a Datetime from its parts (strings name columns)."""
    parts = [hour, minute, second, microsecond]
    while parts and parts[-1] is None:
        parts.pop()
    rest = [into_expr(0 if p is None else p) for p in parts]
    return into_expr(year)._fn("datetime", into_expr(month), into_expr(day), *rest, time_unit=time_unit,
                               time_zone=time_zone, ambiguous=ambiguous)


def duration(*, weeks: IntoExpr | None = None, days: IntoExpr | None = None, hours: IntoExpr | None = None,
             minutes: IntoExpr | None = None, seconds: IntoExpr | None = None,
             milliseconds: IntoExpr | None = None, microseconds: IntoExpr | None = None,
             nanoseconds: IntoExpr | None = None, time_unit: str = "us") -> Expr:
    """As ``pl.duration``: a Duration from its parts, each a number or an expression (strings
    name columns)."""
    parts = [weeks, days, hours, minutes, seconds, milliseconds, microseconds, nanoseconds]
    while parts and parts[-1] is None:
        parts.pop()
    if not parts:
        parts = [0]
    first, *rest = [into_expr(0 if p is None else p) for p in parts]
    return first._fn("duration", *rest, time_unit=time_unit)


def concat_list(exprs: IntoExpr | Sequence[IntoExpr], *more_exprs: IntoExpr) -> Expr:
    """The expressions' values, row by row, as one list, as ``pl.concat_list``."""
    return _horizontal("concat_list", (exprs, *more_exprs))


def coalesce(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The first non-null value of the expressions, row by row, as ``pl.coalesce``."""
    return _horizontal("coalesce", exprs)


def sum_horizontal(*exprs: IntoExpr | Sequence[IntoExpr], ignore_nulls: bool = True) -> Expr:
    """Row-wise sum of columns, as ``pl.sum_horizontal``."""
    return _horizontal("sum_horizontal", exprs, ignore_nulls=ignore_nulls)


def mean_horizontal(*exprs: IntoExpr | Sequence[IntoExpr], ignore_nulls: bool = True) -> Expr:
    """Row-wise mean of columns, as ``pl.mean_horizontal``."""
    return _horizontal("mean_horizontal", exprs, ignore_nulls=ignore_nulls)


def min_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """Row-wise minimum of columns, as ``pl.min_horizontal``."""
    return _horizontal("min_horizontal", exprs)


def max_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """Row-wise maximum of columns, as ``pl.max_horizontal``."""
    return _horizontal("max_horizontal", exprs)


def concat_str(exprs: IntoExpr | Sequence[IntoExpr], *more_exprs: IntoExpr, separator: str = "",
               ignore_nulls: bool = False) -> Expr:
    """Strings of columns joined row-wise, as ``pl.concat_str``."""
    return _horizontal("concat_str", (exprs, *more_exprs), separator=separator, ignore_nulls=ignore_nulls)


def format(f_string: str, *args: IntoExpr) -> Expr:  # noqa: A001 - mirrors pl.format
    """Values put into a text at each ``{}``, as ``pl.format``."""
    pieces = f_string.split("{}")
    if builtins.len(pieces) != builtins.len(args) + 1:
        raise ValueError("the number of placeholders should equal the number of arguments")
    parts: list[Expr] = []
    for piece, arg in zip(pieces, [*args, None]):
        if piece:
            parts.append(lit(piece))
        if arg is not None:
            parts.append(into_expr(arg))
    return concat_str(parts)


def len() -> Expr:  # noqa: A001 - mirrors pl.len
    """The number of rows (per group in an aggregation), as ``pl.len()``."""
    return Expr(pb.Expr(len=pb.Empty()))


class When:
    """``pr.when(cond).then(value)[.when(...).then(...)].otherwise(value)``"""

    def __init__(self, branches: list[pb.WhenThen], condition: pb.Expr) -> None:
        self._branches = branches
        self._condition = condition

    def then(self, value: IntoExpr) -> Then:
        branch = pb.WhenThen(when=self._condition, then=into_expr(value, str_as_col=False)._pb)
        return Then([*self._branches, branch])


class Then(Expr):
    """A when/then chain; usable as an expression (null where no branch holds)."""

    __slots__ = ("_branches",)

    def __init__(self, branches: list[pb.WhenThen]) -> None:
        self._branches = branches
        super().__init__(pb.Expr(when=pb.When(branches=branches)))

    def when(self, condition: IntoExpr) -> When:
        return When(self._branches, into_expr(condition)._pb)

    def otherwise(self, value: IntoExpr) -> Expr:
        return Expr(pb.Expr(when=pb.When(branches=self._branches, otherwise=into_expr(value, str_as_col=False)._pb)))


def when(condition: IntoExpr) -> When:
    """Start a conditional expression, as ``pl.when``."""
    return When([], into_expr(condition)._pb)
