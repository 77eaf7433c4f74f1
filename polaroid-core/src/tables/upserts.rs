//! QuestDB's `DEDUP UPSERT KEYS` on a table's parts and log.
//!
//! A row whose key (its values in the upsert key columns, the designated
//! timestamp among them) equals a stored row's replaces that row; of the
//! rows of one append that share a key, the last is kept. Keys with nulls
//! match as values do.
//!
//! - In the log's rows (in memory) a replaced row is removed at once. The
//!   log itself keeps every append as it came, and opening a table applies
//!   its records in order again, so the same rows result.
//! - Parts are immutable. A row that replaces a part's row leaves its key
//!   in the *shadow*, and scans leave out the parts' rows of shadowed keys.
//!   The write-out that takes the log's rows to parts also rewrites each
//!   part that held a replaced row, without it: `part-<first>-<seq>.arrow`
//!   is part `<first>` as write-out `<seq>` left it, and supersedes every
//!   earlier version of it. A write-out reads and writes only the parts
//!   that held replaced rows, one at a time, so its memory is a part's.
//!
//! A rewritten part is written and committed as any part (a crash before
//! the log is emptied undoes it). The version it supersedes leaves the
//! table at once, and its file a while later (a query planned before may
//! still be reading it); opening the table removes any left.

use std::time::{Duration, Instant};

use super::*;

/// How long superseded part files stay for queries planned before.
pub(super) const RETIRED_GRACE: Duration = Duration::from_secs(60);

/// What a table with upsert keys tracks between write-outs.
#[derive(Clone, Default)]
pub(super) struct Upserts {
    /// The newest designated timestamp in the parts (physical units), if
    /// any: a later row replaces nothing there.
    pub parts_newest: Option<i64>,
    /// The keys of the log's rows that replace rows of the parts.
    pub shadow: Option<DataFrame>,
    /// The partitions the shadow's keys fall in, sorted.
    pub shadowed: Vec<String>,
    /// Superseded part files, and when they were.
    pub retired: Vec<(Instant, PathBuf)>,
}

/// A part's file name: `part-<seq>.arrow` for rows write-out `seq` took
/// from the log, `part-<first>-<seq>.arrow` when it rewrites `rewrites`,
/// a version of the part write-out `first` wrote.
pub(super) fn part_file_name(seq: u64, rewrites: Option<&Path>) -> String {
    match rewrites.and_then(|p| part_names(p)).map(|(first, _)| first) {
        Some(first) => format!("part-{first:020}-{seq:020}.arrow"),
        None => format!("part-{seq:020}.arrow"),
    }
}

/// The write-out that first wrote the part, and the one that wrote this
/// version of it.
fn part_names(path: &Path) -> Option<(u64, u64)> {
    let stem = path.file_name()?.to_str()?.strip_prefix("part-")?.strip_suffix(".arrow")?;
    match stem.split_once('-') {
        Some((first, written)) => Some((first.parse().ok()?, written.parse().ok()?)),
        None => stem.parse().ok().map(|n| (n, n)),
    }
}

/// The write-out that wrote the file: the number a write-out that did not
/// finish is undone by.
pub(super) fn part_number(path: &Path) -> Option<u64> {
    part_names(path).map(|(_, written)| written)
}

#[cfg(test)]
fn is_rewrite(path: &Path) -> bool {
    part_names(path).is_some_and(|(first, written)| first != written)
}

/// The versions of parts a later version supersedes.
pub(super) fn superseded(parts: &[PathBuf]) -> Vec<PathBuf> {
    let mut newest: HashMap<(String, u64), u64> = HashMap::new();
    for part in parts {
        if let Some((first, written)) = part_names(part) {
            let entry = newest.entry((partition_name(part), first)).or_insert(written);
            *entry = (*entry).max(written);
        }
    }
    parts
        .iter()
        .filter(|p| {
            part_names(p).is_some_and(|(first, written)| newest.get(&(partition_name(p), first)).is_some_and(|&n| written < n))
        })
        .cloned()
        .collect()
}

fn on(keys: &[String]) -> Vec<Expr> {
    keys.iter().map(|k| col(k.as_str())).collect()
}

/// `rows` without those whose keys `keys_of` holds, in their order.
fn without_keys(rows: LazyFrame, keys_of: LazyFrame, keys: &[String]) -> LazyFrame {
    let args = JoinArgs { nulls_equal: true, maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Anti) };
    rows.join(keys_of, on(keys), on(keys), args)
}

/// `rows` whose keys `keys_of` holds, in their order.
fn with_keys(rows: LazyFrame, keys_of: LazyFrame, keys: &[String]) -> LazyFrame {
    let args = JoinArgs { nulls_equal: true, maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Semi) };
    rows.join(keys_of, on(keys), on(keys), args)
}

/// A column no table has, numbering rows.
const ROW: &str = "__polaroid_row";

/// The last row of each key, in order.
pub(super) fn last_per_key(rows: DataFrame, keys: &[String]) -> Result<DataFrame, CoreError> {
    Ok(rows.unique_stable(Some(keys), UniqueKeepStrategy::Last, None)?)
}

/// The earliest and latest designated timestamps of `rows` (physical).
pub(super) fn time_range(rows: &DataFrame, ts: &str) -> Result<Option<(i64, i64)>, CoreError> {
    let times = rows.column(ts)?.to_physical_repr();
    let times = times.i64()?;
    Ok(times.min().zip(times.max()))
}

fn times_between(rows: &DataFrame, ts: &str, lo: i64, hi: i64) -> Result<BooleanChunked, CoreError> {
    let times = rows.column(ts)?.to_physical_repr();
    let times = times.i64()?;
    Ok(times.gt_eq(lo) & times.lt_eq(hi))
}

fn keys_only(rows: &DataFrame, keys: &[String]) -> Result<DataFrame, CoreError> {
    Ok(rows.select(keys.iter().map(|k| PlSmallStr::from_str(k)))?)
}

/// The partitions `rows` fall in.
fn partitions_of(rows: &DataFrame, def: &TableDef) -> Result<Vec<String>, CoreError> {
    Ok(split_partitions(rows, def)?.into_iter().map(|(name, _)| name).collect())
}

/// The newest designated timestamp in `parts` (the newest partition's).
pub(super) fn newest_in_parts(parts: &[PathBuf], def: &TableDef) -> Result<Option<i64>, CoreError> {
    let Some(ts) = &def.timestamp else { return Ok(None) };
    let Some(newest) = parts.iter().map(|p| partition_name(p)).max() else { return Ok(None) };
    let mut latest = None;
    for part in parts.iter().filter(|p| partition_name(p) == newest) {
        let file = File::open(part).map_err(|e| io_error(part, e))?;
        let rows = IpcReader::new(file).with_columns(Some(vec![ts.clone()])).finish()?;
        latest = latest.max(time_range(&rows, ts)?.map(|(_, hi)| hi));
    }
    Ok(latest)
}

/// A part's rows in the stored columns.
fn read_part(part: &Path, schema: &Schema) -> Result<DataFrame, CoreError> {
    let file = File::open(part).map_err(|e| io_error(part, e))?;
    conform_width(IpcReader::new(file).finish()?, schema)
}

/// Apply one append's `rows` (conformed, one row per key) to the table's
/// state: the log's rows of the same keys go, the parts' are shadowed, and
/// the rows join the log's. With `fresh_wanted`, returns the rows whose
/// keys the table did not hold (what live readers have not seen).
///
/// Rows come mostly in time order, so the rows a new one may replace are
/// the log's last few and, after a write-out, the newest part's: only
/// rows within the append's time range are compared, and only the keys
/// found stored are shadowed (a write-out rewrites a partition only where
/// a row was replaced).
pub(super) fn upsert(
    state: &mut TableState,
    rows: DataFrame,
    schema: &Schema,
    fresh_wanted: bool,
) -> Result<Option<DataFrame>, CoreError> {
    let keys = state.def.upsert_keys.clone();
    let ts = state.def.timestamp.clone().expect("upsert keys need a designated timestamp");
    let Some((lo, hi)) = time_range(&rows, &ts)? else { return Ok(fresh_wanted.then_some(rows)) };
    let incoming = keys_only(&rows, &keys)?;
    let mut fresh = fresh_wanted.then(|| rows.clone());
    // Everything that can fail comes before the state changes.
    let mut remaining = None;
    if state.pending.height() > 0 {
        let near = times_between(&state.pending, &ts, lo, hi)?;
        if near.any() {
            let at: Vec<IdxSize> =
                near.downcast_iter().flat_map(|a| a.values_iter()).enumerate().filter_map(|(i, n)| n.then_some(i as IdxSize)).collect();
            let at = IdxCa::from_vec(PlSmallStr::EMPTY, at);
            let mut candidates = keys_only(&state.pending, &keys)?.take(&at)?;
            candidates.with_column(at.into_series().with_name(ROW.into()).into_column())?;
            let replaced = with_keys(candidates.lazy(), incoming.clone().lazy(), &keys).collect()?;
            if replaced.height() > 0 {
                if let Some(f) = fresh.take() {
                    fresh = Some(without_keys(f.lazy(), keys_only(&replaced, &keys)?.lazy(), &keys).collect()?);
                }
                let mut keep = vec![true; state.pending.height()];
                for i in replaced.column(ROW)?.idx()?.into_no_null_iter() {
                    keep[i as usize] = false;
                }
                remaining = Some(state.pending.filter(&BooleanChunked::from_slice(PlSmallStr::EMPTY, &keep))?);
            }
        }
    }
    let mut shadow = None;
    if let Some(newest) = state.upserts.parts_newest.filter(|&newest| lo <= newest) {
        let older = rows.filter(&times_between(&rows, &ts, lo, newest)?)?;
        let held = stored_keys(state, &older, lo, newest.min(hi))?;
        if held.height() > 0 {
            if let Some(f) = fresh.take() {
                fresh = Some(without_keys(f.lazy(), held.clone().lazy(), &keys).collect()?);
            }
            let partitions = partitions_of(&held, &state.def)?;
            let keys_now = match &state.upserts.shadow {
                Some(before) => before.vstack(&held)?,
                None => held,
            };
            shadow = Some((keys_now, partitions));
        }
    }
    if let Some(remaining) = remaining {
        state.pending = remaining;
    }
    if let Some((keys_now, partitions)) = shadow {
        state.upserts.shadow = Some(keys_now);
        for partition in partitions {
            if let Err(at) = state.upserts.shadowed.binary_search(&partition) {
                state.upserts.shadowed.insert(at, partition);
            }
        }
    }
    state.pending = concat_rows(std::mem::take(&mut state.pending), rows, schema)?;
    Ok(fresh)
}

/// The keys of `older` (rows between `lo` and `hi`) that the parts hold,
/// as the table reads them (a key already shadowed is not held there).
/// Only the parts whose time range meets `lo..=hi` are read.
fn stored_keys(state: &TableState, older: &DataFrame, lo: i64, hi: i64) -> Result<DataFrame, CoreError> {
    let def = &state.def;
    let ts = def.timestamp.as_deref().expect("a designated timestamp");
    let partitions = partitions_of(older, def)?;
    let schema = def.schema()?;
    let mut inputs = Vec::new();
    for part in state.parts.iter().filter(|p| partitions.contains(&partition_name(p))) {
        let (first, last) = part_range(&state.facts, part, ts)?;
        if last < lo || first > hi {
            continue;
        }
        let path = PlRefPath::new(part.to_string_lossy().as_ref());
        let mut lf = LazyFrame::scan_ipc(path, Default::default(), Default::default())?;
        let has = lf.collect_schema()?;
        let stored = lf.select(aligned_columns(def, &schema, &has, false));
        inputs.push(hide_replaced(stored, state).select(on(&def.upsert_keys)));
    }
    let incoming = keys_only(older, &def.upsert_keys)?;
    if inputs.is_empty() {
        return Ok(incoming.clear());
    }
    let stored = concat(inputs, UnionArgs { rechunk: false, ..Default::default() })?;
    Ok(with_keys(incoming.lazy(), stored, &def.upsert_keys).collect()?)
}

/// A part's earliest and latest designated timestamps (its footer's, or
/// read once from its rows):
/// what finds the few parts an older row may replace a row of.
fn part_range(facts: &PartFacts, part: &Path, ts: &str) -> Result<(i64, i64), CoreError> {
    if let Some(range) = facts.of(part)?.range {
        return Ok(range);
    }
    let file = File::open(part).map_err(|e| io_error(part, e))?;
    let rows = IpcReader::new(file).with_columns(Some(vec![ts.to_string()])).finish()?;
    let range = time_range(&rows, ts)?.unwrap_or((i64::MAX, i64::MIN));
    facts.note_range(part, range);
    Ok(range)
}

/// A part's rows (in the stored columns) without those the log's rows
/// replace.
pub(super) fn hide_replaced(stored: LazyFrame, state: &TableState) -> LazyFrame {
    match &state.upserts.shadow {
        Some(shadow) => without_keys(stored, shadow.clone().lazy(), &state.def.upsert_keys),
        None => stored,
    }
}

/// Whether a scan of `part` must leave out replaced rows.
pub(super) fn is_shadowed(part: &Path, state: &TableState) -> bool {
    state.upserts.shadow.is_some() && state.upserts.shadowed.binary_search(&partition_name(part)).is_ok()
}

/// What a write-out writes: each partition's rows of the log, and each
/// part that held a row the log's replace, without it.
pub(super) fn write_out(state: &TableState) -> Result<Vec<PartBatch>, CoreError> {
    let mut out: Vec<PartBatch> = split_partitions(&state.pending, &state.def)?
        .into_iter()
        .map(|(partition, rows)| PartBatch { partition, rows, rewrites: None })
        .collect();
    let Some(shadow) = &state.upserts.shadow else { return Ok(out) };
    let ts = state.def.timestamp.as_deref().expect("a designated timestamp");
    let Some((lo, hi)) = time_range(shadow, ts)? else { return Ok(out) };
    let schema = state.def.schema()?;
    for part in &state.parts {
        let partition = partition_name(part);
        if state.upserts.shadowed.binary_search(&partition).is_err() {
            continue;
        }
        let (first, last) = part_range(&state.facts, part, ts)?;
        if last < lo || first > hi {
            continue;
        }
        let stored = read_part(part, &schema)?;
        let before = stored.height();
        let kept = without_keys(stored.lazy(), shadow.clone().lazy(), &state.def.upsert_keys).collect()?;
        if kept.height() < before {
            out.push(PartBatch { partition, rows: kept, rewrites: Some(part.clone()) });
        }
    }
    Ok(out)
}

/// Remove the retired part files of `partitions` now (the partitions
/// go): left, they would be read as the partitions at the next start.
pub(super) fn remove_retired_in(upserts: &mut Upserts, partitions: &[String]) {
    let (now, later) = std::mem::take(&mut upserts.retired).into_iter().partition(|(_, p)| partitions.contains(&partition_name(p)));
    upserts.retired = now;
    remove_retired(upserts, true);
    upserts.retired = later;
}

/// Remove the retired part files whose grace is over (all, with `now`
/// past every one), and the partition directories they leave empty.
pub(super) fn remove_retired(upserts: &mut Upserts, all: bool) {
    let now = Instant::now();
    upserts.retired.retain(|(at, path)| {
        if !all && now.duration_since(*at) < RETIRED_GRACE {
            return true;
        }
        if let Err(e) = std::fs::remove_file(path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "a superseded part is left until the next start");
            }
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        false
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const DAY_US: i64 = 86_400_000_000;
    const START_US: i64 = 1_795_392_000_000_000; // 2026-11-23

    fn keyed() -> TableDef {
        let mut def = TableDef::new("q", &[("ts", "TIMESTAMP"), ("sym", "SYMBOL"), ("px", "DOUBLE")], Some("ts"), PartitionBy::Day);
        def.upsert_keys = vec!["TS".into(), "Sym".into()];
        def
    }

    fn frame(rows: &[(i64, Option<&str>, f64)]) -> DataFrame {
        df!(
            "ts" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "sym" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "px" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap()
    }

    type Model = BTreeMap<(i64, Option<String>), f64>;

    /// A [`keyed`] table, new.
    fn keyed_table() -> (tempfile::TempDir, Namespace, Tables, Arc<Table>) {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        tables.create(&ns, keyed(), false).unwrap();
        let table = tables.get(&ns, "q").unwrap().unwrap();
        (dir, ns, tables, table)
    }

    /// `s` seconds into the first day.
    fn t(s: i64) -> i64 {
        START_US + s * 1_000_000
    }

    /// The table's rows as (ts, sym) -> px, each key once.
    fn read(table: &Table) -> Model {
        let df = table.scan().unwrap().with_column(col("sym").cast(DataType::String)).collect().unwrap();
        let (ts, sym, px) = (
            df.column("ts").unwrap().to_physical_repr(),
            df.column("sym").unwrap().str().unwrap().clone(),
            df.column("px").unwrap().f64().unwrap().clone(),
        );
        let mut out = Model::new();
        for ((t, s), p) in ts.i64().unwrap().iter().zip(sym.iter()).zip(px.iter()) {
            let old = out.insert((t.unwrap(), s.map(str::to_string)), p.unwrap());
            assert!(old.is_none(), "key ({t:?}, {s:?}) is in the table twice");
        }
        out
    }

    fn keys_of(df: &DataFrame) -> Vec<(i64, Option<String>)> {
        let ts = df.column("ts").unwrap().to_physical_repr();
        let sym = df.column("sym").unwrap().cast(&DataType::String).unwrap();
        ts.i64().unwrap().iter().zip(sym.str().unwrap().iter()).map(|(t, s)| (t.unwrap(), s.map(str::to_string))).collect()
    }

    /// Random appends of colliding keys over three days (nulls among the
    /// symbols, keys repeated within an append), write-outs and reopenings
    /// in between, against a map where the last write of each key wins.
    /// Live readers get each key once: the snapshot's and the appends' keys
    /// together are the table's.
    #[test]
    fn the_last_write_of_each_key_wins_across_the_log_parts_write_outs_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let mut tables = Tables::new(dir.path());
        tables.create(&ns, keyed(), false).unwrap();
        assert_eq!(tables.get(&ns, "q").unwrap().unwrap().def().upsert_keys, ["ts", "sym"], "spelled as the columns are");
        let mut rng = fastrand::Rng::with_seed(11);
        let syms = [Some("A"), Some("B"), None];
        let mut model = Model::new();
        let mut px = 0.0;
        let (mut rewrites, mut checkpoints) = (0, 0);
        let subscribe = |tables: &Tables| {
            let (snapshot, tail) = tables.get(&ns, "q").unwrap().unwrap().subscribe().unwrap();
            let seen: Vec<_> = keys_of(&snapshot.collect().unwrap());
            (seen, tail)
        };
        let (mut seen, mut tail) = subscribe(&tables);
        for step in 0..200 {
            let n = rng.usize(1..7);
            let batch: Vec<(i64, Option<&str>, f64)> = (0..n)
                .map(|_| {
                    px += 1.0;
                    // 3 days x 8 instants x 3 symbols: keys collide often.
                    (START_US + rng.i64(0..3) * DAY_US + rng.i64(0..8) * 1_000_000, syms[rng.usize(0..3)], px)
                })
                .collect();
            for (ts, sym, px) in &batch {
                model.insert((*ts, sym.map(str::to_string)), *px);
            }
            assert_eq!(tables.append(&ns, "q", frame(&batch), None).unwrap(), n as u64);
            while let Ok(rows) = tail.try_recv() {
                seen.extend(keys_of(&rows));
            }
            let table = tables.get(&ns, "q").unwrap().unwrap();
            if rng.f64() < 0.15 {
                let parts = table.flushed_parts().unwrap();
                checkpoints += 1;
                rewrites += parts.iter().filter(|p| is_rewrite(p)).count();
                assert!(superseded(&parts).is_empty(), "the table reads one version of each part");
            }
            assert_eq!(read(&table), model, "step {step}");
            let mut keys = seen.clone();
            keys.sort();
            assert_eq!(keys, model.keys().cloned().collect::<Vec<_>>(), "live readers' keys at step {step}");
            if rng.f64() < 0.08 {
                drop((table, tail));
                tables = Tables::new(dir.path());
                let table = tables.get(&ns, "q").unwrap().unwrap();
                assert_eq!(read(&table), model, "reopened at step {step}");
                assert!(superseded(&list_parts(&table.dir).unwrap()).is_empty(), "superseded files go at the next start");
                (seen, tail) = subscribe(&tables);
            }
        }
        assert!(checkpoints > 15 && rewrites > 5, "write-outs rewrote parts: {checkpoints} write-outs, {rewrites} rewritten parts read");
    }

    /// A write-out that rewrites a part, cut short before the log was
    /// emptied, is undone (the log gives its rows again, the old version
    /// stands); one cut short after it, before the superseded file went, is
    /// finished. A rewrite of a rewrite supersedes both.
    #[test]
    fn a_crash_around_a_rewriting_write_out_neither_loses_nor_doubles_a_row() {
        let (dir, ns, tables, table) = keyed_table();
        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        tables.append(&ns, "q", frame(&[(t(1), Some("A"), 1.0), (t(2), Some("A"), 2.0)]), None).unwrap();
        let old = table.flushed_parts().unwrap();
        let old_bytes = std::fs::read(&old[0]).unwrap();
        tables.append(&ns, "q", frame(&[(t(2), Some("A"), 20.0), (t(3), Some("A"), 3.0)]), None).unwrap();
        let mut expected: Model = [((t(1), Some("A".into())), 1.0), ((t(2), Some("A".into())), 20.0), ((t(3), Some("A".into())), 3.0)].into();
        assert_eq!(read(&table), expected, "the log's row hides the part's");
        let base = dir.path().join("tables/default/q");
        let wal = std::fs::read(base.join("wal.log")).unwrap();
        let written = table.flushed_parts().unwrap();
        let mut names: Vec<String> = written.iter().map(name).collect();
        names.sort();
        assert_eq!(names, ["part-00000000000000000001-00000000000000000002.arrow", "part-00000000000000000002.arrow"]);
        assert!(old[0].exists(), "kept a while for queries planned before");
        assert_eq!(read(&table), expected);
        drop((table, tables));

        // Crashed before the log was emptied: the rewrite is undone.
        std::fs::write(base.join("wal.log"), &wal).unwrap();
        let tables = Tables::new(dir.path());
        let table = tables.get(&ns, "q").unwrap().unwrap();
        assert_eq!(read(&table), expected);
        assert!(!written[0].exists() && !written[1].exists() && old[0].exists());
        // Written out again, then crashed before the superseded version went.
        let written = table.flushed_parts().unwrap();
        drop((table, tables));
        std::fs::write(&old[0], &old_bytes).unwrap();
        let tables = Tables::new(dir.path());
        let table = tables.get(&ns, "q").unwrap().unwrap();
        assert_eq!(read(&table), expected);
        assert!(!old[0].exists() && written.iter().all(|p| p.exists()), "the superseded version is removed at the start");

        // The rewrite rewritten: t(1) replaced again; t(3) in the other part.
        tables.append(&ns, "q", frame(&[(t(1), Some("A"), 10.0), (t(3), Some("A"), 30.0)]), None).unwrap();
        expected.insert((t(1), Some("A".into())), 10.0);
        expected.insert((t(3), Some("A".into())), 30.0);
        let again = table.flushed_parts().unwrap();
        let mut names: Vec<String> = again.iter().map(name).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "part-00000000000000000001-00000000000000000003.arrow",
                "part-00000000000000000002-00000000000000000003.arrow",
                "part-00000000000000000003.arrow"
            ]
        );
        assert_eq!(read(&table), expected);
        assert_eq!(read(&Tables::new(dir.path()).get(&ns, "q").unwrap().unwrap()), expected);
        let mut again = again;
        again.sort();
        assert_eq!(list_parts(&base).unwrap(), again, "the versions before are removed at the start");
    }

    /// Rows in time order whose first instant is the last one written out
    /// (trades of one millisecond on both sides of a write-out) replace
    /// nothing: nothing is shadowed and no partition is rewritten.
    #[test]
    fn new_keys_at_the_newest_written_instant_rewrite_nothing() {
        let (dir, ns, tables, table) = keyed_table();
        tables.append(&ns, "q", frame(&[(t(1), Some("A"), 1.0), (t(2), Some("A"), 2.0)]), None).unwrap();
        table.flushed_parts().unwrap();
        tables.append(&ns, "q", frame(&[(t(2), Some("B"), 3.0), (t(3), Some("A"), 4.0)]), None).unwrap();
        assert!(table.state.read().unwrap().upserts.shadow.is_none());
        let parts = table.flushed_parts().unwrap();
        assert_eq!(parts.len(), 2);
        assert!(!parts.iter().any(|p| is_rewrite(p)), "{parts:?}");
        // After a restart too (the parts' time ranges are read again).
        let table = Tables::new(dir.path()).get(&ns, "q").unwrap().unwrap();
        table.append(frame(&[(t(3), Some("B"), 5.0), (t(3), Some("A"), 6.0)]), None).unwrap();
        let state = table.state.read().unwrap().clone();
        assert_eq!(state.upserts.shadow.as_ref().map(DataFrame::height), Some(1), "only the key that was stored");
        assert_eq!(read(&table).get(&(t(3), Some("A".into()))), Some(&6.0));
        assert_eq!(read(&table).len(), 5);
    }

    /// A query planned before a write-out rewrote a part still reads the
    /// version it planned: superseded files wait out their grace.
    #[test]
    fn a_query_planned_before_a_rewrite_reads_the_version_it_planned() {
        let (_dir, ns, tables, table) = keyed_table();
        tables.append(&ns, "q", frame(&[(t(1), Some("A"), 1.0), (t(2), Some("A"), 2.0)]), None).unwrap();
        table.flushed_parts().unwrap();
        let planned = table.scan().unwrap();
        tables.append(&ns, "q", frame(&[(t(1), Some("A"), 10.0)]), None).unwrap();
        assert!(table.flushed_parts().unwrap().iter().any(|p| is_rewrite(p)));
        let before = planned.select([col("px").sum()]).collect().unwrap();
        assert_eq!(before.column("px").unwrap().f64().unwrap().get(0), Some(3.0));
        let now = table.scan().unwrap().select([col("px").sum()]).collect().unwrap();
        assert_eq!(now.column("px").unwrap().f64().unwrap().get(0), Some(12.0));
    }

    /// A partition the TTL drops takes the versions its rewritten parts
    /// superseded with it (left, they would be read at the next start).
    #[test]
    fn retention_drops_a_partition_with_its_superseded_versions() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        let ttl = crate::retention::Retention { ttl: Some(crate::retention::Ttl::parse("1 DAY").unwrap()), max_bytes: None };
        tables.create(&ns, TableDef { retention: ttl, ..keyed() }, false).unwrap();
        let table = tables.get(&ns, "q").unwrap().unwrap();
        let day = |d: i64, s: i64| START_US + d * DAY_US + s * 1_000_000;
        tables.append(&ns, "q", frame(&[(day(0, 1), Some("A"), 1.0), (day(0, 2), Some("A"), 2.0)]), None).unwrap();
        let first = table.flushed_parts().unwrap();
        tables.append(&ns, "q", frame(&[(day(0, 1), Some("A"), 10.0)]), None).unwrap();
        table.flushed_parts().unwrap();
        assert!(first[0].exists(), "the superseded version waits out its grace");
        tables.append(&ns, "q", frame(&[(day(3, 0), Some("A"), 3.0)]), None).unwrap();
        table.flushed_parts().unwrap();
        assert!(!first[0].exists() && !first[0].parent().unwrap().exists(), "gone with its partition");
        let expected: Model = [((day(3, 0), Some("A".into())), 3.0)].into();
        assert_eq!(read(&table), expected);
        assert_eq!(read(&Tables::new(dir.path()).get(&ns, "q").unwrap().unwrap()), expected);
    }

    #[test]
    fn upsert_keys_are_checked_and_apply_from_when_they_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        let refused = |def: TableDef| tables.create(&ns, def, false).unwrap_err().to_string();
        let no_ts = TableDef { upsert_keys: vec!["sym".into()], ..keyed() };
        assert!(refused(no_ts).contains("must include the designated timestamp ts"));
        let flat = TableDef { partition_by: PartitionBy::None, ..keyed() };
        assert!(refused(flat).contains("needs a designated timestamp and PARTITION BY"));
        let unknown = TableDef { upsert_keys: vec!["ts".into(), "venue".into()], ..keyed() };
        assert!(refused(unknown).contains("upsert key venue is not a column of q"));
        let twice = TableDef { upsert_keys: vec!["ts".into(), "ts".into()], ..keyed() };
        assert!(refused(twice).contains("named twice"));

        // Set on a table holding a repeated key: that stays, later ones replace.
        let plain = TableDef { upsert_keys: Vec::new(), ..keyed() };
        tables.create(&ns, plain, false).unwrap();
        let t0 = t(0);
        tables.append(&ns, "q", frame(&[(t0, Some("A"), 1.0), (t0, Some("A"), 2.0)]), None).unwrap();
        tables.set_upsert_keys(&ns, "q", vec!["ts".into(), "SYM".into()]).unwrap();
        let table = tables.get(&ns, "q").unwrap().unwrap();
        assert_eq!(table.def().upsert_keys, ["ts", "sym"]);
        assert_eq!(table.row_count().unwrap(), 2);
        tables.append(&ns, "q", frame(&[(t0, Some("A"), 3.0), (t0, Some("B"), 4.0), (t0, Some("B"), 5.0)]), None).unwrap();
        let expected: Model = [((t0, Some("A".into())), 3.0), ((t0, Some("B".into())), 5.0)].into();
        assert_eq!(read(&table), expected, "both stored rows of a key are replaced; a batch keeps its last");
        assert_eq!(read(&Tables::new(dir.path()).get(&ns, "q").unwrap().unwrap()), expected);
        // Disabled: rows are kept as they come.
        tables.set_upsert_keys(&ns, "q", Vec::new()).unwrap();
        tables.append(&ns, "q", frame(&[(t0, Some("A"), 6.0)]), None).unwrap();
        assert_eq!(table.row_count().unwrap(), 3);
        assert_eq!(Tables::new(dir.path()).get(&ns, "q").unwrap().unwrap().row_count().unwrap(), 3);
    }
}
