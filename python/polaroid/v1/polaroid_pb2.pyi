from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_FORMAT_UNSPECIFIED: _ClassVar[FileFormat]
    FILE_FORMAT_PARQUET: _ClassVar[FileFormat]
    FILE_FORMAT_CSV: _ClassVar[FileFormat]
    FILE_FORMAT_IPC: _ClassVar[FileFormat]

class BarKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BAR_KIND_TIME: _ClassVar[BarKind]
    BAR_KIND_TICK: _ClassVar[BarKind]
    BAR_KIND_VOLUME: _ClassVar[BarKind]
    BAR_KIND_DOLLAR: _ClassVar[BarKind]

class BarFill(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BAR_FILL_NONE: _ClassVar[BarFill]
    BAR_FILL_FORWARD: _ClassVar[BarFill]

class TimeUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_UNIT_NANOSECONDS: _ClassVar[TimeUnit]
    TIME_UNIT_MICROSECONDS: _ClassVar[TimeUnit]
    TIME_UNIT_MILLISECONDS: _ClassVar[TimeUnit]

class BinaryOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINARY_OP_ADD: _ClassVar[BinaryOp]
    BINARY_OP_SUB: _ClassVar[BinaryOp]
    BINARY_OP_MUL: _ClassVar[BinaryOp]
    BINARY_OP_TRUE_DIV: _ClassVar[BinaryOp]
    BINARY_OP_FLOOR_DIV: _ClassVar[BinaryOp]
    BINARY_OP_MOD: _ClassVar[BinaryOp]
    BINARY_OP_EQ: _ClassVar[BinaryOp]
    BINARY_OP_NEQ: _ClassVar[BinaryOp]
    BINARY_OP_LT: _ClassVar[BinaryOp]
    BINARY_OP_LT_EQ: _ClassVar[BinaryOp]
    BINARY_OP_GT: _ClassVar[BinaryOp]
    BINARY_OP_GT_EQ: _ClassVar[BinaryOp]
    BINARY_OP_AND: _ClassVar[BinaryOp]
    BINARY_OP_OR: _ClassVar[BinaryOp]
    BINARY_OP_XOR: _ClassVar[BinaryOp]
    BINARY_OP_EQ_MISSING: _ClassVar[BinaryOp]
    BINARY_OP_NEQ_MISSING: _ClassVar[BinaryOp]

class UniqueKeep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNIQUE_KEEP_ANY: _ClassVar[UniqueKeep]
    UNIQUE_KEEP_FIRST: _ClassVar[UniqueKeep]
    UNIQUE_KEEP_LAST: _ClassVar[UniqueKeep]
    UNIQUE_KEEP_NONE: _ClassVar[UniqueKeep]

class JoinHow(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_HOW_INNER: _ClassVar[JoinHow]
    JOIN_HOW_LEFT: _ClassVar[JoinHow]
    JOIN_HOW_RIGHT: _ClassVar[JoinHow]
    JOIN_HOW_FULL: _ClassVar[JoinHow]
    JOIN_HOW_SEMI: _ClassVar[JoinHow]
    JOIN_HOW_ANTI: _ClassVar[JoinHow]
    JOIN_HOW_CROSS: _ClassVar[JoinHow]
    JOIN_HOW_ASOF: _ClassVar[JoinHow]
    JOIN_HOW_WHERE: _ClassVar[JoinHow]

class AsofStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASOF_STRATEGY_BACKWARD: _ClassVar[AsofStrategy]
    ASOF_STRATEGY_FORWARD: _ClassVar[AsofStrategy]
    ASOF_STRATEGY_NEAREST: _ClassVar[AsofStrategy]

class Engine(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENGINE_AUTO: _ClassVar[Engine]
    ENGINE_IN_MEMORY: _ClassVar[Engine]
    ENGINE_STREAMING: _ClassVar[Engine]

class IpcCompression(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IPC_COMPRESSION_NONE: _ClassVar[IpcCompression]
    IPC_COMPRESSION_LZ4: _ClassVar[IpcCompression]
    IPC_COMPRESSION_ZSTD: _ClassVar[IpcCompression]

class HandleKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HANDLE_KIND_UNSPECIFIED: _ClassVar[HandleKind]
    HANDLE_KIND_PLAN: _ClassVar[HandleKind]
    HANDLE_KIND_FRAME: _ClassVar[HandleKind]
FILE_FORMAT_UNSPECIFIED: FileFormat
FILE_FORMAT_PARQUET: FileFormat
FILE_FORMAT_CSV: FileFormat
FILE_FORMAT_IPC: FileFormat
BAR_KIND_TIME: BarKind
BAR_KIND_TICK: BarKind
BAR_KIND_VOLUME: BarKind
BAR_KIND_DOLLAR: BarKind
BAR_FILL_NONE: BarFill
BAR_FILL_FORWARD: BarFill
TIME_UNIT_NANOSECONDS: TimeUnit
TIME_UNIT_MICROSECONDS: TimeUnit
TIME_UNIT_MILLISECONDS: TimeUnit
BINARY_OP_ADD: BinaryOp
BINARY_OP_SUB: BinaryOp
BINARY_OP_MUL: BinaryOp
BINARY_OP_TRUE_DIV: BinaryOp
BINARY_OP_FLOOR_DIV: BinaryOp
BINARY_OP_MOD: BinaryOp
BINARY_OP_EQ: BinaryOp
BINARY_OP_NEQ: BinaryOp
BINARY_OP_LT: BinaryOp
BINARY_OP_LT_EQ: BinaryOp
BINARY_OP_GT: BinaryOp
BINARY_OP_GT_EQ: BinaryOp
BINARY_OP_AND: BinaryOp
BINARY_OP_OR: BinaryOp
BINARY_OP_XOR: BinaryOp
BINARY_OP_EQ_MISSING: BinaryOp
BINARY_OP_NEQ_MISSING: BinaryOp
UNIQUE_KEEP_ANY: UniqueKeep
UNIQUE_KEEP_FIRST: UniqueKeep
UNIQUE_KEEP_LAST: UniqueKeep
UNIQUE_KEEP_NONE: UniqueKeep
JOIN_HOW_INNER: JoinHow
JOIN_HOW_LEFT: JoinHow
JOIN_HOW_RIGHT: JoinHow
JOIN_HOW_FULL: JoinHow
JOIN_HOW_SEMI: JoinHow
JOIN_HOW_ANTI: JoinHow
JOIN_HOW_CROSS: JoinHow
JOIN_HOW_ASOF: JoinHow
JOIN_HOW_WHERE: JoinHow
ASOF_STRATEGY_BACKWARD: AsofStrategy
ASOF_STRATEGY_FORWARD: AsofStrategy
ASOF_STRATEGY_NEAREST: AsofStrategy
ENGINE_AUTO: Engine
ENGINE_IN_MEMORY: Engine
ENGINE_STREAMING: Engine
IPC_COMPRESSION_NONE: IpcCompression
IPC_COMPRESSION_LZ4: IpcCompression
IPC_COMPRESSION_ZSTD: IpcCompression
HANDLE_KIND_UNSPECIFIED: HandleKind
HANDLE_KIND_PLAN: HandleKind
HANDLE_KIND_FRAME: HandleKind

class StartSourceRequest(_message.Message):
    __slots__ = ("spec_json",)
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    spec_json: str
    def __init__(self, spec_json: _Optional[str] = ...) -> None: ...

class StopSourceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SourcesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SourcesReply(_message.Message):
    __slots__ = ("sources",)
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[SourceStatus]
    def __init__(self, sources: _Optional[_Iterable[_Union[SourceStatus, _Mapping]]] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("name", "table", "url", "state", "rows", "batches", "messages", "dropped_rows", "decode_errors", "reconnects", "lag_ms", "last_error", "skipped")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    DECODE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    url: str
    state: str
    rows: int
    batches: int
    messages: int
    dropped_rows: int
    decode_errors: int
    reconnects: int
    lag_ms: float
    last_error: str
    skipped: int
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., url: _Optional[str] = ..., state: _Optional[str] = ..., rows: _Optional[int] = ..., batches: _Optional[int] = ..., messages: _Optional[int] = ..., dropped_rows: _Optional[int] = ..., decode_errors: _Optional[int] = ..., reconnects: _Optional[int] = ..., lag_ms: _Optional[float] = ..., last_error: _Optional[str] = ..., skipped: _Optional[int] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("path", "format", "csv_has_header", "csv_separator", "paths", "hive_partitioning", "csv_skip_rows", "csv_skip_rows_after_header", "csv_null_values", "csv_quote_char", "csv_comment_prefix", "csv_missing_is_null", "csv_try_parse_dates", "csv_decimal_comma", "csv_infer_schema_length", "csv_infer_schema_all", "csv_ignore_errors", "csv_truncate_ragged_lines", "csv_schema", "csv_schema_overrides", "csv_eol_char", "csv_utf8_lossy")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CSV_HAS_HEADER_FIELD_NUMBER: _ClassVar[int]
    CSV_SEPARATOR_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    HIVE_PARTITIONING_FIELD_NUMBER: _ClassVar[int]
    CSV_SKIP_ROWS_FIELD_NUMBER: _ClassVar[int]
    CSV_SKIP_ROWS_AFTER_HEADER_FIELD_NUMBER: _ClassVar[int]
    CSV_NULL_VALUES_FIELD_NUMBER: _ClassVar[int]
    CSV_QUOTE_CHAR_FIELD_NUMBER: _ClassVar[int]
    CSV_COMMENT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CSV_MISSING_IS_NULL_FIELD_NUMBER: _ClassVar[int]
    CSV_TRY_PARSE_DATES_FIELD_NUMBER: _ClassVar[int]
    CSV_DECIMAL_COMMA_FIELD_NUMBER: _ClassVar[int]
    CSV_INFER_SCHEMA_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CSV_INFER_SCHEMA_ALL_FIELD_NUMBER: _ClassVar[int]
    CSV_IGNORE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    CSV_TRUNCATE_RAGGED_LINES_FIELD_NUMBER: _ClassVar[int]
    CSV_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CSV_SCHEMA_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    CSV_EOL_CHAR_FIELD_NUMBER: _ClassVar[int]
    CSV_UTF8_LOSSY_FIELD_NUMBER: _ClassVar[int]
    path: str
    format: FileFormat
    csv_has_header: bool
    csv_separator: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    hive_partitioning: bool
    csv_skip_rows: int
    csv_skip_rows_after_header: int
    csv_null_values: _containers.RepeatedScalarFieldContainer[str]
    csv_quote_char: str
    csv_comment_prefix: str
    csv_missing_is_null: bool
    csv_try_parse_dates: bool
    csv_decimal_comma: bool
    csv_infer_schema_length: int
    csv_infer_schema_all: bool
    csv_ignore_errors: bool
    csv_truncate_ragged_lines: bool
    csv_schema: _containers.RepeatedCompositeFieldContainer[Field]
    csv_schema_overrides: _containers.RepeatedCompositeFieldContainer[Field]
    csv_eol_char: str
    csv_utf8_lossy: bool
    def __init__(self, path: _Optional[str] = ..., format: _Optional[_Union[FileFormat, str]] = ..., csv_has_header: _Optional[bool] = ..., csv_separator: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., hive_partitioning: _Optional[bool] = ..., csv_skip_rows: _Optional[int] = ..., csv_skip_rows_after_header: _Optional[int] = ..., csv_null_values: _Optional[_Iterable[str]] = ..., csv_quote_char: _Optional[str] = ..., csv_comment_prefix: _Optional[str] = ..., csv_missing_is_null: _Optional[bool] = ..., csv_try_parse_dates: _Optional[bool] = ..., csv_decimal_comma: _Optional[bool] = ..., csv_infer_schema_length: _Optional[int] = ..., csv_infer_schema_all: _Optional[bool] = ..., csv_ignore_errors: _Optional[bool] = ..., csv_truncate_ragged_lines: _Optional[bool] = ..., csv_schema: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., csv_schema_overrides: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., csv_eol_char: _Optional[str] = ..., csv_utf8_lossy: _Optional[bool] = ...) -> None: ...

class OhlcvRequest(_message.Message):
    __slots__ = ("handle", "time", "price", "size", "by", "kind", "threshold", "every", "period", "offset", "time_zone", "fill", "drop_partial")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    DROP_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    handle: str
    time: str
    price: str
    size: str
    by: _containers.RepeatedScalarFieldContainer[str]
    kind: BarKind
    threshold: float
    every: str
    period: str
    offset: str
    time_zone: str
    fill: BarFill
    drop_partial: bool
    def __init__(self, handle: _Optional[str] = ..., time: _Optional[str] = ..., price: _Optional[str] = ..., size: _Optional[str] = ..., by: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[BarKind, str]] = ..., threshold: _Optional[float] = ..., every: _Optional[str] = ..., period: _Optional[str] = ..., offset: _Optional[str] = ..., time_zone: _Optional[str] = ..., fill: _Optional[_Union[BarFill, str]] = ..., drop_partial: _Optional[bool] = ...) -> None: ...

class SubscribeBarsRequest(_message.Message):
    __slots__ = ("table", "bars", "start", "grace")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    table: str
    bars: OhlcvRequest
    start: str
    grace: str
    def __init__(self, table: _Optional[str] = ..., bars: _Optional[_Union[OhlcvRequest, _Mapping]] = ..., start: _Optional[str] = ..., grace: _Optional[str] = ...) -> None: ...

class TickAnalyticsRequest(_message.Message):
    __slots__ = ("handle", "by", "time", "price", "size", "quote_metrics", "returns", "rolling_volatility", "rolling_vwap", "rolling_twap", "twap", "realized_variance", "resample_quotes", "clean_ticks")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_METRICS_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    ROLLING_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    ROLLING_VWAP_FIELD_NUMBER: _ClassVar[int]
    ROLLING_TWAP_FIELD_NUMBER: _ClassVar[int]
    TWAP_FIELD_NUMBER: _ClassVar[int]
    REALIZED_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    RESAMPLE_QUOTES_FIELD_NUMBER: _ClassVar[int]
    CLEAN_TICKS_FIELD_NUMBER: _ClassVar[int]
    handle: str
    by: _containers.RepeatedScalarFieldContainer[str]
    time: str
    price: str
    size: str
    quote_metrics: QuoteMetrics
    returns: Returns
    rolling_volatility: RollingVolatility
    rolling_vwap: RollingWindow
    rolling_twap: RollingWindow
    twap: IntervalStat
    realized_variance: IntervalStat
    resample_quotes: ResampleQuotes
    clean_ticks: CleanTicks
    def __init__(self, handle: _Optional[str] = ..., by: _Optional[_Iterable[str]] = ..., time: _Optional[str] = ..., price: _Optional[str] = ..., size: _Optional[str] = ..., quote_metrics: _Optional[_Union[QuoteMetrics, _Mapping]] = ..., returns: _Optional[_Union[Returns, _Mapping]] = ..., rolling_volatility: _Optional[_Union[RollingVolatility, _Mapping]] = ..., rolling_vwap: _Optional[_Union[RollingWindow, _Mapping]] = ..., rolling_twap: _Optional[_Union[RollingWindow, _Mapping]] = ..., twap: _Optional[_Union[IntervalStat, _Mapping]] = ..., realized_variance: _Optional[_Union[IntervalStat, _Mapping]] = ..., resample_quotes: _Optional[_Union[ResampleQuotes, _Mapping]] = ..., clean_ticks: _Optional[_Union[CleanTicks, _Mapping]] = ...) -> None: ...

class QuoteMetrics(_message.Message):
    __slots__ = ("bid", "ask", "bid_size", "ask_size")
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    BID_SIZE_FIELD_NUMBER: _ClassVar[int]
    ASK_SIZE_FIELD_NUMBER: _ClassVar[int]
    bid: str
    ask: str
    bid_size: str
    ask_size: str
    def __init__(self, bid: _Optional[str] = ..., ask: _Optional[str] = ..., bid_size: _Optional[str] = ..., ask_size: _Optional[str] = ...) -> None: ...

class Returns(_message.Message):
    __slots__ = ("log", "name")
    LOG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    log: bool
    name: str
    def __init__(self, log: _Optional[bool] = ..., name: _Optional[str] = ...) -> None: ...

class RollingVolatility(_message.Message):
    __slots__ = ("returns", "window", "periods_per_year", "name")
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    returns: str
    window: int
    periods_per_year: float
    name: str
    def __init__(self, returns: _Optional[str] = ..., window: _Optional[int] = ..., periods_per_year: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class RollingWindow(_message.Message):
    __slots__ = ("window", "name")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    window: str
    name: str
    def __init__(self, window: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class IntervalStat(_message.Message):
    __slots__ = ("every",)
    EVERY_FIELD_NUMBER: _ClassVar[int]
    every: str
    def __init__(self, every: _Optional[str] = ...) -> None: ...

class ResampleQuotes(_message.Message):
    __slots__ = ("columns", "every")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    every: str
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., every: _Optional[str] = ...) -> None: ...

class CleanTicks(_message.Message):
    __slots__ = ("drop_out_of_order",)
    DROP_OUT_OF_ORDER_FIELD_NUMBER: _ClassVar[int]
    drop_out_of_order: bool
    def __init__(self, drop_out_of_order: _Optional[bool] = ...) -> None: ...

class SqlRequest(_message.Message):
    __slots__ = ("tables", "query", "distributed", "parameters")
    class TablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TABLES_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.ScalarMap[str, str]
    query: str
    distributed: bool
    parameters: bytes
    def __init__(self, tables: _Optional[_Mapping[str, str]] = ..., query: _Optional[str] = ..., distributed: _Optional[bool] = ..., parameters: _Optional[bytes] = ...) -> None: ...

class PlanRequest(_message.Message):
    __slots__ = ("plan", "bindings", "client_polars", "description")
    class BindingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLAN_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_POLARS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    plan: bytes
    bindings: _containers.ScalarMap[str, str]
    client_polars: str
    description: str
    def __init__(self, plan: _Optional[bytes] = ..., bindings: _Optional[_Mapping[str, str]] = ..., client_polars: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("name", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: bytes
    def __init__(self, name: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Expr(_message.Message):
    __slots__ = ("column", "literal", "binary", "alias", "cast", "function", "when", "over", "sort_by", "len")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    LITERAL_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    CAST_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    OVER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    LEN_FIELD_NUMBER: _ClassVar[int]
    NOT_FIELD_NUMBER: _ClassVar[int]
    column: str
    literal: Literal
    binary: BinaryExpr
    alias: Alias
    cast: Cast
    function: Function
    when: When
    over: Over
    sort_by: SortBy
    len: Empty
    def __init__(self, column: _Optional[str] = ..., literal: _Optional[_Union[Literal, _Mapping]] = ..., binary: _Optional[_Union[BinaryExpr, _Mapping]] = ..., alias: _Optional[_Union[Alias, _Mapping]] = ..., cast: _Optional[_Union[Cast, _Mapping]] = ..., function: _Optional[_Union[Function, _Mapping]] = ..., when: _Optional[_Union[When, _Mapping]] = ..., over: _Optional[_Union[Over, _Mapping]] = ..., sort_by: _Optional[_Union[SortBy, _Mapping]] = ..., len: _Optional[_Union[Empty, _Mapping]] = ..., **kwargs) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Not(_message.Message):
    __slots__ = ("expr",)
    EXPR_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class DatetimeValue(_message.Message):
    __slots__ = ("value", "unit", "time_zone")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    value: int
    unit: TimeUnit
    time_zone: str
    def __init__(self, value: _Optional[int] = ..., unit: _Optional[_Union[TimeUnit, str]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class DurationValue(_message.Message):
    __slots__ = ("value", "unit")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    value: int
    unit: TimeUnit
    def __init__(self, value: _Optional[int] = ..., unit: _Optional[_Union[TimeUnit, str]] = ...) -> None: ...

class Literal(_message.Message):
    __slots__ = ("boolean", "int64", "uint64", "float64", "string", "binary", "date", "datetime", "duration", "time", "null", "list", "dtype")
    BOOLEAN_FIELD_NUMBER: _ClassVar[int]
    INT64_FIELD_NUMBER: _ClassVar[int]
    UINT64_FIELD_NUMBER: _ClassVar[int]
    FLOAT64_FIELD_NUMBER: _ClassVar[int]
    STRING_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    DATETIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    NULL_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    boolean: bool
    int64: int
    uint64: int
    float64: float
    string: str
    binary: bytes
    date: int
    datetime: DatetimeValue
    duration: DurationValue
    time: int
    null: Empty
    list: LiteralList
    dtype: str
    def __init__(self, boolean: _Optional[bool] = ..., int64: _Optional[int] = ..., uint64: _Optional[int] = ..., float64: _Optional[float] = ..., string: _Optional[str] = ..., binary: _Optional[bytes] = ..., date: _Optional[int] = ..., datetime: _Optional[_Union[DatetimeValue, _Mapping]] = ..., duration: _Optional[_Union[DurationValue, _Mapping]] = ..., time: _Optional[int] = ..., null: _Optional[_Union[Empty, _Mapping]] = ..., list: _Optional[_Union[LiteralList, _Mapping]] = ..., dtype: _Optional[str] = ...) -> None: ...

class LiteralList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Literal]
    def __init__(self, values: _Optional[_Iterable[_Union[Literal, _Mapping]]] = ...) -> None: ...

class BinaryExpr(_message.Message):
    __slots__ = ("left", "op", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: Expr
    op: BinaryOp
    right: Expr
    def __init__(self, left: _Optional[_Union[Expr, _Mapping]] = ..., op: _Optional[_Union[BinaryOp, str]] = ..., right: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class Alias(_message.Message):
    __slots__ = ("expr", "name")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    name: str
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class Cast(_message.Message):
    __slots__ = ("expr", "dtype", "non_strict")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    NON_STRICT_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    dtype: str
    non_strict: bool
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., dtype: _Optional[str] = ..., non_strict: _Optional[bool] = ...) -> None: ...

class Function(_message.Message):
    __slots__ = ("name", "args", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Literal
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Literal, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    args: _containers.RepeatedCompositeFieldContainer[Expr]
    options: _containers.MessageMap[str, Literal]
    def __init__(self, name: _Optional[str] = ..., args: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., options: _Optional[_Mapping[str, Literal]] = ...) -> None: ...

class WhenThen(_message.Message):
    __slots__ = ("when", "then")
    WHEN_FIELD_NUMBER: _ClassVar[int]
    THEN_FIELD_NUMBER: _ClassVar[int]
    when: Expr
    then: Expr
    def __init__(self, when: _Optional[_Union[Expr, _Mapping]] = ..., then: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class When(_message.Message):
    __slots__ = ("branches", "otherwise")
    BRANCHES_FIELD_NUMBER: _ClassVar[int]
    OTHERWISE_FIELD_NUMBER: _ClassVar[int]
    branches: _containers.RepeatedCompositeFieldContainer[WhenThen]
    otherwise: Expr
    def __init__(self, branches: _Optional[_Iterable[_Union[WhenThen, _Mapping]]] = ..., otherwise: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class Over(_message.Message):
    __slots__ = ("expr", "partition_by", "order_by", "order_descending", "order_nulls_last", "mapping_strategy")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    PARTITION_BY_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    ORDER_DESCENDING_FIELD_NUMBER: _ClassVar[int]
    ORDER_NULLS_LAST_FIELD_NUMBER: _ClassVar[int]
    MAPPING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    partition_by: _containers.RepeatedCompositeFieldContainer[Expr]
    order_by: _containers.RepeatedCompositeFieldContainer[Expr]
    order_descending: bool
    order_nulls_last: bool
    mapping_strategy: str
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., partition_by: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., order_by: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., order_descending: _Optional[bool] = ..., order_nulls_last: _Optional[bool] = ..., mapping_strategy: _Optional[str] = ...) -> None: ...

class SortBy(_message.Message):
    __slots__ = ("expr", "by", "descending", "nulls_last", "maintain_order")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    NULLS_LAST_FIELD_NUMBER: _ClassVar[int]
    MAINTAIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    by: _containers.RepeatedCompositeFieldContainer[Expr]
    descending: _containers.RepeatedScalarFieldContainer[bool]
    nulls_last: _containers.RepeatedScalarFieldContainer[bool]
    maintain_order: bool
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., by: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., descending: _Optional[_Iterable[bool]] = ..., nulls_last: _Optional[_Iterable[bool]] = ..., maintain_order: _Optional[bool] = ...) -> None: ...

class SelectRequest(_message.Message):
    __slots__ = ("handle", "exprs")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    EXPRS_FIELD_NUMBER: _ClassVar[int]
    handle: str
    exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, handle: _Optional[str] = ..., exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class FilterRequest(_message.Message):
    __slots__ = ("handle", "predicate")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    predicate: Expr
    def __init__(self, handle: _Optional[str] = ..., predicate: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class WithColumnsRequest(_message.Message):
    __slots__ = ("handle", "exprs")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    EXPRS_FIELD_NUMBER: _ClassVar[int]
    handle: str
    exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, handle: _Optional[str] = ..., exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class GroupByRequest(_message.Message):
    __slots__ = ("handle", "keys", "aggs", "maintain_order", "dynamic", "rolling")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    AGGS_FIELD_NUMBER: _ClassVar[int]
    MAINTAIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    ROLLING_FIELD_NUMBER: _ClassVar[int]
    handle: str
    keys: _containers.RepeatedCompositeFieldContainer[Expr]
    aggs: _containers.RepeatedCompositeFieldContainer[Expr]
    maintain_order: bool
    dynamic: DynamicGroup
    rolling: RollingGroup
    def __init__(self, handle: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., aggs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., maintain_order: _Optional[bool] = ..., dynamic: _Optional[_Union[DynamicGroup, _Mapping]] = ..., rolling: _Optional[_Union[RollingGroup, _Mapping]] = ...) -> None: ...

class DynamicGroup(_message.Message):
    __slots__ = ("index_column", "every", "period", "offset", "closed", "label", "include_boundaries", "start_by")
    INDEX_COLUMN_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BOUNDARIES_FIELD_NUMBER: _ClassVar[int]
    START_BY_FIELD_NUMBER: _ClassVar[int]
    index_column: str
    every: str
    period: str
    offset: str
    closed: str
    label: str
    include_boundaries: bool
    start_by: str
    def __init__(self, index_column: _Optional[str] = ..., every: _Optional[str] = ..., period: _Optional[str] = ..., offset: _Optional[str] = ..., closed: _Optional[str] = ..., label: _Optional[str] = ..., include_boundaries: _Optional[bool] = ..., start_by: _Optional[str] = ...) -> None: ...

class RollingGroup(_message.Message):
    __slots__ = ("index_column", "period", "offset", "closed")
    INDEX_COLUMN_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    index_column: str
    period: str
    offset: str
    closed: str
    def __init__(self, index_column: _Optional[str] = ..., period: _Optional[str] = ..., offset: _Optional[str] = ..., closed: _Optional[str] = ...) -> None: ...

class SortKey(_message.Message):
    __slots__ = ("column", "descending", "nulls_last")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    NULLS_LAST_FIELD_NUMBER: _ClassVar[int]
    column: str
    descending: bool
    nulls_last: bool
    def __init__(self, column: _Optional[str] = ..., descending: _Optional[bool] = ..., nulls_last: _Optional[bool] = ...) -> None: ...

class SortRequest(_message.Message):
    __slots__ = ("handle", "by", "maintain_order")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    MAINTAIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    handle: str
    by: _containers.RepeatedCompositeFieldContainer[SortKey]
    maintain_order: bool
    def __init__(self, handle: _Optional[str] = ..., by: _Optional[_Iterable[_Union[SortKey, _Mapping]]] = ..., maintain_order: _Optional[bool] = ...) -> None: ...

class SliceRequest(_message.Message):
    __slots__ = ("handle", "offset", "length")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    handle: str
    offset: int
    length: int
    def __init__(self, handle: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class UniqueRequest(_message.Message):
    __slots__ = ("handle", "subset", "keep", "maintain_order")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    SUBSET_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    MAINTAIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    handle: str
    subset: _containers.RepeatedScalarFieldContainer[str]
    keep: UniqueKeep
    maintain_order: bool
    def __init__(self, handle: _Optional[str] = ..., subset: _Optional[_Iterable[str]] = ..., keep: _Optional[_Union[UniqueKeep, str]] = ..., maintain_order: _Optional[bool] = ...) -> None: ...

class DropNullsRequest(_message.Message):
    __slots__ = ("handle", "subset")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    SUBSET_FIELD_NUMBER: _ClassVar[int]
    handle: str
    subset: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, handle: _Optional[str] = ..., subset: _Optional[_Iterable[str]] = ...) -> None: ...

class DropColumnsRequest(_message.Message):
    __slots__ = ("handle", "columns", "strict")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    handle: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    strict: bool
    def __init__(self, handle: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., strict: _Optional[bool] = ...) -> None: ...

class ExplodeRequest(_message.Message):
    __slots__ = ("handle", "columns", "empty_as_null", "keep_nulls")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EMPTY_AS_NULL_FIELD_NUMBER: _ClassVar[int]
    KEEP_NULLS_FIELD_NUMBER: _ClassVar[int]
    handle: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    empty_as_null: bool
    keep_nulls: bool
    def __init__(self, handle: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., empty_as_null: _Optional[bool] = ..., keep_nulls: _Optional[bool] = ...) -> None: ...

class UnpivotRequest(_message.Message):
    __slots__ = ("handle", "on", "index", "variable_name", "value_name")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_NAME_FIELD_NUMBER: _ClassVar[int]
    handle: str
    on: _containers.RepeatedScalarFieldContainer[str]
    index: _containers.RepeatedScalarFieldContainer[str]
    variable_name: str
    value_name: str
    def __init__(self, handle: _Optional[str] = ..., on: _Optional[_Iterable[str]] = ..., index: _Optional[_Iterable[str]] = ..., variable_name: _Optional[str] = ..., value_name: _Optional[str] = ...) -> None: ...

class WithRowIndexRequest(_message.Message):
    __slots__ = ("handle", "name", "offset")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    handle: str
    name: str
    offset: int
    def __init__(self, handle: _Optional[str] = ..., name: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class RenameRequest(_message.Message):
    __slots__ = ("handle", "mapping", "strict")
    class MappingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    handle: str
    mapping: _containers.ScalarMap[str, str]
    strict: bool
    def __init__(self, handle: _Optional[str] = ..., mapping: _Optional[_Mapping[str, str]] = ..., strict: _Optional[bool] = ...) -> None: ...

class ConcatRequest(_message.Message):
    __slots__ = ("handles", "how", "broadcast_unit_length")
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_UNIT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    handles: _containers.RepeatedScalarFieldContainer[str]
    how: str
    broadcast_unit_length: bool
    def __init__(self, handles: _Optional[_Iterable[str]] = ..., how: _Optional[str] = ..., broadcast_unit_length: _Optional[bool] = ...) -> None: ...

class MergeSortedRequest(_message.Message):
    __slots__ = ("left", "right", "key")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    left: str
    right: str
    key: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, left: _Optional[str] = ..., right: _Optional[str] = ..., key: _Optional[_Iterable[str]] = ...) -> None: ...

class AsofOptions(_message.Message):
    __slots__ = ("strategy", "left_by", "right_by", "tolerance_duration", "tolerance_number", "allow_exact_matches")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LEFT_BY_FIELD_NUMBER: _ClassVar[int]
    RIGHT_BY_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_DURATION_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ALLOW_EXACT_MATCHES_FIELD_NUMBER: _ClassVar[int]
    strategy: AsofStrategy
    left_by: _containers.RepeatedScalarFieldContainer[str]
    right_by: _containers.RepeatedScalarFieldContainer[str]
    tolerance_duration: str
    tolerance_number: float
    allow_exact_matches: bool
    def __init__(self, strategy: _Optional[_Union[AsofStrategy, str]] = ..., left_by: _Optional[_Iterable[str]] = ..., right_by: _Optional[_Iterable[str]] = ..., tolerance_duration: _Optional[str] = ..., tolerance_number: _Optional[float] = ..., allow_exact_matches: _Optional[bool] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("left", "right", "left_on", "right_on", "how", "suffix", "asof", "predicates", "coalesce", "nulls_equal", "maintain_order", "left_on_exprs", "right_on_exprs", "validate")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    LEFT_ON_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ON_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    ASOF_FIELD_NUMBER: _ClassVar[int]
    PREDICATES_FIELD_NUMBER: _ClassVar[int]
    COALESCE_FIELD_NUMBER: _ClassVar[int]
    NULLS_EQUAL_FIELD_NUMBER: _ClassVar[int]
    MAINTAIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    LEFT_ON_EXPRS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ON_EXPRS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_FIELD_NUMBER: _ClassVar[int]
    left: str
    right: str
    left_on: _containers.RepeatedScalarFieldContainer[str]
    right_on: _containers.RepeatedScalarFieldContainer[str]
    how: JoinHow
    suffix: str
    asof: AsofOptions
    predicates: _containers.RepeatedCompositeFieldContainer[Expr]
    coalesce: bool
    nulls_equal: bool
    maintain_order: str
    left_on_exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    right_on_exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    validate: str
    def __init__(self, left: _Optional[str] = ..., right: _Optional[str] = ..., left_on: _Optional[_Iterable[str]] = ..., right_on: _Optional[_Iterable[str]] = ..., how: _Optional[_Union[JoinHow, str]] = ..., suffix: _Optional[str] = ..., asof: _Optional[_Union[AsofOptions, _Mapping]] = ..., predicates: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., coalesce: _Optional[bool] = ..., nulls_equal: _Optional[bool] = ..., maintain_order: _Optional[str] = ..., left_on_exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., right_on_exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., validate: _Optional[str] = ...) -> None: ...

class CollectRequest(_message.Message):
    __slots__ = ("handle", "engine")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    engine: Engine
    def __init__(self, handle: _Optional[str] = ..., engine: _Optional[_Union[Engine, str]] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("handle", "offset", "limit", "compression")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    handle: str
    offset: int
    limit: int
    compression: IpcCompression
    def __init__(self, handle: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ..., compression: _Optional[_Union[IpcCompression, str]] = ...) -> None: ...

class IpcMessage(_message.Message):
    __slots__ = ("data", "rows")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    rows: int
    def __init__(self, data: _Optional[bytes] = ..., rows: _Optional[int] = ...) -> None: ...

class HandleRequest(_message.Message):
    __slots__ = ("handle",)
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    def __init__(self, handle: _Optional[str] = ...) -> None: ...

class HandleReply(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: HandleInfo
    def __init__(self, info: _Optional[_Union[HandleInfo, _Mapping]] = ...) -> None: ...

class HandleInfo(_message.Message):
    __slots__ = ("handle", "kind", "schema", "rows", "estimated_bytes", "lineage", "created_ms", "last_access_ms", "name", "arrow_schema")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    handle: str
    kind: HandleKind
    schema: Schema
    rows: int
    estimated_bytes: int
    lineage: str
    created_ms: int
    last_access_ms: int
    name: str
    arrow_schema: bytes
    def __init__(self, handle: _Optional[str] = ..., kind: _Optional[_Union[HandleKind, str]] = ..., schema: _Optional[_Union[Schema, _Mapping]] = ..., rows: _Optional[int] = ..., estimated_bytes: _Optional[int] = ..., lineage: _Optional[str] = ..., created_ms: _Optional[int] = ..., last_access_ms: _Optional[int] = ..., name: _Optional[str] = ..., arrow_schema: _Optional[bytes] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("name", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("fields",)
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    def __init__(self, fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ...) -> None: ...

class SchemaReply(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: Schema
    def __init__(self, schema: _Optional[_Union[Schema, _Mapping]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("handle", "unoptimized")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    UNOPTIMIZED_FIELD_NUMBER: _ClassVar[int]
    handle: str
    unoptimized: bool
    def __init__(self, handle: _Optional[str] = ..., unoptimized: _Optional[bool] = ...) -> None: ...

class ExplainReply(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: str
    def __init__(self, plan: _Optional[str] = ...) -> None: ...

class DropReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListReply(_message.Message):
    __slots__ = ("handles",)
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    handles: _containers.RepeatedCompositeFieldContainer[HandleInfo]
    def __init__(self, handles: _Optional[_Iterable[_Union[HandleInfo, _Mapping]]] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("handles", "bytes", "memory_budget", "inserted", "hits", "misses", "expired", "evicted", "dropped", "active_fetches", "running_queries", "queued_queries")
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BUDGET_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    EVICTED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FETCHES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_QUERIES_FIELD_NUMBER: _ClassVar[int]
    QUEUED_QUERIES_FIELD_NUMBER: _ClassVar[int]
    handles: int
    bytes: int
    memory_budget: int
    inserted: int
    hits: int
    misses: int
    expired: int
    evicted: int
    dropped: int
    active_fetches: int
    running_queries: int
    queued_queries: int
    def __init__(self, handles: _Optional[int] = ..., bytes: _Optional[int] = ..., memory_budget: _Optional[int] = ..., inserted: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., expired: _Optional[int] = ..., evicted: _Optional[int] = ..., dropped: _Optional[int] = ..., active_fetches: _Optional[int] = ..., running_queries: _Optional[int] = ..., queued_queries: _Optional[int] = ...) -> None: ...
