use polaroid_grpc::proto::polaroid_client::PolaroidClient;
use polaroid_grpc::proto::{
    asof_options, AsofOptions, AsofStrategy, ConcatRequest, DropNullsRequest, FetchRequest, HandleKind, JoinHow,
    JoinRequest, MergeSortedRequest, RenameRequest, SliceRequest, SortKey, SortRequest, StatsRequest, UniqueKeep, UniqueRequest,
};
use polars::prelude::*;
use tonic::transport::Channel;
use tonic::Code;

use crate::{assert_frames_close, fetch_all, upload, upload_bytes, TestServer};

fn mixed() -> DataFrame {
    let ts = Series::new("ts".into(), [1_700_000_000_000_000i64, 1_700_000_001_000_000, 1_700_000_000_500_000, 1_700_000_003_000_000, 1_700_000_002_000_000, 1_700_000_000_000_000])
        .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))
        .unwrap();
    df!(
        "id" => [3i64, 1, 2, 5, 4, 3],
        "price" => [1.5f64, 2.25, f64::NAN, -4.0, 0.0, 1.5],
        "name" => [Some("a"), None, Some("ccc"), Some(""), Some("ünï"), Some("a")],
        "flag" => [true, false, true, true, false, true],
        "qty" => [Some(10i32), None, Some(-3), Some(7), None, Some(10)],
    )
    .unwrap()
    .hstack(&[ts.into()])
    .unwrap()
}

async fn fetch_handle(client: &mut PolaroidClient<Channel>, handle: &str) -> DataFrame {
    fetch_all(client, FetchRequest { handle: handle.into(), ..Default::default() }).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_round_trips_mixed_types_in_many_chunks() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let local = mixed();
    let info = upload(&mut client, "mixed", &local, 100).await.unwrap();
    assert_eq!((info.kind(), info.rows, info.lineage.as_str()), (HandleKind::Frame, Some(6), "upload(\"mixed\")"));
    let remote = fetch_handle(&mut client, &info.handle).await;
    assert!(remote.equals_missing(&local), "{remote}\n{local}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_upload_is_refused_and_leaves_no_handle() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let before = client.stats(StatsRequest {}).await.unwrap().into_inner();
    let mut valid = Vec::new();
    IpcStreamWriter::new(&mut valid).finish(&mut mixed()).unwrap();
    let truncated = valid[..valid.len() / 2].to_vec();
    let mut garbled = valid.clone();
    for b in garbled.iter_mut().skip(8).step_by(7) {
        *b ^= 0x5a;
    }
    for (what, bytes) in [("garbage", b"definitely not arrow".to_vec()), ("truncated", truncated), ("garbled", garbled), ("empty", vec![])] {
        let err = upload_bytes(&mut client, what, bytes, 64).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert!(err.message().contains("upload"), "{what}: {}", err.message());
    }
    let after = client.stats(StatsRequest {}).await.unwrap().into_inner();
    assert_eq!((after.handles, after.inserted), (before.handles, before.inserted));
    // And the server still takes a good upload.
    upload(&mut client, "ok", &mixed(), 1 << 20).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_slice_unique_drop_nulls_rename_concat_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let local = mixed();
    let h = upload(&mut client, "mixed", &local, 1 << 20).await.unwrap().handle;

    let sorted = client
        .sort(SortRequest {
            handle: h.clone(),
            by: vec![
                SortKey { column: "qty".into(), descending: true, nulls_last: true },
                SortKey { column: "id".into(), descending: false, nulls_last: false },
            ],
            maintain_order: true,
        })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert_eq!(sorted.lineage, "upload(\"mixed\").sort(qty desc, id)");
    let expected = local
        .clone()
        .lazy()
        .sort(
            ["qty", "id"],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false])
                .with_nulls_last_multi([true, false])
                .with_maintain_order(true),
        )
        .collect()
        .unwrap();
    assert!(fetch_handle(&mut client, &sorted.handle).await.equals_missing(&expected));

    for (offset, length) in [(1i64, Some(3u64)), (-2, None), (4, Some(100))] {
        let s = client.slice(SliceRequest { handle: h.clone(), offset, length }).await.unwrap().into_inner().info.unwrap();
        let expected = local.clone().lazy().slice(offset, length.map_or(IdxSize::MAX, |l| l as IdxSize)).collect().unwrap();
        assert!(fetch_handle(&mut client, &s.handle).await.equals_missing(&expected), "slice({offset}, {length:?})");
    }

    for (subset, keep, polars_keep) in [
        (vec![], UniqueKeep::First, UniqueKeepStrategy::First),
        (vec!["id".to_string()], UniqueKeep::Last, UniqueKeepStrategy::Last),
        (vec!["name".to_string(), "flag".to_string()], UniqueKeep::None, UniqueKeepStrategy::None),
    ] {
        let u = client
            .unique(UniqueRequest { handle: h.clone(), subset: subset.clone(), keep: keep as i32, maintain_order: true })
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        let subset_exprs = (!subset.is_empty()).then(|| subset.iter().map(|c| col(c.as_str())).collect());
        let expected = local.clone().lazy().unique_stable_generic(subset_exprs, polars_keep).collect().unwrap();
        assert!(fetch_handle(&mut client, &u.handle).await.equals_missing(&expected), "unique {subset:?}");
    }

    let d = client.drop_nulls(DropNullsRequest { handle: h.clone(), subset: vec!["qty".into()] }).await.unwrap().into_inner().info.unwrap();
    let remote = fetch_handle(&mut client, &d.handle).await;
    assert_eq!(remote.height(), 4);
    assert!(remote.equals_missing(&local.clone().lazy().drop_nulls(Some(cols(["qty"]))).collect().unwrap()));
    let d = client.drop_nulls(DropNullsRequest { handle: h.clone(), subset: vec![] }).await.unwrap().into_inner().info.unwrap();
    let remote = fetch_handle(&mut client, &d.handle).await;
    // Rows 1 and 4 hold the nulls (a NaN price is not null).
    assert_eq!(remote.height(), 4);
    assert!(remote.equals_missing(&local.clone().lazy().drop_nulls(None).collect().unwrap()));

    let r = client
        .rename(RenameRequest { handle: h.clone(), mapping: [("id".into(), "key".into())].into(), strict: true })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    let names: Vec<_> = r.schema.unwrap().fields.into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["key", "price", "name", "flag", "qty", "ts"]);
    let err = client
        .rename(RenameRequest { handle: h.clone(), mapping: [("nope".into(), "x".into())].into(), strict: true })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("nope"), "{}", err.message());

    let c = client.concat(ConcatRequest { handles: vec![h.clone(), sorted.handle.clone(), h.clone()], ..Default::default() }).await.unwrap().into_inner().info.unwrap();
    let remote = fetch_handle(&mut client, &c.handle).await;
    let expected = concat([local.clone().lazy(), expected_sorted(&local), local.clone().lazy()], UnionArgs::default())
        .unwrap()
        .collect()
        .unwrap();
    assert!(remote.equals_missing(&expected));
    let err = client.concat(ConcatRequest { handles: vec![h.clone()], ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    server.stop().await;
}

fn expected_sorted(local: &DataFrame) -> LazyFrame {
    local.clone().lazy().sort(
        ["qty", "id"],
        SortMultipleOptions::default()
            .with_order_descending_multi([true, false])
            .with_nulls_last_multi([true, false])
            .with_maintain_order(true),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_join_kind_equals_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let left = df!("k" => [1i64, 2, 2, 3, 5], "a" => ["x", "y", "z", "w", "v"]).unwrap();
    let right = df!("k" => [2i64, 3, 3, 4], "b" => [20.0f64, 30.0, 31.0, 40.0], "a" => ["p", "q", "r", "s"]).unwrap();
    let l = upload(&mut client, "left", &left, 1 << 20).await.unwrap().handle;
    let r = upload(&mut client, "right", &right, 1 << 20).await.unwrap().handle;
    for (how, join_type) in [
        (JoinHow::Inner, JoinType::Inner),
        (JoinHow::Left, JoinType::Left),
        (JoinHow::Right, JoinType::Right),
        (JoinHow::Full, JoinType::Full),
        (JoinHow::Semi, JoinType::Semi),
        (JoinHow::Anti, JoinType::Anti),
        (JoinHow::Cross, JoinType::Cross),
    ] {
        let keys = if how == JoinHow::Cross { vec![] } else { vec!["k".to_string()] };
        let info = client
            .join(JoinRequest {
                left: l.clone(),
                right: r.clone(),
                left_on: keys.clone(),
                right_on: keys.clone(),
                how: how as i32,
                suffix: Some("_r".into()),
                asof: None,
                predicates: vec![],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        let on: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        let sort_cols: Vec<PlSmallStr> = info.schema.clone().unwrap().fields.iter().map(|f| f.name.as_str().into()).collect();
        // Join output order is unspecified: compare sorted by every column.
        let expected = left
            .clone()
            .lazy()
            .join(right.clone().lazy(), on.clone(), on, JoinArgs::new(join_type).with_suffix(Some("_r".into())))
            .sort(sort_cols.clone(), SortMultipleOptions::default().with_nulls_last(true))
            .collect()
            .unwrap();
        let remote = fetch_handle(&mut client, &info.handle)
            .await
            .lazy()
            .sort(sort_cols, SortMultipleOptions::default().with_nulls_last(true))
            .collect()
            .unwrap();
        assert!(remote.equals_missing(&expected), "{how:?}\n{remote}\n{expected}");
    }
    let err = client
        .join(JoinRequest { left: l.clone(), right: r.clone(), left_on: vec!["k".into()], right_on: vec![], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .join(JoinRequest { left: l, right: r, left_on: vec!["nope".into()], right_on: vec!["k".into()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("nope"), "{}", err.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asof_join_of_trades_to_quotes_by_symbol_equals_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let scan = |p: &str| polaroid_grpc::proto::ScanRequest { path: p.into(), ..Default::default() };
    let trades = client.scan(scan("trades.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    let quotes = client.scan(scan("quotes.parquet")).await.unwrap().into_inner().info.unwrap().handle;
    for (strategy, polars_strategy, tolerance) in [
        (AsofStrategy::Backward, polars::prelude::AsofStrategy::Backward, Some("20us")),
        (AsofStrategy::Forward, polars::prelude::AsofStrategy::Forward, None),
        (AsofStrategy::Nearest, polars::prelude::AsofStrategy::Nearest, Some("1s")),
    ] {
        let info = client
            .join(JoinRequest {
                left: trades.clone(),
                right: quotes.clone(),
                left_on: vec!["ts".into()],
                right_on: vec!["ts".into()],
                how: JoinHow::Asof as i32,
                suffix: None,
                asof: Some(AsofOptions {
                    strategy: strategy as i32,
                    left_by: vec!["symbol".into()],
                    right_by: vec!["symbol".into()],
                    tolerance: tolerance.map(|t| asof_options::Tolerance::ToleranceDuration(t.into())),
                    allow_exact_matches: None,
                }),
                predicates: vec![],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        let remote = fetch_handle(&mut client, &info.handle).await;
        let read = |p: &str| {
            LazyFrame::scan_parquet(PlRefPath::new(crate::sample_path(p).to_string_lossy().as_ref()), Default::default()).unwrap()
        };
        let options = AsOfOptions {
            strategy: polars_strategy,
            tolerance_str: tolerance.map(PlSmallStr::from),
            left_by: Some(vec!["symbol".into()]),
            right_by: Some(vec!["symbol".into()]),
            allow_eq: true,
            check_sortedness: true,
            tolerance: None,
        };
        let expected = read("trades.parquet")
            .join(read("quotes.parquet"), [col("ts")], [col("ts")], JoinArgs::new(JoinType::AsOf(Box::new(options))))
            .collect()
            .unwrap();
        assert_eq!(remote.height(), 112_000);
        assert!(remote.column("bid").unwrap().null_count() < 112_000, "some trades matched");
        assert_frames_close(&remote, &expected);
    }
    let err = client
        .join(JoinRequest {
            left: trades.clone(),
            right: quotes,
            left_on: vec!["ts".into()],
            right_on: vec!["ts".into()],
            how: JoinHow::Asof as i32,
            suffix: None,
            asof: Some(AsofOptions {
                tolerance: Some(asof_options::Tolerance::ToleranceDuration("five seconds".into())),
                ..Default::default()
            }),
            predicates: vec![],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("five seconds"), "{}", err.message());
    server.stop().await;
}

/// A `where` join needs predicates and no keys; other joins take no predicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_where_requests_are_checked() {
    use polaroid_grpc::proto::{expr::Kind, Expr as ProtoExpr, ScanRequest};
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let scan = ScanRequest { path: "trades.parquet".into(), ..Default::default() };
    let t = client.scan(scan).await.unwrap().into_inner().info.unwrap().handle;
    let column = ProtoExpr { kind: Some(Kind::Column("price".into())) };
    let cases = [
        (JoinHow::Where, vec![], vec![], "a `where` join needs at least one expression in `predicates`"),
        (JoinHow::Where, vec!["ts".to_string()], vec![column.clone()], "a `where` join takes predicates, not key columns"),
        (JoinHow::Inner, vec!["ts".to_string()], vec![column], "only a `where` join takes predicates"),
    ];
    for (how, keys, predicates, expected) in cases {
        let request = JoinRequest {
            left: t.clone(),
            right: t.clone(),
            left_on: keys.clone(),
            right_on: keys,
            how: how as i32,
            predicates,
            ..Default::default()
        };
        let err = client.join(request).await.unwrap_err();
        assert_eq!((err.code(), err.message()), (Code::InvalidArgument, expected));
    }
    server.stop().await;
}

/// A group-by window that cannot be run is INVALID_ARGUMENT naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_group_by_windows_are_refused_by_name() {
    use polaroid_grpc::proto::{group_by_request::Window, DynamicGroup, GroupByRequest, RollingGroup, ScanRequest};
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let scan = ScanRequest { path: "trades.parquet".into(), ..Default::default() };
    let trades = client.scan(scan).await.unwrap().into_inner().info.unwrap().handle;
    let dynamic = |every: &str, more: fn(&mut DynamicGroup)| {
        let mut d = DynamicGroup { index_column: "ts".into(), every: every.into(), ..Default::default() };
        more(&mut d);
        Some(Window::Dynamic(d))
    };
    let cases = [
        (dynamic("", |_| {}), "group_by_dynamic needs `every`"),
        (dynamic("5 minutes", |_| {}), "every \"5 minutes\""),
        (dynamic("-5m", |_| {}), "every \"-5m\" must be positive"),
        (dynamic("5m", |d| d.index_column.clear()), "a window needs its `index_column`"),
        (dynamic("5m", |d| d.closed = "open".into()), "window closed \"open\": expected left, right, both or none"),
        (dynamic("5m", |d| d.start_by = "noon".into()), "start_by \"noon\""),
        (Some(Window::Rolling(RollingGroup { index_column: "ts".into(), ..Default::default() })), "rolling needs `period`"),
    ];
    for (window, expected) in cases {
        let request = GroupByRequest { handle: trades.clone(), window, ..Default::default() };
        let err = client.group_by(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{expected}: {err:?}");
        assert!(err.message().contains(expected), "expected {expected:?} in {:?}", err.message());
    }
    // Without a window, keys are still required.
    let err = client.group_by(GroupByRequest { handle: trades, ..Default::default() }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "group_by needs at least one key in `keys`"));
    server.stop().await;
}

/// Explode, unpivot and a row index, over the protocol, equal polars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explode_unpivot_and_row_index_equal_polars() {
    use polaroid_grpc::proto::{ExplodeRequest, UnpivotRequest, WithRowIndexRequest};
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let lists = df!("k" => ["a", "b", "c"], "v" => [1i64, 2, 3]).unwrap().lazy()
        .select([col("k"), concat_list([col("v"), col("v") * lit(10)]).unwrap().alias("l")])
        .with_row_index("n", None)
        .with_column(when(col("n").eq(lit(1))).then(lit(NULL).cast(DataType::List(Box::new(DataType::Int64)))).otherwise(col("l")).alias("l"))
        .drop(cols(["n"]))
        .collect()
        .unwrap();
    let handle = upload(&mut client, "lists", &lists, 100).await.unwrap().handle;
    let exploded = |keep_nulls| ExplodeRequest { handle: handle.clone(), columns: vec!["l".into()], empty_as_null: false, keep_nulls };
    for keep_nulls in [None, Some(false)] {
        let info = client.explode(exploded(keep_nulls)).await.unwrap().into_inner().info.unwrap();
        let got = fetch_handle(&mut client, &info.handle).await;
        let options = ExplodeOptions { empty_as_null: false, keep_nulls: keep_nulls.unwrap_or(true) };
        let want = lists.clone().lazy().explode(cols(["l"]), options).collect().unwrap();
        assert!(got.equals_missing(&want), "{got}\n{want}");
    }
    let wide = mixed();
    let wide_handle = upload(&mut client, "wide", &wide, 100).await.unwrap().handle;
    let request = UnpivotRequest {
        handle: wide_handle.clone(),
        on: vec!["price".into(), "qty".into()],
        index: vec!["id".into()],
        variable_name: "field".into(),
        value_name: String::new(),
    };
    let info = client.unpivot(request).await.unwrap().into_inner().info.unwrap();
    let got = fetch_handle(&mut client, &info.handle).await;
    let want = wide.clone().lazy().unpivot(UnpivotArgsDSL {
        on: Some(cols(["price", "qty"])),
        index: cols(["id"]),
        variable_name: Some("field".into()),
        value_name: None,
    }).collect().unwrap();
    assert_eq!(got.get_column_names(), ["id", "field", "value"]);
    // polars' streaming engine unpivots morsel by morsel, so rows come in
    // another order than in memory (the upload made several chunks).
    let sorted = |df: DataFrame| df.sort(["field", "id", "value"], SortMultipleOptions::default().with_nulls_last(true)).unwrap();
    assert_frames_close(&sorted(got), &sorted(want));
    let info = client.with_row_index(WithRowIndexRequest { handle: wide_handle, name: String::new(), offset: 100 }).await.unwrap().into_inner().info.unwrap();
    let got = fetch_handle(&mut client, &info.handle).await;
    assert_eq!(got.column("index").unwrap().idx().unwrap().into_no_null_iter().collect::<Vec<_>>(), [100, 101, 102, 103, 104, 105]);
    let err = client.explode(ExplodeRequest { handle, ..Default::default() }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "explode needs at least one column in `columns`"));
    server.stop().await;
}

/// coalesce, nulls_equal, maintain_order, keys by expression and validate
/// run as polars runs them (each option was dropped before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_options_equal_polars() {
    use polaroid_grpc::proto::{expr::Kind, BinaryExpr, BinaryOp, Expr as ProtoExpr, Literal};
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let left = df!("k" => [Some(1i64), None, Some(2), Some(2), Some(4)], "a" => ["x", "y", "z", "w", "v"]).unwrap();
    let right = df!("k" => [None, Some(2i64), Some(3), Some(1)], "b" => [10i64, 20, 30, 40]).unwrap();
    let l = upload(&mut client, "left", &left, 1 << 20).await.unwrap().handle;
    let r = upload(&mut client, "right", &right, 1 << 20).await.unwrap().handle;
    let keys = || vec!["k".to_string()];
    // k + 1 on the left meets k on the right.
    let plus_one = ProtoExpr {
        kind: Some(Kind::Binary(Box::new(BinaryExpr {
            left: Some(Box::new(ProtoExpr { kind: Some(Kind::Column("k".into())) })),
            op: BinaryOp::Add as i32,
            right: Some(Box::new(ProtoExpr {
                kind: Some(Kind::Literal(Literal { value: Some(polaroid_grpc::proto::literal::Value::Int64(1)), dtype: None })),
            })),
        }))),
    };
    let cases: Vec<(JoinRequest, JoinArgs, Option<(Vec<Expr>, Vec<Expr>)>)> = vec![
        (
            JoinRequest { how: JoinHow::Full as i32, left_on: keys(), right_on: keys(), coalesce: Some(true), maintain_order: "left_right".into(), ..Default::default() },
            JoinArgs { coalesce: JoinCoalesce::CoalesceColumns, maintain_order: MaintainOrderJoin::LeftRight, ..JoinArgs::new(JoinType::Full) },
            None,
        ),
        (
            JoinRequest { how: JoinHow::Left as i32, left_on: keys(), right_on: keys(), coalesce: Some(false), maintain_order: "left".into(), ..Default::default() },
            JoinArgs { coalesce: JoinCoalesce::KeepColumns, maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) },
            None,
        ),
        (
            JoinRequest { how: JoinHow::Inner as i32, left_on: keys(), right_on: keys(), nulls_equal: true, maintain_order: "right_left".into(), ..Default::default() },
            JoinArgs { nulls_equal: true, maintain_order: MaintainOrderJoin::RightLeft, ..JoinArgs::new(JoinType::Inner) },
            None,
        ),
        (
            JoinRequest { how: JoinHow::Left as i32, left_on_exprs: vec![plus_one], right_on_exprs: vec![ProtoExpr { kind: Some(Kind::Column("k".into())) }], maintain_order: "left".into(), ..Default::default() },
            JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) },
            Some((vec![col("k") + lit(1)], vec![col("k")])),
        ),
    ];
    for (request, args, exprs) in cases {
        let request = JoinRequest { left: l.clone(), right: r.clone(), ..request };
        let lineage_has = format!("maintain_order={}", request.maintain_order);
        let info = client.join(request.clone()).await.unwrap().into_inner().info.unwrap();
        assert!(info.lineage.contains(&lineage_has), "{}", info.lineage);
        let (on_left, on_right) = exprs.unwrap_or_else(|| (vec![col("k")], vec![col("k")]));
        let expected = left.clone().lazy().join(right.clone().lazy(), on_left, on_right, args).collect().unwrap();
        // Every case keeps an order, so rows compare as they come.
        let remote = fetch_handle(&mut client, &info.handle).await;
        assert!(remote.equals_missing(&expected), "{request:?}\n{remote}\n{expected}");
    }

    // Duplicate keys on both sides fail 1:1 validation, as in polars (when the join runs).
    let validated = JoinRequest { left: l.clone(), right: l.clone(), left_on: keys(), right_on: keys(), validate: "1:1".into(), ..Default::default() };
    let reply = client.join(validated).await;
    let err = failure(&mut client, reply).await;
    assert!(err.message().contains("1:1"), "{err:?}");
    for (request, expected) in [
        (JoinRequest { maintain_order: "sorted".into(), ..Default::default() }, "unknown maintain_order \"sorted\""),
        (JoinRequest { validate: "1:n".into(), ..Default::default() }, "unknown validate \"1:n\""),
        (
            JoinRequest { left_on_exprs: vec![ProtoExpr { kind: Some(Kind::Column("k".into())) }], ..Default::default() },
            "keys are either columns (left_on/right_on) or expressions",
        ),
    ] {
        let request = JoinRequest { left: l.clone(), right: r.clone(), left_on: keys(), right_on: keys(), ..request };
        let err = client.join(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(expected), "{}", err.message());
    }
    server.stop().await;
}

/// pl.concat's kinds: relaxed and diagonal stacks, side by side, padded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concat_kinds_equal_polars() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    let a = df!("x" => [1i32, 2, 3], "y" => ["a", "b", "c"]).unwrap();
    let b = df!("x" => [0.5f64, 1.5], "z" => [true, false]).unwrap();
    let c = df!("w" => [7i64, 8, 9]).unwrap();
    let (ha, hb, hc) = (
        upload(&mut client, "a", &a, 1 << 20).await.unwrap().handle,
        upload(&mut client, "b", &b, 1 << 20).await.unwrap().handle,
        upload(&mut client, "c", &c, 1 << 20).await.unwrap().handle,
    );
    let relaxed = UnionArgs { to_supertypes: true, ..Default::default() };
    let cases: Vec<(&str, Vec<&String>, LazyFrame)> = vec![
        (
            "vertical_relaxed",
            vec![&ha, &ha],
            concat([a.clone().lazy(), a.clone().lazy().with_column(col("x").cast(DataType::Float64))], relaxed).unwrap(),
        ),
        ("diagonal", vec![&ha, &hc], concat_lf_diagonal([a.clone().lazy(), c.clone().lazy()], UnionArgs::default()).unwrap()),
        ("diagonal_relaxed", vec![&ha, &hb], concat_lf_diagonal([a.clone().lazy(), b.clone().lazy()], relaxed).unwrap()),
        ("horizontal", vec![&ha, &hc], concat_lf_horizontal([a.clone().lazy(), c.clone().lazy()], HConcatOptions::default()).unwrap()),
        (
            "horizontal_extend",
            vec![&hb, &hc],
            concat_lf_horizontal([b.clone().lazy(), c.clone().lazy()], HConcatOptions { strict: false, ..Default::default() }).unwrap(),
        ),
    ];
    for (how, handles, expected) in cases {
        let handles = if how == "vertical_relaxed" {
            // The second frame's x as f64 on the server too.
            let cast = client
                .with_columns(polaroid_grpc::proto::WithColumnsRequest {
                    handle: ha.clone(),
                    exprs: vec![polaroid_grpc::proto::Expr {
                        kind: Some(polaroid_grpc::proto::expr::Kind::Cast(Box::new(polaroid_grpc::proto::Cast {
                            expr: Some(Box::new(polaroid_grpc::proto::Expr { kind: Some(polaroid_grpc::proto::expr::Kind::Column("x".into())) })),
                            dtype: "f64".into(),
                            non_strict: false,
                        }))),
                    }],
                })
                .await
                .unwrap()
                .into_inner()
                .info
                .unwrap()
                .handle;
            vec![handles[0].clone(), cast]
        } else {
            handles.into_iter().cloned().collect()
        };
        let info = client.concat(ConcatRequest { handles, how: how.into(), ..Default::default() }).await.unwrap().into_inner().info.unwrap();
        assert!(info.lineage.ends_with(&format!("how={how})")), "{}", info.lineage);
        let remote = fetch_handle(&mut client, &info.handle).await;
        let expected = expected.collect().unwrap();
        assert!(remote.equals_missing(&expected), "{how}\n{remote}\n{expected}");
    }
    // One height for "horizontal"; a plain vertical concat needs one schema.
    let uneven = client.concat(ConcatRequest { handles: vec![hb.clone(), hc.clone()], how: "horizontal".into(), ..Default::default() }).await;
    let err = failure(&mut client, uneven).await;
    assert!(err.message().contains("length"), "{err:?}");

    // A one-row frame beside others: repeated with broadcast_unit_length (SQL's scalar subqueries), padded without.
    let one = upload(&mut client, "one", &df!("m" => [10i64]).unwrap(), 1 << 20).await.unwrap().handle;
    for (broadcast, m) in [(true, [Some(10i64), Some(10), Some(10)]), (false, [Some(10), None, None])] {
        let request = ConcatRequest { handles: vec![ha.clone(), one.clone()], how: "horizontal_extend".into(), broadcast_unit_length: broadcast };
        let info = client.concat(request).await.unwrap().into_inner().info.unwrap();
        let remote = fetch_handle(&mut client, &info.handle).await;
        let expected = a.hstack(&[Column::new("m".into(), m)]).unwrap();
        assert!(remote.equals_missing(&expected), "{broadcast}\n{remote}");
    }
    for how in ["vertical", "horizontal"] {
        let request = ConcatRequest { handles: vec![ha.clone(), one.clone()], how: how.into(), broadcast_unit_length: true };
        let err = client.concat(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains("broadcast_unit_length applies to how=horizontal_extend"), "{err:?}");
    }
    let err = client.concat(ConcatRequest { handles: vec![ha.clone(), hb.clone()], how: "sideways".into(), ..Default::default() }).await.unwrap_err();
    assert_eq!((err.code(), err.message().starts_with("unknown concat how \"sideways\"")), (Code::InvalidArgument, true), "{err:?}");
    server.stop().await;
}

/// The error of a request, or else of fetching the handle it made (polars
/// finds some errors only when the plan runs).
async fn failure(
    client: &mut PolaroidClient<Channel>,
    reply: Result<tonic::Response<polaroid_grpc::proto::HandleReply>, tonic::Status>,
) -> tonic::Status {
    let handle = match reply {
        Err(e) => return e,
        Ok(reply) => reply.into_inner().info.unwrap().handle,
    };
    let mut stream = match client.fetch(FetchRequest { handle, ..Default::default() }).await {
        Err(e) => return e,
        Ok(stream) => stream.into_inner(),
    };
    loop {
        match stream.message().await {
            Err(e) => return e,
            Ok(None) => panic!("the request and its fetch both succeeded"),
            Ok(Some(_)) => {},
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_sorted_interleaves_two_sorted_frames() {
    let server = TestServer::with_sample().await;
    let mut client = server.client().await;
    // Two venues' ticks, each sorted by ts; ts 2 and 5 are in both.
    let left = df!("ts" => [1i64, 2, 5, 9], "venue" => ["A", "A", "A", "A"], "px" => [10.0, 10.5, 11.0, 12.0]).unwrap();
    let right = df!("ts" => [2i64, 3, 5, 5, 10], "venue" => ["B", "B", "B", "B", "B"], "px" => [20.0, 20.5, 21.0, 21.5, 22.0]).unwrap();
    let hl = upload(&mut client, "left", &left, 1 << 20).await.unwrap().handle;
    let hr = upload(&mut client, "right", &right, 1 << 20).await.unwrap().handle;
    let info = client
        .merge_sorted(MergeSortedRequest { left: hl.clone(), right: hr.clone(), key: vec!["ts".into()] })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert!(info.lineage.contains(".merge_sorted(upload(\"right\"), key=[ts])"), "{}", info.lineage);
    let merged = fetch_handle(&mut client, &info.handle).await;
    // Worked by hand: sorted by ts, the left frame's rows first among equal keys.
    let expected = df!(
        "ts" => [1i64, 2, 2, 3, 5, 5, 5, 9, 10],
        "venue" => ["A", "A", "B", "B", "A", "B", "B", "A", "B"],
        "px" => [10.0, 10.5, 20.0, 20.5, 11.0, 21.0, 21.5, 12.0, 22.0]
    )
    .unwrap();
    assert!(merged.equals_missing(&expected), "{merged}\n{expected}");
    let local = left.clone().lazy().merge_sorted(right.clone().lazy(), ["ts"], true).unwrap().collect().unwrap();
    assert!(merged.equals_missing(&local), "{merged}\n{local}");

    // No key; a key the frames lack; frames of two schemas.
    let err = client.merge_sorted(MergeSortedRequest { left: hl.clone(), right: hr.clone(), key: vec![] }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "merge_sorted needs at least one key column"));
    let missing = client.merge_sorted(MergeSortedRequest { left: hl.clone(), right: hr.clone(), key: vec!["time".into()] }).await;
    let err = failure(&mut client, missing).await;
    assert!(err.message().contains("time"), "{err:?}");
    let other = upload(&mut client, "other", &df!("ts" => [1i64], "px" => [1.0]).unwrap(), 1 << 20).await.unwrap().handle;
    let uneven = client.merge_sorted(MergeSortedRequest { left: hl, right: other, key: vec!["ts".into()] }).await;
    let err = failure(&mut client, uneven).await;
    assert!(err.message().contains("merge_sorted") || err.message().contains("schema"), "{err:?}");
    server.stop().await;
}
