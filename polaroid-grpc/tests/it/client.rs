//! The Polars-style client: the same polars expressions run on the server
//! and in-process give the same frames.

use polaroid_grpc::client::{Client, ClientError, ConcatHow, Shipping};
use polars::prelude::*;

use crate::{assert_frames_close, sample_path, TestServer};

fn local(name: &str) -> LazyFrame {
    LazyFrame::scan_parquet(PlRefPath::new(sample_path(name).to_string_lossy().as_ref()), Default::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_polars_expressions_matches_in_process_polars() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap();

    let predicate = col("size")
        .gt_eq(lit(100))
        .and(col("symbol").str().starts_with(lit("A")).not())
        .and(col("symbol").is_in(lit(Series::new("set".into(), ["MSFT", "TSLA", "IBM"])).implode(true), false));
    let derived = [
        (col("price") * col("size")).alias("notional"),
        col("ts").dt().hour().alias("hour"),
        (col("price") - col("price").mean().over([col("symbol")]).unwrap()).alias("dev"),
        col("price").shift(lit(1)).over([col("symbol")]).unwrap().alias("prev"),
        when(col("size").gt(lit(1000))).then(lit("block")).otherwise(lit("lot")).alias("kind"),
    ];
    let aggs = [
        (col("notional").sum() / col("size").sum()).alias("vwap"),
        col("price").std(1).alias("vol"),
        col("dev").abs().max().alias("max_dev"),
        col("kind").n_unique().alias("kinds"),
        len().alias("n"),
        col("price").quantile(lit(0.5), QuantileMethod::Linear).alias("p50"),
    ];

    let trades = client.scan_parquet("trades.parquet").await.unwrap();
    let remote = trades
        .filter(predicate.clone())
        .await
        .unwrap()
        .with_columns(derived.clone())
        .await
        .unwrap()
        .group_by_stable([col("symbol"), col("hour")])
        .agg(aggs.clone())
        .await
        .unwrap()
        .sort(["symbol", "hour"], SortMultipleOptions::default().with_maintain_order(true))
        .await
        .unwrap();
    assert!(remote.lineage().starts_with("scan_parquet(\"trades.parquet\").filter("), "{}", remote.lineage());
    let collected = remote.collect().await.unwrap();
    let fetched = collected.fetch().await.unwrap();
    assert_eq!(collected.rows(), Some(fetched.height() as u64));

    let expected = local("trades.parquet")
        .filter(predicate)
        .with_columns(derived)
        .group_by_stable([col("symbol"), col("hour")])
        .agg(aggs)
        .sort(["symbol", "hour"], SortMultipleOptions::default().with_maintain_order(true))
        .collect()
        .unwrap();
    assert_eq!(fetched.height(), 2 * 7, "MSFT and TSLA (the is_in set less IBM) over seven trading hours");
    assert_frames_close(&fetched, &expected);
    assert!(collected.explain().await.unwrap().contains("DF"), "a collected frame explains as an in-memory scan");
    server.stop().await;
}

/// Numeric, row-wise, fill, rank, string and temporal functions travel as
/// polaroid.v1's expression tree (what other languages' clients send) and
/// give what polars gives in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_in_the_expression_protocol_match_polars() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(Shipping::Expressions);
    // Nulls where size > 300, for the fill to fill.
    let holes = || when(col("size").gt(lit(300))).then(lit(NULL).cast(DataType::Int64)).otherwise(col("size"));
    let exprs = || {
        [
            col("symbol"),
            col("price").pow(lit(2)).alias("sq"),
            col("price").clip(lit(150), lit(300)).alias("clipped"),
            col("price").clip_min(lit(200)).alias("at_least"),
            col("price").log1p().alias("l1p"),
            col("price").floor().alias("fl"),
            col("price").ceil().alias("ce"),
            col("price").is_between(lit(150), lit(300), ClosedInterval::Left).alias("between"),
            col("size").shift_and_fill(lit(2), lit(-1)).alias("shifted"),
            holes().alias("holes"),
            holes().interpolate(InterpolationMethod::Linear).alias("interp"),
            col("price").ewm_mean(EWMOptions { alpha: 0.2, adjust: false, ..Default::default() }).alias("ema"),
            col("price").ewm_var(EWMOptions { alpha: 0.1, bias: true, min_periods: 3, ..Default::default() }).alias("ewm_var"),
            col("symbol").is_first_distinct().alias("first_seen"),
            (col("price") - lit(200)).sign().alias("side"),
            holes().fill_null_with_strategy(FillNullStrategy::Forward(Some(2))).alias("ffill"),
            col("price").rank(RankOptions { method: RankMethod::Min, descending: true }, None).alias("rank"),
            polars::lazy::dsl::sum_horizontal([col("price"), col("size")], true).unwrap().alias("sum_h"),
            polars::lazy::dsl::max_horizontal([col("price"), col("size")]).unwrap().alias("max_h"),
            concat_str([col("symbol"), col("size").cast(DataType::String)], ":", false).alias("key"),
            col("symbol").str().replace(lit("A"), lit("a"), true).alias("first_a"),
            col("ts").dt().offset_by(lit("1d2h")).alias("later"),
            col("ts")
                .dt()
                .strftime("%Y-%m-%d %H:%M")
                .str()
                .to_datetime(
                    Some(TimeUnit::Milliseconds),
                    Some(TimeZone::UTC),
                    StrptimeOptions { format: Some("%Y-%m-%d %H:%M".into()), ..Default::default() },
                    lit("raise"),
                )
                .alias("minute"),
            col("ts").dt().strftime("%Y-%m-%d").str().to_date(StrptimeOptions::default()).alias("day"),
            col("price")
                .rolling_std(RollingOptionsFixedWindow {
                    window_size: 5,
                    min_periods: 2,
                    fn_params: Some(RollingFnParams::Var(RollingVarParams { ddof: 0 })),
                    ..Default::default()
                })
                .alias("std5_ddof0"),
            // A window of rows around each row, of an even size.
            col("price")
                .rolling_mean(RollingOptionsFixedWindow { window_size: 4, min_periods: 1, center: true, ..Default::default() })
                .alias("centred4"),
            col("price")
                .rolling_mean_by(col("ts"), RollingOptionsDynamicWindow {
                    window_size: Duration::parse("1m30s"),
                    min_periods: 2,
                    closed_window: ClosedWindow::Both,
                    fn_params: None,
                })
                .alias("mean_90s"),
            col("price")
                .rolling_var_by(col("ts"), RollingOptionsDynamicWindow {
                    window_size: Duration::parse("10m"),
                    min_periods: 1,
                    closed_window: ClosedWindow::Right,
                    fn_params: Some(RollingFnParams::Var(RollingVarParams { ddof: 0 })),
                })
                .alias("var_10m_ddof0"),
            col("price").arg_sort(true, false).alias("order"),
            // Halves tell the modes apart (2.5: 2 to even, 3 away from zero).
            (col("size") / lit(2.0)).round(0, RoundMode::HalfToEven).alias("r_even"),
            (col("size") / lit(2.0)).round(0, RoundMode::HalfAwayFromZero).alias("r_away"),
            coalesce(&[holes(), lit(-1i64)]).alias("coalesced"),
            holes().fill_null_with_strategy(FillNullStrategy::Mean).alias("mean_filled"),
            col("symbol").str().replace_all(lit("A"), lit("a"), true).alias("all_a"),
            col("symbol").str().strip_chars(lit("AT")).alias("stripped"),
            col("symbol").str().strip_chars_end(lit(NULL)).alias("trimmed"),
            col("symbol").str().pad_end(lit(6u64), '.').alias("padded"),
            col("symbol").str().zfill(lit(6u64)).alias("zeros"),
            col("symbol").str().tail(lit(2i64)).alias("tail2"),
            col("symbol").str().extract(lit("^(.)(.)"), 1).alias("initial"),
            col("symbol").str().count_matches(lit("[AEIOU]"), false).alias("vowels"),
            col("ts").dt().week().alias("week"),
            col("ts").dt().quarter().alias("quarter"),
            col("ts").dt().time().alias("time"),
            col("ts").dt().round(lit("1h")).alias("hour"),
            (col("ts") - col("ts").shift(lit(1))).dt().total_seconds(true).alias("gap_s"),
            col("ts").dt().month_start().alias("month_start"),
            col("ts").dt().cast_time_unit(TimeUnit::Milliseconds).alias("ts_ms"),
            col("symbol").str().reverse().alias("rev"),
            col("price").rolling_median(RollingOptionsFixedWindow { window_size: 5, min_periods: 2, ..Default::default() }).alias("med5"),
            col("price").rolling_quantile(QuantileMethod::Higher, 0.75, RollingOptionsFixedWindow { window_size: 6, ..Default::default() }).alias("q75"),
            col("price").ewm_mean_by(col("ts"), Duration::parse("10m")).alias("ewm_10m"),
            concat_list([col("price"), col("size").cast(DataType::Float64)]).unwrap().list().slice(lit(1), lit(1)).alias("second"),
            col("size").cast(DataType::String).str().to_integer(lit(16u32), None, false).alias("hex"),
            col("size").cum_sum(false).over_with_options(Some([col("symbol")]), Some(([col("ts")], SortOptions::default().with_order_descending(true))), WindowMapping::GroupsToRows).unwrap().alias("running"),
        ]
    };
    let got = client.scan_parquet("trades.parquet").await.unwrap().select(exprs()).await.unwrap().fetch().await.unwrap();
    let want = local("trades.parquet").select(exprs()).collect().unwrap();
    assert!(got.height() > 1000);
    // Filters and slices inside an aggregation.
    let aggs = || {
        [
            col("price").filter(col("size").gt(lit(100))).mean().alias("big_avg"),
            col("price").sort(Default::default()).slice(lit(1), lit(2)).alias("second_and_third"),
            col("price").gather_every(5, 1).alias("every_fifth"),
            col("price").drop_nulls().first().alias("first_price"),
            col("price").top_k(lit(3)).alias("top3"),
            col("price").bottom_k(lit(2)).alias("bottom2"),
            col("symbol").mode(true).alias("mode"),
            pearson_corr(col("price"), col("size")).alias("corr"),
            spearman_rank_corr(col("price"), col("size"), false).alias("spearman"),
            cov(col("price"), col("size"), 0).alias("cov0"),
            col("size").approx_n_unique().alias("approx"),
        ]
    };
    let grouped = client.scan_parquet("trades.parquet").await.unwrap().group_by_stable([col("symbol")]).agg(aggs()).await.unwrap();
    let want_grouped = local("trades.parquet").group_by_stable([col("symbol")]).agg(aggs()).collect().unwrap();
    assert!(grouped.fetch().await.unwrap().equals_missing(&want_grouped));
    // And the list namespace over what the group-by made.
    let lists = || {
        [
            col("symbol"),
            col("second_and_third").list().len().alias("n"),
            col("second_and_third").list().mean().alias("mean"),
            col("second_and_third").list().get(lit(-1), true).alias("last"),
            col("second_and_third").list().sort(SortOptions { descending: true, ..Default::default() }).alias("desc"),
            col("symbol").str().split(lit("A")).list().join(lit("+"), false).alias("joined"),
        ]
    };
    let got_lists = grouped.select(lists()).await.unwrap().fetch().await.unwrap();
    let want_lists = want_grouped.lazy().select(lists()).collect().unwrap();
    assert!(got_lists.equals_missing(&want_lists), "{got_lists}\n{want_lists}");
    let nulls = |name: &str| want.column(name).unwrap().null_count();
    assert!(nulls("holes") > 1000 && nulls("ffill") < nulls("holes"), "{} {}", nulls("holes"), nulls("ffill"));
    assert_frames_close(&got, &want);
    server.stop().await;
}

/// group_by_dynamic and the rolling group-by, as shipped plans and as the
/// protocol's window messages, give what polars gives in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_group_bys_match_polars_either_way_they_travel() {
    let server = TestServer::with_sample().await;
    let dynamic = || DynamicGroupOptions {
        every: Duration::parse("5m"),
        period: Duration::parse("7m"),
        offset: Duration::parse("30s"),
        closed_window: ClosedWindow::Both,
        label: Label::Right,
        include_boundaries: true,
        start_by: StartBy::DataPoint,
        ..Default::default()
    };
    let rolling = || RollingGroupOptions {
        period: Duration::parse("2m"),
        offset: Duration::parse("-2m"),
        closed_window: ClosedWindow::Left,
        ..Default::default()
    };
    let aggs = || [col("price").max().alias("high"), col("size").sum(), len().alias("n")];
    let sorted = || local("trades.parquet").sort(["ts"], Default::default());
    let want_dynamic = sorted().group_by_dynamic(col("ts"), [col("symbol")], dynamic()).agg(aggs()).collect().unwrap();
    let want_rolling = sorted().rolling(col("ts"), [col("symbol")], rolling()).agg(aggs()).collect().unwrap();
    assert!(want_dynamic.height() > 100 && want_rolling.height() > 100);
    for shipping in [Shipping::Plan, Shipping::Expressions] {
        let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(shipping);
        let trades = client.scan_parquet("trades.parquet").await.unwrap().sort(["ts"], Default::default()).await.unwrap();
        let got = trades.group_by_dynamic("ts", [col("symbol")], dynamic()).agg(aggs()).await.unwrap().fetch().await.unwrap();
        assert_frames_close(&got, &want_dynamic);
        let got = trades.rolling("ts", [col("symbol")], rolling()).agg(aggs()).await.unwrap().fetch().await.unwrap();
        assert_frames_close(&got, &want_rolling);
    }
    server.stop().await;
}

/// join_where (range joins on inequalities), shipped either way, equals polars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_where_matches_polars_either_way_it_travels() {
    let server = TestServer::with_sample().await;
    let predicates = || [col("price").lt(col("price_r")), col("size").gt_eq(col("size_r")), col("symbol").eq(col("symbol_r"))];
    let head = || local("trades.parquet").slice(0, 300);
    let sorted = |df: DataFrame| df.sort(["ts", "ts_r", "price", "price_r"], Default::default()).unwrap();
    let want = sorted(head().join_builder().with(head()).suffix("_r").join_where(predicates().to_vec()).collect().unwrap());
    assert!(want.height() > 100, "{}", want.height());
    for shipping in [Shipping::Plan, Shipping::Expressions] {
        let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(shipping);
        let trades = client.scan_parquet("trades.parquet").await.unwrap().slice(0, 300).await.unwrap();
        let got = trades.join_where(&trades, predicates(), Some("_r")).await.unwrap().fetch().await.unwrap();
        assert_frames_close(&sorted(got), &want);
    }
    server.stop().await;
}

/// The math, binning and string-search functions as shipped expressions,
/// and joins' options and concat's kinds either way they travel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_functions_join_options_and_concat_kinds_match_polars() {
    let server = TestServer::with_sample().await;
    let exprs = || {
        [
            col("price").sin().alias("sin"),
            col("price").degrees().alias("deg"),
            col("price").arctan2(col("size")).alias("a2"),
            col("symbol").rle_id().alias("run"),
            col("price").peak_min().alias("trough"),
            col("price").cut(vec![150.0, 250.0], Some(["lo", "mid", "hi"]), true, false).cast(DataType::String).alias("band"),
            col("price").qcut(vec![0.25, 0.75], None::<Vec<PlSmallStr>>, false, true, true).struct_().field_by_name("breakpoint").alias("q"),
            col("symbol").str().find(lit("[AEIOU]"), true).alias("vowel"),
            col("symbol").str().split_exact(lit("A"), 1).alias("parts"),
            col("symbol").str().splitn(lit("S"), 2).alias("halves"),
            datetime(DatetimeArgs::new(col("ts").dt().year(), lit(2), lit(3)).with_time_zone(Some(TimeZone::UTC))).alias("made"),
            col("price").mean().rolling(col("ts"), Duration::parse("2m"), Duration::parse("-1m"), ClosedWindow::Both).alias("mean_2m"),
            col("symbol").str().hex_encode().alias("hex"),
            col("price").cast(DataType::String).str().to_decimal(3).alias("dec"),
            col("ts").dt().dst_offset().alias("dst"),
            col("symbol").str().normalize(UnicodeForm::NFKD).alias("nfkd"),
            col("ts").to_physical().alias("ts_int"),
            col("price").cbrt().alias("cbrt"),
            (col("price") / (col("size") - col("size"))).is_infinite().alias("inf"),
            (col("price") / (col("size") - col("size"))).is_finite().alias("finite"),
        ]
    };
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(Shipping::Expressions);
    let got = client.scan_parquet("trades.parquet").await.unwrap().select(exprs()).await.unwrap().fetch().await.unwrap();
    let want = local("trades.parquet").select(exprs()).collect().unwrap();
    assert_frames_close(&got, &want);
    assert!(want.column("band").unwrap().n_unique().unwrap() == 3);
    let alone = [
        col("symbol").rle(),
        arg_where(col("price").gt(lit(300))),
        col("size").drop_nulls().sort(Default::default()).search_sorted(lit(250i64), SearchSortedSide::Left, false),
        col("size").entropy(2.0, true),
        col("symbol").arg_unique(),
        col("price").skew(false),
        col("price").kurtosis(false, true),
    ];
    for e in alone {
        let got = client.scan_parquet("trades.parquet").await.unwrap().select([e.clone().alias("x")]).await.unwrap().fetch().await.unwrap();
        assert_frames_close(&got, &local("trades.parquet").select([e.alias("x")]).collect().unwrap());
    }

    // Small sides with a null key: the symbols' totals and last bids.
    let totals = || local("trades.parquet").group_by([col("symbol")]).agg([col("size").sum().alias("total")]).sort(["total"], Default::default());
    let bids = || local("quotes.parquet").group_by([col("symbol")]).agg([col("bid").last()]).sort(["symbol"], Default::default());
    let cases = [
        JoinArgs { coalesce: JoinCoalesce::CoalesceColumns, maintain_order: MaintainOrderJoin::LeftRight, ..JoinArgs::new(JoinType::Full) },
        JoinArgs { coalesce: JoinCoalesce::KeepColumns, maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) },
        JoinArgs { nulls_equal: true, maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Inner) },
    ];
    let (a, b) = (df!("x" => [1i32, 2, 3]).unwrap(), df!("y" => ["p", "q"]).unwrap());
    for shipping in [Shipping::Plan, Shipping::Expressions] {
        let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(shipping);
        let remote_totals = client.remote(totals()).handle().await.unwrap();
        for args in cases.clone() {
            let want = totals().join(totals(), [col("symbol")], [col("symbol")], args.clone()).collect().unwrap();
            let got = remote_totals.join(&remote_totals, &["symbol"], &["symbol"], args.clone()).await.unwrap().fetch().await.unwrap();
            assert!(got.equals_missing(&want), "{shipping:?} {args:?}\n{got}\n{want}");
        }
        let remote_bids = client.remote(bids()).handle().await.unwrap();
        let args = JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) };
        let want = totals().join(bids(), [col("symbol")], [col("symbol")], args.clone()).collect().unwrap();
        let got = remote_totals.join(&remote_bids, &["symbol"], &["symbol"], args).await.unwrap().fetch().await.unwrap();
        assert!(got.equals_missing(&want), "{shipping:?}\n{got}\n{want}");

        let (ra, rb) = (client.upload(&a).await.unwrap(), client.upload(&b).await.unwrap());
        let got = ra.concat(&[rb.clone()], ConcatHow::HorizontalExtend).await.unwrap().fetch().await.unwrap();
        let want = concat_lf_horizontal([a.clone().lazy(), b.clone().lazy()], HConcatOptions { strict: false, ..Default::default() })
            .unwrap()
            .collect()
            .unwrap();
        assert!(got.equals_missing(&want), "{shipping:?}\n{got}\n{want}");
        // "horizontal" wants one height, either way it travels.
        let uneven = match ra.concat(&[rb.clone()], ConcatHow::Horizontal).await {
            Ok(frame) => frame.fetch().await.map(|_| ()),
            Err(err) => Err(err),
        };
        assert!(uneven.is_err(), "{shipping:?}: frames of 3 and 2 rows side by side");
        let got = ra.concat(&[rb], ConcatHow::Diagonal).await.unwrap().fetch().await.unwrap();
        let want = concat_lf_diagonal([a.clone().lazy(), b.clone().lazy()], UnionArgs::default()).unwrap().collect().unwrap();
        assert!(got.equals_missing(&want), "{shipping:?}\n{got}\n{want}");

        // Two symbols' trades, each in time order, merged into one time order.
        let of = |symbol: &str| local("trades.parquet").filter(col("symbol").eq(lit(symbol))).sort(["ts"], Default::default());
        let (aapl, msft) = (client.remote(of("AAPL")).handle().await.unwrap(), client.remote(of("MSFT")).handle().await.unwrap());
        let got = aapl.merge_sorted(&msft, &["ts"]).await.unwrap().fetch().await.unwrap();
        let want = of("AAPL").merge_sorted(of("MSFT"), ["ts"], true).unwrap().collect().unwrap();
        assert_eq!(got.column("symbol").unwrap().n_unique().unwrap(), 2, "{shipping:?}");
        assert!(got.equals_missing(&want), "{shipping:?}\n{got}\n{want}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_casts_sort_by_options_extract_all_ranges_and_time_zones_match_polars() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(Shipping::Expressions);
    let pair = || concat_list([col("size"), col("size") * lit(2i64)]).unwrap();
    let exprs = || {
        [
            pair().cast(DataType::List(Box::new(DataType::String))).alias("texts"),
            pair().cast(DataType::Array(Box::new(DataType::Float64), 2)).alias("floats"),
            pair().list().to_array(2).alias("array"),
            pair().list().to_array(2).arr().sum().alias("arr_sum"),
            pair().list().to_array(2).arr().std(0).alias("arr_std"),
            pair().list().to_array(2).arr().get(lit(-1i64), true).alias("arr_last"),
            pair().list().to_array(2).arr().sort(SortOptions { descending: true, ..Default::default() }).alias("arr_sorted"),
            pair().list().to_array(2).arr().contains(lit(10i64), true).alias("arr_has_10"),
            pair().cast(DataType::Array(Box::new(DataType::String), 2)).arr().join(lit("-"), false).alias("arr_joined"),
            pair().list().to_array(2).arr().arg_max().alias("arr_arg_max"),
            col("symbol").str().extract_all(lit("[AEIOU]")).alias("vowels"),
            int_ranges(lit(0i64), col("size") % lit(5i64), lit(1i64), DataType::Int32).alias("ranges"),
            int_range(lit(0i64), len(), 3, DataType::Int64).alias("every_third").head(Some(5)).implode(true).alias("head"),
            col("price").has_nulls().alias("has_nulls"),
            col("price").round_sig_figs(2).alias("sig"),
            col("size").index_of(lit(250i64)).alias("first_250"),
            col("price").is_close(col("price") + lit(1e-12), 0.0, 1e-9, false).alias("close"),
            col("price").rolling_skew(RollingOptionsFixedWindow { window_size: 5, min_periods: 3, fn_params: Some(RollingFnParams::Skew { bias: false }), ..Default::default() }).alias("skew5"),
            col("price")
                .rolling_kurtosis(RollingOptionsFixedWindow {
                    window_size: 6,
                    min_periods: 6,
                    fn_params: Some(RollingFnParams::Kurtosis { fisher: false, bias: true }),
                    ..Default::default()
                })
                .alias("kurt6"),
            rolling_corr(col("price"), col("size"), RollingCovOptions { window_size: 4, min_periods: 2, ddof: 1 }).alias("corr4"),
            rolling_cov(col("price"), col("size"), RollingCovOptions { window_size: 4, min_periods: 4, ddof: 0 }).alias("cov4"),
            // The key, each trade's time of day in ns, has no ties (min_by's pick among ties is free).
            col("price").min_by(col("ts").to_physical() % lit(86_400_000_000_000i64)).alias("earliest_in_a_day"),
            col("price").max_by(col("ts").to_physical() % lit(86_400_000_000_000i64)).alias("latest_in_a_day"),
            as_struct(vec![col("symbol"), col("size")]).struct_().rename_fields(["s", "n"]).struct_().field_by_name("n").alias("n"),
            col("ts").dt().replace(lit(2023i32), lit(Null {}), lit(Null {}), lit(7i8), lit(Null {}), lit(Null {}), lit(Null {}), lit("raise")).alias("replaced"),
            col("ts").dt().strftime("%H:%M:%S").str().to_time(StrptimeOptions { format: Some("%H:%M:%S".into()), ..Default::default() }).alias("time"),
            duration(DurationArgs { hours: lit(2i64), minutes: col("size"), time_unit: TimeUnit::Milliseconds, ..Default::default() })
                .alias("dur"),
            col("price").quantile(lit(0.37), QuantileMethod::Equiprobable).alias("q"),
        ]
    };
    let got = client.scan_parquet("trades.parquet").await.unwrap().select(exprs()).await.unwrap().fetch().await.unwrap();
    let want = local("trades.parquet").select(exprs()).collect().unwrap();
    assert_frames_close(&got, &want);
    assert_eq!(want.column("floats").unwrap().dtype(), &DataType::Array(Box::new(DataType::Float64), 2));
    let histogram = || [col("price").hist(None, Some(4), true, true).alias("h")];
    let got = client.scan_parquet("trades.parquet").await.unwrap().select(histogram()).await.unwrap().fetch().await.unwrap();
    // Categories travel as text (the server's IPC writes categoricals as strings).
    let want = local("trades.parquet").select(histogram()).unnest(cols(["h"]), None).with_column(col("category").cast(DataType::String));
    assert_frames_close(&got.unnest(["h"], None).unwrap(), &want.collect().unwrap());

    // sort_by's nulls_last and maintain_order travel (they were dropped: nulls came first).
    let keyed = df!("k" => [Some(2i64), None, Some(1), Some(1), None, Some(2)], "v" => [10i64, 20, 30, 40, 50, 60]).unwrap();
    let remote = client.upload(&keyed).await.unwrap();
    let sorted = |descending: bool| {
        let options = SortMultipleOptions::default().with_order_descending(descending).with_nulls_last(true).with_maintain_order(true);
        col("v").sort_by([col("k")], options).alias(if descending { "down" } else { "up" })
    };
    let got = remote.select([sorted(false), sorted(true)]).await.unwrap().fetch().await.unwrap();
    assert_eq!(got, df!("up" => [30i64, 40, 10, 60, 20, 50], "down" => [10i64, 60, 30, 40, 20, 50]).unwrap());
    assert_eq!(got, keyed.clone().lazy().select([sorted(false), sorted(true)]).collect().unwrap());

    // Wall times London repeats (01:30 on 27 Oct 2024) and skips (01:30 on 31 Mar 2024).
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap().and_utc().timestamp_micros();
    let times = Series::new("t".into(), [at("2024-10-27 01:30"), at("2024-03-31 01:30"), at("2024-06-01 12:00")])
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .unwrap();
    let remote = client.upload(&DataFrame::new(3, vec![times.into()]).unwrap()).await.unwrap();
    let london = TimeZone::opt_try_new(Some("Europe/London")).unwrap();
    let replaced = |ambiguous: &str, non_existent: NonExistent| {
        col("t").dt().replace_time_zone(london.clone(), lit(ambiguous), non_existent).dt().convert_time_zone(TimeZone::UTC).dt().hour()
    };
    let got = remote
        .select([
            replaced("earliest", NonExistent::Null).alias("earliest"),
            replaced("latest", NonExistent::Null).alias("latest"),
            replaced("null", NonExistent::Null).alias("null"),
        ])
        .await
        .unwrap()
        .fetch()
        .await
        .unwrap();
    // In UTC: the first 01:30 is 00:30 (BST), the second 01:30 (GMT); the skipped time is null; June is BST.
    let hours = |name: &str| got.column(name).unwrap().i8().unwrap().iter().collect::<Vec<_>>();
    assert_eq!(hours("earliest"), [Some(0), None, Some(11)]);
    assert_eq!(hours("latest"), [Some(1), None, Some(11)]);
    assert_eq!(hours("null"), [None, None, Some(11)]);
    let err = match remote.select([replaced("raise", NonExistent::Null)]).await {
        Ok(frame) => frame.fetch().await.unwrap_err(),
        Err(err) => err,
    };
    assert!(err.to_string().contains("ambiguous"), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_join_asof_and_sql_through_the_client() {
    let server = TestServer::with_sample().await;
    // polaroid.v1's expression tree (the pipeline above ships plans).
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(Shipping::Expressions);
    let symbols = df!("symbol" => ["AAPL", "MSFT", "ZZZZ"], "sector" => ["tech", "tech", "none"]).unwrap();
    let sectors = client.upload_named(&symbols, "sectors").await.unwrap();
    assert_eq!(sectors.lineage(), "upload(\"sectors\")");
    let trades = client.scan_parquet("trades.parquet").await.unwrap();
    let quotes = client.scan_parquet("quotes.parquet").await.unwrap();

    let joined = trades.join(&sectors, &["symbol"], &["symbol"], JoinArgs::new(JoinType::Semi)).await.unwrap();
    let asof = AsOfOptions {
        strategy: AsofStrategy::Backward,
        tolerance_str: Some("50us".into()),
        left_by: Some(vec!["symbol".into()]),
        right_by: Some(vec!["symbol".into()]),
        allow_eq: true,
        check_sortedness: true,
        tolerance: None,
    };
    let with_quotes = joined
        .join(&quotes, &["ts"], &["ts"], JoinArgs::new(JoinType::AsOf(Box::new(asof.clone()))))
        .await
        .unwrap()
        .select([col("symbol"), col("price"), ((col("bid") + col("ask")) / lit(2.0)).alias("mid"), -col("size")])
        .await
        .unwrap()
        .fetch()
        .await
        .unwrap();
    let expected = local("trades.parquet")
        .join(symbols.clone().lazy(), [col("symbol")], [col("symbol")], JoinArgs::new(JoinType::Semi))
        .join(local("quotes.parquet"), [col("ts")], [col("ts")], JoinArgs::new(JoinType::AsOf(Box::new(asof))))
        .select([col("symbol"), col("price"), ((col("bid") + col("ask")) / lit(2.0)).alias("mid"), -col("size")])
        .collect()
        .unwrap();
    assert_eq!(with_quotes.height(), 24_000 + 20_000);
    // Join output order is unspecified: compare sorted by every column.
    let sorted = |df: DataFrame| df.lazy().sort(["symbol", "price", "mid", "size"], SortMultipleOptions::default().with_nulls_last(true)).collect().unwrap();
    assert_frames_close(&sorted(with_quotes), &sorted(expected));

    let counted = client
        .sql(&[("t", &trades), ("s", &sectors)], "SELECT s.sector, COUNT(*) AS n FROM t JOIN s ON t.symbol = s.symbol GROUP BY s.sector")
        .await
        .unwrap()
        .fetch()
        .await
        .unwrap();
    assert_eq!(counted.column("n").unwrap().u32().unwrap().get(0), Some(44_000));
    // Bound parameters: one execution per row of values, as literals.
    let query = "SELECT COUNT(*) AS n FROM t JOIN s ON t.symbol = s.symbol WHERE s.sector = $1 AND t.size > $2";
    let values = df!("sector" => ["tech", "tech"], "size" => [0i64, 500]).unwrap();
    let bound = client.sql_with_parameters(&[("t", &trades), ("s", &sectors)], query, &values).await.unwrap().fetch().await.unwrap();
    let typed = "SELECT COUNT(*) AS n FROM t JOIN s ON t.symbol = s.symbol WHERE s.sector = 'tech' AND t.size > ";
    let all = client.sql(&[("t", &trades), ("s", &sectors)], &format!("{typed}0")).await.unwrap().fetch().await.unwrap();
    let big = client.sql(&[("t", &trades), ("s", &sectors)], &format!("{typed}500")).await.unwrap().fetch().await.unwrap();
    let n = |df: &DataFrame, row: usize| df.column("n").unwrap().u32().unwrap().get(row);
    assert_eq!((n(&bound, 0), n(&bound, 1)), (n(&all, 0), n(&big, 0)));
    assert!(n(&big, 0) < n(&all, 0));
    sectors.drop().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_expressions_are_refused_before_sending_with_their_path() {
    let server = TestServer::with_sample().await;
    let client = Client::connect(format!("http://{}", server.addr)).await.unwrap().with_shipping(Shipping::Expressions);
    let trades = client.scan_parquet("trades.parquet").await.unwrap();
    let err = trades.select([col("price"), col("price").sum().alias("s"), col("price").implode(true).list().eval(element().mean())]).await.unwrap_err();
    match err {
        ClientError::UnsupportedExpr { path, .. } => assert_eq!(path, "exprs[2]"),
        other => panic!("expected UnsupportedExpr, got {other}"),
    }
    let series_lit = lit(Series::new("s".into(), [1i64, 2]));
    let err = trades.select([col("size").is_in(series_lit.clone(), false), series_lit.alias("s")]).await.unwrap_err();
    assert!(err.to_string().starts_with("exprs[1].alias: a Series literal"), "{err}");
    // And a server-side refusal comes back as the server's status.
    let err = trades.select([col("no_such_column")]).await.unwrap_err();
    assert!(matches!(&err, ClientError::Status(s) if s.code() == tonic::Code::InvalidArgument), "{err}");
    server.stop().await;
}
