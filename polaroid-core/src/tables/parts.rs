//! How a table's parts are read: time filters skip the parts they rule out.
//!
//! A run of parts with the same columns is one multi-file IPC scan (it was
//! a union of one scan per part). Each part's time range goes with it as
//! polars' table statistics (`<column>_min`, `<column>_max`, `<column>_nc`
//! and `len`, one row per file, as Iceberg's scans give them). A filter on
//! the designated timestamp that polars pushes down to the scan then drops
//! the parts it rules out before any is opened: QuestDB's partition
//! pruning. A query over the last hour of a year's table reads the parts
//! of that hour, in either engine.
//!
//! A part's range is its own when this process knows it (it wrote the
//! part, or read its timestamps once for upsert keys), else its
//! partition's bounds, which its directory's name gives. Unknown bounds
//! are null, which never skips a part.

use super::*;
use crate::retention::{partition_end, partition_start};

/// What is known of each part file without reading its rows. Parts never
/// change once written, so what was learnt of one stays true.
#[derive(Clone, Default)]
pub(super) struct PartFacts {
    /// Each part's earliest and latest designated timestamps (physical).
    pub ranges: Arc<Mutex<HashMap<PathBuf, (i64, i64)>>>,
    /// Each part's columns, from its footer (one written before a column
    /// was added lacks it).
    schemas: Arc<Mutex<HashMap<PathBuf, SchemaRef>>>,
}

impl PartFacts {
    fn schema_of(&self, part: &Path) -> Result<SchemaRef, CoreError> {
        if let Some(schema) = lock(&self.schemas).get(part) {
            return Ok(schema.clone());
        }
        let mut file = BufReader::new(File::open(part).map_err(|e| io_error(part, e))?);
        let footer = polars_arrow::io::ipc::read::read_file_metadata(&mut file)?;
        let schema = Arc::new(Schema::from_arrow_schema(footer.schema.as_ref()));
        lock(&self.schemas).insert(part.to_path_buf(), schema.clone());
        Ok(schema)
    }

    /// A write-out wrote `written` (its batches' time ranges `ranges`,
    /// from [`batch_ranges`]); the table's parts are now `parts`.
    pub fn note_written(&self, written: &[PathBuf], ranges: Vec<Option<(i64, i64)>>, parts: &[PathBuf]) {
        let kept: std::collections::HashSet<&PathBuf> = parts.iter().collect();
        let mut known = lock(&self.ranges);
        known.retain(|p, _| kept.contains(p));
        for (part, range) in written.iter().zip(ranges) {
            if let Some(range) = range {
                known.insert(part.clone(), range);
            }
        }
        lock(&self.schemas).retain(|p, _| kept.contains(p));
    }
}

/// The time range of each batch a write-out writes, for
/// [`PartFacts::note_written`].
pub(super) fn batch_ranges(batches: &[PartBatch], def: &TableDef) -> Result<Vec<Option<(i64, i64)>>, CoreError> {
    match &def.timestamp {
        Some(ts) => batches.iter().map(|b| upserts::time_range(&b.rows, ts)).collect(),
        None => Ok(Vec::new()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// `parts` (in order) as the table's readers see them: one scan per run of
/// parts with the same columns, each column cast as [`read_columns`] casts.
pub(super) fn scan_parts(state: &TableState, parts: &[PathBuf], schema: &Schema) -> Result<Vec<LazyFrame>, CoreError> {
    let mut scans = Vec::new();
    let mut run: Vec<PathBuf> = Vec::new();
    let mut run_has: Option<SchemaRef> = None;
    for part in parts {
        let has = state.facts.schema_of(part)?;
        if let Some(previous) = run_has.take_if(|previous| previous != &has) {
            scans.push(scan_run(state, &std::mem::take(&mut run), &previous, schema)?);
        }
        run_has = Some(has);
        run.push(part.clone());
    }
    if let Some(has) = run_has {
        scans.push(scan_run(state, &run, &has, schema)?);
    }
    Ok(scans)
}

/// Parts that all have the columns `has`, as one scan.
fn scan_run(state: &TableState, run: &[PathBuf], has: &Schema, schema: &Schema) -> Result<LazyFrame, CoreError> {
    let sources = ScanSources::Paths(run.iter().map(|p| PlRefPath::new(p.to_string_lossy().as_ref())).collect());
    let args = UnifiedScanArgs {
        glob: false,
        hive_options: HiveOptions::new_disabled(),
        table_statistics: Some(TableStatistics(Arc::new(statistics(state, run, has)?))),
        ..Default::default()
    };
    let scan = LazyFrame::scan_ipc_sources(sources, Default::default(), args)?;
    Ok(scan.select(read_columns(&state.def, schema, has)))
}

/// One row per part: its time range in the designated timestamp's
/// `_min`/`_max`, every other statistic null (unknown).
fn statistics(state: &TableState, run: &[PathBuf], has: &Schema) -> Result<DataFrame, CoreError> {
    let n = run.len();
    let mut columns = vec![Column::full_null("len".into(), n, &IDX_DTYPE)];
    for (name, dtype) in has.iter() {
        let (min, max) = match &state.def.timestamp {
            Some(ts) if ts.as_str() == name.as_str() => {
                let (min, max): (Vec<Option<i64>>, Vec<Option<i64>>) =
                    run.iter().map(|part| part_bounds(state, part, dtype)).map(|b| (b.map(|b| b.0), b.map(|b| b.1))).unzip();
                (
                    Column::new(format!("{name}_min").into(), min).cast(dtype)?,
                    Column::new(format!("{name}_max").into(), max).cast(dtype)?,
                )
            },
            _ => (Column::full_null(format!("{name}_min").into(), n, dtype), Column::full_null(format!("{name}_max").into(), n, dtype)),
        };
        columns.push(min);
        columns.push(max);
        columns.push(Column::full_null(format!("{name}_nc").into(), n, &IDX_DTYPE));
    }
    Ok(DataFrame::new(n, columns)?)
}

/// The earliest and latest timestamps `part` may hold, in the physical
/// units of `dtype`: its own range if known, else its partition's.
fn part_bounds(state: &TableState, part: &Path, dtype: &DataType) -> Option<(i64, i64)> {
    if let Some(range) = lock(&state.facts.ranges).get(part) {
        return Some(*range);
    }
    let DataType::Datetime(unit, _) = dtype else { return None };
    let by = state.def.partition_by;
    let name = partition_name(part);
    let (start, end) = (partition_start(by, &name)?.and_utc(), partition_end(by, &name)?.and_utc());
    let physical = |at: chrono::DateTime<chrono::Utc>| match unit {
        TimeUnit::Milliseconds => Some(at.timestamp_millis()),
        TimeUnit::Microseconds => Some(at.timestamp_micros()),
        TimeUnit::Nanoseconds => at.timestamp_nanos_opt(),
    };
    Some((physical(start)?, physical(end)? - 1))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{rows, with_trades_table};
    use super::*;

    const DAY_US: i64 = 86_400_000_000;
    /// 2026-11-23T00:00:00, where `rows(0, _)` starts.
    const START_US: i64 = 1_795_392_000_000_000;

    fn at(us: i64) -> Expr {
        lit(us).cast(DataType::Datetime(TimeUnit::Microseconds, None))
    }

    /// Ten days of rows: days 0..6 written out (days 2 and 3 twice, so
    /// in two parts), a column added, days 6..8 written out with it, and
    /// days 8..10 still in the log.
    fn ten_days() -> (tempfile::TempDir, Namespace, Tables) {
        let (dir, ns, tables) = with_trades_table();
        let table = tables.existing(&ns, "trades").unwrap();
        for day in 0..6 {
            tables.append(&ns, "trades", rows(day, 50), None).unwrap();
        }
        table.flushed_parts().unwrap();
        for day in [2, 3] {
            tables.append(&ns, "trades", rows(day, 20), None).unwrap();
        }
        table.flushed_parts().unwrap();
        tables.add_columns(&ns, "trades", vec![ColumnDef { name: "venue".into(), kind: "SYMBOL".into() }], false).unwrap();
        for day in 6..10 {
            let with_venue = rows(day, 40).lazy().with_column(lit("X").alias("venue")).collect().unwrap();
            tables.append(&ns, "trades", with_venue, None).unwrap();
            if day == 7 {
                table.flushed_parts().unwrap();
            }
        }
        (dir, ns, tables)
    }

    /// Filters on the designated timestamp, at random: each comparison,
    /// ranges, ORs of ranges, negations, bounds inside days, on their
    /// edges and outside the table, and a filter on another column.
    fn random_filter(rng: &mut fastrand::Rng) -> Expr {
        let instant = |rng: &mut fastrand::Rng| {
            let day = rng.i64(-2..12);
            let within = match rng.u8(0..4) {
                0 => 0,
                1 => DAY_US - 1,
                _ => rng.i64(0..60) * 1_000_000,
            };
            START_US + day * DAY_US + within
        };
        let compare = |rng: &mut fastrand::Rng| {
            let t = at(instant(rng));
            match rng.u8(0..6) {
                0 => col("ts").gt(t),
                1 => col("ts").gt_eq(t),
                2 => col("ts").lt(t),
                3 => col("ts").lt_eq(t),
                4 => col("ts").eq(t),
                _ => t.lt(col("ts")),
            }
        };
        match rng.u8(0..6) {
            0 | 1 => compare(rng),
            2 => compare(rng).and(compare(rng)),
            3 => {
                let (a, b) = (instant(rng), instant(rng));
                col("ts").is_between(at(a.min(b)), at(a.max(b)), ClosedInterval::Both)
            },
            4 => compare(rng).and(compare(rng)).or(compare(rng)),
            _ => compare(rng).and(col("px").gt(lit(rng.f64() * 50.0))).not(),
        }
    }

    fn sorted(lf: LazyFrame, engine: Engine) -> DataFrame {
        let rows = lf.with_column(col("sym").cast(DataType::String)).collect_with_engine(engine).unwrap().unwrap_single();
        rows.sort(["ts", "px"], Default::default()).unwrap()
    }

    /// The oracle is the whole table read first, then filtered in memory
    /// (no scan to skip anything): every filter must give the same rows,
    /// in both engines, with the parts' own ranges known (as written) and
    /// with their partitions' bounds only (after a restart).
    #[test]
    fn a_time_filter_reads_the_rows_a_full_read_filters_to() {
        let (dir, ns, tables) = ten_days();
        let written = tables.existing(&ns, "trades").unwrap();
        let reopened = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
        let full = written.scan().unwrap().collect().unwrap();
        assert_eq!(full.height(), 6 * 50 + 2 * 20 + 4 * 40);
        let mut rng = fastrand::Rng::with_seed(16);
        let mut nonempty = 0;
        for _ in 0..150 {
            let filter = random_filter(&mut rng);
            let want = sorted(full.clone().lazy().filter(filter.clone()), Engine::InMemory);
            nonempty += usize::from(want.height() > 0 && want.height() < full.height());
            for table in [&written, &reopened] {
                for engine in [Engine::InMemory, Engine::Streaming] {
                    let got = sorted(table.scan().unwrap().filter(filter.clone()), engine);
                    assert!(got.equals_missing(&want), "{filter:?} on {engine:?}: {got} != {want}");
                }
            }
        }
        assert!(nonempty > 60, "the filters mostly select some rows, not all: {nonempty}");
    }

    /// A part a filter rules out is never opened: with the other days'
    /// files gone, a query of day 0 still answers, and a query that needs
    /// them fails.
    #[test]
    fn a_part_a_time_filter_rules_out_is_never_opened() {
        for restarted in [false, true] {
            let (dir, ns, tables) = ten_days();
            let tables = if restarted { Tables::new(dir.path()) } else { tables };
            let table = tables.existing(&ns, "trades").unwrap();
            let day_0 = col("ts").lt(at(START_US + DAY_US));
            let want = sorted(table.scan().unwrap().filter(day_0.clone()), Engine::InMemory);
            assert_eq!(want.height(), 50);
            let base = dir.path().join("tables/default/trades");
            for day in ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-30"] {
                std::fs::remove_dir_all(base.join(day)).unwrap();
            }
            for engine in [Engine::InMemory, Engine::Streaming] {
                let got = sorted(table.scan().unwrap().filter(day_0.clone()), engine);
                assert!(got.equals_missing(&want), "{engine:?}: {got}");
                let all = table.scan().unwrap().filter(col("ts").lt(at(START_US + 3 * DAY_US))).collect_with_engine(engine);
                assert!(all.is_err(), "restarted {restarted}, {engine:?}: the missing days were not read");
            }
        }
    }
}
