"""polaroid: Polars on a server.

Build lazy queries on frames that live in a polaroid-server, in the polars
API you know; results come back as Arrow and land as ``polars.DataFrame``::

    import polaroid as pr

    client = pr.connect("127.0.0.1:50051")
    trades = client.scan_parquet("trades.parquet")
    out = trades.filter(pr.col("size") >= 100).group_by("symbol").agg(pr.len())
    df = out.collect()
"""

from polaroid._client import Client, HandleInfo, SourceStatus, connect
from polaroid._engine import Engine, UnsupportedError
from polaroid._errors import (
    AlreadyExistsError,
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PolaroidError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from polaroid._expr import (
    Expr,
    arctan2,
    arg_where,
    col,
    coalesce,
    concat_list,
    corr,
    cov,
    concat_str,
    date_range,
    datetime,
    datetime_range,
    repeat,
    rolling_corr,
    rolling_cov,
    struct,
    dtype_name,
    format,
    duration,
    int_range,
    int_ranges,
    len,
    lit,
    max_horizontal,
    mean_horizontal,
    min_horizontal,
    sum_horizontal,
    when,
)
from polaroid._frame import GroupBy, RemoteFrame, concat

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "CancelledError",
    "Client",
    "DeadlineExceededError",
    "Engine",
    "Expr",
    "FailedPreconditionError",
    "GroupBy",
    "HandleInfo",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolaroidError",
    "RemoteFrame",
    "ResourceExhaustedError",
    "SourceStatus",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnsupportedError",
    "arctan2",
    "arg_where",
    "col",
    "concat",
    "coalesce",
    "concat_list",
    "corr",
    "cov",
    "concat_str",
    "date_range",
    "datetime",
    "datetime_range",
    "repeat",
    "rolling_corr",
    "rolling_cov",
    "struct",
    "connect",
    "dtype_name",
    "format",
    "duration",
    "int_range",
    "int_ranges",
    "len",
    "lit",
    "max_horizontal",
    "mean_horizontal",
    "min_horizontal",
    "sum_horizontal",
    "when",
]
