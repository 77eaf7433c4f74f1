"""The Python client against a real polaroid-server, with python-polars as the oracle."""

from __future__ import annotations

import datetime as dt
import gc
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

import polaroid as pr

from conftest import Server


def local(data_dir: Path, name: str) -> pl.LazyFrame:
    return pl.scan_parquet(data_dir / name)


def test_the_readme_pipeline_matches_polars(client: pr.Client, data_dir: Path) -> None:
    trades = client.scan_parquet("trades.parquet")
    out = (trades.filter(pr.col("size") >= 100)
                 .with_columns((pr.col("price") * pr.col("size")).alias("notional"))
                 .group_by("symbol").agg(pr.len().alias("n"), pr.col("notional").sum())
                 .sort("symbol"))
    want = (local(data_dir, "trades.parquet").filter(pl.col("size") >= 100)
            .with_columns((pl.col("price") * pl.col("size")).alias("notional"))
            .group_by("symbol").agg(pl.len().alias("n"), pl.col("notional").sum())
            .sort("symbol")).collect()
    got = out.collect()
    assert got.height == 5  # four symbols and the null one
    assert_frame_equal(got, want, check_dtypes=True)
    assert_frame_equal(pl.from_arrow(out.to_arrow()), want)  # type: ignore[arg-type]
    assert out.schema == want.schema
    assert "AGGREGATE" in out.explain() or "GROUP_BY" in out.explain().upper()


def test_expressions_match_polars(client: pr.Client, data_dir: Path) -> None:
    def both(c, lit, when):  # the same query in either API
        return [
            c("symbol"),
            c("ts"),
            (c("price") * 2 - 1).alias("p2"),
            (c("price") // 3 % 7).alias("fm"),
            (c("size").fill_null(0) + 1).alias("filled"),
            c("size").is_null().alias("size_null"),
            c("symbol").is_in(["MSFT", "TSLA"]).alias("in_set"),
            ((c("price") > 150) & ~c("symbol").is_null() | (c("size") < 10)).alias("logic"),
            c("size").cast(pl.Float32).alias("size_f32"),
            c("venue").str.strip_chars().str.to_lowercase().alias("venue_lc"),
            c("venue").str.contains("A", literal=True).alias("has_a"),
            c("venue").str.replace_all("X", "x", literal=True).alias("rx"),
            c("venue").str.slice(1, 2).alias("sl"),
            c("venue").str.len_chars().alias("vlen"),
            c("ts").dt.hour().alias("hour"),
            c("ts").dt.minute().alias("minute"),
            c("ts").dt.truncate("5m").alias("t5"),
            c("ts").dt.convert_time_zone("Europe/London").alias("london"),
            c("ts").dt.strftime("%Y-%m-%d %H:%M").alias("stamp"),
            c("ts").dt.epoch("ms").alias("epoch_ms"),
            when(c("size") > 400).then(lit("block")).when(c("size") > 100).then(lit("lot")).otherwise(lit("odd")).alias("kind"),
            (c("price") - c("price").mean().over("symbol")).alias("dev"),
            c("price").shift(1).over("symbol").alias("prev"),
            c("price").diff().alias("diff"),
            c("size").cum_sum().alias("cum"),
            c("price").rolling_mean(5).alias("rm5"),
            c("price").round(1).alias("r1"),
            c("price").log(10).alias("lg"),
            c("price").sqrt().alias("sq"),
            -c("size"),  # keeps its name, as polars' negation does
            lit(None, pl.Int64).alias("typed_null"),
            lit(dt.datetime(2024, 3, 8, 10, 0)).alias("naive_lit"),
        ]

    got = client.scan_parquet("trades.parquet").select(both(pr.col, pr.lit, pr.when)).collect()
    want = local(data_dir, "trades.parquet").select(both(pl.col, pl.lit, pl.when)).collect()
    assert_frame_equal(got, want)


def test_aggregations_match_polars(client: pr.Client, data_dir: Path) -> None:
    def aggs(c, len_):
        return [
            len_().alias("n"),
            c("size").count().alias("count"),
            c("price").sum().alias("sum"),
            c("price").min().alias("min"),
            c("price").max().alias("max"),
            c("price").first().alias("first"),
            c("price").last().alias("last"),
            c("price").std().alias("std"),
            c("price").var(ddof=0).alias("var0"),
            c("price").median().alias("median"),
            c("price").quantile(0.9, "linear").alias("p90"),
            c("venue").n_unique().alias("venues"),
            c("price").sort_by("size", descending=True).first().alias("price_of_biggest"),
        ]

    got = (client.scan_parquet("trades.parquet").group_by("symbol", maintain_order=True)
           .agg(aggs(pr.col, pr.len)).collect())
    want = (local(data_dir, "trades.parquet").group_by("symbol", maintain_order=True)
            .agg(aggs(pl.col, pl.len)).collect())
    assert_frame_equal(got, want)


def test_numeric_string_and_row_wise_functions_match_polars(client: pr.Client, data_dir: Path) -> None:
    def both(m):  # the same query with either module's col and row-wise functions
        c = m.col
        return [
            c("symbol"),
            (c("price") ** 2).alias("sq"),
            c("size").pow(0.5).alias("root"),
            (2 ** c("size").fill_null(0).clip(0, 10)).alias("rpow"),
            c("price").clip(150, 300).alias("clipped"),
            c("price").clip(lower_bound=200).alias("at_least"),
            c("price").clip(upper_bound=200).alias("at_most"),
            c("price").log1p().alias("l1p"),
            c("price").floor().alias("fl"),
            c("price").ceil().alias("ce"),
            c("price").is_between(150, 300, closed="left").alias("between"),
            ((c("price") - c("price")) / (c("price") - c("price"))).fill_nan(-1.0).alias("nan_filled"),
            c("size").shift(2, fill_value=-1).alias("shifted"),
            c("size").forward_fill().alias("ffill"),
            c("size").backward_fill(limit=1).alias("bfill1"),
            c("price").rank("min", descending=True).alias("rank_min"),
            c("price").rank().alias("rank_avg"),
            m.sum_horizontal("price", "size").alias("sum_h"),
            m.mean_horizontal(c("price"), c("size")).alias("mean_h"),
            m.min_horizontal("price", "size").alias("min_h"),
            m.max_horizontal(["price", "size"]).alias("max_h"),
            m.concat_str([c("symbol"), c("venue")], separator=":").alias("key"),
            m.format("{} @ {} ({})", "symbol", c("size"), "venue").alias("label"),
            m.format("{}{}", "symbol", "size").alias("glued"),
            c("venue").str.replace("A", "a", literal=True).alias("first_a"),
            c("venue").str.replace("[A-Z]", "_").alias("first_upper"),
            c("ts").dt.offset_by("1d2h").alias("later"),
            c("ts").dt.to_string("%H:%M").alias("hhmm"),
            c("ts").dt.strftime("%Y-%m-%d %H:%M:%S").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("parsed"),
            c("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f").str.to_datetime(time_unit="ms", time_zone="UTC").alias("inferred"),
            c("ts").dt.strftime("%Y-%m-%d").str.to_date("%Y-%m-%d").alias("day"),
            c("venue").str.to_date("%Y", strict=False).alias("not_dates"),
            c("ts").dt.strftime("%d/%m/%Y").str.strptime(pl.Date, "%d/%m/%Y").alias("dmy"),
            c("price").rolling_std(5, ddof=0).alias("std5_ddof0"),
            c("price").rolling_mean(4, center=True).alias("centred4"),
            c("price").rolling_var(5, center=True, ddof=0).alias("centred_var5"),
            c("price").rolling_mean_by("ts", "1m30s", min_samples=2, closed="both").alias("mean_90s"),
            c("price").rolling_max_by("ts", dt.timedelta(minutes=5)).alias("max_5m"),
            c("price").rolling_median_by("ts", "10m").alias("median_10m"),
            c("price").rolling_std_by("ts", "1h", ddof=0).alias("std_1h"),
            c("price").ewm_mean(span=10).alias("ema10"),
            c("price").ewm_std(com=3, bias=True).alias("ewm_std"),
            c("price").ewm_var(half_life=5, adjust=False, min_samples=3).alias("ewm_var"),
            c("price").ewm_mean(alpha=0.3, ignore_nulls=True).alias("ema_a"),
            (c("price") - 200).sign().alias("sign"),
            c("symbol").is_duplicated().alias("dup"),
            c("venue").is_unique().alias("uniq"),
            c("symbol").is_first_distinct().alias("first_seen"),
            c("symbol").is_last_distinct().alias("last_seen"),
            c("size").interpolate().alias("interp"),
            c("size").interpolate("nearest").alias("nearest"),
            c("price").arg_sort(descending=True).alias("order"),
            c("venue").replace({"X": "x"}).alias("replaced"),
            c("venue").replace_strict(["X", "Q"], [1, 2], default=0, return_dtype=pl.Int16).alias("coded"),
            c("price").rolling_median(5).alias("med5"),
            c("price").rolling_quantile(0.75, "higher", 6, min_samples=3).alias("q75"),
            c("price").ewm_mean_by("ts", half_life="10m").alias("ewm_by"),
            c("ts").dt.cast_time_unit("us").alias("us"),
            m.concat_list("price", "size").list.slice(-1).alias("last_of_two"),
            c("symbol").str.reverse().alias("rev"),
            c("size").is_in(c("size").head(10).implode()).alias("early_size"),
            (c("size") / 2).round().alias("r_even"),
            (c("size") / 2).round(0, mode="half_away_from_zero").alias("r_away"),
            m.coalesce(c("size"), -1).alias("coalesced"),
            c("size").fill_null(strategy="max").alias("max_filled"),
            c("size").cum_sum().over("symbol", order_by="ts", descending=True).alias("running"),
            m.int_range(m.len()).alias("i"),
            c("symbol").str.strip_chars("AT").alias("stripped"),
            c("symbol").str.pad_end(6, ".").alias("padded"),
            c("symbol").str.zfill(6).alias("zeros"),
            c("venue").str.head(1).alias("initial"),
            c("symbol").str.extract(r"^(.)(.)", 2).alias("second"),
            c("symbol").str.count_matches("[AEIOU]").alias("vowels"),
            c("size").cast(pl.String).str.to_integer(base=16, strict=False).alias("hex"),
            c("ts").dt.week().alias("week"),
            c("ts").dt.quarter().alias("quarter"),
            c("ts").dt.round("1h").alias("hour"),
            c("ts").dt.month_end().alias("month_end"),
            (c("ts") - c("ts").shift()).dt.total_seconds(fractional=True).alias("gap_s"),
        ]

    def aggs(m):
        c = m.col
        return [
            c("size").null_count().alias("nulls"),
            c("price").arg_max().alias("arg_max"),
            c("price").arg_min().alias("arg_min"),
            (c("price") > 300).any().alias("any_big"),
            (c("price") > 0).all().alias("all_positive"),
            c("size").is_null().any(ignore_nulls=False).alias("any_null"),
            c("price").filter(c("size") > 100, c("venue") != "X").mean().alias("big_avg"),
            c("price").sort().slice(1, 2).alias("second_third"),
            c("size").head(3).product().alias("product"),
            c("price").sort(descending=True).slice(-2).alias("lowest_two"),
            c("price").top_k(2).alias("top"),
            c("price").bottom_k(2).alias("bottom"),
            c("venue").mode().sort().alias("mode"),
            c("price").gather_every(7, 2).alias("every_7th"),
            c("size").drop_nulls().first().alias("first_size"),
            m.corr("price", "size").alias("corr"),
            m.corr("price", "size", method="spearman").alias("spearman"),
            m.cov("price", "size", ddof=0).alias("cov0"),
            c("price").top_k_by(["size", "ts"], 2).alias("top_by_size"),
            c("price").gather([0, 2, -1]).alias("picked"),
            c("size").gather(c("size").arg_max()).alias("largest"),
            m.struct("size", p=c("price")).struct.field("p").max().alias("max_p"),
            c("venue").value_counts(sort=True).len().alias("venues"),
        ]

    got = client.scan_parquet("trades.parquet").select(both(pr)).collect()
    want = local(data_dir, "trades.parquet").select(both(pl)).collect()
    assert got.height > 1000
    assert_frame_equal(got, want)
    got = client.scan_parquet("trades.parquet").group_by("symbol", maintain_order=True).agg(aggs(pr)).collect()
    want = local(data_dir, "trades.parquet").group_by("symbol", maintain_order=True).agg(aggs(pl)).collect()
    assert_frame_equal(got, want)
    assert got["nulls"].sum() > 0, "the sample has null sizes, which the fills above are about"
    with pytest.raises(ValueError, match="exactly one of com, span, half_life, alpha"):
        pr.col("price").ewm_mean(span=3, alpha=0.5)


@pytest.mark.parametrize("how", ["inner", "left", "full", "semi", "anti"])
def test_joins_match_polars(client: pr.Client, data_dir: Path, how: str) -> None:
    def query(scan, c):
        sizes = scan("trades.parquet").group_by("symbol").agg(c("size").sum().alias("total"))
        last = scan("quotes.parquet").group_by("symbol").agg(c("bid").last()).filter(c("symbol") != "TSLA")
        return sizes.join(last, on="symbol", how=how)

    got = query(client.scan_parquet, pr.col).collect()
    want = query(lambda p: local(data_dir, p), pl.col).collect()
    key = ["symbol"] if how != "full" else ["symbol", "symbol_right"]
    assert_frame_equal(got.sort(key, nulls_last=True), want.sort(key, nulls_last=True))


def test_cross_join_and_concat_and_slices(client: pr.Client, data_dir: Path) -> None:
    a = client.from_polars(pl.DataFrame({"a": [1, 2, 3]}))
    b = client.from_polars(pl.DataFrame({"b": ["x", "y"]}))
    crossed = a.join(b, how="cross").sort("a", "b").collect()
    assert_frame_equal(crossed, pl.DataFrame({"a": [1, 2, 3]}).join(pl.DataFrame({"b": ["x", "y"]}), how="cross").sort("a", "b"))
    both = pr.concat([a, a]).collect()
    assert both["a"].to_list() == [1, 2, 3, 1, 2, 3]
    trades = client.scan_parquet("trades.parquet")
    want = local(data_dir, "trades.parquet").collect()
    assert_frame_equal(trades.head(7).collect(), want.head(7))
    assert_frame_equal(trades.tail(3).collect(), want.tail(3))
    assert_frame_equal(trades.slice(10, 4).collect(), want.slice(10, 4))
    assert_frame_equal(trades.select("symbol").unique(maintain_order=True).collect(),
                       want.select("symbol").unique(maintain_order=True))
    assert_frame_equal(trades.drop_nulls(["size"]).collect(), want.drop_nulls(["size"]))
    assert_frame_equal(trades.rename({"price": "px"}).collect(), want.rename({"price": "px"}))
    assert_frame_equal(trades.drop_columns("price", "venue").collect(), want.drop("price", "venue"))
    assert_frame_equal(trades.drop_columns(["price", "nope"], strict=False).collect(), want.drop("price"))
    with pytest.raises(pr.InvalidArgumentError, match="nope"):
        trades.drop_columns("nope").collect()
    with pytest.raises(pr.InvalidArgumentError, match="every column"):  # the server's polars would answer no rows
        trades.drop_columns(want.columns)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # polars 2.1 prefers bin_intervals to cut
def test_math_binning_and_pattern_functions_match_polars(client: pr.Client, data_dir: Path) -> None:
    def exprs(m):
        c = m.col
        return [
            c("price").sin().alias("sin"), c("price").cosh().alias("cosh"), c("price").degrees().alias("deg"),
            (c("price") / 1000).arcsin().alias("asin"), m.arctan2("price", "size").alias("a2"),
            c("venue").rle_id().alias("run"), c("price").peak_max().alias("peak"),
            # cut's labels travel as text; polars' own are an Enum.
            c("price").cut([150, 250], left_closed=True).cast(pl.String).alias("band"),
            c("price").qcut(4, include_breaks=True).struct.field("breakpoint").alias("quartile_end"),
            c("symbol").str.find("[AEIOU]").alias("vowel"), c("symbol").str.split_exact("A", 1).alias("parts"),
            c("symbol").str.splitn("S", 2).alias("halves"),
            c("symbol").str.contains_any(["AA", "ms"], ascii_case_insensitive=True).alias("any"),
            c("symbol").str.replace_many(["A", "S"], ["_", "-"]).alias("masked"),
            c("symbol").str.extract_many(["A", "S"]).alias("found"), c("symbol").str.find_many(["S"]).alias("at"),
            m.datetime(c("ts").dt.year(), 1, c("ts").dt.day(), 9, 30, time_zone="UTC").alias("made"),
        ]

    got = client.scan_parquet("trades.parquet").select(exprs(pr)).collect()
    want = local(data_dir, "trades.parquet").select(exprs(pl)).collect()
    assert_frame_equal(got, want)
    assert got["band"].n_unique() > 1
    for make in [lambda m: m.col("venue").rle(), lambda m: m.arg_where(m.col("price") > 300),
                 lambda m: m.col("size").drop_nulls().sort().search_sorted(250, side="right"),
                 lambda m: m.col("size").entropy(base=2, normalize=False), lambda m: m.col("symbol").arg_unique(),
                 lambda m: m.col("price").skew(bias=False), lambda m: m.col("price").kurtosis(fisher=False),
                 lambda m: m.col("price").cbrt(), lambda m: (m.col("price") / (m.col("size") - m.col("size"))).is_infinite(),
                 lambda m: (m.col("price") / (m.col("size") - m.col("size"))).is_finite(),
                 lambda m: m.col("price").sort_by("size", "venue", descending=[True, False], nulls_last=True,
                                                   maintain_order=True),
                 lambda m: m.col("size").has_nulls(), lambda m: m.col("price").round_sig_figs(2),
                 lambda m: m.col("price").hist(bin_count=4), lambda m: m.col("size").hist([0, 100, 250, 500]),
                 lambda m: m.col("size").index_of(250),
                 lambda m: m.col("price").is_close(m.col("price") + 0.01, abs_tol=0.1),
                 lambda m: m.col("price").rolling_skew(5, bias=False), lambda m: m.col("price").rolling_kurtosis(6),
                 lambda m: m.rolling_corr("price", "size", window_size=4),
                 lambda m: m.rolling_cov("price", "size", window_size=4, ddof=0),
                 # The key (each trade's time) has no ties: min_by's pick among ties is free.
                 lambda m: m.col("price").min_by("ts"), lambda m: m.col("price").max_by("ts"),
                 lambda m: m.struct("symbol", "size").struct.rename_fields(["s", "n"]).struct.field("n"),
                 lambda m: m.col("ts").dt.replace(year=2023, hour=m.col("size") % 24),
                 lambda m: m.col("ts").dt.strftime("%H:%M:%S").str.to_time("%H:%M:%S"),
                 lambda m: m.col("ts") + m.duration(hours=1, minutes=m.col("size") % 60, time_unit="ms"),
                 lambda m: m.col("price").quantile(0.37, "equiprobable"), lambda m: m.col("symbol").str.extract_all("[AEIOU]"),
                 lambda m: m.concat_list("size", "size").cast(pl.List(pl.String)),
                 lambda m: m.concat_list("price", "size").list.to_array(2),
                 lambda m: m.concat_list("price", "size").list.to_array(2).arr.max(),
                 lambda m: m.concat_list("size", "size").list.to_array(2).arr.get(1, null_on_oob=True),
                 lambda m: m.concat_list("price", "size").list.to_array(2).arr.sort(descending=True, nulls_last=True),
                 lambda m: m.int_ranges(0, m.col("size") % 4, dtype=pl.Int16),
                 lambda m: m.col("ts").dt.replace_time_zone("America/New_York", ambiguous="earliest",
                                                            non_existent="null")]:
        got = client.scan_parquet("trades.parquet").select(make(pr).alias("x")).collect()
        assert_frame_equal(got, local(data_dir, "trades.parquet").select(make(pl).alias("x")).collect())


def test_list_calendar_and_per_row_string_functions_match_polars(client: pr.Client, data_dir: Path) -> None:
    def grouped(m, frame):
        c = m.col
        return frame.group_by("symbol", maintain_order=True).agg(
            c("size").head(5).alias("a"), c("size").tail(5).alias("b"),
            c("ts").get(c("price").arg_max()).alias("at_max"), c("venue").head(3).str.join("|").alias("venues"))

    def lists(m):
        c = m.col
        return [c("symbol"), c("at_max"), c("venues"), c("a").list.arg_min().alias("amin"),
                c("a").list.diff().alias("d"), c("a").list.shift(2).alias("s"),
                c("a").list.gather([1, -1], null_on_oob=True).alias("g"), c("a").list.count_matches(100).alias("n"),
                c("a").list.set_union("b").alias("u"), c("a").list.set_symmetric_difference("b").alias("x"),
                c("a").list.to_struct(fields=["p", "q"]).alias("pq")]

    def rows(m):
        c = m.col
        return [c("ts").dt.millennium().alias("m"), c("ts").dt.nanosecond().alias("ns"),
                c("ts").dt.is_leap_year().alias("leap"), c("ts").dt.date().dt.combine(dt.time(9, 30)).alias("open"),
                c("symbol").str.contains(c("venue"), literal=True).alias("has"),
                c("symbol").str.ends_with(c("symbol").str.tail(1)).alias("ew"),
                c("symbol").str.slice(c("size") % 2, 2).alias("sl"), c("symbol").str.strip_suffix("A").alias("ss"),
                c("symbol").str.replace("A", "_", literal=True, n=2).alias("r"),
                c("symbol").str.encode("base64").alias("b64"), c("price").cast(pl.String).str.to_decimal(scale=1).alias("d"),
                c("ts").dt.dst_offset().alias("dst")]

    got = grouped(pr, client.scan_parquet("trades.parquet")).select(lists(pr)).collect()
    want = grouped(pl, local(data_dir, "trades.parquet")).select(lists(pl)).collect()
    assert_frame_equal(got, want)
    assert_frame_equal(client.scan_parquet("trades.parquet").select(rows(pr)).collect(),
                       local(data_dir, "trades.parquet").select(rows(pl)).collect())
    windows = [pl.col("price").max().rolling("ts", period="90s", closed="left").alias("high_90s"),
               pl.len().rolling("ts", period="1m", offset="0s").alias("next_minute")]
    got = client.scan_parquet("trades.parquet").sort("ts").select(
        pr.col("price").max().rolling("ts", period="90s", closed="left").alias("high_90s"),
        pr.len().rolling("ts", period="1m", offset="0s").alias("next_minute")).collect()
    assert_frame_equal(got, local(data_dir, "trades.parquet").sort("ts").select(windows).collect())
    for make in [lambda m: m.col("price").head(3).append(m.col("price").tail(2)),
                 lambda m: m.col("size").head(2).extend_constant(-1, 3),
                 lambda m: m.col("symbol").head(3).repeat_by(2).explode(),
                 lambda m: m.repeat("x", 3),
                 lambda m: m.date_range(dt.date(2024, 1, 1), dt.date(2024, 2, 1), "1w", closed="right"),
                 lambda m: m.datetime_range(m.col("ts").min(), m.col("ts").max(), "2h", time_unit="ms")]:
        got = client.scan_parquet("trades.parquet").select(make(pr).alias("x")).collect()
        assert_frame_equal(got, local(data_dir, "trades.parquet").select(make(pl).alias("x")).collect())


def test_join_options_and_concat_kinds_match_polars(client: pr.Client, data_dir: Path) -> None:
    def sides(scan, c):
        totals = scan("trades.parquet").group_by("symbol").agg(c("size").sum().alias("total")).sort("total")
        bids = scan("quotes.parquet").group_by("symbol").agg(c("bid").last()).filter(c("symbol") != "TSLA").sort("symbol")
        return totals, bids

    for options in [{"how": "full", "coalesce": True}, {"how": "left", "coalesce": False, "maintain_order": "left"},
                    {"nulls_equal": True}, {"how": "right", "maintain_order": "right"}]:
        totals, bids = sides(client.scan_parquet, pr.col)
        got = totals.join(bids, on="symbol", **options).collect()
        totals, bids = sides(lambda p: local(data_dir, p), pl.col)
        want = totals.join(bids, on="symbol", **options).collect()
        if options.get("maintain_order") is None:
            got, want = got.sort(pl.all(), nulls_last=True), want.sort(pl.all(), nulls_last=True)
        assert_frame_equal(got, want)
    totals, bids = sides(client.scan_parquet, pr.col)
    got = totals.join(bids, left_on=pr.col("symbol").str.to_lowercase(), right_on=pr.col("symbol").str.to_lowercase(),
                      maintain_order="left").collect()
    totals, bids = sides(lambda p: local(data_dir, p), pl.col)
    want = totals.join(bids, left_on=pl.col("symbol").str.to_lowercase(),
                       right_on=pl.col("symbol").str.to_lowercase(), maintain_order="left").collect()
    assert_frame_equal(got, want)

    a = pl.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    b = pl.DataFrame({"x": [0.5, 1.5], "z": [True, False]})
    w = pl.DataFrame({"w": [7, 8, 9]})
    remote = {name: client.from_polars(df) for name, df in {"a": a, "b": b, "w": w}.items()}
    for how, names in [("vertical_relaxed", "ab"), ("diagonal", "aw"), ("diagonal_relaxed", "ab"),
                       ("horizontal", "aw"), ("horizontal_extend", "bw")]:
        frames = {"a": a, "b": b, "w": w}
        if how == "vertical_relaxed":
            got = pr.concat([remote["a"].select("x"), remote["b"].select("x")], how=how).collect()
            want = pl.concat([a.select("x"), b.select("x")], how=how)
        else:
            got = pr.concat([remote[n] for n in names], how=how).collect()
            want = pl.concat([frames[n] for n in names], how=how)
        assert_frame_equal(got, want)
    with pytest.raises(pr.InvalidArgumentError, match="unknown concat how"):
        pr.concat([remote["a"], remote["a"]], how="sideways").collect()


def test_merge_sorted_matches_a_hand_worked_merge(client: pr.Client) -> None:
    # Two venues' ticks, each in time order; times 2 and 5 are in both.
    left = pl.DataFrame({"ts": [1, 2, 5, 9], "venue": ["A"] * 4})
    right = pl.DataFrame({"ts": [2, 3, 5, 5, 10], "venue": ["B"] * 5})
    got = client.from_polars(left).merge_sorted(client.from_polars(right), key="ts").collect()
    # Of equal times, the left frame's rows first.
    want = pl.DataFrame({"ts": [1, 2, 2, 3, 5, 5, 5, 9, 10], "venue": list("AABBABBAB")})
    assert_frame_equal(got, want)
    assert_frame_equal(got.sort("ts", "venue"), left.merge_sorted(right, key="ts").sort("ts", "venue"))
    with pytest.raises(pr.InvalidArgumentError, match="at least one key"):
        client.from_polars(left).merge_sorted(client.from_polars(right), key=[]).collect()


def test_join_asof_matches_polars(client: pr.Client, data_dir: Path) -> None:
    def query(scan, c):
        trades = scan("trades.parquet").filter(c("symbol").is_not_null()).sort("ts")
        return trades.join_asof(scan("quotes.parquet").sort("ts"), on="ts", by="symbol", strategy="backward",
                                tolerance="2s")

    got = query(client.scan_parquet, pr.col).collect()
    want = query(lambda p: local(data_dir, p), pl.col).collect()
    assert got["bid"].null_count() > 0  # the tolerance leaves some unmatched
    assert_frame_equal(got, want)


def test_ohlcv_matches_group_by_dynamic(client: pr.Client, data_dir: Path) -> None:
    clean = pr.col("symbol").is_not_null() & pr.col("size").is_not_null()
    bars = client.scan_parquet("trades.parquet").filter(clean).ohlcv("1m", by="symbol").collect()
    want = (local(data_dir, "trades.parquet")
            .filter(pl.col("symbol").is_not_null() & pl.col("size").is_not_null())
            .sort("ts")
            .group_by_dynamic("ts", every="1m", group_by="symbol")
            .agg(pl.col("price").first().alias("open"), pl.col("price").max().alias("high"),
                 pl.col("price").min().alias("low"), pl.col("price").last().alias("close"),
                 pl.col("size").sum().alias("volume"), pl.len().alias("trades"))
            .sort("symbol", "ts")
            .collect())
    cols = ["symbol", "ts", "open", "high", "low", "close"]
    assert_frame_equal(bars.select(cols), want.select(cols))
    assert bars["volume"].cast(pl.Float64).to_list() == want["volume"].cast(pl.Float64).to_list()
    assert bars["trades"].cast(pl.Int64).to_list() == want["trades"].cast(pl.Int64).to_list()


def test_group_by_dynamic_and_rolling_match_polars(client: pr.Client, data_dir: Path) -> None:
    def windows(frame, m, **kw):
        return [
            frame.group_by_dynamic("ts", every="1m", group_by="symbol").agg(m.col("price").last(), m.len()),
            frame.group_by_dynamic("ts", every="5m", period="7m", offset="30s", closed="both", label="right",
                                   include_boundaries=True, start_by="datapoint", **kw)
                 .agg(m.col("size").sum(), m.col("price").max().alias("high")),
            frame.rolling("ts", period="2m", group_by="symbol").agg(m.col("price").mean().alias("avg_2m")),
            frame.rolling("ts", period=dt.timedelta(minutes=3), offset="-1m", closed="left")
                 .agg(m.col("price").min().alias("low")),
        ]

    remote = client.scan_parquet("trades.parquet").filter(pr.col("symbol").is_not_null()).sort("ts")
    here = local(data_dir, "trades.parquet").filter(pl.col("symbol").is_not_null()).sort("ts")
    for got, want in zip(windows(remote, pr), windows(here, pl)):
        want = want.collect()
        assert want.height > 10
        assert_frame_equal(got.collect(), want)
    with pytest.raises(pr.InvalidArgumentError, match="label \"middle\""):
        remote.group_by_dynamic("ts", every="1m", label="middle").agg(pr.len()).collect()
    with pytest.raises(pr.InvalidArgumentError, match="period \"-2m\" must be positive"):
        remote.rolling("ts", period="-2m").agg(pr.len()).collect()


def test_explode_unpivot_and_row_index_match_polars(client: pr.Client, data_dir: Path) -> None:
    def shapes(frame, m):
        lists = frame.group_by("symbol", maintain_order=True).agg(m.col("size").head(3), m.col("price").tail(3))
        return [
            lists.explode("size", "price"),
            lists.explode(["size"], keep_nulls=False),
            frame.head(50).unpivot(["price", "size"], index=["ts", "symbol"], variable_name="field", value_name="x"),
            frame.select("symbol", "price", "size").head(20).unpivot(index="symbol"),
            frame.with_row_index("n", offset=10).filter(m.col("size") > 300),
        ]

    remote = client.scan_parquet("trades.parquet")
    here = local(data_dir, "trades.parquet")
    for got, want in zip(shapes(remote, pr), shapes(here, pl)):
        assert_frame_equal(got.collect(), want.collect())
    with pytest.raises(pr.InvalidArgumentError, match="explode needs at least one column"):
        remote.explode([]).collect()


def test_list_and_split_functions_match_polars(client: pr.Client, data_dir: Path) -> None:
    def lists(frame, m):
        c = m.col
        grouped = frame.group_by("symbol", maintain_order=True).agg(c("price").head(4), c("venue").head(3),
                                                                    c("size").tail(2))
        return grouped.select(
            "symbol",
            c("price").list.len().alias("n"), c("price").list.sum().alias("sum"), c("price").list.mean().alias("mean"),
            c("price").list.min().alias("min"), c("size").list.max().alias("max"),
            c("price").list.first().alias("first"), c("price").list.last().alias("last"),
            c("price").list.get(-2).alias("second_last"), c("price").list.get(9, null_on_oob=True).alias("oob"),
            c("venue").list.contains("X").alias("has_x"), c("venue").list.join("|").alias("venues"),
            c("price").list.sort(descending=True).alias("desc"), c("size").list.sort(nulls_last=True).alias("sizes"),
            c("symbol").str.split("A").alias("parts"), c("symbol").str.split("A", inclusive=True).alias("parts_in"),
        )

    got = lists(client.scan_parquet("trades.parquet"), pr).collect()
    want = lists(local(data_dir, "trades.parquet"), pl).collect()
    assert_frame_equal(got, want)


def test_join_where_matches_polars(client: pr.Client, data_dir: Path) -> None:
    def joined(trades, m):
        # Names that clash take the suffix on the right: price_r, size_r.
        return (trades.head(200).join_where(trades.head(200), m.col("price") < m.col("price_r"),
                                            m.col("size") >= m.col("size_r"), m.col("symbol") == m.col("symbol_r"),
                                            suffix="_r")
                .sort("ts", "ts_r", "price", "price_r"))

    got = joined(client.scan_parquet("trades.parquet"), pr).collect()
    want = joined(local(data_dir, "trades.parquet"), pl).collect()
    assert want.height > 100
    assert_frame_equal(got, want)
    with pytest.raises(ValueError, match="at least one predicate"):
        client.scan_parquet("trades.parquet").join_where(client.scan_parquet("quotes.parquet"))


def test_tick_analytics_match_polars(client: pr.Client, data_dir: Path) -> None:
    ticks = client.scan_parquet("trades.parquet").filter(pr.col("symbol") == "MSFT")
    got = ticks.returns(by="symbol").collect()
    want = (local(data_dir, "trades.parquet").filter(pl.col("symbol") == "MSFT")
            .with_columns((pl.col("price") / pl.col("price").shift(1) - 1).over("symbol").alias("return")).collect())
    assert_frame_equal(got.select("ts", "return"), want.select("ts", "return"))
    quotes = client.scan_parquet("quotes.parquet").quote_metrics().collect()
    assert quotes["mid"].to_list() == pytest.approx(((quotes["bid"] + quotes["ask"]) / 2).to_list())


def test_sql_over_frames_and_the_data_directory(client: pr.Client, data_dir: Path) -> None:
    trades = client.scan_parquet("trades.parquet")
    got = client.sql("SELECT symbol, COUNT(*) AS n FROM t WHERE size > 250 GROUP BY symbol ORDER BY symbol", t=trades).collect()
    want = pl.SQLContext(t=local(data_dir, "trades.parquet")).execute(
        "SELECT symbol, COUNT(*) AS n FROM t WHERE size > 250 GROUP BY symbol ORDER BY symbol").collect()
    # COUNT(*) is the server's index type (u32) where python-polars 2.1 gives i64.
    assert_frame_equal(got, want.with_columns(pl.col("n").cast(got["n"].dtype)))
    direct = client.sql("SELECT COUNT(*) AS n FROM read_parquet('trades.parquet')").collect()
    assert direct["n"][0] == 20_000


def test_sql_binds_params_as_the_literals_a_user_would_type(client: pr.Client, data_dir: Path) -> None:
    trades = client.scan_parquet("trades.parquet")
    query = "SELECT symbol, COUNT(*) AS n FROM t WHERE size > ? AND symbol <> ? GROUP BY symbol ORDER BY symbol"
    got = client.sql(query, params=[250, "AAPL"], t=trades).collect()
    want = pl.SQLContext(t=local(data_dir, "trades.parquet")).execute(
        query.replace("?", "250", 1).replace("?", "'AAPL'", 1)).collect()
    assert_frame_equal(got, want.with_columns(pl.col("n").cast(got["n"].dtype)))
    # By name; a frame of values runs once per row, the results one after another.
    assert client.sql("SELECT $x * 2 AS y, $s AS s", params={"x": 21, "s": "it's"}).collect().rows() == [(42, "it's")]
    runs = client.sql("SELECT COUNT(*) AS n FROM read_parquet('trades.parquet') WHERE size > ?",
                      params=pl.DataFrame({"size": [0, 250, 10_000]})).collect()
    sizes = local(data_dir, "trades.parquet").collect()["size"]
    assert runs["n"].to_list() == [(sizes > 0).sum(), (sizes > 250).sum(), (sizes > 10_000).sum()]
    # Values of their own types come back as themselves.
    values = [dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5, 6), 0.1, -7, None, True]
    assert client.sql("SELECT ?, ?, ?, ?, ?, ?", params=values).collect().rows() == [tuple(values)]
    with pytest.raises(pr.InvalidArgumentError, match=r"takes 2 parameter\(s\) and 1 were bound"):
        client.sql("SELECT ? AS a, ? AS b", params=[1])
    with pytest.raises(pr.InvalidArgumentError, match=r"takes 1 parameter\(s\) \(\?\) and none was bound"):
        client.sql("SELECT ? AS a")


def test_uploads_round_trip_exactly(client: pr.Client) -> None:
    df = pl.DataFrame({
        "i": [1, None, 3],
        "s": ["a", None, "ünï"],
        "t": [dt.datetime(2024, 1, 1, 9, 30, tzinfo=dt.timezone.utc), None, dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)],
        "d": [dt.date(2024, 1, 1), dt.date(1969, 12, 31), None],
        "f": [1.5, float("nan"), None],
        "b": [True, False, None],
    }).with_columns(pl.col("t").dt.convert_time_zone("Asia/Tokyo"))
    remote = client.from_polars(df, name="mixed")
    assert remote.info.name == "mixed" and remote.info.kind == "frame" and remote.info.rows == 3
    assert_frame_equal(remote.collect(), df)
    table = pa.table({"x": pa.array(range(10), pa.int32())})
    assert client.from_arrow(table).to_arrow().equals(table)


def test_polars_own_types_travel_both_ways(client: pr.Client) -> None:
    """Int128 has no Arrow type pyarrow reads: polars writes the upload and reads the result."""
    df = pl.DataFrame({"big": pl.Series([2**100, -(2**90), None, 7], dtype=pl.Int128), "k": [1, 2, 1, 2]})
    remote = client.from_polars(df)
    assert_frame_equal(remote.collect(), df)
    doubled = remote.with_columns((pr.col("big") * 2).alias("twice"))
    want = df.with_columns((pl.col("big") * 2).alias("twice"))
    assert_frame_equal(doubled.collect(), want)
    assert doubled.schema == want.schema
    assert_frame_equal(pl.concat(list(doubled.iter_batches())), want)
    sums = remote.group_by("k").agg(pr.col("big").sum()).sort("k").collect()
    assert sums["big"].to_list() == [2**100, -(2**90) + 7]
    with pytest.raises(pa.ArrowNotImplementedError):
        remote.to_arrow()  # pyarrow has no such type; collect() has it
    csv = client.scan_csv("trades.csv").collect()
    assert csv.height == 500


def test_scans_take_polars_csv_options_patterns_and_directories(client: pr.Client, data_dir: Path) -> None:
    root = data_dir / "client_scans"
    (root / "days").mkdir(parents=True, exist_ok=True)
    (root / "odd.csv").write_text("exported by a tool\nid;name;score\n# note\n1;'a;b';2.5\n2;NA;\n")
    options = {"separator": ";", "skip_rows": 1, "comment_prefix": "#", "quote_char": "'", "null_values": "NA",
               "schema_overrides": {"id": pl.Int8}}
    assert_frame_equal(client.scan_csv("client_scans/odd.csv", **options).collect(),
                       pl.read_csv(root / "odd.csv", **options))
    strings = {"separator": ";", "skip_rows": 1, "comment_prefix": "#", "quote_char": "'", "infer_schema": False}
    assert_frame_equal(client.scan_csv("client_scans/odd.csv", **strings).collect(),
                       pl.read_csv(root / "odd.csv", **strings))
    trades = pl.read_parquet(data_dir / "trades.parquet")
    for i in range(3):
        trades.slice(i * 100, 100).write_parquet(root / "days" / f"d{i}.parquet")
    assert_frame_equal(client.scan_parquet("client_scans/days/*.parquet").collect(), trades.head(300))
    assert_frame_equal(client.scan_parquet(["client_scans/days/d2.parquet", "client_scans/days/d0.parquet"]).collect(),
                       pl.concat([trades.slice(200, 100), trades.head(100)]))
    # A directory reads every file under it, as polars does.
    assert_frame_equal(client.scan_parquet("client_scans/days").collect(),
                       pl.read_parquet(root / "days"))
    with pytest.raises(pr.NotFoundError, match="no file matches"):
        client.scan_parquet("client_scans/nothing/*.parquet")
    with pytest.raises(pr.PermissionDeniedError, match="may not use '..'"):
        client.scan_parquet("../*.parquet")


def test_iter_batches_streams_a_result_larger_than_a_message(client: pr.Client) -> None:
    # 300k rows x 3 i64/f64 columns is 7.2 MB, over the server's 2 MiB messages.
    big = pl.DataFrame({"x": range(300_000), "y": [float(i) / 3 for i in range(300_000)]})
    remote = client.from_polars(big)
    batches = list(remote.with_columns((pr.col("x") * 2).alias("z")).iter_batches())
    assert len(batches) > 1
    assert max(b.estimated_size() for b in batches) <= 2 << 20
    got = pl.concat(batches)
    assert_frame_equal(got, big.with_columns((pl.col("x") * 2).alias("z")))
    arrow_batches = list(remote.iter_arrow_batches(limit=1000))
    assert sum(b.num_rows for b in arrow_batches) == 1000


def test_errors_are_one_hierarchy_with_the_servers_reason(client: pr.Client) -> None:
    trades = client.scan_parquet("trades.parquet")
    with pytest.raises(pr.InvalidArgumentError) as bad_column:
        trades.select(pr.col("no_such_column")).collect()
    assert "no_such_column" in str(bad_column.value)
    # polars' own errors are also polars' exceptions, as in polars.
    assert isinstance(bad_column.value, pl.exceptions.ColumnNotFoundError)
    with pytest.raises(pl.exceptions.InvalidOperationError) as bad_cast:
        trades.select(pr.col("symbol").cast(pl.Int64)).collect()
    assert isinstance(bad_cast.value, pr.InvalidArgumentError) and "conversion from `str` to `i64`" in str(bad_cast.value)
    with pytest.raises(pr.InvalidArgumentError) as bad_regex:
        trades.select(pr.col("venue").str.contains("(")).collect()
    assert "str.contains" in str(bad_regex.value)
    with pytest.raises(pr.PermissionDeniedError):
        client.scan_parquet("../etc/passwd")
    with pytest.raises(pr.NotFoundError):
        client.scan_parquet("missing.parquet")
    gone = client.from_polars(pl.DataFrame({"a": [1]}))
    gone.drop()
    with pytest.raises(pr.NotFoundError) as expired:
        gone.collect()
    assert gone.id in str(expired.value) or "handle" in str(expired.value)
    for cls in (pr.InvalidArgumentError, pr.PermissionDeniedError, pr.NotFoundError, pr.UnauthenticatedError,
                pr.ResourceExhaustedError):
        assert issubclass(cls, pr.PolaroidError)


def test_a_token_protected_server(data_dir: Path) -> None:
    server = Server(data_dir, "--auth-token", "s3cret")
    try:
        with pr.connect(server.target) as anonymous:
            with pytest.raises(pr.UnauthenticatedError):
                anonymous.scan_parquet("trades.parquet")
        with pr.connect(server.target, token="wrong") as wrong:
            with pytest.raises(pr.UnauthenticatedError):
                wrong.stats()
        with pr.connect(server.target, token="s3cret") as client:
            assert client.scan_parquet("trades.parquet").head(2).collect().height == 2
    finally:
        server.stop()


def test_handles_go_when_their_frames_are_collected_or_the_client_closes(server: Server) -> None:
    with pr.connect(server.target) as watcher:
        before = len(watcher.handles())
        client = pr.connect(server.target)
        frame = client.from_polars(pl.DataFrame({"a": [1, 2]}))
        derived = frame.filter(pr.col("a") > 1).select("a")
        assert len(watcher.handles()) == before + 2
        assert derived.keepalive().id == derived.id
        del derived
        gc.collect()
        assert len(watcher.handles()) == before + 1
        kept = frame.with_columns(b=pr.lit(1))
        assert len(watcher.handles()) == before + 2
        client.close()
        assert len(watcher.handles()) == before
        with pytest.raises(pr.PolaroidError):
            kept.collect()
        stats = watcher.stats()
        assert stats["dropped"] >= 3 and "memory_budget" in stats


def test_a_handle_made_elsewhere_can_be_attached_and_is_not_dropped(server: Server) -> None:
    with pr.connect(server.target) as maker:
        made = maker.from_polars(pl.DataFrame({"a": [1, 2, 3]}))
        with pr.connect(server.target) as other:
            attached = other.attach(made.id)
            assert_frame_equal(attached.collect(), pl.DataFrame({"a": [1, 2, 3]}))
            del attached
            gc.collect()
        # The attaching client closed, and its frame was collected: the handle lives on.
        assert made.collect().height == 3
        with pytest.raises(pr.NotFoundError):
            maker.attach("0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70")


def test_decimal_literals_match_polars(client: pr.Client) -> None:
    df = pl.DataFrame({"px": [Decimal("10.25"), Decimal("3.10"), None]}, schema={"px": pl.Decimal(15, 2)})
    got = client.from_polars(df).select((pr.col("px") * pr.lit(Decimal("1.5"))).alias("x"),
                                        (pr.col("px") - pr.lit(Decimal("0.125"))).alias("y"),
                                        (pr.col("px") > pr.lit(Decimal("5"))).alias("z")).collect()
    want = df.select((pl.col("px") * pl.lit(Decimal("1.5"))).alias("x"),
                     (pl.col("px") - pl.lit(Decimal("0.125"))).alias("y"),
                     (pl.col("px") > pl.lit(Decimal("5"))).alias("z"))
    assert_frame_equal(got, want)
    # Worked by hand: 10.25 * 1.5 = 15.375, kept at the wider scale (2) as polars rounds it.
    assert got["x"].to_list()[:2] == [Decimal("15.38"), Decimal("4.65")]
    with pytest.raises(ValueError, match="finite"):
        pr.lit(Decimal("NaN"))



def test_arithmetic_of_integer_literals_is_typed_by_its_value(client: pr.Client) -> None:
    """polars typed `lit(100000) * lit(100000)` Int32 (its larger literal) and folded it to an Int64: the
    server sent the schema, then the Int64 buffer read as Int32s (1410065408, 2, 1410065408); and
    `lit(24) * 60 * 60 * 1000 * 1000` wrapped to 500654080 (python polars 2.1 answers the same). Patch 0093
    types such arithmetic by the value it folds to, as python polars' own collect() answers the first."""
    frame = client.from_polars(pl.DataFrame({"id": [1, 2, 3]})).select(
        pr.col("id"), (pr.lit(100000) * pr.lit(100000)).alias("e10"),
        (pr.lit(24) * 60 * 60 * 1000 * 1000).alias("us_per_day"), (pr.lit(2147483647) + 1 - 5).alias("back"))
    got = frame.collect()
    assert got.schema == frame.schema
    assert got.rows() == [(i, 10**10, 86_400_000_000, 2**31 - 5) for i in (1, 2, 3)]
    assert got.select("id", "e10").equals(pl.LazyFrame({"id": [1, 2, 3]}).select(
        "id", (pl.lit(100000) * pl.lit(100000)).alias("e10")).collect())
    assert frame.materialize().collect().equals(got)


def test_a_literal_left_of_arithmetic_is_typed_by_its_value(client: pr.Client) -> None:
    """`lit(3e9) * col(Int32)` was typed Int32 (the column's) while polars answered an Int64: the server sent
    that buffer as Int32s (patch 0095 types it as polars' type coercion does; python polars 2.1's
    collect_schema still says Int32). Its values are python polars' own collect()'s."""
    df = pl.DataFrame({"i32": [1, -2, 7], "u32": [1, 2, 4_000_000_000]}, schema={"i32": pl.Int32, "u32": pl.UInt32})
    def exprs(lit: Any, col: Any) -> list[Any]:
        return [(lit(3_000_000_000) * col("i32")).alias("wide"), (lit(-1) * col("u32")).alias("negated"),
                (lit(3_000_000_000) // col("i32")).alias("quotient"), (lit(2) * col("i32")).alias("same")]
    frame = client.from_polars(df).select(exprs(pr.lit, pr.col))
    got = frame.collect()
    assert got.schema == frame.schema
    assert_frame_equal(got, df.select(exprs(pl.lit, pl.col)))
    assert got.rows() == [(3 * 10**9, -1, 3 * 10**9, 2), (-6 * 10**9, -2, -15 * 10**8, -4),
                          (21 * 10**9, -4 * 10**9, 428_571_428, 14)]


def test_decimals_with_integers_and_floats_are_typed_as_polars_answers(client: pr.Client) -> None:
    """polars typed `dec(10, 2) * col(Int8)` Decimal(10, 2) and answered a Decimal(38, 2) (so a product past ten
    digits could not be sent in the planned type), `col(Int32) / dec` Float64 for a Decimal(38, 2), `lit(1) /
    col(Float32)` Float64 for a Float32 (patch 0096). The result is python polars' own collect()'s."""
    df = pl.DataFrame({"px": [Decimal("99999999.99"), Decimal("1.50"), None], "q": [100, -2, 3], "n": [3, 6, 9],
                       "f": [2.0, 4.0, 8.0]},
                      schema={"px": pl.Decimal(10, 2), "q": pl.Int8, "n": pl.Int32, "f": pl.Float32})
    def exprs(lit: Any, col: Any) -> list[Any]:
        return [(col("px") * col("q")).alias("notional"), (col("n") / col("px")).alias("per"),
                (col("px") / col("n")).alias("share"), (lit(1) / col("f")).alias("inv"),
                (lit(2.5) / col("f")).alias("scaled")]
    frame = client.from_polars(df).select(exprs(pr.lit, pr.col))
    got = frame.collect()
    assert got.schema == frame.schema
    assert_frame_equal(got, df.select(exprs(pl.lit, pl.col)))
    assert got["notional"].to_list() == [Decimal("9999999999.00"), Decimal("-3.00"), None]


def test_shift_fills_and_running_sums_of_decimals_are_typed_as_polars_answers(client: pr.Client) -> None:
    """`shift(1, fill_value=3e9)` of an Int32 was typed Int32 and answered an Int64; a running sum of a
    Decimal(10, 2) was typed so and answered a Decimal(38, 2), so a total past ten digits failed to send
    (patch 0097). The result is python polars' own collect()'s."""
    df = pl.DataFrame({"a": [1, 2, 3], "px": [Decimal("99999999.99"), Decimal("99999999.99"), Decimal("0.02")]},
                      schema={"a": pl.Int32, "px": pl.Decimal(10, 2)})
    def exprs(col: Any) -> list[Any]:
        return [col("a").shift(1, fill_value=3_000_000_000).alias("wide"), col("a").shift(-1, fill_value=0).alias("same"),
                col("px").cum_sum().alias("running")]
    frame = client.from_polars(df).select(exprs(pr.col))
    got = frame.collect()
    assert got.schema == frame.schema
    assert_frame_equal(got, df.select(exprs(pl.col)))
    assert got["running"].to_list() == [Decimal("99999999.99"), Decimal("199999999.98"), Decimal("200000000.00")]


def test_a_runaway_query_is_stopped_and_the_server_stays_up(data_dir: Path) -> None:
    server = Server(data_dir, "--query-memory-limit", "1GiB")
    try:
        client = pr.Client(server.target)
        trades = client.scan_parquet("trades.parquet")
        # Every pair of the 20,000 trades, sorted: 400M rows, gigabytes before the limit stops it.
        runaway = client.sql("SELECT a.price + b.price AS s FROM trades a, trades b ORDER BY s", trades=trades)
        with pytest.raises(pr.ResourceExhaustedError, match="memory passed its query limit of 1073741824 bytes"):
            runaway.collect()
        counted = client.sql("SELECT count(*) AS n FROM trades", trades=trades).collect()
        assert counted["n"].to_list() == [20_000]
    finally:
        server.stop()


def test_results_read_on_the_calling_thread_or_through_grpc_s_are_the_same(server: Server, data_dir: Path) -> None:
    import grpc
    import grpc.experimental

    through_grpc_thread = pr.Client(server.target, options=[(grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 0)])
    with pr.connect(server.target) as caller_thread, through_grpc_thread:
        # What gRPC made of the option (its own attribute): on by default, off when asked.
        assert caller_thread._channel._single_threaded_unary_stream
        assert not through_grpc_thread._channel._single_threaded_unary_stream
        want = local(data_dir, "trades.parquet").sort("ts").collect()
        for client in (caller_thread, through_grpc_thread):
            frame = client.scan_parquet("trades.parquet").sort("ts")
            assert_frame_equal(frame.collect(), want)
            assert_frame_equal(pl.concat(list(frame.iter_batches())), want)
            # An error the query meets while running ends the stream as one.
            with pytest.raises(pl.exceptions.InvalidOperationError, match="conversion from `str` to `i64` failed") as caught:
                frame.select(pr.col("symbol").cast(pl.Int64)).collect()
            assert isinstance(caught.value, pr.InvalidArgumentError)
