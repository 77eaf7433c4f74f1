//! The expression tree: each remote result equals the same polars
//! expression run in-process; bad trees are refused naming the node.

use std::collections::HashMap;

use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{
    self, expr::Kind, literal::Value, BinaryOp, FetchRequest, FilterRequest, GroupByRequest, ScanRequest,
    SelectRequest, WithColumnsRequest,
};
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{assert_frames_close, fetch_all, sample_path, upload, TestServer};

// ---- tiny builders for proto expressions

fn e(kind: Kind) -> proto::Expr {
    proto::Expr { kind: Some(kind) }
}
fn c(name: &str) -> proto::Expr {
    e(Kind::Column(name.into()))
}
fn lv(v: Value) -> proto::Literal {
    proto::Literal { value: Some(v), dtype: None }
}
fn l(v: Value) -> proto::Expr {
    e(Kind::Literal(lv(v)))
}
fn bin(left: proto::Expr, op: BinaryOp, right: proto::Expr) -> proto::Expr {
    e(Kind::Binary(Box::new(proto::BinaryExpr { left: Some(Box::new(left)), op: op as i32, right: Some(Box::new(right)) })))
}
fn f(name: &str, args: Vec<proto::Expr>, opts: &[(&str, Value)]) -> proto::Expr {
    let options: HashMap<String, proto::Literal> = opts.iter().map(|(k, v)| (k.to_string(), lv(v.clone()))).collect();
    e(Kind::Function(proto::Function { name: name.into(), args, options }))
}
fn f1(name: &str, input: proto::Expr) -> proto::Expr {
    f(name, vec![input], &[])
}
fn alias(x: proto::Expr, name: &str) -> proto::Expr {
    e(Kind::Alias(Box::new(proto::Alias { expr: Some(Box::new(x)), name: name.into() })))
}

async fn trades(client: &mut PolaroidClient<Channel>) -> String {
    client.scan(ScanRequest { path: "trades.parquet".into(), ..Default::default() }).await.unwrap().into_inner().info.unwrap().handle
}

fn local_trades() -> LazyFrame {
    LazyFrame::scan_parquet(PlRefPath::new(sample_path("trades.parquet").to_string_lossy().as_ref()), Default::default()).unwrap()
}

async fn fetch(client: &mut PolaroidClient<Channel>, handle: String) -> DataFrame {
    fetch_all(client, FetchRequest { handle, ..Default::default() }).await.0
}

/// `exprs` selected from `handle` on the server, fetched.
/// A group-by of `handle` on symbol (groups in order of appearance): the new handle.
async fn by_symbol(client: &mut PolaroidClient<Channel>, handle: &str, aggs: Vec<proto::Expr>) -> String {
    let request = GroupByRequest { handle: handle.into(), keys: vec![c("symbol")], aggs, maintain_order: true, ..Default::default() };
    client.group_by(request).await.unwrap().into_inner().info.unwrap().handle
}

/// Each select of one expression is INVALID_ARGUMENT with a message holding its text.
async fn assert_refused(client: &mut PolaroidClient<Channel>, handle: &str, bad: Vec<(proto::Expr, &str)>) {
    for (expr, expected) in bad {
        let err = client.select(SelectRequest { handle: handle.into(), exprs: vec![expr] }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(expected), "{expected}: {}", err.message());
    }
}

async fn selected(client: &mut PolaroidClient<Channel>, handle: &str, exprs: Vec<proto::Expr>) -> DataFrame {
    let request = SelectRequest { handle: handle.into(), exprs };
    let handle = client.select(request).await.unwrap().into_inner().info.unwrap().handle;
    fetch(client, handle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_with_columns_select_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    // (price > 200) & symbol.is_in(["MSFT", "TSLA"]) & (size >= 10)
    let set = Value::List(proto::LiteralList { values: vec![lv(Value::String("MSFT".into())), lv(Value::String("TSLA".into()))] });
    let predicate = bin(
        bin(bin(c("price"), BinaryOp::Gt, l(Value::Int64(200))), BinaryOp::And, f("is_in", vec![c("symbol"), l(set)], &[])),
        BinaryOp::And,
        bin(c("size"), BinaryOp::GtEq, l(Value::Int64(10))),
    );
    let filtered = client.filter(FilterRequest { handle: t, predicate: Some(predicate) }).await.unwrap().into_inner().info.unwrap();
    let with = client
        .with_columns(WithColumnsRequest {
            handle: filtered.handle,
            exprs: vec![
                alias(bin(c("price"), BinaryOp::Mul, c("size")), "notional"),
                alias(f1("dt.hour", c("ts")), "hour"),
                alias(e(Kind::Cast(Box::new(proto::Cast { expr: Some(Box::new(c("size"))), dtype: "i32".into(), non_strict: false }))), "size32"),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let selected = client
        .select(SelectRequest {
            handle: with.handle,
            exprs: vec![
                c("ts"),
                c("notional"),
                c("hour"),
                c("size32"),
                alias(f("round", vec![c("price")], &[("decimals", Value::Int64(1))]), "p1"),
                // Keeps its input's name, as polars' negation does.
                f1("neg", c("size")),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert!(selected.lineage.contains(".filter("), "{}", selected.lineage);
    let remote = fetch(&mut client, selected.handle).await;
    let local = local_trades()
        .filter(
            col("price")
                .gt(lit(200))
                .and(col("symbol").is_in(lit(Series::new("".into(), ["MSFT", "TSLA"])).implode(true), false))
                .and(col("size").gt_eq(lit(10))),
        )
        .with_columns([
            (col("price") * col("size")).alias("notional"),
            col("ts").dt().hour().alias("hour"),
            col("size").strict_cast(DataType::Int32).alias("size32"),
        ])
        .select([
            col("ts"),
            col("notional"),
            col("hour"),
            col("size32"),
            col("price").round(1, RoundMode::HalfAwayFromZero).alias("p1"),
            -col("size"),
        ])
        .collect()
        .unwrap();
    assert!(remote.height() > 1000);
    assert!(remote.equals_missing(&local));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_with_every_aggregation_equals_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let aggs = vec![
        alias(f1("sum", c("size")), "sum"),
        alias(f1("mean", c("price")), "mean"),
        alias(f1("min", c("price")), "min"),
        alias(f1("max", c("price")), "max"),
        alias(f1("first", c("price")), "first"),
        alias(f1("last", c("price")), "last"),
        alias(f1("count", c("price")), "count"),
        alias(e(Kind::Len(proto::Empty {})), "len"),
        alias(f1("n_unique", c("price")), "n_unique"),
        alias(f("std", vec![c("price")], &[("ddof", Value::Int64(0))]), "std"),
        alias(f1("var", c("price")), "var"),
        alias(f1("median", c("size")), "median"),
        alias(f("quantile", vec![c("size")], &[("quantile", Value::Float64(0.9)), ("interpolation", Value::String("linear".into()))]), "q90"),
        alias(bin(f1("sum", bin(c("price"), BinaryOp::Mul, c("size"))), BinaryOp::TrueDiv, f1("sum", c("size"))), "vwap"),
    ];
    let g = client
        .group_by(GroupByRequest { handle: t, keys: vec![c("symbol")], aggs, maintain_order: true, window: None })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let remote = fetch(&mut client, g.handle).await;
    let local = local_trades()
        .group_by_stable([col("symbol")])
        .agg([
            col("size").sum().alias("sum"),
            col("price").mean().alias("mean"),
            col("price").min().alias("min"),
            col("price").max().alias("max"),
            col("price").first().alias("first"),
            col("price").last().alias("last"),
            col("price").count().alias("count"),
            len().alias("len"),
            col("price").n_unique().alias("n_unique"),
            col("price").std(0).alias("std"),
            col("price").var(1).alias("var"),
            col("size").median().alias("median"),
            col("size").quantile(lit(0.9), QuantileMethod::Linear).alias("q90"),
            ((col("price") * col("size")).sum() / col("size").sum()).alias("vwap"),
        ])
        .collect()
        .unwrap();
    assert_eq!(remote.height(), 5);
    assert_frames_close(&remote, &local);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_cumulative_rolling_and_conditionals_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let over = |x: proto::Expr| e(Kind::Over(Box::new(proto::Over { expr: Some(Box::new(x)), partition_by: vec![c("symbol")], ..Default::default() })));
    let when_expr = e(Kind::When(Box::new(proto::When {
        branches: vec![
            proto::WhenThen { when: Some(bin(c("size"), BinaryOp::Gt, l(Value::Int64(1000)))), then: Some(l(Value::String("block".into()))) },
            proto::WhenThen { when: Some(bin(c("size"), BinaryOp::Gt, l(Value::Int64(100)))), then: Some(l(Value::String("round".into()))) },
        ],
        otherwise: Some(Box::new(l(Value::String("odd".into())))),
    })));
    let exprs = vec![
        c("symbol"),
        alias(bin(c("price"), BinaryOp::Sub, over(f1("mean", c("price")))), "dev"),
        alias(over(f1("cum_sum", c("size"))), "cum_size"),
        alias(over(f("shift", vec![c("price")], &[("n", Value::Int64(2))])), "prev2"),
        alias(over(f1("diff", c("price"))), "dp"),
        alias(over(f1("pct_change", c("price"))), "ret"),
        alias(over(f("rolling_mean", vec![c("price")], &[("window_size", Value::Int64(20))])), "ma20"),
        alias(f("fill_null", vec![over(f1("shift", c("price"))), c("price")], &[]), "prev_or_self"),
        alias(when_expr, "kind"),
        alias(f("str.contains", vec![c("symbol")], &[("pattern", Value::String("^[AM]".into()))]), "am"),
        alias(f1("str.to_lowercase", c("symbol")), "lower"),
        alias(f("dt.truncate", vec![c("ts")], &[("every", Value::String("5m".into()))]), "bucket"),
        alias(f("dt.convert_time_zone", vec![c("ts")], &[("time_zone", Value::String("America/New_York".into()))]), "ny"),
        alias(bin(c("ts"), BinaryOp::Gt, e(Kind::Literal(lv(Value::Datetime(proto::DatetimeValue { value: 1_795_456_800_000_000_000, unit: 0, time_zone: "UTC".into() }))))), "afternoon"),
        alias(e(Kind::Literal(proto::Literal { value: Some(Value::Null(proto::Empty {})), dtype: Some("f32".into()) })), "nothing"),
    ];
    let s = client.select(SelectRequest { handle: t, exprs }).await.unwrap().into_inner().info.unwrap();
    let remote = fetch(&mut client, s.handle).await;
    let local = local_trades()
        .select([
            col("symbol"),
            (col("price") - col("price").mean().over([col("symbol")]).unwrap()).alias("dev"),
            col("size").cum_sum(false).over([col("symbol")]).unwrap().alias("cum_size"),
            col("price").shift(lit(2i64)).over([col("symbol")]).unwrap().alias("prev2"),
            col("price").diff(lit(1i64), Default::default()).over([col("symbol")]).unwrap().alias("dp"),
            col("price").pct_change(lit(1i64)).over([col("symbol")]).unwrap().alias("ret"),
            col("price")
                .rolling_mean(RollingOptionsFixedWindow { window_size: 20, min_periods: 20, ..Default::default() })
                .over([col("symbol")])
                .unwrap()
                .alias("ma20"),
            col("price").shift(lit(1i64)).over([col("symbol")]).unwrap().fill_null(col("price")).alias("prev_or_self"),
            when(col("size").gt(lit(1000)))
                .then(lit("block"))
                .otherwise(when(col("size").gt(lit(100))).then(lit("round")).otherwise(lit("odd")))
                .alias("kind"),
            col("symbol").str().contains(lit("^[AM]"), true).alias("am"),
            col("symbol").str().to_lowercase().alias("lower"),
            col("ts").dt().truncate(lit("5m")).alias("bucket"),
            col("ts").dt().convert_time_zone(TimeZone::opt_try_new(Some("America/New_York")).unwrap().unwrap()).alias("ny"),
            col("ts")
                .gt(lit(1_795_456_800_000_000_000i64).cast(DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))))
                .alias("afternoon"),
            lit(Null {}).cast(DataType::Float32).alias("nothing"),
        ])
        .collect()
        .unwrap();
    assert_frames_close(&remote, &local);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_expressions_are_refused_naming_the_node() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let cases: Vec<(Vec<proto::Expr>, &str)> = vec![
        (vec![c("price"), f1("sume", c("price"))], "exprs[1].function(sume): unknown function \"sume\""),
        (vec![f("fill_null", vec![c("price")], &[])], "exprs[0].function(fill_null): takes 2 argument(s)"),
        (vec![alias(bin(c("price"), BinaryOp::Add, proto::Expr { kind: None }), "x")], "exprs[0].alias.expr.binary.right: empty expression node"),
        (vec![e(Kind::Cast(Box::new(proto::Cast { expr: Some(Box::new(c("size"))), dtype: "int37".into(), non_strict: false })))], "exprs[0].cast: unknown dtype \"int37\""),
        (vec![f("str.contains", vec![c("symbol")], &[("pattern", Value::String("(".into()))])], "exprs[0].function(str.contains): invalid regex"),
        (vec![f("shift", vec![c("price")], &[("periods", Value::Int64(1))])], "exprs[0].function(shift): unknown option \"periods\" (expected: n)"),
        (vec![f("rolling_mean", vec![c("price")], &[])], "window_size (a positive integer) is required"),
        (vec![f("dt.truncate", vec![c("ts")], &[("every", Value::String("5 minutes".into()))])], "every \"5 minutes\""),
        (vec![c("no_such_column")], "no_such_column"),
        (vec![f("rank", vec![c("price")], &[("method", Value::String("random".into()))])], "unknown method \"random\" (average, min, max, dense, ordinal)"),
        (
            vec![f("is_between", vec![c("price"), l(Value::Int64(1)), l(Value::Int64(2))], &[("closed", Value::String("open".into()))])],
            "exprs[0].function(is_between): unknown closed \"open\"",
        ),
        (vec![f("clip", vec![c("price"), l(Value::Int64(1))], &[])], "exprs[0].function(clip): takes 3 argument(s)"),
        (vec![f("sum_horizontal", vec![], &[])], "exprs[0].function(sum_horizontal): takes at least one argument"),
        (vec![f("min_horizontal", vec![c("price")], &[("ignore_nulls", Value::Boolean(true))])], "unknown option \"ignore_nulls\" (expected: none)"),
        (vec![f("str.replace", vec![c("symbol")], &[("pattern", Value::String("[".into())), ("value", Value::String("".into()))])], "invalid regex"),
        (vec![f("forward_fill", vec![c("price")], &[("limit", Value::Int64(-1))])], "option limit must not be negative"),
        (vec![f("rolling_mean_by", vec![c("price")], &[("window_size", Value::String("5m".into()))])], "function(rolling_mean_by): takes 2 argument(s)"),
        (vec![f("rolling_mean_by", vec![c("price"), c("ts")], &[("window_size", Value::String("5i".into()))])], "window_size \"5i\" must be a positive duration"),
        (vec![f("rolling_sum_by", vec![c("price"), c("ts")], &[])], "option window_size is required"),
        (vec![f("ewm_mean", vec![c("price")], &[("alpha", Value::Float64(1.5))])], "option alpha (a number in (0, 1]) is required"),
        (vec![f("str.to_datetime", vec![c("symbol")], &[("time_unit", Value::String("s".into()))])], "option time_unit: unknown time unit \"s\" (ns, us, ms)"),
        (vec![f("str.to_date", vec![c("symbol")], &[("time_zone", Value::String("UTC".into()))])], "unknown option \"time_zone\""),
        (vec![f("str.split", vec![c("symbol")], &[])], "exprs[0].function(str.split): option by is required"),
        (vec![f("list.get", vec![c("symbol")], &[])], "exprs[0].function(list.get): takes 2 argument(s)"),
        (vec![f("interpolate", vec![c("price")], &[("method", Value::String("cubic".into()))])], "unknown method \"cubic\" (linear, nearest)"),
        (vec![f("rolling_sum_by", vec![c("price"), c("ts")], &[("window_size", Value::String("1h".into())), ("ddof", Value::Int64(0))])], "unknown option \"ddof\""),
        (vec![f("gather_every", vec![c("price")], &[])], "option n (a positive integer) is required"),
        (vec![f("gather", vec![c("price")], &[])], "or option indices (a list of integers)"),
        (vec![f("replace", vec![c("symbol"), c("symbol")], &[])], "takes 3 arguments (the input, old, new)"),
        (vec![f("rolling_quantile", vec![c("price")], &[("window_size", Value::Int64(3)), ("quantile", Value::Float64(1.5))])], "option quantile must be in [0, 1]"),
        (vec![f("corr", vec![c("price"), c("size")], &[("method", Value::String("kendall".into()))])], "unknown method \"kendall\" (pearson, spearman)"),
        (vec![f("ewm_mean_by", vec![c("price"), c("ts")], &[("half_life", Value::String("1mo".into()))])], "must be a positive fixed duration"),
        (vec![f("dt.cast_time_unit", vec![c("ts")], &[("unit", Value::String("s".into()))])], "option unit: unknown time unit \"s\" (ns, us, ms)"),
        (vec![f("fill_null_strategy", vec![c("price")], &[("strategy", Value::String("median".into()))])], "unknown strategy \"median\""),
        (vec![f("str.pad_start", vec![c("symbol")], &[("length", Value::Int64(4)), ("fill_char", Value::String("ab".into()))])], "fill_char must be one character"),
        (vec![f("int_range", vec![l(Value::Int64(0)), l(Value::Int64(5))], &[("step", Value::Int64(0))])], "step must not be 0"),
        (vec![f("int_range", vec![l(Value::Int64(0)), l(Value::Int64(5))], &[("dtype", Value::String("f64".into()))])], "dtype must be an integer type"),
        (vec![f("str.to_integer", vec![c("symbol")], &[("base", Value::Int64(40))])], "base must be in 2..=36"),
        (vec![e(Kind::Over(Box::new(proto::Over { expr: Some(Box::new(c("price"))), ..Default::default() })))], "over needs a partition_by or an order_by"),
        (
            vec![e(Kind::Over(Box::new(proto::Over { expr: Some(Box::new(c("price"))), partition_by: vec![c("symbol")], mapping_strategy: "spread".into(), ..Default::default() })))],
            "unknown mapping_strategy \"spread\"",
        ),
        (
            vec![f("is_in", vec![c("symbol"), l(Value::List(proto::LiteralList { values: vec![lv(Value::List(proto::LiteralList::default()))] }))], &[])],
            "exprs[0].function(is_in).args[1].literal.list[0]: nested lists are not supported",
        ),
        (
            vec![f("is_in", vec![c("size"), l(Value::List(proto::LiteralList { values: vec![proto::Literal { value: Some(Value::Int64(1)), dtype: Some("i32".into()) }] }))], &[])],
            "list elements take no dtype of their own",
        ),
    ];
    for (exprs, expected) in cases {
        let err = client.select(SelectRequest { handle: t.clone(), exprs }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{expected}: {err:?}");
        assert!(err.message().contains(expected), "expected {expected:?} in {:?}", err.message());
    }
    let err = client.filter(FilterRequest { handle: t.clone(), predicate: None }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "predicate: missing expression"));
    // A type error surfaces when the plan is resolved, as INVALID_ARGUMENT too.
    let err = client
        .select(SelectRequest { handle: t.clone(), exprs: vec![bin(c("symbol"), BinaryOp::Mul, c("ts"))] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    client.select(SelectRequest { handle: t, exprs: vec![c("price")] }).await.expect("still serving");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_time_order_and_null_functions_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let s = |v: &str| Value::String(v.into());
    let exprs = vec![
        alias(f("arg_sort", vec![c("price")], &[("descending", Value::Boolean(true))]), "order"),
        alias(f("fill_null_strategy", vec![f("shift", vec![c("price")], &[])], &[("strategy", s("mean"))]), "mean_filled"),
        alias(f("str.pad_start", vec![c("symbol")], &[("length", Value::Int64(6)), ("fill_char", s("*"))]), "padded"),
        alias(f("str.zfill", vec![c("symbol")], &[("length", Value::Int64(6))]), "zeros"),
        alias(f("str.strip_chars", vec![c("symbol")], &[("characters", s("AT"))]), "stripped"),
        alias(f("str.head", vec![c("symbol")], &[("n", Value::Int64(2))]), "head"),
        alias(f("str.extract", vec![c("symbol")], &[("pattern", s("^([A-M])(.)")), ("group_index", Value::Int64(2))]), "second"),
        alias(f("str.count_matches", vec![c("symbol")], &[("pattern", s("A")), ("literal", Value::Boolean(true))]), "a_count"),
        alias(f1("dt.week", c("ts")), "week"),
        alias(f1("dt.quarter", c("ts")), "quarter"),
        alias(f("dt.round", vec![c("ts")], &[("every", s("15m"))]), "rounded"),
        alias(f("dt.total_milliseconds", vec![bin(c("ts"), BinaryOp::Sub, f("shift", vec![c("ts")], &[]))], &[]), "gap_ms"),
    ];
    let remote = selected(&mut client, &t, exprs).await;
    let local = local_trades()
        .select([
            col("price").arg_sort(true, false).alias("order"),
            col("price").shift(lit(1)).fill_null_with_strategy(FillNullStrategy::Mean).alias("mean_filled"),
            col("symbol").str().pad_start(lit(6u64), '*').alias("padded"),
            col("symbol").str().zfill(lit(6u64)).alias("zeros"),
            col("symbol").str().strip_chars(lit("AT")).alias("stripped"),
            col("symbol").str().head(lit(2i64)).alias("head"),
            col("symbol").str().extract(lit("^([A-M])(.)"), 2).alias("second"),
            col("symbol").str().count_matches(lit("A"), true).alias("a_count"),
            col("ts").dt().week().alias("week"),
            col("ts").dt().quarter().alias("quarter"),
            col("ts").dt().round(lit("15m")).alias("rounded"),
            (col("ts") - col("ts").shift(lit(1))).dt().total_milliseconds(false).alias("gap_ms"),
        ])
        .collect()
        .unwrap();
    assert_frames_close(&remote, &local);
    // By hand: the order's first row is the highest price.
    let order = remote.column("order").unwrap().idx().unwrap();
    let trades_df = local_trades().collect().unwrap();
    let prices = trades_df.column("price").unwrap().f64().unwrap();
    assert_eq!(prices.get(order.get(0).unwrap() as usize), prices.max());

    let every = f("gather_every", vec![c("price")], &[("n", Value::Int64(7)), ("offset", Value::Int64(3))]);
    let first_seen = f("coalesce", vec![f("shift", vec![c("size")], &[]), l(Value::Int64(-1))], &[]);
    let remote = selected(&mut client, &t, vec![every]).await;
    let local = local_trades().select([col("price").gather_every(7, 3)]).collect().unwrap();
    assert!(remote.equals_missing(&local));
    let remote = selected(&mut client, &t, vec![alias(first_seen, "s")]).await;
    assert_eq!(remote.column("s").unwrap().i64().unwrap().get(0), Some(-1), "the shifted-in null is coalesced");
    let local = local_trades().select([coalesce(&[col("size").shift(lit(1)), lit(-1i64)]).alias("s")]).collect().unwrap();
    assert!(remote.equals_missing(&local));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structs_value_counts_and_top_k_by_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let s = |v: &str| Value::String(v.into());
    let pair = f("as_struct", vec![c("symbol"), alias(bin(c("price"), BinaryOp::Mul, l(Value::Int64(2))), "p")], &[]);
    let exprs = vec![
        alias(pair.clone(), "pair"),
        alias(f("struct.field", vec![pair], &[("name", s("p"))]), "doubled"),
    ];
    let remote = selected(&mut client, &t, exprs).await;
    let local = local_trades()
        .select([
            as_struct(vec![col("symbol"), (col("price") * lit(2)).alias("p")]).alias("pair"),
            as_struct(vec![col("symbol"), (col("price") * lit(2)).alias("p")]).struct_().field_by_name("p").alias("doubled"),
        ])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");

    let top = f("top_k_by", vec![c("price"), c("size"), c("ts")], &[("k", Value::Int64(3)), ("descending", Value::Boolean(false))]);
    let counts = f("value_counts", vec![c("symbol")], &[("sort", Value::Boolean(true)), ("name", s("n"))]);
    let grouped = by_symbol(&mut client, &t, vec![alias(top, "top")]).await;
    let remote = fetch(&mut client, grouped).await;
    let local = local_trades()
        .group_by_stable([col("symbol")])
        .agg([col("price").top_k_by(lit(3), [col("size"), col("ts")], vec![false, false]).alias("top")])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");
    let remote = selected(&mut client, &t, vec![counts]).await;
    let local = local_trades().select([col("symbol").value_counts(true, false, "n", false)]).collect().unwrap();
    // Sorted by count; the counts of the sample's symbols differ, so the order is defined.
    assert!(remote.equals_missing(&local), "{remote}\n{local}");

    let indices = Value::List(proto::LiteralList { values: vec![lv(Value::Int64(0)), lv(Value::Int64(-1))] });
    let picks = vec![
        alias(f("gather", vec![c("price")], &[("indices", indices)]), "ends"),
        alias(f1("first", f("gather", vec![c("ts"), f1("arg_max", c("price"))], &[])), "at_max"),
    ];
    let remote = selected(&mut client, &t, picks).await;
    let local = local_trades()
        .select([
            col("price").gather(lit(Series::new("".into(), [0i64, -1])), false).alias("ends"),
            col("ts").gather(col("price").arg_max(), false).first().alias("at_max"),
        ])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");
    assert_eq!(remote.height(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn math_search_binning_and_pattern_functions_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let s = |v: &str| Value::String(v.into());
    let list = |values: Vec<Value>| Value::List(proto::LiteralList { values: values.into_iter().map(lv).collect() });
    let gapped = e(Kind::When(Box::new(proto::When {
        branches: vec![proto::WhenThen {
            when: Some(bin(c("size"), BinaryOp::Gt, l(Value::Int64(500)))),
            then: Some(e(Kind::Literal(proto::Literal { value: Some(Value::Null(proto::Empty {})), dtype: Some("f64".into()) }))),
        }],
        otherwise: Some(Box::new(c("price"))),
    })));
    let exprs = vec![
        alias(f1("sin", c("price")), "sin"),
        alias(f1("arccos", bin(c("price"), BinaryOp::TrueDiv, l(Value::Int64(1000)))), "acos"),
        alias(f1("degrees", c("price")), "deg"),
        alias(f("arctan2", vec![c("price"), c("size")], &[]), "atan2"),
        alias(f1("rle_id", c("symbol")), "run"),
        alias(f1("peak_max", c("price")), "peak"),
        alias(f("interpolate_by", vec![gapped, c("ts")], &[]), "filled"),
        alias(f("cut", vec![c("price")], &[("breaks", list(vec![Value::Int64(150), Value::Float64(250.0)])), ("left_closed", Value::Boolean(true))]), "bin"),
        alias(f("qcut", vec![c("price")], &[("n", Value::Int64(4)), ("include_breaks", Value::Boolean(true))]), "quartile"),
        alias(f("str.find", vec![c("symbol")], &[("pattern", s("[AEIOU]"))]), "vowel_at"),
        alias(f("str.split_exact", vec![c("symbol")], &[("by", s("A")), ("n", Value::Int64(1))]), "parts"),
        alias(f("str.splitn", vec![c("symbol")], &[("by", s("S")), ("n", Value::Int64(2))]), "halves"),
        alias(f("str.contains_any", vec![c("symbol")], &[("patterns", list(vec![s("aa"), s("ms")])), ("ascii_case_insensitive", Value::Boolean(true))]), "any"),
        alias(f("str.replace_many", vec![c("symbol")], &[("patterns", list(vec![s("A"), s("T")])), ("replace_with", list(vec![s("a"), s("t")]))]), "lowered"),
        alias(f("str.extract_many", vec![c("symbol")], &[("patterns", list(vec![s("A"), s("M"), s("S")]))]), "found"),
        alias(f("datetime", vec![f1("dt.year", c("ts")), l(Value::Int64(1)), f1("dt.day", c("ts"))], &[("time_zone", s("UTC"))]), "made"),
    ];
    let remote = selected(&mut client, &t, exprs).await;
    let as_text = |e: Expr| e.cast(DataType::String);
    let quartile = col("price").qcut_uniform(4, None::<Vec<PlSmallStr>>, false, false, true);
    let local = local_trades()
        .select([
            col("price").sin().alias("sin"),
            (col("price") / lit(1000)).arccos().alias("acos"),
            col("price").degrees().alias("deg"),
            col("price").arctan2(col("size")).alias("atan2"),
            col("symbol").rle_id().alias("run"),
            col("price").peak_max().alias("peak"),
            when(col("size").gt(lit(500))).then(lit(Null {})).otherwise(col("price")).interpolate_by(col("ts")).alias("filled"),
            as_text(col("price").cut(vec![150.0, 250.0], None::<Vec<PlSmallStr>>, true, false)).alias("bin"),
            as_struct(vec![
                quartile.clone().struct_().field_by_name("breakpoint"),
                as_text(quartile.struct_().field_by_name("category")),
            ])
            .alias("quartile"),
            col("symbol").str().find(lit("[AEIOU]"), true).alias("vowel_at"),
            col("symbol").str().split_exact(lit("A"), 1).alias("parts"),
            col("symbol").str().splitn(lit("S"), 2).alias("halves"),
            col("symbol").str().contains_any(lit(Series::new("".into(), ["aa", "ms"])).implode(true), true).alias("any"),
            col("symbol")
                .str()
                .replace_many(lit(Series::new("".into(), ["A", "T"])).implode(true), lit(Series::new("".into(), ["a", "t"])).implode(true), false, false)
                .alias("lowered"),
            col("symbol").str().extract_many(lit(Series::new("".into(), ["A", "M", "S"])).implode(true), false, false, false).alias("found"),
            datetime(
                DatetimeArgs::new(col("ts").dt().year(), lit(1), col("ts").dt().day()).with_time_zone(Some(TimeZone::UTC)),
            )
            .alias("made"),
        ])
        .collect()
        .unwrap();
    assert_frames_close(&remote, &local);
    // By hand: cut's labels are polars' interval names, and the sample's prices fall in more than one.
    let bins = remote.column("bin").unwrap().str().unwrap();
    assert!(bins.iter().flatten().all(|b| ["[-inf, 150)", "[150, 250)", "[250, inf)"].contains(&b)), "{bins:?}");
    assert!(remote.column("bin").unwrap().n_unique().unwrap() > 1);

    // Length-changing ones, alone: runs, row indices, insertion points, entropy.
    let alone: Vec<(proto::Expr, Expr)> = vec![
        (f1("rle", c("symbol")), col("symbol").rle()),
        (f1("arg_where", bin(c("price"), BinaryOp::Gt, l(Value::Int64(200)))), arg_where(col("price").gt(lit(200)))),
        (
            f("search_sorted", vec![f1("sort", c("size")), l(Value::Int64(500))], &[("side", s("right"))]),
            col("size").sort(Default::default()).search_sorted(lit(500i64), SearchSortedSide::Right, false),
        ),
        (
            f("entropy", vec![c("size")], &[("base", Value::Float64(2.0)), ("normalize", Value::Boolean(false))]),
            col("size").entropy(2.0, false),
        ),
    ];
    for (remote_expr, local_expr) in alone {
        let remote = selected(&mut client, &t, vec![alias(remote_expr, "x")]).await;
        let local = local_trades().select([local_expr.alias("x")]).collect().unwrap();
        assert_frames_close(&remote, &local);
    }

    let bad: Vec<(proto::Expr, &str)> = vec![
        (f("cut", vec![c("price")], &[("breaks", list(vec![Value::Int64(1)])), ("labels", list(vec![s("a")]))]), "1 labels for 1 breaks"),
        (f("qcut", vec![c("price")], &[("n", Value::Int64(2)), ("quantiles", list(vec![Value::Float64(0.5)]))]), "quantiles (a list) or option n"),
        (f("qcut", vec![c("price")], &[("quantiles", list(vec![Value::Float64(1.5)]))]), "quantiles must be between 0 and 1"),
        (f("search_sorted", vec![c("size"), l(Value::Int64(1))], &[("side", s("middle"))]), "unknown side \"middle\""),
        (f("entropy", vec![c("size")], &[("base", Value::Float64(1.0))]), "base must be positive and not 1"),
        (f("datetime", vec![l(Value::Int64(2026)), l(Value::Int64(1))], &[]), "takes 3 to 7 arguments"),
        (f("datetime", vec![l(Value::Int64(2026)), l(Value::Int64(1)), l(Value::Int64(1))], &[("ambiguous", s("maybe"))]), "unknown ambiguous \"maybe\""),
        (f("str.contains_any", vec![c("symbol")], &[]), "option patterns is required"),
        (f("str.find", vec![c("symbol")], &[("pattern", s("("))]), "invalid regex"),
    ];
    assert_refused(&mut client, &t, bad).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_date_and_string_argument_functions_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let s = |v: &str| Value::String(v.into());
    let int = |i: i64| l(Value::Int64(i));
    let list = |values: Vec<Value>| Value::List(proto::LiteralList { values: values.into_iter().map(lv).collect() });
    // Per symbol: its first five and last five sizes, as lists.
    let aggs = vec![
        alias(f("head", vec![c("size")], &[("n", Value::Int64(5))]), "a"),
        alias(f("tail", vec![c("size")], &[("n", Value::Int64(5))]), "b"),
        alias(f("get", vec![c("ts"), f1("arg_max", c("price"))], &[]), "at_max"),
        alias(f("str.join", vec![f("head", vec![c("symbol")], &[("n", Value::Int64(2))])], &[("delimiter", s("|"))]), "joined"),
    ];
    let grouped = by_symbol(&mut client, &t, aggs).await;
    let local_grouped = local_trades().group_by_stable([col("symbol")]).agg([
        col("size").head(Some(5)).alias("a"),
        col("size").tail(Some(5)).alias("b"),
        col("ts").get(col("price").arg_max(), false).alias("at_max"),
        col("symbol").head(Some(2)).str().join("|", true).alias("joined"),
    ]);
    let exprs = vec![
        c("symbol"),
        c("at_max"),
        c("joined"),
        alias(f1("list.arg_max", c("a")), "arg_max"),
        alias(f1("list.drop_nulls", c("a")), "no_nulls"),
        alias(f("list.diff", vec![c("a")], &[("n", Value::Int64(2))]), "diff2"),
        alias(f("list.shift", vec![c("a")], &[("n", Value::Int64(-1))]), "shifted"),
        alias(f("list.gather", vec![c("a"), l(list(vec![Value::Int64(0), Value::Int64(-1)]))], &[]), "ends"),
        alias(f("list.count_matches", vec![c("a"), int(100)], &[]), "hundreds"),
        alias(f("list.set_intersection", vec![c("a"), c("b")], &[]), "both"),
        alias(f("list.set_union", vec![c("a"), c("b")], &[]), "either"),
        alias(f("list.to_struct", vec![c("a")], &[("fields", list(vec![s("first"), s("second")]))]), "pair"),
    ];
    let remote = selected(&mut client, &grouped, exprs).await;
    let local = local_grouped
        .select([
            col("symbol"),
            col("at_max"),
            col("joined"),
            col("a").list().arg_max().alias("arg_max"),
            col("a").list().drop_nulls().alias("no_nulls"),
            col("a").list().diff(2, polars::series::ops::NullBehavior::Ignore).alias("diff2"),
            col("a").list().shift(lit(-1)).alias("shifted"),
            col("a").list().gather(lit(Series::new("".into(), [0i64, -1])), false).alias("ends"),
            col("a").list().count_matches(lit(100)).alias("hundreds"),
            col("a").list().set_intersection(col("b")).alias("both"),
            col("a").list().union(col("b")).alias("either"),
            col("a").list().to_struct(std::sync::Arc::from([PlSmallStr::from("first"), PlSmallStr::from("second")])).alias("pair"),
        ])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");

    let day = |d: i32| e(Kind::Literal(proto::Literal { value: Some(Value::Date(d)), dtype: None }));
    let exprs = vec![
        alias(f1("dt.century", c("ts")), "century"),
        alias(f1("dt.iso_year", c("ts")), "iso_year"),
        alias(f1("dt.microsecond", c("ts")), "us"),
        alias(f1("dt.days_in_month", c("ts")), "days"),
        alias(f("str.starts_with", vec![c("symbol"), f("str.head", vec![c("symbol")], &[("n", Value::Int64(1))])], &[]), "self_prefix"),
        alias(f("str.contains", vec![c("symbol"), f("str.tail", vec![c("symbol")], &[("n", Value::Int64(1))])], &[("literal", Value::Boolean(true))]), "has_last"),
        alias(f("str.strip_prefix", vec![c("symbol")], &[("prefix", s("A"))]), "no_a"),
        alias(f("str.slice", vec![c("symbol"), int(1), bin(c("size"), BinaryOp::Mod, int(3))], &[]), "sliced"),
        alias(f("str.replace", vec![c("symbol")], &[("pattern", s("A")), ("value", s("a")), ("literal", Value::Boolean(true)), ("n", Value::Int64(2))]), "two_a"),
    ];
    let remote = selected(&mut client, &t, exprs).await;
    let local = local_trades()
        .select([
            col("ts").dt().century().alias("century"),
            col("ts").dt().iso_year().alias("iso_year"),
            col("ts").dt().microsecond().alias("us"),
            col("ts").dt().days_in_month().alias("days"),
            col("symbol").str().starts_with(col("symbol").str().head(lit(1))).alias("self_prefix"),
            col("symbol").str().contains_literal(col("symbol").str().tail(lit(1))).alias("has_last"),
            col("symbol").str().strip_prefix(lit("A")).alias("no_a"),
            col("symbol").str().slice(lit(1), col("size") % lit(3)).alias("sliced"),
            col("symbol").str().replace_n(lit("A"), lit("a"), true, 2).alias("two_a"),
        ])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");

    // Length-changing and frame-free ones, alone.
    let alone: Vec<(proto::Expr, Expr)> = vec![
        (f("append", vec![f("head", vec![c("price")], &[("n", Value::Int64(3))]), f("tail", vec![c("price")], &[("n", Value::Int64(2))])], &[]), col("price").head(Some(3)).append(col("price").tail(Some(2)), true)),
        (f("extend_constant", vec![f("head", vec![c("size")], &[("n", Value::Int64(2))]), int(0), int(3)], &[]), col("size").head(Some(2)).extend_constant(lit(0), lit(3))),
        (f("repeat_by", vec![f("head", vec![c("symbol")], &[("n", Value::Int64(3))]), int(2)], &[]), col("symbol").head(Some(3)).repeat_by(lit(2))),
        (f1("explode", f("repeat_by", vec![f("head", vec![c("symbol")], &[("n", Value::Int64(3))]), int(2)], &[])), col("symbol").head(Some(3)).repeat_by(lit(2)).explode(ExplodeOptions { empty_as_null: false, keep_nulls: true })),
        (f("repeat", vec![l(s("x")), int(4)], &[]), repeat(lit("x"), lit(4))),
        (
            f("date_range", vec![day(19_723), day(19_753)], &[("interval", s("1w")), ("closed", s("left"))]),
            polars::lazy::dsl::date_range(Some(lit(19_723i32).cast(DataType::Date)), Some(lit(19_753i32).cast(DataType::Date)), Some(Duration::parse("1w")), None, ClosedWindow::Left)
                .unwrap(),
        ),
        (
            f("datetime_range", vec![f1("min", c("ts")), f1("max", c("ts"))], &[("interval", s("1h")), ("time_unit", s("ms"))]),
            polars::lazy::dsl::datetime_range(Some(col("ts").min()), Some(col("ts").max()), Some(Duration::parse("1h")), None, ClosedWindow::Both, Some(TimeUnit::Milliseconds), None).unwrap(),
        ),
    ];
    for (remote_expr, local_expr) in alone {
        let remote = selected(&mut client, &t, vec![alias(remote_expr, "x")]).await;
        let local = local_trades().select([local_expr.alias("x")]).collect().unwrap();
        assert!(remote.equals_missing(&local), "{remote}\n{local}");
    }

    let bad: Vec<(proto::Expr, &str)> = vec![
        (f("str.contains", vec![c("symbol"), c("symbol")], &[("pattern", s("A"))]), "takes option pattern, or the pattern as args[1]"),
        (f("str.replace", vec![c("symbol")], &[("pattern", s("A")), ("value", s("a")), ("n", Value::Int64(-2))]), "n is -2"),
        (f("date_range", vec![day(0), day(10)], &[("interval", s("-1d"))]), "interval must be a positive duration"),
        (f("list.diff", vec![c("symbol")], &[("null_behavior", s("skip"))]), "unknown null_behavior \"skip\""),
        (f("list.to_struct", vec![c("symbol")], &[("fields", list(vec![]))]), "fields must name at least one field"),
    ];
    assert_refused(&mut client, &t, bad).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_normalization_and_physical_values_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    // "e" + a combining acute accent; the "fi" ligature; a plain word.
    let frame = df!(
        "s" => ["Cafe\u{301}", "\u{fb01}x", "plain"],
        "d" => [19_723i32, 1, -1]
    )
    .unwrap()
    .lazy()
    .with_column(col("d").cast(DataType::Date)) // 2024-01-01, 1970-01-02, 1969-12-31
    .collect()
    .unwrap();
    let handle = upload(&mut client, "words", &frame, 1 << 20).await.unwrap().handle;
    let form = |form: &str| [("form", Value::String(form.into()))];
    let exprs = vec![
        alias(f("str.normalize", vec![c("s")], &form("NFC")), "nfc"),
        alias(f("str.normalize", vec![c("s")], &form("nfkc")), "nfkc"),
        alias(f("str.normalize", vec![c("s")], &form("NFD")), "nfd"),
        alias(f("str.normalize", vec![c("s")], &form("NFKD")), "nfkd"),
        alias(f1("str.normalize", c("s")), "default"),
        alias(f1("to_physical", c("d")), "days"),
    ];
    let remote = selected(&mut client, &handle, exprs).await;
    // Worked by hand: NFC composes the accent (é is one char), NFKC also splits the ligature.
    let expected = df!(
        "nfc" => ["Caf\u{e9}", "\u{fb01}x", "plain"],
        "nfkc" => ["Caf\u{e9}", "fix", "plain"],
        "nfd" => ["Cafe\u{301}", "\u{fb01}x", "plain"],
        "nfkd" => ["Cafe\u{301}", "fix", "plain"],
        "default" => ["Caf\u{e9}", "\u{fb01}x", "plain"],
        "days" => [19_723i32, 1, -1]
    )
    .unwrap();
    assert!(remote.equals_missing(&expected), "{remote}\n{expected}");
    let local = frame
        .lazy()
        .select([
            col("s").str().normalize(UnicodeForm::NFC).alias("nfc"),
            col("s").str().normalize(UnicodeForm::NFKC).alias("nfkc"),
            col("s").str().normalize(UnicodeForm::NFD).alias("nfd"),
            col("s").str().normalize(UnicodeForm::NFKD).alias("nfkd"),
            col("s").str().normalize(UnicodeForm::NFC).alias("default"),
            col("d").to_physical().alias("days"),
        ])
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&local), "{remote}\n{local}");
    let bad = vec![(f("str.normalize", vec![c("s")], &form("NFX")), "form \"NFX\" is not one of NFC, NFKC, NFD, NFKD")];
    assert_refused(&mut client, &handle, bad).await;
    server.stop().await;
}

/// DropColumns is polars' drop: the rows stay. A missing name is an error
/// unless `strict` is off; dropping every column is refused by name (this
/// polars release plans it as an empty frame, zero rows, where polars 2
/// keeps the height).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_columns_keeps_the_rows() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let t = trades(&mut client).await;
    let drop = |columns: &[&str], strict: bool| proto::DropColumnsRequest {
        handle: t.clone(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        strict,
    };
    let local_drop = |columns: &[&str]| {
        let names: Arc<[PlSmallStr]> = columns.iter().map(|c| PlSmallStr::from(*c)).collect();
        local_trades().drop(Selector::ByName { names, strict: true }).collect().unwrap()
    };

    let some = client.drop_columns(drop(&["price", "symbol"], true)).await.unwrap().into_inner().info.unwrap().handle;
    let got = fetch(&mut client, some).await;
    assert!(got.height() > 0 && got.get_column_names().iter().all(|n| *n != "price" && *n != "symbol"));
    assert!(got.equals_missing(&local_drop(&["price", "symbol"])));

    let err = client.drop_columns(drop(&["price", "no_such_column"], true)).await.map(|_| ()).unwrap_err();
    assert!(err.message().contains("no_such_column"), "{err:?}");
    let lenient = client.drop_columns(drop(&["price", "no_such_column"], false)).await.unwrap().into_inner().info.unwrap().handle;
    assert!(fetch(&mut client, lenient).await.equals_missing(&local_drop(&["price"])));

    let columns: Vec<String> = local_trades().collect_schema().unwrap().iter_names().map(|n| n.to_string()).collect();
    let every: Vec<&str> = columns.iter().map(String::as_str).collect();
    let err = client.drop_columns(drop(&every, true)).await.map(|_| ()).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("every column"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_literals_of_integers_past_i64_keep_their_values() {
    // 2^63 + 1 travels as a u64 beside i64s; their supertype in polars is f64,
    // which rounds it to 2^63: the list is u64 (or i128 with a negative) instead.
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let big = (1u64 << 63) + 1;
    let frame = df!("u" => [big, big - 1, 5], "i" => [-1i64, 3, 5]).unwrap();
    let h = upload(&mut client, "wide", &frame, 1 << 20).await.unwrap().handle;
    let set = |values: Vec<Value>| l(Value::List(proto::LiteralList { values: values.into_iter().map(lv).collect() }));
    let got = selected(
        &mut client,
        &h,
        vec![
            alias(f("is_in", vec![c("u"), set(vec![Value::Uint64(big), Value::Int64(5)])], &[]), "u_in"),
            alias(f("is_in", vec![c("i"), set(vec![Value::Int64(-1), Value::Uint64(big)])], &[]), "i_in"),
        ],
    )
    .await;
    let want = df!("u_in" => [true, false, true], "i_in" => [true, false, false]).unwrap();
    assert!(got.equals_missing(&want), "{got}");
}
