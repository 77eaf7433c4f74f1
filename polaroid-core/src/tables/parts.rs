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
//! A part's range is its own: its write-out notes it, with its row count,
//! in the custom metadata of the part's IPC footer, read back with the
//! footer that the scan reads anyway. A part written before that was done
//! has its partition's bounds, which its directory's name gives (or its
//! own range once upsert keys read its timestamps). Unknown bounds are
//! null, which never skips a part. The same counts and ranges bound a
//! table's newest and oldest rows ([`rows_bound`]) without reading a part.

use std::collections::HashSet;

use super::*;
use crate::retention::{partition_end, partition_start};

/// What is known of each part file without reading its rows. Parts never
/// change once written, so what was learnt of one stays true.
#[derive(Clone, Default)]
pub(super) struct PartFacts(Arc<Mutex<HashMap<PathBuf, Facts>>>);

/// What one part holds.
#[derive(Clone, Default)]
pub(super) struct Facts {
    /// Its columns (one written before a column was added lacks it).
    pub schema: Option<SchemaRef>,
    /// Its earliest and latest designated timestamps (physical units).
    pub range: Option<(i64, i64)>,
    pub rows: Option<u64>,
    /// The values each SYMBOL column holds, by column, where its write-out
    /// noted them (not for a column of more than [`MAX_NOTED_SYMBOLS`]
    /// values; `None` for a part written before they were noted).
    pub symbols: Option<Arc<HashMap<String, Arc<ValueRows>>>>,
}

/// A SYMBOL column's values (null among them), each with its rows.
pub(super) type ValueRows = Vec<(Option<String>, u64)>;

/// Where a write-out puts a part's time range and row count: the custom
/// metadata of its IPC footer, read back with the footer a scan reads
/// anyway. (Not the schema's: readers that merge the schemas of several
/// files, as DataFusion's do for Ballista, refuse differing values there.)
const RANGE_MIN: &str = "polaroid.ts_min";
const RANGE_MAX: &str = "polaroid.ts_max";
const ROWS: &str = "polaroid.rows";
/// Followed by a SYMBOL column's name: the values it holds and the rows of
/// each, as JSON (`[["AAPL", 120], [null, 3]]`).
const SYMBOLS: &str = "polaroid.symbols.";
/// That the write-out noted its SYMBOL columns' values.
const SYMBOLS_NOTED: &str = "polaroid.symbols";
/// A part notes a SYMBOL column's values up to this many: beyond, the
/// footer would grow with the rows.
const MAX_NOTED_SYMBOLS: usize = 1024;

impl PartFacts {
    /// What `part`'s footer says (read once): its columns, and the range
    /// and rows its write-out noted (parts written before that was done
    /// have neither).
    pub fn of(&self, part: &Path) -> Result<Facts, CoreError> {
        if let Some(known) = lock(&self.0).get(part).filter(|f| f.schema.is_some()) {
            return Ok(known.clone());
        }
        let mut file = BufReader::new(File::open(part).map_err(|e| io_error(part, e))?);
        let footer = polars_arrow::io::ipc::read::read_file_metadata(&mut file)?;
        let noted = |key: &str| footer.custom_metadata.as_ref()?.get(key)?.parse::<i64>().ok();
        let mut known = lock(&self.0);
        let facts = known.entry(part.to_path_buf()).or_default();
        facts.schema = Some(Arc::new(Schema::from_arrow_schema(footer.schema.as_ref())));
        facts.range = facts.range.or(noted(RANGE_MIN).zip(noted(RANGE_MAX)));
        facts.rows = facts.rows.or(noted(ROWS).map(|n| n as u64));
        if facts.symbols.is_none() {
            facts.symbols = noted_symbols(footer.custom_metadata.as_deref());
        }
        Ok(facts.clone())
    }

    /// What `part`'s footer says, and for a part written before a
    /// write-out noted its SYMBOL columns' values, those values, its rows
    /// and its range, read from its rows once (then known: parts never
    /// change).
    pub fn with_symbols(&self, part: &Path, def: &TableDef) -> Result<Facts, CoreError> {
        let facts = self.of(part)?;
        if facts.symbols.is_some() {
            return Ok(facts);
        }
        let has = facts.schema.clone().expect("read with the footer");
        let columns: Vec<String> = def
            .columns
            .iter()
            .filter(|c| c.kind.eq_ignore_ascii_case("SYMBOL") || def.timestamp.as_ref() == Some(&c.name))
            .filter(|c| has.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        let file = File::open(part).map_err(|e| io_error(part, e))?;
        let rows = IpcReader::new(file).with_columns(Some(columns)).finish()?;
        let range = match &def.timestamp {
            Some(ts) if rows.column(ts).is_ok() => upserts::time_range(&rows, ts)?,
            _ => None,
        };
        let symbols = Some(Arc::new(symbol_values(&rows, def)?));
        let mut known = lock(&self.0);
        let learnt = known.entry(part.to_path_buf()).or_default();
        learnt.range = learnt.range.or(range);
        learnt.rows = learnt.rows.or(Some(rows.height() as u64));
        learnt.symbols = symbols;
        Ok(learnt.clone())
    }

    /// `part`'s time range, read from its rows.
    pub fn note_range(&self, part: &Path, range: (i64, i64)) {
        lock(&self.0).entry(part.to_path_buf()).or_default().range = Some(range);
    }

    /// A write-out wrote `written` (what [`batch_facts`] said of each);
    /// the table's parts are now `parts`.
    pub fn note_written(&self, written: &[PathBuf], facts: Vec<Facts>, parts: &[PathBuf]) {
        let kept: std::collections::HashSet<&PathBuf> = parts.iter().collect();
        let mut known = lock(&self.0);
        known.retain(|p, _| kept.contains(p));
        known.extend(written.iter().cloned().zip(facts));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// What each batch a write-out writes will hold, for the part's metadata
/// ([`metadata`]) and [`PartFacts::note_written`].
pub(super) fn batch_facts(batches: &[PartBatch], def: &TableDef) -> Result<Vec<Facts>, CoreError> {
    batches
        .iter()
        .map(|b| {
            let range = match &def.timestamp {
                Some(ts) => upserts::time_range(&b.rows, ts)?,
                None => None,
            };
            Ok(Facts {
                schema: Some(b.rows.schema().clone()),
                range,
                rows: Some(b.rows.height() as u64),
                symbols: Some(Arc::new(symbol_values(&b.rows, def)?)),
            })
        })
        .collect()
}

/// The values of each of `def`'s SYMBOL columns in `rows`, with their
/// rows, for the columns of at most [`MAX_NOTED_SYMBOLS`] values.
fn symbol_values(rows: &DataFrame, def: &TableDef) -> Result<HashMap<String, Arc<ValueRows>>, CoreError> {
    let mut noted = HashMap::new();
    for column in def.columns.iter().filter(|c| c.kind.eq_ignore_ascii_case("SYMBOL")) {
        if rows.column(&column.name).is_err() {
            continue;
        }
        let counted = value_rows(rows, &column.name)?;
        if counted.len() <= MAX_NOTED_SYMBOLS {
            noted.insert(column.name.clone(), Arc::new(counted));
        }
    }
    Ok(noted)
}

/// The values of the text column `column` of `rows`, each with its rows.
fn value_rows(rows: &DataFrame, column: &str) -> Result<ValueRows, CoreError> {
    let values = rows.column(column)?.as_materialized_series().cast(&DataType::String)?;
    let counted = values.value_counts(false, false, "polaroid.rows".into(), false)?;
    let (values, counts) = (counted.column(column)?.str()?, counted.column("polaroid.rows")?.idx()?);
    Ok(values.iter().zip(counts.iter()).map(|(v, n)| (v.map(str::to_string), n.unwrap_or(0) as u64)).collect())
}

/// The SYMBOL columns' values a footer's `metadata` notes; `None` if it
/// notes none (a part written before they were noted). A note that does
/// not parse is left out, as if its column had too many values.
fn noted_symbols(metadata: Option<&std::collections::BTreeMap<PlSmallStr, PlSmallStr>>) -> Option<Arc<HashMap<String, Arc<ValueRows>>>> {
    let metadata = metadata.filter(|m| m.contains_key(SYMBOLS_NOTED))?;
    let noted = metadata
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(SYMBOLS)?.to_string(), Arc::new(serde_json::from_str(value).ok()?))))
        .collect();
    Some(Arc::new(noted))
}

/// The footer metadata a part is written with.
pub(super) fn metadata(facts: &Facts) -> Vec<(String, String)> {
    let mut noted = Vec::new();
    if let Some((min, max)) = facts.range {
        noted.push((RANGE_MIN.to_string(), min.to_string()));
        noted.push((RANGE_MAX.to_string(), max.to_string()));
    }
    if let Some(rows) = facts.rows {
        noted.push((ROWS.to_string(), rows.to_string()));
    }
    if let Some(symbols) = &facts.symbols {
        // Noted even with no SYMBOL column: a reader then knows that a
        // column without its values has too many to note.
        noted.push((SYMBOLS_NOTED.to_string(), "1".to_string()));
        for (column, values) in symbols.iter() {
            let json = serde_json::to_string(values.as_ref()).expect("strings and counts serialize");
            noted.push((format!("{SYMBOLS}{column}"), json));
        }
    }
    noted
}

/// `parts` (in order) as the table's readers see them: one scan per run of
/// parts with the same columns, each column cast as [`read_columns`] casts.
pub(super) fn scan_parts(state: &TableState, parts: &[PathBuf], schema: &Schema) -> Result<Vec<LazyFrame>, CoreError> {
    let mut scans = Vec::new();
    let mut run: Vec<(&PathBuf, Facts)> = Vec::new();
    for part in parts {
        let facts = state.facts.of(part)?;
        if run.last().is_some_and(|(_, last)| last.schema != facts.schema) {
            scans.push(scan_run(state, &std::mem::take(&mut run), schema)?);
        }
        run.push((part, facts));
    }
    if !run.is_empty() {
        scans.push(scan_run(state, &run, schema)?);
    }
    Ok(scans)
}

/// One part, or the log, as the bounds below see it, from what is known
/// without reading a part: its time range, its rows, and the rows of each
/// value of one SYMBOL column.
struct Block {
    range: Option<(i64, i64)>,
    rows: Option<u64>,
    values: Option<Arc<ValueRows>>,
}

/// The table's parts and its log as [`Block`]s, with the values of the
/// SYMBOL column `key` (a part written before the column was added holds
/// only its null; one written before values were noted has them read, see
/// [`PartFacts::with_symbols`]). A part without its own range has its
/// partition's.
fn blocks(state: &TableState, ts: &str, key: Option<&str>) -> Result<Vec<Block>, CoreError> {
    let dtype = state.pending.schema().get(ts).cloned().unwrap_or(DataType::Null);
    let mut blocks = Vec::with_capacity(state.parts.len() + 1);
    for part in &state.parts {
        let facts = match key {
            Some(_) => state.facts.with_symbols(part, &state.def)?,
            None => state.facts.of(part)?,
        };
        let values = match (key, &facts.schema) {
            (None, _) => None,
            (Some(key), Some(schema)) if schema.get(key).is_none() => facts.rows.map(|rows| Arc::new(vec![(None, rows)])),
            (Some(key), _) => facts.symbols.as_ref().and_then(|s| s.get(key).cloned()),
        };
        let range = part_bounds(state.def.partition_by, part, &facts, &dtype);
        blocks.push(Block { range, rows: facts.rows, values });
    }
    if let Some(range) = upserts::time_range(&state.pending, ts)? {
        let values = key.map(|key| value_rows(&state.pending, key).map(Arc::new)).transpose()?;
        blocks.push(Block { range: Some(range), rows: Some(state.pending.height() as u64), values });
    }
    Ok(blocks)
}

/// Whether `key` is one of the table's SYMBOL columns (whose values a
/// write-out notes), by its exact name.
fn is_symbol(state: &TableState, key: &str) -> bool {
    state.def.columns.iter().any(|c| c.name == key && c.kind.eq_ignore_ascii_case("SYMBOL"))
}

/// An instant (physical, in the designated timestamp's unit) within
/// which at least `n` of the table's rows (of those whose SYMBOL column
/// `only.0` holds one of `only.1`, if given) are known to lie, toward its
/// `end`: the latest at or after which they lie (the newest rows), or the
/// earliest at or before which they lie (the oldest). Counted without
/// reading any part: each part holds its footer's rows (of each value)
/// within its footer's range, and the log its rows. With fewer such rows
/// than `n`, and every block counted, the block holding one farthest from
/// the end (all of them are wanted), or just beyond the end's row when
/// none does. `None` when it is not known: no designated timestamp, upsert
/// keys (a part's rows may be replaced), or fewer rows counted. A part
/// without those facts (written by an earlier version) is not counted,
/// which only makes the bound farther.
pub(super) fn rows_bound(state: &TableState, end: End, n: usize, only: Option<(&str, &[String])>) -> Result<Option<i64>, CoreError> {
    let Some(ts) = &state.def.timestamp else { return Ok(None) };
    if !state.def.upsert_keys.is_empty() || n == 0 || only.is_some_and(|(key, _)| !is_symbol(state, key)) {
        return Ok(None);
    }
    // Each block's instant farthest from the end, and its rows (that
    // count): all of a block's rows lie between it and the end.
    let mut counted: Vec<(i64, u64)> = Vec::new();
    let (mut every_block, mut end_row) = (true, None);
    for block in blocks(state, ts, only.map(|(key, _)| key))? {
        end_row = match (end, end_row, block.range) {
            (_, None, range) => range.map(|(min, max)| end.pick(max, min)),
            (End::Newest, Some(row), Some((_, max))) => Some(max.max(row)),
            (End::Oldest, Some(row), Some((min, _))) => Some(min.min(row)),
            (_, row, None) => row,
        };
        let rows = match only {
            None => block.rows,
            Some((_, wanted)) => block.values.map(|values| {
                values.iter().filter(|(v, _)| v.as_ref().is_some_and(|v| wanted.contains(v))).map(|(_, n)| n).sum()
            }),
        };
        match (block.range, rows) {
            (Some((min, max)), Some(rows)) => counted.push((end.pick(min, max), rows)),
            _ => every_block = false,
        }
    }
    // The blocks nearest the end first: the farthest of those that
    // together hold n.
    if let Some(at) = crate::read_back::nearest_holding(counted.clone(), end, n) {
        return Ok(Some(at));
    }
    if !every_block {
        return Ok(None);
    }
    let holding = counted.iter().filter(|(_, rows)| *rows > 0).map(|(at, _)| *at);
    let farthest = match end {
        End::Newest => holding.min(),
        End::Oldest => holding.max(),
    };
    // None held: just beyond the end's row, where nothing lies.
    Ok(farthest.or(end_row.map(|t| end.pick(t.saturating_add(1), t.saturating_sub(1)))))
}

/// The latest instant (physical, in the designated timestamp's unit) at
/// or after which every value of the SYMBOL column `key` (each of `only`,
/// if given) has its latest row, known without reading any part: each
/// value's latest row is no earlier than the earliest row of the newest
/// block that holds it. The blocks are the parts, by their footers' ranges
/// and values, and the log. When no block holds any of `only`, just after
/// the newest row: nothing need be read. With it, the values the table
/// holds (of `only`; its null among them, if a row holds it). `None` when
/// it is not known: no designated timestamp, upsert keys (a part's rows may
/// be replaced), a part whose values or range are not noted, or an empty
/// table.
pub(super) fn latest_by_key(state: &TableState, key: &str, only: Option<&[String]>) -> Result<Option<(i64, HashSet<Option<String>>)>, CoreError> {
    let Some(ts) = &state.def.timestamp else { return Ok(None) };
    if !state.def.upsert_keys.is_empty() || !is_symbol(state, key) {
        return Ok(None);
    }
    let wanted = |value: &Option<String>| match (only, value) {
        (None, _) => true,
        (Some(only), Some(value)) => only.contains(value),
        (Some(_), None) => false,
    };
    // Each value's newest block's earliest instant, and the newest row.
    let mut newest: HashMap<&Option<String>, i64> = HashMap::new();
    let mut last_row: Option<i64> = None;
    let blocks = blocks(state, ts, Some(key))?;
    for block in &blocks {
        let (Some((min, max)), Some(values)) = (block.range, &block.values) else { return Ok(None) };
        last_row = last_row.max(Some(max));
        for (value, _) in values.iter().filter(|(v, rows)| *rows > 0 && wanted(v)) {
            let at = newest.entry(value).or_insert(min);
            *at = (*at).max(min);
        }
    }
    let bound = newest.values().copied().min().or(last_row.map(|t| t.saturating_add(1)));
    Ok(bound.map(|bound| (bound, newest.into_keys().cloned().collect())))
}

/// The distinct instants (physical) where the table's blocks begin, seen
/// from `end` (the earliest of each, before `first`, newest first; or the
/// latest, after `first`, oldest first): where the windows of a read back
/// begin (see [`super::Table::read_back_windows`]). A block of unknown
/// range is in none of them; the last window, open, reads it.
pub(super) fn block_edges(state: &TableState, end: End, first: i64) -> Result<Vec<i64>, CoreError> {
    let Some(ts) = &state.def.timestamp else { return Ok(Vec::new()) };
    let ranges = blocks(state, ts, None)?.into_iter().filter_map(|b| b.range);
    Ok(crate::read_back::edges_beyond(ranges, end, first))
}

/// Parts that all have the same columns, as one scan.
fn scan_run(state: &TableState, run: &[(&PathBuf, Facts)], schema: &Schema) -> Result<LazyFrame, CoreError> {
    let has = run[0].1.schema.clone().expect("read with the footer");
    let sources = ScanSources::Paths(run.iter().map(|(p, _)| PlRefPath::new(p.to_string_lossy().as_ref())).collect());
    let args = UnifiedScanArgs {
        glob: false,
        hive_options: HiveOptions::new_disabled(),
        table_statistics: Some(TableStatistics(Arc::new(statistics(state, run, &has)?))),
        // Every part's row count known: the scan's size is exact for the planner.
        row_count: run.iter().map(|(_, f)| f.rows).sum::<Option<u64>>().map(|rows| (rows, 0)),
        ..Default::default()
    };
    let scan = LazyFrame::scan_ipc_sources(sources, Default::default(), args)?;
    Ok(scan.select(read_columns(&state.def, schema, &has)))
}

/// One row per part: its row count (`len`) and time range (the designated
/// timestamp's `_min` and `_max`) where known, every other statistic null
/// (unknown).
fn statistics(state: &TableState, run: &[(&PathBuf, Facts)], has: &Schema) -> Result<DataFrame, CoreError> {
    let n = run.len();
    let rows: Vec<Option<IdxSize>> = run.iter().map(|(_, f)| f.rows.and_then(|r| IdxSize::try_from(r).ok())).collect();
    let mut columns = vec![Column::new("len".into(), rows)];
    for (name, dtype) in has.iter() {
        let (min, max) = match &state.def.timestamp {
            Some(ts) if ts.as_str() == name.as_str() => {
                let (min, max): (Vec<Option<i64>>, Vec<Option<i64>>) = run
                    .iter()
                    .map(|(part, facts)| part_bounds(state.def.partition_by, part, facts, dtype))
                    .map(|b| (b.map(|b| b.0), b.map(|b| b.1)))
                    .unzip();
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
fn part_bounds(by: PartitionBy, part: &Path, facts: &Facts, dtype: &DataType) -> Option<(i64, i64)> {
    if facts.range.is_some() {
        return facts.range;
    }
    let DataType::Datetime(unit, _) = dtype else { return None };
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
    use super::super::tests::{def, rows};
    use super::*;

    const DAY_US: i64 = 86_400_000_000;
    /// 2026-11-23T00:00:00, where `rows(0, _)` starts.
    const START_US: i64 = 1_795_392_000_000_000;

    fn at(us: i64) -> Expr {
        lit(us).cast(DataType::Datetime(TimeUnit::Microseconds, None))
    }

    /// Ten days of rows from 2026-11-23, partitioned `by`: days 0..6
    /// written out (days 2 and 3 twice, so in two parts), a column added,
    /// days 6..8 written out with it, and days 8..10 still in the log.
    fn ten_days(by: PartitionBy) -> (tempfile::TempDir, Namespace, Tables) {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        tables.create(&ns, TableDef { partition_by: by, ..def() }, false).unwrap();
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

    /// [`ten_days`] by day: its table as written, or as a restart reads it.
    fn ten_days_by_day(restarted: bool) -> (tempfile::TempDir, Arc<Table>) {
        let (dir, ns, tables) = ten_days(PartitionBy::Day);
        let tables = if restarted { Tables::new(dir.path()) } else { tables };
        let table = tables.existing(&ns, "trades").unwrap();
        (dir, table)
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
    /// in both engines, as written and after a restart, with day and
    /// month partitions (the bounds of a month hold several parts).
    #[test]
    fn a_time_filter_reads_the_rows_a_full_read_filters_to() {
        let mut rng = fastrand::Rng::with_seed(16);
        for by in [PartitionBy::Day, PartitionBy::Month] {
            let (dir, ns, tables) = ten_days(by);
            let written = tables.existing(&ns, "trades").unwrap();
            let reopened = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
            let full = written.scan().unwrap().collect().unwrap();
            assert_eq!(full.height(), 6 * 50 + 2 * 20 + 4 * 40);
            let mut some = 0;
            for _ in 0..80 {
                let filter = random_filter(&mut rng);
                let want = sorted(full.clone().lazy().filter(filter.clone()), Engine::InMemory);
                some += usize::from(want.height() > 0 && want.height() < full.height());
                for table in [&written, &reopened] {
                    for engine in [Engine::InMemory, Engine::Streaming] {
                        let got = sorted(table.scan().unwrap().filter(filter.clone()), engine);
                        assert!(got.equals_missing(&want), "{by:?}, {filter:?} on {engine:?}: {got} != {want}");
                    }
                }
            }
            assert!(some > 30, "the filters mostly select some rows, not all: {some}");
        }
    }

    /// A part a filter rules out is never opened: with the other days'
    /// files gone, a query of day 0 still answers, and a query that needs
    /// them fails.
    #[test]
    fn a_part_a_time_filter_rules_out_is_never_opened() {
        for restarted in [false, true] {
            let (dir, table) = ten_days_by_day(restarted);
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

    /// Within a partition a part is skipped by its own range, which its
    /// file holds: after a restart, day 0 of a month partition is read
    /// from the one part that holds it (the part of days 2 and 3 is gone).
    #[test]
    fn a_part_s_own_range_is_in_its_file() {
        let (dir, ns, _) = ten_days(PartitionBy::Month);
        let month = dir.path().join("tables/default/trades/2026-11");
        let mut parts: Vec<_> = std::fs::read_dir(&month).unwrap().map(|e| e.unwrap().path()).collect();
        parts.sort();
        assert_eq!(parts.len(), 3, "days 0-5, days 2-3 again, days 6-7: {parts:?}");
        let table = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
        let day_0 = col("ts").lt(at(START_US + DAY_US));
        let want = sorted(table.scan().unwrap().filter(day_0.clone()), Engine::InMemory);
        assert_eq!(want.height(), 50);
        let facts = table.state.read().unwrap().facts.of(&parts[1]).unwrap();
        assert_eq!(facts.range, Some((START_US + 2 * DAY_US, START_US + 3 * DAY_US + 19_000_000)));
        assert_eq!(facts.rows, Some(40));
        std::fs::remove_file(&parts[1]).unwrap();
        for engine in [Engine::InMemory, Engine::Streaming] {
            assert!(sorted(table.scan().unwrap().filter(day_0.clone()), engine).equals_missing(&want), "{engine:?}");
            let days_2_3 = table.scan().unwrap().filter(col("ts").gt_eq(at(START_US + 2 * DAY_US)));
            assert!(days_2_3.collect_with_engine(engine).is_err(), "{engine:?}: the missing part was not read");
        }
    }

    /// A table's last rows (QuestDB's `LIMIT -n`, `tail`) are those of a
    /// full read, for slices from the end of every length, across its two
    /// scans (before and after `ADD COLUMN`) and the rows in its log, in
    /// both engines, as written and after a restart (which reads the
    /// rows in the same order).
    #[test]
    fn the_last_rows_of_a_table_are_those_of_a_full_read() {
        let mut rng = fastrand::Rng::with_seed(110);
        let (dir, ns, tables) = ten_days(PartitionBy::Day);
        let written = tables.existing(&ns, "trades").unwrap();
        let reopened = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
        let full = written.scan().unwrap().collect().unwrap();
        let reread = reopened.scan().unwrap().collect().unwrap();
        assert!(reread.equals_missing(&full), "a restart reads the rows in the order they were read");
        let height = full.height() as i64;
        // Each edge: the log's 80 rows, the second scan's 80, everything.
        let mut slices: Vec<(i64, usize)> =
            [1, 10, 79, 80, 81, 159, 160, 161, height, height + 1].iter().map(|&n| (-n, n as usize)).collect();
        slices.extend((0..40).map(|_| (-rng.i64(1..height + 20), rng.usize(0..200))));
        for table in [&written, &reopened] {
            for &(offset, len) in &slices {
                let want = full.slice(offset, len);
                for engine in [Engine::InMemory, Engine::Streaming] {
                    let got = table.scan().unwrap().slice(offset, len as IdxSize).collect_with_engine(engine).unwrap().unwrap_single();
                    assert!(got.equals_missing(&want), "slice({offset}, {len}) on {engine:?}: {got} != {want}");
                }
            }
        }
    }

    /// A table's last rows are read from the last parts of each scan. The
    /// first scan reads its parts by partition, then write-out: its last
    /// 100 rows are in days 5 and 4. With day 1 and the first parts of
    /// days 2 and 3 gone, the table's last 100 rows still answer, and 300
    /// rows, which need them, fail.
    #[test]
    fn the_last_rows_are_read_from_the_last_parts() {
        for restarted in [false, true] {
            let (dir, table) = ten_days_by_day(restarted);
            let want = table.scan().unwrap().collect().unwrap().tail(Some(100));
            let base = dir.path().join("tables/default/trades");
            std::fs::remove_dir_all(base.join("2026-11-24")).unwrap();
            for day in ["2026-11-25", "2026-11-26"] {
                let mut parts: Vec<_> = std::fs::read_dir(base.join(day)).unwrap().map(|e| e.unwrap().path()).collect();
                parts.sort();
                assert_eq!(parts.len(), 2, "{parts:?}");
                std::fs::remove_file(&parts[0]).unwrap();
            }
            for engine in [Engine::InMemory, Engine::Streaming] {
                let got = table.scan().unwrap().tail(100).collect_with_engine(engine).unwrap().unwrap_single();
                assert!(got.equals_missing(&want), "restarted {restarted}, {engine:?}: {got}");
                let more = table.scan().unwrap().tail(300).collect_with_engine(engine);
                assert!(more.is_err(), "restarted {restarted}, {engine:?}: the missing parts were not read");
            }
        }
    }

    /// The bound of the newest n rows, hand-worked for `ten_days`: the
    /// log holds days 8 and 9 (80 rows), then come the parts of day 7 and
    /// day 6 (40 each), day 5 and day 4 (50 each), and the two parts of
    /// day 3. The n newest rows by time are those of the table filtered on
    /// the bound, as written and after a restart (from the footers).
    #[test]
    fn the_newest_rows_lie_at_or_after_the_bound() {
        let (dir, ns, tables) = ten_days(PartitionBy::Day);
        let written = tables.existing(&ns, "trades").unwrap();
        let reopened = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
        let newest = |lf: LazyFrame, n: usize| {
            let sorted = lf.with_column(col("sym").cast(DataType::String)).sort_by_exprs(
                [col("ts"), col("px")],
                SortMultipleOptions::default().with_order_descending(true),
            );
            sorted.limit(n as IdxSize).collect().unwrap()
        };
        for table in [&written, &reopened] {
            let expected = [(1, 8), (80, 8), (81, 7), (120, 7), (121, 6), (160, 6), (161, 5), (210, 5), (211, 4), (260, 4), (261, 3)];
            for (n, want) in expected {
                assert_eq!(table.rows_bound(End::Newest, n, None).unwrap(), Some(day(want)), "{n} rows");
                let bounded = table.scan().unwrap().filter(col("ts").gt_eq(at(START_US + want * DAY_US)));
                assert!(newest(bounded, n).equals_missing(&newest(table.scan().unwrap(), n)), "{n} rows");
            }
            assert_eq!(table.rows_bound(End::Newest, 0, None).unwrap(), None);
            // More rows than the table holds: all of them.
            assert_eq!(table.rows_bound(End::Newest, 6 * 50 + 2 * 20 + 4 * 40 + 1, None).unwrap(), Some(day(0)));
        }
    }

    /// A time filter ANDed with a set of symbols (SQL's `IN (...)`, the
    /// DSL's `is_in(implode(...))`) still skips the parts of other days: the
    /// set does not keep the AND from being split (patch 0112).
    #[test]
    fn a_time_filter_beside_a_set_of_symbols_skips_parts_too() {
        let (dir, ns, _) = ten_days(PartitionBy::Day);
        let core = crate::Core::new(crate::CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let sql = |query: &str, engine: Engine| {
            let (lf, _) = core.namespace_sql_plan_with(&ns, query, Vec::new(), crate::SqlOptions::default())?;
            let entry = core.prepare_plan(&ns, lf, "test")?;
            Ok::<_, CoreError>(core.collect_entry(&entry, engine, &crate::CancelToken::default())?.as_ref().clone())
        };
        // The table is opened (its parts listed) before days go.
        let everything = sql("SELECT count(*) AS n FROM trades", Engine::InMemory).unwrap();
        assert!(everything.equals(&df!("n" => [500 as IdxSize]).unwrap()), "{everything}");
        let base = dir.path().join("tables/default/trades");
        for day in ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-30"] {
            std::fs::remove_dir_all(base.join(day)).unwrap();
        }
        // Day 0: 50 rows, A at even seconds (px 0, 2, ... 48).
        let want = df!("n" => [25 as IdxSize], "px" => [(0..50).step_by(2).sum::<i32>() as f64]).unwrap();
        let set = lit(Series::new("".into(), ["A", "Z"])).implode(false);
        let day_0 = col("ts").lt(at(START_US + DAY_US));
        for engine in [Engine::InMemory, Engine::Streaming] {
            for query in [
                "SELECT count(*) AS n, sum(px) AS px FROM trades WHERE sym IN ('A', 'Z') AND ts < '2026-11-24'",
                "SELECT count(*) AS n, sum(px) AS px FROM trades WHERE ts < '2026-11-24' AND sym IN ('A', 'Z')",
            ] {
                let got = sql(query, engine).unwrap();
                assert!(got.equals(&want), "{query} {engine:?}: {got}");
            }
            let shipped = crate::shipping::placeholder("trades")
                .filter(col("sym").is_in(set.clone(), false).and(day_0.clone()))
                .select([len().alias("n"), col("px").sum()]);
            let info = core.ship_plan(&ns, &crate::shipping::encode(&shipped).unwrap(), &HashMap::new(), "", "").unwrap();
            let entry = core.handle(&ns, info.id).unwrap();
            let got = core.collect_entry(&entry, engine, &crate::CancelToken::default()).unwrap();
            assert!(got.equals(&want), "shipped {engine:?}: {got}");
            let needs_deleted = "SELECT count(*) FROM trades WHERE sym IN ('A', 'Z') AND ts < '2026-11-25'";
            assert!(sql(needs_deleted, engine).is_err(), "day 1 was deleted");
        }
    }

    /// `rows(day, n)` with its symbols cycling through `symbols`.
    fn rows_of(day: i64, n: i64, symbols: &[&str]) -> DataFrame {
        let sym: Vec<&str> = (0..n as usize).map(|i| symbols[i % symbols.len()]).collect();
        rows(day, n).lazy().with_column(lit(Series::new("sym".into(), sym)).alias("sym")).collect().unwrap()
    }

    /// Each value's latest row, of the values `only` keeps: the oracle, on
    /// the rows in memory.
    fn latest_of(lf: LazyFrame, key: &str, only: Option<&[&str]>) -> DataFrame {
        let rows = lf.with_columns([col("sym").cast(DataType::String), col("venue").cast(DataType::String)]).collect().unwrap();
        let mut rows = rows.lazy();
        if let Some(only) = only {
            rows = rows.filter(col(key).is_in(lit(Series::new("".into(), only)).implode(false), false));
        }
        let latest = rows.sort(["ts"], SortMultipleOptions::default().with_maintain_order(true)).group_by([col(key)]).agg([all().as_expr().last()]);
        latest.sort([key], SortMultipleOptions::default().with_nulls_last(true)).collect().unwrap()
    }

    /// Days 0 to 3 written out, 30 rows each, their symbols cycling through
    /// A, B, C (10 rows each), A, B (15), A, D (15) and A, B (15); then a
    /// SYMBOL column `venue` added, and day 4 in the log: 30 rows of A at
    /// venue X. So C last trades on day 0, D on day 2, B on day 3, A in the
    /// log, and the parts hold only venue's null.
    fn days_of_symbols() -> (tempfile::TempDir, Namespace, Tables, Arc<Table>) {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        tables.create(&ns, def(), false).unwrap();
        let table = tables.existing(&ns, "trades").unwrap();
        for (day, symbols) in [(0, &["A", "B", "C"][..]), (1, &["A", "B"]), (2, &["A", "D"]), (3, &["A", "B"])] {
            tables.append(&ns, "trades", rows_of(day, 30, symbols), None).unwrap();
        }
        table.flushed_parts().unwrap();
        tables.add_columns(&ns, "trades", vec![ColumnDef { name: "venue".into(), kind: "SYMBOL".into() }], false).unwrap();
        let day_4 = rows_of(4, 30, &["A"]).lazy().with_column(lit("X").alias("venue")).collect().unwrap();
        tables.append(&ns, "trades", day_4, None).unwrap();
        (dir, ns, tables, table)
    }

    /// The table as an earlier version would have left it: each part
    /// rewritten with the same rows and no notes in its footer (no range,
    /// rows or values), then the table opened again.
    fn as_written_before_notes(dir: &Path, ns: &Namespace) -> Arc<Table> {
        for partition in std::fs::read_dir(dir.join("tables/default/trades")).unwrap() {
            let partition = partition.unwrap().path();
            if !partition.is_dir() {
                continue;
            }
            for part in std::fs::read_dir(&partition).unwrap() {
                let part = part.unwrap().path();
                let mut rows = IpcReader::new(File::open(&part).unwrap()).finish().unwrap();
                IpcWriter::new(File::create(&part).unwrap()).finish(&mut rows).unwrap();
            }
        }
        let table = Tables::new(dir).existing(ns, "trades").unwrap();
        let first = table.state.read().unwrap().parts[0].clone();
        assert!(table.state.read().unwrap().facts.of(&first).unwrap().symbols.is_none(), "no values noted");
        table
    }

    fn day(d: i64) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp_micros(START_US + d * DAY_US).unwrap().naive_utc()
    }

    /// The `n` newest rows whose `key` is one of `only`: the oracle, on
    /// the rows in memory.
    fn newest_of(lf: LazyFrame, key: &str, only: &[&str], n: usize) -> DataFrame {
        let rows = lf.with_columns([col("sym").cast(DataType::String), col("venue").cast(DataType::String)]);
        let rows = rows.filter(col(key).is_in(lit(Series::new("".into(), only)).implode(false), false));
        let newest = SortMultipleOptions::default().with_order_descending(true);
        rows.sort_by_exprs([col("ts"), col("px")], newest).limit(n as IdxSize).collect().unwrap()
    }

    /// The newest rows of some symbols lie at or after the bound the
    /// footers' counts of each value give, hand-worked from
    /// [`days_of_symbols`]; checked against the whole table, as written,
    /// after a restart, and with parts an earlier version wrote (their
    /// values read from their rows).
    #[test]
    fn the_newest_rows_of_some_symbols_lie_at_or_after_the_bound() {
        let (dir, ns, _tables, table) = days_of_symbols();
        let check = |table: &Table| {
            let expected: [(&str, &[&str], usize, Option<i64>); 13] = [
                ("sym", &["B"], 1, Some(3)),
                ("sym", &["B"], 15, Some(3)),
                ("sym", &["B"], 16, Some(1)),
                ("sym", &["B"], 40, Some(0)),
                ("sym", &["B"], 41, Some(0)),
                ("sym", &["C", "D"], 15, Some(2)),
                ("sym", &["D", "C"], 16, Some(0)),
                ("sym", &["C", "D"], 26, Some(0)),
                ("sym", &["A"], 30, Some(4)),
                ("sym", &["A"], 31, Some(3)),
                ("venue", &["X"], 30, Some(4)),
                ("venue", &["X"], 31, Some(4)),
                ("px", &["1"], 1, None),
            ];
            for (key, only, n, want) in expected {
                let owned: Vec<String> = only.iter().map(|v| v.to_string()).collect();
                let bound = table.rows_bound(End::Newest, n, Some((key, &owned))).unwrap();
                assert_eq!(bound, want.map(day), "{key} {only:?} {n}");
                let Some(want) = want else { continue };
                let bounded = table.scan().unwrap().filter(col("ts").gt_eq(at(START_US + want * DAY_US)));
                let (got, all) = (newest_of(bounded, key, only, n), newest_of(table.scan().unwrap(), key, only, n));
                assert!(got.equals_missing(&all), "{key} {only:?} {n}: {got} != {all}");
            }
            // No row of Z: just after the newest row (day 4's 30th second).
            let after_all = chrono::DateTime::from_timestamp_micros(START_US + 4 * DAY_US + 29_000_000 + 1).unwrap().naive_utc();
            assert_eq!(table.rows_bound(End::Newest, 1, Some(("sym", &["Z".to_string()]))).unwrap(), Some(after_all));
        };
        check(&table);
        check(&Tables::new(dir.path()).existing(&ns, "trades").unwrap());
        check(&as_written_before_notes(dir.path(), &ns));
    }

    /// The latest row of each value of a SYMBOL column lies at or after the
    /// bound, hand-worked from [`days_of_symbols`], in which values last
    /// appear on different days: the parts' footers say which values each
    /// holds. Checked against the whole table, as written, after a
    /// restart, and with parts an earlier version wrote (their values and
    /// ranges read from their rows).
    #[test]
    fn every_value_s_latest_row_lies_at_or_after_the_bound() {
        let (dir, ns, tables, table) = days_of_symbols();
        let check = |table: &Table| {
            let expected: [(&str, Option<&[&str]>, Option<i64>); 9] = [
                ("sym", None, Some(0)),
                ("sym", Some(&["A"]), Some(4)),
                ("sym", Some(&["A", "B"]), Some(3)),
                ("sym", Some(&["D", "A"]), Some(2)),
                ("sym", Some(&["C", "Z"]), Some(0)),
                ("venue", None, Some(3)),
                ("venue", Some(&["X"]), Some(4)),
                ("px", None, None),
                ("ts", None, None),
            ];
            for (key, only, want) in expected {
                let owned: Option<Vec<String>> = only.map(|o| o.iter().map(|v| v.to_string()).collect());
                let bound = table.latest_by_key_bound(key, owned.as_deref()).unwrap();
                assert_eq!(bound, want.map(day), "{key} {only:?}");
                let Some(want) = want else { continue };
                let bounded = table.scan().unwrap().filter(col("ts").gt_eq(at(START_US + want * DAY_US)));
                let (got, all) = (latest_of(bounded, key, only), latest_of(table.scan().unwrap(), key, only));
                assert!(got.equals_missing(&all), "{key} {only:?}: {got} != {all}");
            }
            // No row of Z: just after the newest row (day 4's 30th second).
            let after_all = chrono::DateTime::from_timestamp_micros(START_US + 4 * DAY_US + 29_000_000 + 1).unwrap().naive_utc();
            assert_eq!(table.latest_by_key_bound("sym", Some(&["Z".to_string()])).unwrap(), Some(after_all));
        };
        check(&table);
        check(&Tables::new(dir.path()).existing(&ns, "trades").unwrap());
        let older = as_written_before_notes(dir.path(), &ns);
        check(&older);
        // What was read of the older parts is known from then on.
        let first = older.state.read().unwrap().parts[0].clone();
        assert!(older.state.read().unwrap().facts.of(&first).unwrap().symbols.is_some());

        // No bound with upsert keys (a part's rows may be replaced), nor
        // for a part whose values were too many to note.
        tables.set_upsert_keys(&ns, "trades", vec!["ts".into(), "sym".into()]).unwrap();
        assert_eq!(table.latest_by_key_bound("sym", None).unwrap(), None);
        tables.set_upsert_keys(&ns, "trades", Vec::new()).unwrap();
        assert_eq!(table.latest_by_key_bound("sym", None).unwrap(), Some(day(0)));
        let many: Vec<String> = (0..=MAX_NOTED_SYMBOLS).map(|i| format!("S{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        tables.append(&ns, "trades", rows_of(5, many.len() as i64, &many), None).unwrap();
        table.flushed_parts().unwrap();
        assert_eq!(table.latest_by_key_bound("sym", Some(&["A".to_string()])).unwrap(), None);
        assert_eq!(Tables::new(dir.path()).existing(&ns, "trades").unwrap().latest_by_key_bound("sym", None).unwrap(), None);
        assert_eq!(table.latest_by_key_bound("venue", Some(&["X".to_string()])).unwrap(), Some(day(4)));
    }

    /// A polars plan shipped by a client (the Python client's lazy API)
    /// filters the table's scan as SQL does: the parts of other days are
    /// never opened.
    #[test]
    fn a_shipped_plan_s_time_filter_skips_parts_too() {
        let (dir, ns, _) = ten_days(PartitionBy::Day);
        let core = crate::Core::new(crate::CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let shipped = |filter: Expr| {
            let plan = crate::shipping::placeholder("trades").filter(filter).select([len().alias("n"), col("px").sum()]);
            let info = core.ship_plan(&ns, &crate::shipping::encode(&plan)?, &HashMap::new(), "", "")?;
            let entry = core.handle(&ns, info.id)?;
            Ok::<_, CoreError>(core.collect_entry(&entry, Engine::Streaming, &crate::CancelToken::default())?.as_ref().clone())
        };
        let day_0 = col("ts").lt(at(START_US + DAY_US));
        let want = df!("n" => [50 as IdxSize], "px" => [(0..50).sum::<i32>() as f64]).unwrap();
        assert!(shipped(day_0.clone()).unwrap().equals(&want));
        let base = dir.path().join("tables/default/trades");
        for day in ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-30"] {
            std::fs::remove_dir_all(base.join(day)).unwrap();
        }
        let got = shipped(day_0).unwrap();
        assert!(got.equals(&want), "{got}");
        assert!(shipped(col("ts").lt(at(START_US + 3 * DAY_US))).is_err(), "the missing days were not read");
    }

    /// How many of `rows` each day holds, by day.
    fn rows_by_day(rows: DataFrame) -> Vec<(i64, u32)> {
        let days = rows.lazy().select([((col("ts").cast(DataType::Int64) - lit(START_US)) / lit(DAY_US)).alias("day")]);
        let days = days.group_by([col("day")]).agg([len()]).sort(["day"], Default::default()).collect().unwrap();
        let day: Vec<i64> = days.column("day").unwrap().i64().unwrap().into_no_null_iter().collect();
        let rows: Vec<u32> = days.column("len").unwrap().cast(&DataType::UInt32).unwrap().u32().unwrap().into_no_null_iter().collect();
        day.into_iter().zip(rows).collect()
    }

    /// The bound of the oldest n rows, hand-worked for `ten_days`: by
    /// their latest rows, the parts of days 0 and 1 (50 rows each, to 49 s
    /// past midnight), day 2's second part (20 rows, to 19 s) and its
    /// first (50), the same for day 3, days 4 and 5 (50), days 6 and 7 (40,
    /// to 39 s), then the log (to day 9, 39 s). The n oldest rows are those
    /// of the table filtered on the bound. Then the windows of a read back
    /// from the oldest 100: days 0 and 1; then day 2 to 19 s; then 2 more
    /// parts' ends (day 3 to 19 s); then 4 (day 6 to 39 s); then the rest.
    #[test]
    fn the_oldest_rows_lie_at_or_before_the_bound_and_are_read_forward() {
        let (dir, ns, tables) = ten_days(PartitionBy::Day);
        let written = tables.existing(&ns, "trades").unwrap();
        let reopened = Tables::new(dir.path()).existing(&ns, "trades").unwrap();
        let oldest = |lf: LazyFrame, n: usize| {
            let sorted = lf.with_column(col("sym").cast(DataType::String)).sort_by_exprs([col("ts"), col("px")], Default::default());
            sorted.limit(n as IdxSize).collect().unwrap()
        };
        let at_second = |d: i64, s: i64| START_US + d * DAY_US + s * 1_000_000;
        for table in [&written, &reopened] {
            let expected = [(1, (0, 49)), (50, (0, 49)), (51, (1, 49)), (100, (1, 49)), (101, (2, 19)), (120, (2, 19)), (121, (2, 49))];
            let expected = expected.into_iter().chain([(190, (3, 19)), (191, (3, 49)), (381, (7, 39)), (421, (9, 39)), (500, (9, 39))]);
            for (n, (d, s)) in expected {
                let bound = table.rows_bound(End::Oldest, n, None).unwrap();
                assert_eq!(bound, chrono::DateTime::from_timestamp_micros(at_second(d, s)).map(|t| t.naive_utc()), "{n} rows");
                let bounded = table.scan().unwrap().filter(col("ts").lt_eq(at(at_second(d, s))));
                assert!(oldest(bounded, n).equals_missing(&oldest(table.scan().unwrap(), n)), "{n} rows");
            }
            // More rows than the table holds: all of them, to the last.
            let all = table.rows_bound(End::Oldest, 501, None).unwrap();
            assert_eq!(all, chrono::DateTime::from_timestamp_micros(at_second(9, 39)).map(|t| t.naive_utc()));

            let whole = table.scan().unwrap().collect().unwrap();
            let first = table.rows_bound(End::Oldest, 100, None).unwrap().unwrap();
            let windows = table.read_back_windows(End::Oldest, first).unwrap().unwrap();
            let expected: [&[(i64, u32)]; 5] =
                [&[(0, 50), (1, 50)], &[(2, 40)], &[(2, 30), (3, 40)], &[(3, 30), (4, 50), (5, 50), (6, 40)], &[(7, 40), (8, 40), (9, 40)]];
            let got: Vec<_> = windows.iter().map(|w| rows_by_day(whole.clone().lazy().filter(w.clone()).collect().unwrap())).collect();
            assert_eq!(got, expected.map(|w| w.to_vec()));
        }
    }

    /// The windows a read back goes through, hand-worked for `ten_days`
    /// from day 8 (where the log starts): day 8 on, then the parts of 1
    /// (day 7), 2 (days 5, 6) and 4 (days 1 to 4, two parts each for days
    /// 2 and 3) days, then the rest. Each row is in one window, and a
    /// window's scan opens only its parts: with day 1 deleted, only the
    /// window that holds it fails.
    #[test]
    fn a_read_back_goes_through_twice_as_many_parts_each_window() {
        for restarted in [false, true] {
            let (dir, table) = ten_days_by_day(restarted);
            let windows = table.read_back_windows(End::Newest, day(8)).unwrap().unwrap();
            let whole = table.scan().unwrap().collect().unwrap();
            let expected: [&[(i64, u32)]; 5] = [
                &[(8, 40), (9, 40)],
                &[(7, 40)],
                &[(5, 50), (6, 40)],
                &[(1, 50), (2, 70), (3, 70), (4, 50)],
                &[(0, 50)],
            ];
            assert_eq!(windows.len(), expected.len(), "restarted {restarted}");
            for (window, want) in windows.iter().zip(expected) {
                let rows = whole.clone().lazy().filter(window.clone()).collect().unwrap();
                assert_eq!(rows_by_day(rows), want, "restarted {restarted}: {window}");
            }
            // Before any part: the rows from there, then the rest.
            let from_before = table.read_back_windows(End::Newest, day(-1)).unwrap().unwrap();
            let counts: Vec<usize> = from_before.iter().map(|w| whole.clone().lazy().filter(w.clone()).collect().unwrap().height()).collect();
            assert_eq!(counts, [whole.height(), 0], "restarted {restarted}");

            // Day 1 goes (not day 0: a scan reads the columns from its first part).
            std::fs::remove_dir_all(dir.path().join("tables/default/trades/2026-11-24")).unwrap();
            for engine in [Engine::InMemory, Engine::Streaming] {
                for (at, (window, want)) in windows.iter().zip(expected).enumerate() {
                    let rows = table.scan().unwrap().filter(window.clone()).collect_with_engine(engine);
                    match at {
                        3 => assert!(rows.is_err(), "restarted {restarted}, {engine:?}: day 1 was not read"),
                        _ => assert_eq!(rows_by_day(rows.unwrap().unwrap_single()), want, "restarted {restarted}, {engine:?}: {window}"),
                    }
                }
            }
        }
    }

    /// The scans a read back in the table's order goes through,
    /// hand-worked for `ten_days`: the log (days 8, 9) with day 7's part,
    /// then 1 part (day 6), 2 (days 4, 5), 4 (days 2 and 3, two parts
    /// each), then the rest (days 0, 1). Read oldest first, they are the
    /// table in its order; each opens only its parts: with day 1 deleted,
    /// only the last fails.
    #[test]
    fn a_read_back_in_the_table_s_order_reads_runs_of_parts_from_its_end() {
        for restarted in [false, true] {
            let (dir, table) = ten_days_by_day(restarted);
            let scans = table.read_back_scans().unwrap().unwrap();
            let expected: [&[(i64, u32)]; 5] =
                [&[(7, 40), (8, 40), (9, 40)], &[(6, 40)], &[(4, 50), (5, 50)], &[(2, 70), (3, 70)], &[(0, 50), (1, 50)]];
            let read: Vec<DataFrame> = scans.iter().map(|scan| scan.clone().collect().unwrap()).collect();
            let got: Vec<_> = read.iter().map(|rows| rows_by_day(rows.clone())).collect();
            assert_eq!(got, expected.map(|w| w.to_vec()), "restarted {restarted}");
            let mut in_order = read.last().unwrap().clone();
            for rows in read.iter().rev().skip(1) {
                in_order.vstack_mut(rows).unwrap();
            }
            assert!(in_order.equals_missing(&table.scan().unwrap().collect().unwrap()), "restarted {restarted}");

            std::fs::remove_dir_all(dir.path().join("tables/default/trades/2026-11-24")).unwrap();
            for engine in [Engine::InMemory, Engine::Streaming] {
                for (at, scan) in scans.iter().enumerate() {
                    let rows = scan.clone().collect_with_engine(engine);
                    assert_eq!(rows.is_err(), at == 4, "restarted {restarted}, {engine:?}, scan {at}");
                }
            }
        }
    }

    /// The plan rule of `crate::read_back`: whatever door a plan comes by
    /// (a handle's operations, polars SQL, a shipped plan), the n rows
    /// nearest one end of the table's timestamp, and its `max` or `min`,
    /// of rows computed each from one row, read back from that end. Each answer equals the same
    /// plan over the whole table in memory (the oracle); with day 1
    /// deleted, those that lie in days 5-9 or day 0 are still answered,
    /// in both engines, and the plans that need every row fail.
    #[test]
    fn the_nearest_rows_of_a_table_are_read_back_from_its_end_by_every_door() {
        let (dir, ns, _) = ten_days(PartitionBy::Day);
        let core = crate::Core::new(crate::CoreConfig { data_dir: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        let table = core.scan_table(&ns, "trades").unwrap().unwrap();
        let handle = core.handle(&ns, table.id).unwrap().lazy();
        let whole = handle.clone().collect().unwrap();
        let strings = |df: DataFrame| match df.schema().contains("sym") {
            true => df.lazy().with_columns([col("sym").cast(DataType::String)]).collect().unwrap(),
            false => df,
        };
        let newest = SortMultipleOptions::default().with_order_descending(true);
        // Each computes its rows from `rows`, the table or the oracle.
        type Plan = Box<dyn Fn(LazyFrame) -> LazyFrame>;
        let (n1, n2) = (newest.clone(), newest.clone());
        let answered: Vec<(&str, Plan)> = vec![
            ("newest 5", Box::new(move |rows| rows.sort(["ts"], n1.clone()).slice(0, 5))),
            ("newest 3 of px > 45 (day 5)", Box::new(move |rows| rows.filter(col("px").gt(lit(45.0))).sort(["ts"], n2.clone()).slice(0, 3))),
            ("top 4 by ts", Box::new(|rows| rows.top_k(4, [col("ts")], Default::default()))),
            ("oldest 3", Box::new(|rows| rows.sort(["ts"], Default::default()).slice(0, 3))),
            ("sorted, the last 6", Box::new(|rows| rows.sort(["ts"], Default::default()).tail(6))),
            ("max(ts) of px > 45 (day 5)", Box::new(|rows| rows.filter(col("px").gt(lit(45.0))).select([col("ts").max().alias("last")]))),
            ("min(ts)", Box::new(|rows| rows.select([col("ts").min()]))),
            (
                "a new column, projected, newest 3 rows 2 to 4",
                Box::new(|rows| {
                    rows.with_column((col("px") * lit(2.0)).alias("px2"))
                        .select([col("ts"), col("px2")])
                        .sort(["ts"], SortMultipleOptions::default().with_order_descending(true))
                        .slice(2, 3)
                }),
            ),
        ];
        let n3 = newest.clone();
        let whole_needed: Vec<(&str, Plan)> = vec![
            ("no row passes", Box::new(move |rows| rows.filter(col("px").gt(lit(100.0))).sort(["ts"], n3.clone()).slice(0, 1))),
            ("max(ts), no row passes", Box::new(|rows| rows.filter(col("px").gt(lit(100.0))).select([col("ts").max()]))),
            (
                "beside the mean of every row",
                Box::new(|rows| {
                    rows.with_column(col("px").mean().alias("mean"))
                        .sort(["ts"], SortMultipleOptions::default().with_order_descending(true))
                        .slice(0, 1)
                }),
            ),
        ];
        let sql = "SELECT sym, px, ts FROM trades WHERE px < 10 ORDER BY ts DESC LIMIT 4";
        let shipped = crate::shipping::placeholder("trades").filter(col("sym").eq(lit("B"))).sort(["ts"], newest.clone()).slice(0, 2);
        let run = |lf: LazyFrame, engine: Engine| {
            let entry = core.prepare_plan(&ns, lf, "test")?;
            Ok::<_, CoreError>(strings(core.collect_entry(&entry, engine, &crate::CancelToken::default())?.as_ref().clone()))
        };
        let by_sql = |engine| {
            let (lf, _) = core.namespace_sql_plan_with(&ns, sql, Vec::new(), crate::SqlOptions::default())?;
            run(lf, engine)
        };
        let by_shipping = |engine| {
            let info = core.ship_plan(&ns, &crate::shipping::encode(&shipped).unwrap(), &HashMap::new(), "", "")?;
            let entry = core.handle(&ns, info.id)?;
            Ok::<_, CoreError>(strings(core.collect_entry(&entry, engine, &crate::CancelToken::default())?.as_ref().clone()))
        };
        let oracle = |plan: &Plan| strings(plan(whole.clone().lazy()).collect().unwrap());
        let sql_oracle = strings(
            whole.clone().lazy().filter(col("px").lt(lit(10.0))).sort(["ts"], newest.clone()).slice(0, 4).select([col("sym"), col("px"), col("ts")]).collect().unwrap(),
        );
        let shipped_oracle = strings(whole.clone().lazy().filter(col("sym").eq(lit("B"))).sort(["ts"], newest.clone()).slice(0, 2).collect().unwrap());
        assert_eq!(oracle(&answered[1].1).column("px").unwrap().f64().unwrap().to_vec(), [Some(49.0), Some(48.0), Some(47.0)]);
        assert_eq!(sql_oracle.height(), 4);

        for deleted in [false, true] {
            if deleted {
                std::fs::remove_dir_all(dir.path().join("tables/default/trades/2026-11-24")).unwrap();
            }
            for engine in [Engine::InMemory, Engine::Streaming] {
                let at = format!("day 1 deleted {deleted}, {engine:?}");
                for (name, plan) in &answered {
                    let got = run(plan(handle.clone()), engine).unwrap_or_else(|e| panic!("{name}, {at}: {e}"));
                    assert!(got.equals_missing(&oracle(plan)), "{name}, {at}: {got} vs {}", oracle(plan));
                }
                assert!(by_sql(engine).unwrap().equals_missing(&sql_oracle), "SQL, {at}");
                // The gRPC door's SQL, given no frame of that name, reads the table.
                let kept = core.sql(&ns, sql, &[]).unwrap();
                let got = core.collect_entry(&core.handle(&ns, kept.id).unwrap(), engine, &crate::CancelToken::default()).unwrap();
                assert!(strings(got.as_ref().clone()).equals_missing(&sql_oracle), "gRPC SQL, {at}");
                assert!(by_shipping(engine).unwrap().equals_missing(&shipped_oracle), "shipped, {at}");
                for (name, plan) in &whole_needed {
                    match run(plan(handle.clone()), engine) {
                        Ok(got) => assert!(!deleted && got.equals_missing(&oracle(plan)), "{name}, {at}: {got}"),
                        Err(e) => assert!(deleted, "{name}, {at}: {e}"),
                    }
                }
            }
        }
        // EXPLAIN shows the plan as it runs.
        let id = core.keep_plan(&ns, handle.sort(["ts"], newest).slice(0, 5), "newest").unwrap().id;
        assert!(core.explain(&ns, id, false).unwrap().contains("READ BACK"));
    }

    /// A read back whose client goes away stops before its next window:
    /// the client leaves while the first window's rows are judged, and no
    /// other window is read (the query ends CANCELLED), on the streaming
    /// engine every door runs results on (the in-memory engine, run only
    /// when a client asks for it, stops nothing: see `collect_in_memory`).
    #[test]
    fn a_read_back_stops_at_the_next_window_once_its_client_has_gone() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let (_dir, table) = ten_days_by_day(false);
        let scan = table.scan().unwrap();
        for engine in [Engine::Streaming, Engine::Auto] {
            let windows: Vec<LazyFrame> =
                table.read_back_windows(End::Newest, day(8)).unwrap().unwrap().into_iter().map(|w| scan.clone().filter(w)).collect();
            let (gone, judged) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
            let (leaves, counts) = (gone.clone(), judged.clone());
            let read = crate::read_back::read_back(windows, Ok, move |_: &DataFrame| {
                counts.fetch_add(1, Ordering::SeqCst);
                leaves.store(true, Ordering::SeqCst);
                Ok(false)
            })
            .unwrap();
            let cancel = crate::CancelToken::when(move || gone.load(Ordering::SeqCst));
            let ran = crate::collect::collect_plan(read, engine, u64::MAX, &cancel);
            assert!(matches!(ran, Err(CoreError::Cancelled(_))), "{engine:?}: {ran:?}");
            assert_eq!(judged.load(Ordering::SeqCst), 1, "{engine:?}: windows read after the client left");
        }
    }
}
