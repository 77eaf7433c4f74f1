//! Bars of a live table as they close: the table read once from where the
//! open bars begin, then each append fed to the bar kernel as it lands —
//! never a rescan. A time bar closes when the table's newest tick passes
//! its end (plus the grace the caller allows for late ticks); ticks that
//! arrive after their bar closed are dropped from the feed (they stay in
//! the table) and counted.

use std::sync::Arc;

use polaroid_handles::Namespace;
use polaroid_timeseries::{BarBuilder, OhlcvOptions};
use polars::prelude::*;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::core::{blocking, Core};
use crate::error::CoreError;

/// Frames of closed bars a subscriber may have unread before the feed
/// waits for it (and, waiting, may fall behind the table).
const UNREAD_FRAMES: usize = 16;

/// What to subscribe to: whose table, its bars, and from when.
#[derive(Clone, Debug)]
pub struct BarSubscription {
    pub table: String,
    /// The bars; an empty `time` means the table's designated timestamp.
    pub options: OhlcvOptions,
    /// Send the bars from this time on (nanoseconds since the epoch), those
    /// already closed first. `None`: from the bars still open now.
    pub start_ns: Option<i64>,
    /// How long a time bar stays open after the newest tick passed its end,
    /// waiting for ticks that arrive late. A fixed duration.
    pub grace: Duration,
}

/// The feed: the first frame (maybe without rows) fixes the columns; every
/// later one holds the bars that closed with one append, sorted by `ts`,
/// then the by-keys. An error ends it.
pub type BarFeed = mpsc::Receiver<Result<DataFrame, CoreError>>;

impl Core {
    /// Subscribe to the bars of the caller's table `sub.table`. Errors in
    /// the request (no such table, a column it lacks, bad options) come
    /// back here; later ones (the subscriber fell more than
    /// [`crate::tables::TAIL_APPENDS`] appends behind, the table was
    /// dropped) end the feed. The feed stops when its receiver is dropped.
    pub async fn subscribe_bars(self: &Arc<Self>, ns: &Namespace, sub: BarSubscription) -> Result<BarFeed, CoreError> {
        let name = sub.table.clone();
        // Opening a table and reading its newest rows is file work: off the runtime.
        let (core, caller) = (self.clone(), ns.clone());
        let (live, first, mut appends) = blocking(move || {
            let table = core
                .tables()
                .existing(&caller, &sub.table)?;
            let mut sub = sub;
            if sub.options.time.is_empty() {
                sub.options.time = table.def().timestamp.unwrap_or_else(|| "ts".into()).into();
            }
            let (snapshot, appends) = table.subscribe()?;
            let (live, first) = seed(snapshot, &sub)?;
            Ok((live, first, appends))
        })
        .await?;
        let mut closing = self.closing.subscribe();
        let (send, feed) = mpsc::channel(UNREAD_FRAMES);
        send.try_send(Ok(first)).expect("a new channel has room");
        tokio::spawn(async move {
            let mut feeder = Feeder { live, name, late_reported: 0 };
            let shutting_down = || CoreError::Unavailable("the server is shutting down; subscribe again once it is back".into());
            loop {
                let rows = tokio::select! {
                    _ = send.closed() => return,
                    () = shutdown_started(&mut closing) => {
                        // A subscriber that stopped reading gets the end of the stream instead.
                        let _ = send.try_send(Err(shutting_down()));
                        return;
                    },
                    got = appends.recv() => got,
                };
                let bars = match rows {
                    Ok(rows) => feeder.feed(&rows),
                    Err(RecvError::Lagged(n)) => Err(CoreError::ResourceExhausted(format!(
                        "this subscription fell {n} appends behind table {}; subscribe again with start = \
                         the last bar you have",
                        feeder.name
                    ))),
                    Err(RecvError::Closed) => Err(CoreError::NotFound(format!("table {} was dropped", feeder.name))),
                };
                let failed = bars.is_err();
                match bars {
                    Ok(bars) if bars.height() == 0 => continue,
                    bars => {
                        // Waiting on a slow subscriber must not hold up a shutdown.
                        let sent = tokio::select! {
                            sent = send.send(bars) => sent.is_ok(),
                            () = shutdown_started(&mut closing) => {
                                let _ = send.try_send(Err(shutting_down()));
                                false
                            },
                        };
                        if !sent || failed {
                            return;
                        }
                    },
                }
            }
        });
        Ok(feed)
    }
}

/// Resolves once the server begins to shut down (at once if it already has).
async fn shutdown_started(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

/// The kernel fed with the table as it was when the subscription began,
/// from where the first bar to send begins; and the bars that closed in it.
fn seed(snapshot: LazyFrame, sub: &BarSubscription) -> Result<(Live, DataFrame), CoreError> {
    let mut snapshot = snapshot;
    let schema = snapshot.collect_schema()?;
    let time = sub.options.time.clone();
    let time_dtype = schema.get(time.as_str()).cloned().ok_or_else(|| {
        CoreError::InvalidArgument(format!(
            "table {} has no column {time:?} for the bars' time (its columns: {:?})",
            sub.table,
            schema.iter_names().collect::<Vec<_>>()
        ))
    })?;
    let builder = BarBuilder::live(sub.options.clone(), &time_dtype)?;
    let grace = builder.units_of("grace", &sub.grace)?;
    let DataType::Datetime(unit, _) = time_dtype else {
        return Err(CoreError::Internal(format!("the bar builder took {time_dtype} for a time column")));
    };
    let from = match sub.start_ns {
        Some(ns) => Some(match unit {
            TimeUnit::Nanoseconds => ns,
            TimeUnit::Microseconds => ns.div_euclid(1_000),
            TimeUnit::Milliseconds => ns.div_euclid(1_000_000),
        }),
        None => {
            // Only the bars still open need the rows before this append;
            // the newest tick says which those are.
            let newest = snapshot.clone().select([col(time.clone()).max().cast(DataType::Int64)]).collect()?;
            match newest.column(time.as_str())?.i64()?.get(0) {
                Some(t) => Some(builder.earliest_open_at(t.saturating_sub(grace))?),
                None => None,
            }
        },
    };
    let mut columns: Vec<Expr> = sub.options.by.iter().map(|c| col(c.clone())).collect();
    for c in [&sub.options.time, &sub.options.price, &sub.options.size] {
        if !sub.options.by.contains(c) {
            columns.push(col(c.clone()));
        }
    }
    let mut rows = snapshot.select(columns);
    if let Some(from) = from {
        rows = rows.filter(col(time.clone()).cast(DataType::Int64).gt_eq(lit(from)));
    }
    let rows = rows.sort([time.clone()], SortMultipleOptions::default().with_maintain_order(true)).collect()?;
    let mut live = Live { builder, grace };
    let first = live.feed(&rows)?;
    Ok((live, first))
}

/// The bar kernel of one subscription and its grace in the time column's unit.
struct Live {
    builder: BarBuilder,
    grace: i64,
}

impl Live {
    /// Add rows (in time order) and take the bars they closed.
    fn feed(&mut self, rows: &DataFrame) -> Result<DataFrame, CoreError> {
        self.builder.push(rows)?;
        if let Some(newest) = self.builder.newest() {
            self.builder.close_until(newest.saturating_sub(self.grace));
        }
        Ok(self.builder.take_closed()?)
    }
}

struct Feeder {
    live: Live,
    name: String,
    late_reported: u64,
}

impl Feeder {
    /// One append: sorted by time first (one append may interleave
    /// writers), then binned; a panic in the kernel ends the feed as INTERNAL.
    fn feed(&mut self, rows: &DataFrame) -> Result<DataFrame, CoreError> {
        let time = self.live.builder.time_column().clone();
        let bars = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let sorted = rows.sort([time], SortMultipleOptions::default().with_maintain_order(true))?;
            self.live.feed(&sorted)
        }))
        .unwrap_or_else(|panic| {
            Err(CoreError::Internal(format!("the bar kernel panicked: {}", crate::error::panic_message(&*panic))))
        })?;
        let late = self.live.builder.late_ticks();
        if late > self.late_reported {
            tracing::warn!(table = %self.name, late, "live bars dropped ticks that came after their bar closed");
            self.late_reported = late;
        }
        Ok(bars)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as Wait;

    use super::*;
    use crate::core::CoreConfig;
    use crate::tables::{PartitionBy, TableDef, TAIL_APPENDS};
    use crate::ErrorKind;

    const MINUTE_US: i64 = 60_000_000;
    const T0: i64 = 1_709_908_200_000_000; // 2024-03-08 14:30:00 UTC, in µs

    fn core_with_trades() -> (tempfile::TempDir, Arc<Core>, Namespace) {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::new(CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let columns = [("symbol", "SYMBOL"), ("ts", "TIMESTAMP"), ("price", "DOUBLE"), ("size", "DOUBLE")];
        let def = TableDef::new("trades", &columns, Some("ts"), PartitionBy::Day);
        core.tables().create(&Namespace::anonymous(), def, false).unwrap();
        (dir, core, Namespace::anonymous())
    }

    /// One tick of `symbol` at `us`.
    fn tick(symbol: &str, us: i64, price: f64) -> DataFrame {
        df! { "symbol" => [symbol], "ts" => [us], "price" => [price], "size" => [1.0] }
            .unwrap()
            .lazy()
            .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            .collect()
            .unwrap()
    }

    fn subscription(start_ns: Option<i64>) -> BarSubscription {
        BarSubscription {
            table: "trades".into(),
            options: OhlcvOptions::every("1m").unwrap(),
            start_ns,
            grace: Duration::parse("0s"),
        }
    }

    async fn next(feed: &mut BarFeed) -> Result<DataFrame, CoreError> {
        tokio::time::timeout(Wait::from_secs(30), feed.recv()).await.expect("a frame within 30 s").expect("the feed is open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn start_sends_closed_history_first_and_open_bars_see_their_earlier_ticks() {
        let (_dir, core, ns) = core_with_trades();
        let append = |df| core.tables().append(&ns, "trades", df, None).unwrap();
        append(tick("A", T0 + 5_000_000, 10.0)); // 14:30:05
        append(tick("A", T0 + MINUTE_US + 1_000_000, 11.0)); // 14:31:01, its bar open
        let mut replay = core.subscribe_bars(&ns, subscription(Some(T0 * 1_000))).await.unwrap();
        let mut live = core.subscribe_bars(&ns, subscription(None)).await.unwrap();
        let first = next(&mut replay).await.unwrap();
        assert_eq!(first.column("close").unwrap().f64().unwrap().get(0), Some(10.0));
        assert_eq!(first.height(), 1);
        assert_eq!(next(&mut live).await.unwrap().height(), 0);
        append(tick("A", T0 + MINUTE_US + 30_000_000, 12.0));
        append(tick("A", T0 + 2 * MINUTE_US, 13.0)); // closes 14:31
        for feed in [&mut replay, &mut live] {
            let bars = next(feed).await.unwrap();
            let get = |c: &str| bars.column(c).unwrap().f64().unwrap().get(0).unwrap();
            // 14:31: the tick from before the subscription opened it.
            assert_eq!((bars.height(), get("open"), get("close"), get("volume")), (1, 11.0, 12.0, 2.0));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_that_falls_behind_is_told_and_the_feed_ends() {
        let (_dir, core, ns) = core_with_trades();
        let mut feed = core.subscribe_bars(&ns, subscription(None)).await.unwrap();
        // Each append closes the previous minute's bar; nobody reads.
        for i in 0..(TAIL_APPENDS + UNREAD_FRAMES + 40) as i64 {
            core.tables().append(&ns, "trades", tick("A", T0 + i * MINUTE_US, 1.0), None).unwrap();
        }
        let mut frames = 0;
        let err = loop {
            match next(&mut feed).await {
                Ok(_) => frames += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::ResourceExhausted, "{err}");
        assert!(err.to_string().contains("appends behind table trades"), "{err}");
        assert!(frames <= UNREAD_FRAMES + 2, "{frames} frames came before the error");
        assert!(tokio::time::timeout(Wait::from_secs(30), feed.recv()).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutting_down_ends_every_feed_as_unavailable() {
        let (_dir, core, ns) = core_with_trades();
        let mut feed = core.subscribe_bars(&ns, subscription(None)).await.unwrap();
        assert_eq!(next(&mut feed).await.unwrap().height(), 0);
        core.end_subscriptions();
        let err = next(&mut feed).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(tokio::time::timeout(Wait::from_secs(30), feed.recv()).await.unwrap().is_none());

        // A subscriber that stopped reading, its frames unread: its feed ends
        // as well (the frames, then the end) instead of waiting for it.
        let (_dir, core, ns) = core_with_trades();
        let mut stalled = core.subscribe_bars(&ns, subscription(None)).await.unwrap();
        for i in 0..(UNREAD_FRAMES + 4) as i64 {
            core.tables().append(&ns, "trades", tick("A", T0 + i * MINUTE_US, 1.0), None).unwrap();
        }
        let deadline = std::time::Instant::now() + Wait::from_secs(30);
        while stalled.len() < UNREAD_FRAMES {
            assert!(std::time::Instant::now() < deadline, "{} frames came", stalled.len());
            tokio::time::sleep(Wait::from_millis(10)).await;
        }
        assert_eq!(stalled.sender_strong_count(), 1, "the feed waits for its reader");
        core.end_subscriptions();
        // Without a frame read, the feed lets go: a shutdown is not held up.
        let deadline = std::time::Instant::now() + Wait::from_secs(30);
        while stalled.sender_strong_count() > 0 {
            assert!(std::time::Instant::now() < deadline, "the feed still waits for its reader");
            tokio::time::sleep(Wait::from_millis(10)).await;
        }
        let mut frames = 0;
        while let Some(frame) = stalled.recv().await {
            assert!(frame.is_ok(), "frame {frames}: no room was left for the error");
            frames += 1;
        }
        assert_eq!(frames, UNREAD_FRAMES, "the first frame and the bars that fit");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_table_ends_the_feed_and_bad_requests_are_refused() {
        let (_dir, core, ns) = core_with_trades();
        let mut feed = core.subscribe_bars(&ns, subscription(None)).await.unwrap();
        core.tables().drop(&ns, "trades", false).unwrap();
        let err = loop {
            if let Err(e) = next(&mut feed).await {
                break e;
            }
        };
        assert_eq!((err.kind(), err.to_string()), (ErrorKind::NotFound, "table trades was dropped".to_string()));

        let unknown = core.subscribe_bars(&ns, subscription(None)).await.unwrap_err();
        assert_eq!((unknown.kind(), unknown.to_string()), (ErrorKind::NotFound, "table does not exist: trades".to_string()));
        let (_dir, core, ns) = core_with_trades();
        let mut no_column = subscription(None);
        no_column.options.price = "px".into();
        let err = core.subscribe_bars(&ns, no_column).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("px"), "{err}");
        let calendar_grace = BarSubscription { grace: Duration::parse("1mo"), ..subscription(None) };
        let err = core.subscribe_bars(&ns, calendar_grace).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}
