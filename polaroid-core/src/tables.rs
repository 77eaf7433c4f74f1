//! Named, durable tables: what QuestDB's users CREATE, INSERT into and
//! ingest into over ILP. Every door sees them (SQL by name, Scan, Flight).
//!
//! On disk, under `<data>/tables/<tenant>/<name>/`:
//! - `_meta.json`: the columns (QuestDB type names), the designated
//!   timestamp and the partitioning;
//! - `wal.log`: the write-ahead log. Each append is one record (magic,
//!   length, CRC-32, sequence number, the rows as an Arrow IPC stream),
//!   fsync'd before the append returns: an acknowledged row survives
//!   `kill -9`. A torn record at the end (a crash mid-write) is cut off on
//!   open; it was never acknowledged.
//! - `<partition>/part-<seq>.arrow`: Arrow IPC files. Once the log holds
//!   enough rows they are written out by partition (each to a temporary
//!   file, fsync'd; then all renamed in), and the log starts over. A part's
//!   name carries the last sequence number it holds. Emptying the log is
//!   what commits a write-out: if the process died before that, the log
//!   still holds that number's record, and on open the newest parts are
//!   removed and their rows read from the log again (some partitions'
//!   parts may have been renamed in and others not).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use polaroid_handles::Namespace;
use polars_arrow::io::ipc::write::default_ipc_fields;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::retention::{parts_to_drop, partition_name, Retention};

mod parts;
mod upserts;
use parts::PartFacts;
use upserts::Upserts;

/// Where tables live, under the data directory.
pub(crate) const TABLES_DIR: &str = "tables";

/// Rows the log may hold before they are written out to partitions.
const CHECKPOINT_ROWS: usize = 250_000;
const WAL_MAGIC: u32 = 0x504c_5741; // "PLWA"
/// magic, length, crc, sequence number.
const RECORD_HEADER: usize = 4 + 4 + 4 + 8;
/// The largest record the log accepts (one append).
const MAX_RECORD: usize = 1 << 30;
/// After a write-out fails, appends wait this long before the next try,
/// doubling up to [`WRITE_OUT_RETRY_MAX`]: each try writes every pending
/// row, so retrying at every append under a lasting failure (a full disk)
/// would cost more with each append.
const WRITE_OUT_RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const WRITE_OUT_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);
/// Appends a live reader ([`Table::subscribe`]) may be behind before it is
/// told it fell behind: what bounds the memory a slow reader holds.
pub const TAIL_APPENDS: usize = 256;

/// How a table's files are split by its designated timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionBy {
    None,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl PartitionBy {
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Ok(match text.trim().to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "HOUR" => Self::Hour,
            "DAY" => Self::Day,
            "WEEK" => Self::Week,
            "MONTH" => Self::Month,
            "YEAR" => Self::Year,
            other => {
                return Err(CoreError::InvalidArgument(format!(
                    "PARTITION BY {other}: expected NONE, HOUR, DAY, WEEK, MONTH or YEAR"
                )))
            },
        })
    }

    /// How far apart partitions start, as polars' `truncate` reads it
    /// (its weeks start on Monday, as ISO weeks do).
    fn every(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Hour => Some("1h"),
            Self::Day => Some("1d"),
            Self::Week => Some("1w"),
            Self::Month => Some("1mo"),
            Self::Year => Some("1y"),
        }
    }

    /// The partition directory's name pattern (strftime).
    fn pattern(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Hour => Some("%Y-%m-%dT%H"),
            Self::Day => Some("%Y-%m-%d"),
            Self::Week => Some("%G-W%V"),
            Self::Month => Some("%Y-%m"),
            Self::Year => Some("%Y"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Hour => "HOUR",
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
            Self::Year => "YEAR",
        }
    }
}

/// A column: its name and QuestDB type name (`SYMBOL`, `DOUBLE`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub kind: String,
}

/// What a table is: columns, designated timestamp, partitioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub timestamp: Option<String>,
    pub partition_by: PartitionBy,
    /// TTL and size cap; tables written before it existed keep everything.
    #[serde(default)]
    pub retention: Retention,
    /// QuestDB's `DEDUP UPSERT KEYS`: a row whose values in these columns
    /// (the designated timestamp among them) equal a stored row's replaces
    /// it, in every door's appends. Empty: every row is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert_keys: Vec<String>,
}

/// The polars type a QuestDB column type is stored as. SYMBOL is stored as
/// text and read back as a categorical.
pub fn storage_type(kind: &str) -> Result<DataType, CoreError> {
    Ok(match kind.trim().to_ascii_uppercase().as_str() {
        "BOOLEAN" => DataType::Boolean,
        "BYTE" => DataType::Int8,
        "SHORT" => DataType::Int16,
        "INT" => DataType::Int32,
        "LONG" => DataType::Int64,
        "FLOAT" => DataType::Float32,
        "DOUBLE" => DataType::Float64,
        "STRING" | "VARCHAR" | "SYMBOL" | "CHAR" | "UUID" | "IPV4" | "LONG256" => DataType::String,
        "TIMESTAMP" => DataType::Datetime(TimeUnit::Microseconds, None),
        "TIMESTAMP_NS" => DataType::Datetime(TimeUnit::Nanoseconds, None),
        "DATE" => DataType::Datetime(TimeUnit::Milliseconds, None),
        "BINARY" => DataType::Binary,
        other => {
            return Err(CoreError::InvalidArgument(format!(
                "unsupported column type {other}; use BOOLEAN, BYTE, SHORT, INT, LONG, FLOAT, DOUBLE, \
                 VARCHAR, STRING, SYMBOL, CHAR, UUID, TIMESTAMP, TIMESTAMP_NS, DATE or BINARY"
            )))
        },
    })
}

/// The QuestDB type a new column of `dtype` gets (ILP, CREATE ... AS).
pub fn kind_of(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::Boolean => "BOOLEAN",
        DataType::Int8 => "BYTE",
        DataType::Int16 | DataType::UInt8 => "SHORT",
        DataType::Int32 | DataType::UInt16 => "INT",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        DataType::Categorical(..) | DataType::Enum(..) => "SYMBOL",
        DataType::Datetime(TimeUnit::Nanoseconds, _) => "TIMESTAMP_NS",
        DataType::Datetime(TimeUnit::Milliseconds, _) | DataType::Date => "DATE",
        DataType::Datetime(..) => "TIMESTAMP",
        DataType::Binary => "BINARY",
        dt if dt.is_integer() => "LONG",
        _ => "VARCHAR",
    }
}

impl TableDef {
    /// A table of `columns` (name, QuestDB type) with no retention.
    pub fn new(name: &str, columns: &[(&str, &str)], timestamp: Option<&str>, partition_by: PartitionBy) -> Self {
        Self {
            name: name.to_string(),
            columns: columns.iter().map(|(name, kind)| ColumnDef { name: name.to_string(), kind: kind.to_string() }).collect(),
            timestamp: timestamp.map(str::to_string),
            partition_by,
            retention: Retention::default(),
            upsert_keys: Vec::new(),
        }
    }

    /// The stored schema.
    pub fn schema(&self) -> Result<Schema, CoreError> {
        self.columns.iter().map(|c| Ok(Field::new(c.name.as_str().into(), storage_type(&c.kind)?))).collect()
    }

    fn check(&self) -> Result<(), CoreError> {
        check_name(&self.name, "table")?;
        if self.columns.is_empty() {
            return Err(CoreError::InvalidArgument(format!("table {} needs at least one column", self.name)));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            check_name(&c.name, "column")?;
            storage_type(&c.kind)?;
            if !seen.insert(c.name.to_ascii_lowercase()) {
                return Err(CoreError::InvalidArgument(format!("duplicate column {}", c.name)));
            }
        }
        if let Some(ts) = &self.timestamp {
            let column = self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(ts)).ok_or_else(|| {
                CoreError::InvalidArgument(format!("designated timestamp {ts} is not a column of {}", self.name))
            })?;
            if !storage_type(&column.kind)?.is_temporal() {
                return Err(CoreError::InvalidArgument(format!("designated timestamp {ts} must be a TIMESTAMP column")));
            }
        } else if self.partition_by != PartitionBy::None {
            return Err(CoreError::InvalidArgument("PARTITION BY needs a designated timestamp: timestamp(column)".into()));
        }
        if !self.retention.is_none() && self.partition_by == PartitionBy::None {
            return Err(CoreError::InvalidArgument(format!(
                "table {}: a TTL or size cap drops whole partitions; it needs PARTITION BY HOUR, DAY, WEEK, MONTH or YEAR",
                self.name
            )));
        }
        self.check_upsert_keys()
    }

    /// Upsert keys are columns, named once, and hold the designated
    /// timestamp of a partitioned table (as QuestDB requires: a row's
    /// time finds the partition that may hold the row it replaces).
    fn check_upsert_keys(&self) -> Result<(), CoreError> {
        if self.upsert_keys.is_empty() {
            return Ok(());
        }
        let (Some(ts), true) = (&self.timestamp, self.partition_by != PartitionBy::None) else {
            return Err(CoreError::InvalidArgument(format!(
                "table {}: DEDUP UPSERT KEYS needs a designated timestamp and PARTITION BY HOUR, DAY, WEEK, MONTH or YEAR",
                self.name
            )));
        };
        let mut seen = std::collections::HashSet::new();
        for key in &self.upsert_keys {
            if !self.columns.iter().any(|c| &c.name == key) {
                return Err(CoreError::InvalidArgument(format!("upsert key {key} is not a column of {}", self.name)));
            }
            if !seen.insert(key.to_ascii_lowercase()) {
                return Err(CoreError::InvalidArgument(format!("upsert key {key} is named twice")));
            }
        }
        if !self.upsert_keys.iter().any(|k| k == ts) {
            return Err(CoreError::InvalidArgument(format!(
                "DEDUP UPSERT KEYS of {} must include the designated timestamp {ts}",
                self.name
            )));
        }
        Ok(())
    }

    /// The designated timestamp and upsert keys as their columns spell them
    /// (SQL names them in any case: `AS (SELECT ts ...) TIMESTAMP(TS)`).
    fn spell_names(&mut self) {
        if let Some(ts) = &mut self.timestamp {
            if let Some(c) = self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(ts)) {
                *ts = c.name.clone();
            }
        }
        for key in &mut self.upsert_keys {
            if let Some(c) = self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(key)) {
                *key = c.name.clone();
            }
        }
    }
}

/// Names become directory names and SQL identifiers: keep them plain.
fn check_name(name: &str, what: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 127
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(format!(
            "{what} name {name:?} is not allowed: use letters, digits, '_', '-' or '.' (at most 127)"
        )))
    }
}

/// A tenant's directory name: stable, and not the token itself.
/// The directory name of `ns`'s own storage (tables, kept sources): never
/// the token itself.
pub fn tenant_dir(ns: &Namespace) -> String {
    if ns.as_str().is_empty() {
        return "default".into();
    }
    // FNV-1a: stable across builds and Rust versions.
    let hash = ns.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("t{hash:016x}")
}

/// All tables, by tenant.
pub struct Tables {
    root: PathBuf,
    open: Mutex<HashMap<String, Arc<TenantTables>>>,
}

/// One tenant's tables, loaded from disk on first use.
struct TenantTables {
    dir: PathBuf,
    tables: RwLock<HashMap<String, Arc<Table>>>,
}

impl Tables {
    /// Tables under `data_dir/tables`.
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join(TABLES_DIR), open: Mutex::new(HashMap::new()) }
    }

    fn tenant(&self, ns: &Namespace) -> Result<Arc<TenantTables>, CoreError> {
        let key = tenant_dir(ns);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = open.get(&key) {
            return Ok(t.clone());
        }
        let tenant = Arc::new(TenantTables::load(self.root.join(&key))?);
        open.insert(key, tenant.clone());
        Ok(tenant)
    }

    /// The table `name` (case-insensitive), if it exists.
    pub fn get(&self, ns: &Namespace, name: &str) -> Result<Option<Arc<Table>>, CoreError> {
        let tenant = self.tenant(ns)?;
        let tables = tenant.tables.read().unwrap_or_else(|p| p.into_inner());
        Ok(tables.get(&name.to_ascii_lowercase()).cloned())
    }

    /// The table `name`, which must exist.
    pub fn existing(&self, ns: &Namespace, name: &str) -> Result<Arc<Table>, CoreError> {
        self.get(ns, name)?.ok_or_else(|| CoreError::NotFound(format!("table does not exist: {name}")))
    }

    /// The caller's table names, sorted.
    pub fn names(&self, ns: &Namespace) -> Result<Vec<String>, CoreError> {
        let tenant = self.tenant(ns)?;
        let tables = tenant.tables.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<_> = tables.values().map(|t| t.def().name).collect();
        names.sort();
        Ok(names)
    }

    /// Set a table's retention (TTL, size cap); it applies now and at every
    /// later write-out of the log.
    pub fn set_retention(&self, ns: &Namespace, name: &str, retention: Retention) -> Result<(), CoreError> {
        let table = self.existing(ns, name)?;
        table.set_retention(retention)
    }

    /// Set a table's upsert keys (empty: none); they apply to the rows
    /// appended from now on.
    pub fn set_upsert_keys(&self, ns: &Namespace, name: &str, keys: Vec<String>) -> Result<(), CoreError> {
        let table = self.existing(ns, name)?;
        table.set_upsert_keys(keys)
    }

    /// Add columns to a table (QuestDB's `ALTER TABLE ... ADD COLUMN`):
    /// rows stored before read them as null. A column that exists is an
    /// error, unless `if_not_exists`.
    pub fn add_columns(&self, ns: &Namespace, name: &str, columns: Vec<ColumnDef>, if_not_exists: bool) -> Result<(), CoreError> {
        let table = self.existing(ns, name)?;
        table.add_columns(columns, if_not_exists)
    }

    /// The names of a table's partitions that hold rows, sorted (by time).
    pub fn partitions(&self, ns: &Namespace, name: &str) -> Result<Vec<String>, CoreError> {
        let table = self.existing(ns, name)?;
        table.partitions()
    }

    /// Drop whole partitions of a table, by name (QuestDB's `ALTER TABLE
    /// ... DROP PARTITION LIST`): their rows in the log are written out
    /// first, then their files go. A name the table has no partition of is
    /// an error, and nothing is dropped.
    pub fn drop_partitions(&self, ns: &Namespace, name: &str, partitions: &[String]) -> Result<(), CoreError> {
        let table = self.existing(ns, name)?;
        table.drop_partitions(partitions)
    }

    /// Create a table. Returns false if it existed and `if_not_exists`.
    pub fn create(&self, ns: &Namespace, mut def: TableDef, if_not_exists: bool) -> Result<bool, CoreError> {
        def.spell_names();
        def.check()?;
        let tenant = self.tenant(ns)?;
        let mut tables = tenant.tables.write().unwrap_or_else(|p| p.into_inner());
        let key = def.name.to_ascii_lowercase();
        if tables.contains_key(&key) {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(CoreError::InvalidArgument(format!("table already exists: {}", def.name)))
            };
        }
        let dir = tenant.dir.join(&def.name);
        if dir.exists() {
            // Not a table (it would have been loaded): what a create or a
            // drop left when the process stopped. Its files are not the new
            // table's.
            move_away(&dir)?;
        }
        let table = Table::create(dir, def)?;
        tables.insert(key, Arc::new(table));
        Ok(true)
    }

    /// Drop a table and its files. The directory is first renamed out of
    /// the way (one step, fsync'd), then removed: a crash or an error while
    /// its files go cannot leave part of the table to be opened again, nor
    /// give its old parts to a new table of the same name.
    pub fn drop(&self, ns: &Namespace, name: &str, if_exists: bool) -> Result<(), CoreError> {
        let tenant = self.tenant(ns)?;
        let mut tables = tenant.tables.write().unwrap_or_else(|p| p.into_inner());
        let key = name.to_ascii_lowercase();
        let Some(table) = tables.remove(&key) else {
            return if if_exists { Ok(()) } else { Err(CoreError::NotFound(format!("table does not exist: {name}"))) };
        };
        {
            // Writers hold the log's lock: none is mid-append while the files
            // go, and one that found the table before the drop fails after it.
            let mut wal = table.writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = move_away(&table.dir) {
                drop(wal);
                tables.insert(key, table);
                return Err(e);
            }
            wal.stopped = Some(Stopped::Dropped(table.def().name));
        }
        Ok(())
    }

    /// Rename a table (QuestDB's `RENAME TABLE`). Renaming its directory
    /// is the step that does it (fsync'd); the definition's name follows,
    /// and a start that finds them apart takes the directory's. Appends
    /// that found the table before fail after, as after a drop; plans
    /// over it fail to find their files.
    pub fn rename(&self, ns: &Namespace, from: &str, to: &str) -> Result<(), CoreError> {
        check_name(to, "table")?;
        let tenant = self.tenant(ns)?;
        let mut tables = tenant.tables.write().unwrap_or_else(|p| p.into_inner());
        let (from_key, to_key) = (from.to_ascii_lowercase(), to.to_ascii_lowercase());
        let table = tables.get(&from_key).cloned().ok_or_else(|| CoreError::NotFound(format!("table does not exist: {from}")))?;
        if to_key != from_key && tables.contains_key(&to_key) {
            return Err(CoreError::InvalidArgument(format!("table already exists: {to}")));
        }
        let target = tenant.dir.join(to);
        if to_key != from_key && target.exists() {
            // Not a table (it would have been loaded): what a create or a
            // drop left when the process stopped.
            move_away(&target)?;
        }
        let old_name = table.def().name;
        {
            let mut wal = table.writer.lock().unwrap_or_else(|p| p.into_inner());
            std::fs::rename(&table.dir, &target).map_err(|e| io_error(&table.dir, e))?;
            sync_dir(&tenant.dir)?;
            wal.stopped = Some(Stopped::Renamed(old_name, to.to_string()));
        }
        tables.remove(&from_key);
        let renamed = Table::open(target)?;
        tables.insert(to_key, Arc::new(renamed));
        Ok(())
    }

    /// Empty a table, keeping its definition and retention (QuestDB's
    /// `TRUNCATE TABLE`). The empty table is made beside it first (a
    /// directory [`load`](TenantTables::load) treats as unfinished), the
    /// full one is moved away, then the empty one is renamed in: a crash
    /// before the move leaves the table whole, one after it is finished by
    /// the next start.
    pub fn truncate(&self, ns: &Namespace, name: &str) -> Result<(), CoreError> {
        let tenant = self.tenant(ns)?;
        let mut tables = tenant.tables.write().unwrap_or_else(|p| p.into_inner());
        let key = name.to_ascii_lowercase();
        let Some(table) = tables.get(&key).cloned() else {
            return Err(CoreError::NotFound(format!("table does not exist: {name}")));
        };
        let def = table.def();
        let fresh = tenant.dir.join(format!("{TRUNCATED_PREFIX}{}", def.name));
        if fresh.exists() {
            move_away(&fresh)?;
        }
        drop(Table::create(fresh.clone(), def.clone())?);
        {
            let mut wal = table.writer.lock().unwrap_or_else(|p| p.into_inner());
            move_away(&table.dir)?;
            wal.stopped = Some(Stopped::Truncated(def.name.clone()));
        }
        std::fs::rename(&fresh, &table.dir).map_err(|e| io_error(&fresh, e))?;
        sync_dir(&tenant.dir)?;
        tables.insert(key, Arc::new(Table::open(table.dir.clone())?));
        Ok(())
    }

    /// Append `rows` to `name`. With `create` (ILP), a missing table is
    /// created from the rows and new columns are added, as QuestDB does.
    pub fn append(&self, ns: &Namespace, name: &str, rows: DataFrame, create: Option<AutoCreate>) -> Result<u64, CoreError> {
        let table = match (self.get(ns, name)?, &create) {
            (Some(t), _) => t,
            (None, Some(auto)) => {
                let def = auto.definition(name, &rows);
                self.create(ns, def, true)?;
                self.get(ns, name)?.ok_or_else(|| CoreError::Internal(format!("table {name} vanished")))?
            },
            (None, None) => return Err(CoreError::NotFound(format!("table does not exist: {name}"))),
        };
        table.append(rows, create.as_ref())
    }
}

/// What a bulk load does when its table exists already (Flight SQL's
/// `CommandStatementIngest`, ADBC's ingest modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfExists {
    Fail,
    Append,
    Replace,
}

impl Tables {
    /// Load `rows` into the table `name`: created from the rows' columns
    /// when missing (if `create`), else appended to, replaced, or refused
    /// as `if_exists` says. Returns the rows stored.
    ///
    /// A table made from rows has no designated timestamp (create it on
    /// the HTTP door with one, then append). Its columns keep their type:
    /// one no table type holds as it is (a decimal, a list, a time of day)
    /// is refused rather than stored as something else. A replacement is
    /// checked whole before the old table is dropped.
    pub fn ingest(&self, ns: &Namespace, name: &str, rows: DataFrame, create: bool, if_exists: IfExists) -> Result<u64, CoreError> {
        let existing = self.get(ns, name)?;
        match (existing, if_exists) {
            (None, _) if !create => Err(CoreError::NotFound(format!(
                "table does not exist: {name} (a load that creates it: ADBC's mode=\"create\" or \"create_append\")"
            ))),
            (None, _) => {
                let def = definition_of(name, &rows)?;
                conform(rows.clone(), &def, &def.schema()?)?;
                self.create(ns, def, false)?;
                self.append(ns, name, rows, None)
            },
            (Some(table), IfExists::Fail) => Err(CoreError::InvalidArgument(format!(
                "table already exists: {} (a load that adds to it: ADBC's mode=\"append\", or \"replace\")",
                table.def().name
            ))),
            (Some(table), IfExists::Append) => table.append(rows, None),
            (Some(table), IfExists::Replace) => {
                let def = definition_of(&table.def().name, &rows)?;
                conform(rows.clone(), &def, &def.schema()?)?;
                self.drop(ns, name, true)?;
                self.create(ns, def, false)?;
                self.append(ns, name, rows, None)
            },
        }
    }
}

/// A table of `rows`' columns, each of the table type that holds its
/// values as they are.
fn definition_of(name: &str, rows: &DataFrame) -> Result<TableDef, CoreError> {
    let mut columns = Vec::with_capacity(rows.width());
    for (column, dtype) in rows.schema().iter() {
        let kind = match dtype {
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Float32
            | DataType::Float64
            | DataType::String
            | DataType::Binary
            | DataType::Categorical(..)
            | DataType::Enum(..)
            // In a zone: stored as its UTC time, as every table's time is.
            | DataType::Datetime(..) => kind_of(dtype),
            other => {
                return Err(CoreError::InvalidArgument(format!(
                    "column {column} is {other}, which no table type holds as it is: tables store booleans, \
                     integers (up to 64 bits, unsigned up to 32), floats, text, bytes and timestamps; cast it first"
                )))
            },
        };
        columns.push(ColumnDef { name: column.to_string(), kind: kind.to_string() });
    }
    let def = TableDef {
        name: name.to_string(),
        columns,
        timestamp: None,
        partition_by: PartitionBy::None,
        retention: Retention::default(),
        upsert_keys: Vec::new(),
    };
    def.check()?;
    Ok(def)
}

/// How ILP creates a table it has not seen, or a column: rows' types
/// (categoricals and the text columns in `symbols`, ILP's tags, become
/// SYMBOL), and `timestamp` as the designated timestamp partitioned by
/// `partition_by`.
#[derive(Clone, Debug)]
pub struct AutoCreate {
    pub timestamp: String,
    pub partition_by: PartitionBy,
    /// The new table's retention (kept only if it is partitioned).
    pub retention: Retention,
    /// Text columns that are SYMBOLs (ILP's tags) when they are new.
    pub symbols: Vec<String>,
    /// The new table's upsert keys (none: every row is kept).
    pub upsert_keys: Vec<String>,
}

impl AutoCreate {
    /// The QuestDB type a new column `name` of `dtype` gets.
    fn kind(&self, name: &str, dtype: &DataType) -> &'static str {
        if dtype == &DataType::String && self.symbols.iter().any(|s| s == name) { "SYMBOL" } else { kind_of(dtype) }
    }

    fn definition(&self, name: &str, rows: &DataFrame) -> TableDef {
        let columns = rows
            .schema()
            .iter()
            .map(|(c, dtype)| ColumnDef { name: c.to_string(), kind: self.kind(c, dtype).into() })
            .collect();
        let has_ts = rows.schema().contains(&self.timestamp);
        TableDef {
            name: name.to_string(),
            columns,
            timestamp: has_ts.then(|| self.timestamp.clone()),
            partition_by: if has_ts { self.partition_by } else { PartitionBy::None },
            retention: if has_ts && self.partition_by != PartitionBy::None { self.retention } else { Retention::default() },
            upsert_keys: if has_ts && self.partition_by != PartitionBy::None { self.upsert_keys.clone() } else { Vec::new() },
        }
    }
}

impl TenantTables {
    fn load(dir: PathBuf) -> Result<Self, CoreError> {
        let mut tables = HashMap::new();
        if dir.is_dir() {
            for entry in std::fs::read_dir(&dir).map_err(|e| io_error(&dir, e))? {
                let path = entry.map_err(|e| io_error(&dir, e))?.path();
                let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if file_name.starts_with(DROPPED_PREFIX) {
                    // Dropped; the process stopped before its files were gone.
                    remove_dropped(&path);
                } else if let Some(table_name) = file_name.strip_prefix(TRUNCATED_PREFIX) {
                    // A truncate the process stopped in: finished if the full
                    // table had gone, else it never happened.
                    let target = dir.join(table_name);
                    if target.exists() {
                        remove_dropped(&path);
                    } else {
                        std::fs::rename(&path, &target).map_err(|e| io_error(&path, e))?;
                        sync_dir(&dir)?;
                        let table = Table::open(target)?;
                        tables.insert(table.def().name.to_ascii_lowercase(), Arc::new(table));
                    }
                } else if path.join("_meta.json").is_file() {
                    let table = Table::open(path)?;
                    tables.insert(table.def().name.to_ascii_lowercase(), Arc::new(table));
                }
            }
        }
        Ok(Self { dir, tables: RwLock::new(tables) })
    }
}

/// Which end of a table, by its designated timestamp, a bound or a read
/// back starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Newest,
    Oldest,
}

impl End {
    /// `newest` from the newest end, `oldest` from the oldest.
    pub(crate) fn pick(self, newest: i64, oldest: i64) -> i64 {
        match self {
            End::Newest => newest,
            End::Oldest => oldest,
        }
    }

    /// Orders instants nearest this end first.
    pub(crate) fn nearer_first(self, a: i64, b: i64) -> std::cmp::Ordering {
        match self {
            End::Newest => b.cmp(&a),
            End::Oldest => a.cmp(&b),
        }
    }
}

/// One table: its definition, its parts and the rows still in its log.
pub struct Table {
    dir: PathBuf,
    state: RwLock<TableState>,
    /// Held for a whole append (log write, fsync, state update).
    writer: Mutex<Wal>,
    /// Each append's rows, read as [`Table::scan`] reads them, for live readers.
    tail: tokio::sync::broadcast::Sender<Arc<DataFrame>>,
}

#[derive(Clone)]
struct TableState {
    def: TableDef,
    parts: Vec<PathBuf>,
    /// Rows in the log, not yet in parts, in the stored schema.
    pending: DataFrame,
    /// The newest designated timestamp written out to parts so far
    /// (`None` until known), which retention's TTL counts back from.
    newest: Option<chrono::NaiveDateTime>,
    /// With upsert keys: the parts' rows the log's replace.
    upserts: Upserts,
    /// What is known of the parts without reading them.
    facts: PartFacts,
}

/// One part a write-out writes: rows of a partition, and the part they
/// are a new version of (its rows without those replaced), if any.
struct PartBatch {
    partition: String,
    rows: DataFrame,
    rewrites: Option<PathBuf>,
}

/// The write-ahead log, appended to under the table's writer lock.
struct Wal {
    path: PathBuf,
    file: File,
    /// The bytes of its intact records, what a failed write is cut back to.
    len: u64,
    next_seq: u64,
    /// Why appends stopped, if they did.
    stopped: Option<Stopped>,
    /// Set while write-outs fail: when appends may try again, and the
    /// delay that led to it.
    write_out_retry: Option<(std::time::Instant, std::time::Duration)>,
}

enum Stopped {
    /// The table (named so) was dropped.
    Dropped(String),
    /// The table (named the first) was renamed (to the second).
    Renamed(String, String),
    /// The table (named so) was truncated: a new, empty one took its place.
    Truncated(String),
    /// A failed write could not be cut off (why): records after it would
    /// be behind a torn one, which opening the log cuts off with them.
    Torn(String),
}

/// Where a dropped table's directory goes before its files are removed
/// (no table name starts with '.').
const DROPPED_PREFIX: &str = ".dropped-";

/// Where [`Tables::truncate`] makes the empty table before it is renamed in.
const TRUNCATED_PREFIX: &str = ".truncated-";

/// Rename a table's directory out of the way (the step that drops it),
/// fsync that, then remove its files. An error means nothing was done.
fn move_away(dir: &Path) -> Result<(), CoreError> {
    let tenant = dir.parent().expect("a table in a tenant directory");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let gone = tenant.join(format!("{DROPPED_PREFIX}{nanos}-{name}"));
    std::fs::rename(dir, &gone).map_err(|e| io_error(dir, e))?;
    // Renamed, the table is gone from this process; if the rename is not
    // made durable, a crash can only bring it back whole.
    if let Err(e) = sync_dir(tenant) {
        tracing::warn!(path = %tenant.display(), error = %e, "a drop is done but not yet durable");
    }
    remove_dropped(&gone);
    Ok(())
}

/// Remove what is left of a dropped table; what cannot be removed now is
/// tried again at the next start.
fn remove_dropped(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(path = %dir.display(), error = %e, "a dropped table's files are left until the next start");
    }
}

impl Wal {
    /// Log `rows` as the next record and fsync it. Returns its number.
    fn append(&mut self, rows: &mut DataFrame) -> Result<u64, CoreError> {
        match &self.stopped {
            Some(Stopped::Dropped(name)) => return Err(CoreError::NotFound(format!("table {name} was dropped"))),
            Some(Stopped::Renamed(from, to)) => return Err(CoreError::NotFound(format!("table {from} was renamed to {to}"))),
            Some(Stopped::Truncated(name)) => {
                return Err(CoreError::Unavailable(format!("table {name} was truncated while this write waited; send it again")))
            },
            Some(Stopped::Torn(why)) => {
                return Err(CoreError::Internal(format!(
                    "{}: appends stopped after a write that failed and could not be undone ({why}); restart the server",
                    self.path.display()
                )))
            },
            None => {},
        }
        let seq = self.next_seq;
        let record = encode_record(seq, rows)?;
        // The reply waits for the disk: an acknowledged row is a durable row.
        if let Err(e) = self.file.write_all(&record).and_then(|_| self.file.sync_data()) {
            if let Err(cut) = self.file.set_len(self.len) {
                self.stopped = Some(Stopped::Torn(cut.to_string()));
            }
            return Err(io_error(&self.path, e));
        }
        self.len += record.len() as u64;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Whether an append may try a write-out now.
    fn write_out_due(&self) -> bool {
        self.write_out_retry.is_none_or(|(at, _)| std::time::Instant::now() >= at)
    }

    /// A write-out failed: the next try waits twice as long as the last.
    fn write_out_failed(&mut self) -> std::time::Duration {
        let delay = match self.write_out_retry {
            None => WRITE_OUT_RETRY_FIRST,
            Some((_, last)) => (last * 2).min(WRITE_OUT_RETRY_MAX),
        };
        self.write_out_retry = Some((std::time::Instant::now() + delay, delay));
        delay
    }

    /// Start over, empty: what makes a write-out final.
    fn reset(&mut self) -> Result<(), CoreError> {
        write_atomically(&self.path, &[])?;
        self.file = OpenOptions::new().append(true).open(&self.path).map_err(|e| io_error(&self.path, e))?;
        self.len = 0;
        if matches!(self.stopped, Some(Stopped::Torn(_))) {
            self.stopped = None;
        }
        Ok(())
    }
}

fn io_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("{}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), CoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))
}

/// Create `path`, fill it through a buffer (a part is not held whole in
/// memory), and fsync it.
fn write_synced(path: &Path, fill: impl FnOnce(&mut BufWriter<&mut File>) -> PolarsResult<()>) -> Result<(), CoreError> {
    let mut file = File::create(path).map_err(|e| io_error(path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, &mut file);
    fill(&mut out)?;
    out.flush().map_err(|e| io_error(path, e))?;
    drop(out);
    file.sync_all().map_err(|e| io_error(path, e))
}

/// Write `bytes` to `path` atomically: a temporary file, fsync'd, renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_dir(path.parent().expect("a file in a directory"))
}

impl Table {
    fn create(dir: PathBuf, def: TableDef) -> Result<Self, CoreError> {
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        sync_dir(dir.parent().expect("tables live in a tenant directory"))?;
        let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        write_atomically(&dir.join("_meta.json"), &meta)?;
        Self::open(dir)
    }

    fn open(dir: PathBuf) -> Result<Self, CoreError> {
        let meta_path = dir.join("_meta.json");
        let meta = std::fs::read(&meta_path).map_err(|e| io_error(&meta_path, e))?;
        let mut def: TableDef = serde_json::from_slice(&meta)
            .map_err(|e| CoreError::FailedPrecondition(format!("{}: {e}", meta_path.display())))?;
        // Earlier versions kept a designated timestamp as the CREATE wrote
        // it (`timestamp(TS)` of `ts`), which no append could find.
        def.spell_names();
        // A rename is done once the directory has its new name; the
        // definition may not have followed yet.
        let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !dir_name.starts_with(TRUNCATED_PREFIX) && def.name != dir_name {
            def.name = dir_name.to_string();
            let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
            write_atomically(&meta_path, &meta)?;
        }
        remove_unfinished_parts(&dir)?;
        let mut parts = list_parts(&dir)?;
        let schema = def.schema()?;
        let wal_path = dir.join("wal.log");
        let (done, opened) = loop {
            let done = parts.iter().filter_map(|p| part_seq(p)).max().unwrap_or(0);
            let opened = open_wal(&wal_path, done)?;
            if !opened.holds_done {
                break (done, opened);
            }
            // The log was not emptied after the parts of `done` were written:
            // that write-out did not finish (maybe not every partition's
            // part was renamed in). The log holds all their rows.
            let (undone, kept) = parts.into_iter().partition::<Vec<_>, _>(|p| part_seq(p) == Some(done));
            tracing::warn!(table = %def.name, seq = done, parts = undone.len(), "undoing an unfinished write-out; its rows are read from the log");
            for part in &undone {
                std::fs::remove_file(part).map_err(|e| io_error(part, e))?;
                sync_dir(part.parent().expect("a part in a partition"))?;
            }
            parts = kept;
        };
        // Versions of parts a committed rewrite supersedes, whose files
        // the process stopped before removing.
        let superseded = upserts::superseded(&parts);
        for part in &superseded {
            std::fs::remove_file(part).map_err(|e| io_error(part, e))?;
        }
        parts.retain(|p| !superseded.contains(p));
        let mut state = TableState {
            pending: DataFrame::empty_with_schema(&schema),
            upserts: Upserts {
                parts_newest: if def.upsert_keys.is_empty() { None } else { upserts::newest_in_parts(&parts, &def)? },
                ..Default::default()
            },
            def,
            parts,
            newest: None,
            facts: PartFacts::default(),
        };
        // The log's records, applied as their appends were.
        for rows in opened.records {
            if state.def.upsert_keys.is_empty() {
                state.pending = concat_rows(std::mem::take(&mut state.pending), rows, &schema)?;
            } else {
                let rows = conform_width(rows, &schema)?;
                upserts::upsert(&mut state, rows, &schema, false)?;
            }
        }
        let (tail, _) = tokio::sync::broadcast::channel(TAIL_APPENDS);
        Ok(Self {
            dir,
            state: RwLock::new(state),
            writer: Mutex::new(Wal {
                path: wal_path,
                file: opened.file,
                len: opened.len,
                next_seq: opened.next_seq.max(done + 1),
                stopped: None,
                write_out_retry: None,
            }),
            tail,
        })
    }

    pub fn def(&self) -> TableDef {
        self.state.read().unwrap_or_else(|p| p.into_inner()).def.clone()
    }

    /// The table as a plan: its parts, then the rows in its log, every
    /// column read as the table's type (SYMBOL as categorical).
    pub fn scan(&self) -> Result<LazyFrame, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        Self::scan_state(&state)
    }

    /// An instant within which at least `n` of the table's rows lie toward
    /// its `end` (of those whose SYMBOL column `only.0` holds one of
    /// `only.1`, if given), known without reading any part (see
    /// [`parts::rows_bound`]): `ts >= it` keeps the table's `n` newest rows
    /// (of those values), `ts <= it` its `n` oldest, and either lets a scan
    /// skip the parts beyond it (QuestDB's `ORDER BY ts DESC LIMIT n`
    /// reads only the newest partitions). `None` when it is not known.
    pub fn rows_bound(&self, end: End, n: usize, only: Option<(&str, &[String])>) -> Result<Option<chrono::NaiveDateTime>, CoreError> {
        // A copy, as a scan takes: a part's footer may be read meanwhile.
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        let physical = parts::rows_bound(&state, end, n, only)?;
        Ok(physical.and_then(|p| designated_instant(&state, p)))
    }

    /// An instant at or after which each value of the SYMBOL column `key`
    /// (each of `only`, if given) has its latest row, known without reading
    /// any part (see [`parts::latest_by_key`]): `ts >= it` keeps every
    /// value's latest row, and lets a scan skip the parts before it
    /// (QuestDB's `LATEST ON ts PARTITION BY key` reads back only until it
    /// has found every value). `None` when it is not known.
    pub fn latest_by_key_bound(&self, key: &str, only: Option<&[String]>) -> Result<Option<chrono::NaiveDateTime>, CoreError> {
        Ok(self.latest_by_key(key, only)?.map(|(bound, _)| bound))
    }

    /// [`Table::latest_by_key_bound`], and the values the table holds (of
    /// `only`; its null among them, if a row holds it): those a read back
    /// must find, from the same one walk of the footers.
    pub fn latest_by_key(
        &self,
        key: &str,
        only: Option<&[String]>,
    ) -> Result<Option<(chrono::NaiveDateTime, std::collections::HashSet<Option<String>>)>, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some((physical, held)) = parts::latest_by_key(&state, key, only)? else { return Ok(None) };
        Ok(designated_instant(&state, physical).map(|bound| (bound, held)))
    }

    /// Predicates on the designated timestamp that split the table into
    /// windows to read from its `end`: within `first` (`ts >= first` from
    /// the newest, `ts <= first` from the oldest), then the next 1, 2, 4,
    /// ... parts beyond it (by where they begin, seen from the end), the
    /// last one everything beyond. Each window's parts are all a scan of it
    /// reads (see [`parts`]). A query whose answer lies in the rows nearest
    /// the end that pass a filter (the n newest, each value's latest) reads
    /// the windows in turn until it has its answer: only as far as the
    /// answer lies, in a few steps, as QuestDB reads back partition by
    /// partition. `None` without a designated timestamp.
    pub fn read_back_windows(&self, end: End, first: chrono::NaiveDateTime) -> Result<Option<Vec<Expr>>, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(ts) = state.def.timestamp.clone() else { return Ok(None) };
        let Some(dtype @ DataType::Datetime(unit, _)) = state.pending.schema().get(&ts).cloned() else { return Ok(None) };
        let Some(first) = physical(first, unit) else { return Ok(None) };
        let edges = parts::block_edges(&state, end, first)?;
        Ok(Some(crate::read_back::time_windows(&ts, &dtype, end, first, &edges)))
    }

    /// The table read back from its end in the order its rows come (by
    /// partition, then write-out, then the log; see [`Table::scan`]), as
    /// scans of disjoint runs of it: the log and the last part, then the 1,
    /// 2, 4, ... parts before them. Read in turn, each scan opens only its
    /// parts, and together they are the whole table. A query whose answer
    /// lies in the last rows that pass a filter (QuestDB's `WHERE ...
    /// LIMIT -n`) reads them until it has its answer. `None` with upsert
    /// keys (the log's rows replace some of a part's).
    pub fn read_back_scans(&self) -> Result<Option<Vec<LazyFrame>>, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        if !state.def.upsert_keys.is_empty() {
            return Ok(None);
        }
        let mut scans = Vec::new();
        let (mut end, mut step) = (state.parts.len(), 1);
        let mut run = TableState { parts: state.parts[end.saturating_sub(1)..].to_vec(), ..state.clone() };
        end = end.saturating_sub(1);
        scans.push(Self::scan_state(&run)?);
        run.pending = state.pending.clear();
        while end > 0 {
            let start = end.saturating_sub(step);
            run.parts = state.parts[start..end].to_vec();
            scans.push(Self::scan_state(&run)?);
            (end, step) = (start, step * 2);
        }
        Ok(Some(scans))
    }

    /// The table now, and every append after it: no row is in both, none
    /// is missed. Appended rows come as [`Table::scan`] reads them; a reader
    /// more than [`TAIL_APPENDS`] appends behind gets `Lagged`, and `Closed`
    /// once the table is dropped.
    pub fn subscribe(&self) -> Result<(LazyFrame, tokio::sync::broadcast::Receiver<Arc<DataFrame>>), CoreError> {
        // Appends hold the writer from the log write to the broadcast.
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        Ok((Self::scan_state(&state)?, self.tail.subscribe()))
    }

    fn scan_state(state: &TableState) -> Result<LazyFrame, CoreError> {
        let schema = state.def.schema()?;
        let mut inputs = Vec::with_capacity(2);
        // In order: runs of parts read as they are, and each part whose
        // rows the log replaces some of.
        let mut plain: Vec<PathBuf> = Vec::new();
        for part in &state.parts {
            if !upserts::is_shadowed(part, state) {
                plain.push(part.clone());
                continue;
            }
            inputs.extend(parts::scan_parts(state, &std::mem::take(&mut plain), &schema)?);
            let path = PlRefPath::new(part.to_string_lossy().as_ref());
            let has = state.facts.of(part)?.schema.expect("read with the footer");
            let stored = LazyFrame::scan_ipc(path, Default::default(), Default::default())?
                .select(aligned_columns(&state.def, &schema, &has, false));
            inputs.push(upserts::hide_replaced(stored, state).select(read_columns(&state.def, &schema, &schema)));
        }
        inputs.extend(parts::scan_parts(state, &plain, &schema)?);
        inputs.push(state.pending.clone().lazy().select(read_columns(&state.def, &schema, &schema)));
        Ok(concat(inputs, UnionArgs { rechunk: false, parallel: true, ..Default::default() })?)
    }

    /// Append rows: conform them to the table, log and fsync them, then
    /// make them visible. With `evolve` (ILP) columns the table lacks are
    /// added.
    fn append(&self, rows: DataFrame, evolve: Option<&AutoCreate>) -> Result<u64, CoreError> {
        let mut wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut def = self.def();
        if let Some(auto) = evolve {
            let mut added = false;
            for (name, dtype) in rows.schema().iter() {
                if !def.columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                    check_name(name, "column")?;
                    def.columns.push(ColumnDef { name: name.to_string(), kind: auto.kind(name, dtype).into() });
                    added = true;
                }
            }
            if added {
                let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
                write_atomically(&self.dir.join("_meta.json"), &meta)?;
                let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                state.def = def.clone();
            }
        }
        let schema = def.schema()?;
        let mut rows = conform(rows, &def, &schema)?;
        if rows.height() == 0 {
            return Ok(0);
        }
        let appended = rows.height() as u64;
        if !def.upsert_keys.is_empty() {
            rows = upserts::last_per_key(rows, &def.upsert_keys)?;
        }
        let seq = wal.append(&mut rows)?;
        let live_readers = self.tail.receiver_count() > 0;
        let live;
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            if def.upsert_keys.is_empty() {
                live = live_readers.then(|| rows.clone());
                state.pending = concat_rows(std::mem::take(&mut state.pending), rows, &schema)?;
            } else {
                // Live readers have the rows this replaces: they get the new keys.
                live = upserts::upsert(&mut state, rows, &schema, live_readers)?.filter(|fresh| fresh.height() > 0);
                if !state.upserts.retired.is_empty() {
                    upserts::remove_retired(&mut state.upserts, false);
                }
            }
            if state.pending.height() >= CHECKPOINT_ROWS && wal.write_out_due() {
                // The rows are in the log already, so this append stands
                // even if writing them out fails (the log keeps them, and
                // a later append tries again); a client told otherwise
                // would send them twice.
                if let Err(e) = self.checkpoint(&mut state, &mut wal, seq) {
                    let retry_in = wal.write_out_failed();
                    tracing::error!(table = %def.name, error = %e, pending_rows = state.pending.height(), ?retry_in,
                        "writing the log out as parts failed; its rows stay in the log");
                }
            }
        }
        // Still under the writer: live readers get appends in order, and
        // none that their snapshot already holds.
        if let Some(rows) = live {
            let read = rows.lazy().select(read_columns(&def, &schema, &schema)).collect()?;
            // No receiver left (they went away meanwhile) is no error.
            let _ = self.tail.send(Arc::new(read));
        }
        Ok(appended)
    }

    /// Write the log's rows out as parts, then start the log over. If the
    /// parts cannot all be written, none is added and the rows stay
    /// pending (and in the log).
    fn checkpoint(&self, state: &mut TableState, wal: &mut Wal, last_seq: u64) -> Result<(), CoreError> {
        let newest = if state.def.retention.is_none() { None } else { newest_row(&state.pending, &state.def)? };
        let batches = if state.def.upsert_keys.is_empty() {
            split_partitions(&state.pending, &state.def)?
                .into_iter()
                .map(|(partition, rows)| PartBatch { partition, rows, rewrites: None })
                .collect()
        } else {
            upserts::write_out(state)?
        };
        let superseded: Vec<PathBuf> = batches.iter().filter_map(|b| b.rewrites.clone()).collect();
        let pending_newest = match &state.def.timestamp {
            Some(ts) if !state.def.upsert_keys.is_empty() && state.pending.height() > 0 => {
                state.pending.column(ts)?.to_physical_repr().i64()?.max()
            },
            _ => None,
        };
        let facts = parts::batch_facts(&batches, &state.def)?;
        let written = self.write_parts(batches, &facts, last_seq)?;
        wal.write_out_retry = None;
        state.newest = state.newest.max(newest);
        // A rewritten part takes the place of the version it rewrote.
        state.parts.retain(|p| !superseded.contains(p));
        state.parts.extend(written.iter().cloned());
        // In the order a restart lists them (by partition, then write-out,
        // a rewritten part where its first version was), so the table's
        // rows, and its last rows (`LIMIT -n`), come in one order.
        state.parts.sort();
        state.facts.note_written(&written, facts, &state.parts);
        state.pending = DataFrame::empty_with_schema(&state.def.schema()?);
        state.upserts.parts_newest = state.upserts.parts_newest.max(pending_newest);
        state.upserts.shadow = None;
        state.upserts.shadowed.clear();
        // Only now may the log forget these rows.
        wal.reset()?;
        // Records after this one must sort after the parts' number.
        wal.next_seq = wal.next_seq.max(last_seq + 1);
        // Their files are removed once the write-out is final.
        let now = std::time::Instant::now();
        state.upserts.retired.extend(superseded.into_iter().map(|p| (now, p)));
        upserts::remove_retired(&mut state.upserts, false);
        self.apply_retention(state)
    }

    /// `batches` as parts (with what `facts` says of each in their
    /// metadata), named for `seq`: each written to a
    /// temporary file and fsync'd, then all renamed in. On an error none is
    /// left behind.
    fn write_parts(&self, batches: Vec<PartBatch>, facts: &[parts::Facts], seq: u64) -> Result<Vec<PathBuf>, CoreError> {
        let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
        let write = || -> Result<(), CoreError> {
            for (PartBatch { partition, mut rows, rewrites }, facts) in batches.into_iter().zip(facts) {
                let dir = self.dir.join(&partition);
                std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
                let path = dir.join(upserts::part_file_name(seq, rewrites.as_deref()));
                let tmp = path.with_extension("tmp");
                staged.push((tmp.clone(), path));
                write_synced(&tmp, |out| {
                    let fields = default_ipc_fields(rows.schema().to_arrow(CompatLevel::newest()).iter_values());
                    let mut writer = IpcWriter::new(out).batched(rows.schema(), fields)?;
                    rows.align_chunks_par();
                    writer.write_batch(&rows)?;
                    writer.set_custom_metadata(parts::metadata(facts));
                    writer.finish()
                })?;
            }
            for (tmp, path) in &staged {
                std::fs::rename(tmp, path).map_err(|e| io_error(path, e))?;
            }
            for (_, path) in &staged {
                sync_dir(path.parent().expect("a part in a partition"))?;
            }
            sync_dir(&self.dir)
        };
        match write() {
            Ok(()) => Ok(staged.into_iter().map(|(_, path)| path).collect()),
            Err(e) => {
                for (tmp, path) in &staged {
                    let _ = std::fs::remove_file(tmp);
                    let _ = std::fs::remove_file(path);
                    // A partition this write-out created goes too (only if empty).
                    let _ = std::fs::remove_dir(path.parent().expect("a part in a partition"));
                }
                Err(e)
            },
        }
    }

    /// Drop the partitions `def.retention` no longer keeps. Readers that
    /// already planned a scan of them fail to find the files (as after
    /// DROP TABLE); new scans never list them.
    fn apply_retention(&self, state: &mut TableState) -> Result<(), CoreError> {
        let def = &state.def;
        if def.retention.is_none() {
            return Ok(());
        }
        if state.newest.is_none() && def.retention.ttl.is_some() {
            // After a restart: the newest partition holds the newest rows.
            let newest_partition = state.parts.iter().map(|p| partition_name(p)).max();
            let files: Vec<&PathBuf> =
                state.parts.iter().filter(|p| Some(partition_name(p)) == newest_partition).collect();
            for file in files {
                let rows = IpcReader::new(File::open(file).map_err(|e| io_error(file, e))?).finish()?;
                state.newest = state.newest.max(newest_row(&rows, def)?);
            }
        }
        let dropped = parts_to_drop(&state.parts, def.partition_by, &def.retention, state.newest)?;
        if dropped.is_empty() {
            return Ok(());
        }
        state.parts.retain(|p| !dropped.contains(p));
        // Superseded parts of a dropped partition go with it: left behind,
        // they would be read as the partition at the next start.
        let gone: Vec<String> = dropped.iter().map(|p| partition_name(p)).collect();
        upserts::remove_retired_in(&mut state.upserts, &gone);
        for part in &dropped {
            std::fs::remove_file(part).map_err(|e| io_error(part, e))?;
            // The partition's directory goes with its last part.
            if let Some(dir) = part.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        sync_dir(&self.dir)?;
        let mut partitions: Vec<String> = dropped.iter().map(|p| partition_name(p)).collect();
        partitions.dedup();
        tracing::info!(table = %def.name, ?partitions, retention = ?def.retention, "retention dropped partitions");
        Ok(())
    }

    fn set_retention(&self, retention: Retention) -> Result<(), CoreError> {
        let mut wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut def = self.def();
        def.retention = retention;
        def.check()?;
        let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        write_atomically(&self.dir.join("_meta.json"), &meta)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.def = def;
        if state.pending.height() > 0 {
            // The log's rows are partitioned first, so the new retention
            // applies to every row now, not at the next write-out.
            let last_seq = wal.next_seq - 1;
            return self.checkpoint(&mut state, &mut wal, last_seq);
        }
        self.apply_retention(&mut state)
    }

    fn add_columns(&self, columns: Vec<ColumnDef>, if_not_exists: bool) -> Result<(), CoreError> {
        let _wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut def = self.def();
        for column in columns {
            if def.columns.iter().any(|c| c.name.eq_ignore_ascii_case(&column.name)) {
                if if_not_exists {
                    continue;
                }
                return Err(CoreError::InvalidArgument(format!("column {} already exists in table {}", column.name, def.name)));
            }
            def.columns.push(column);
        }
        def.check()?;
        let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        write_atomically(&self.dir.join("_meta.json"), &meta)?;
        self.state.write().unwrap_or_else(|p| p.into_inner()).def = def;
        Ok(())
    }

    fn partitions(&self) -> Result<Vec<String>, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut names: Vec<String> = state.parts.iter().map(|p| partition_name(p)).collect();
        if state.pending.height() > 0 && state.def.partition_by != PartitionBy::None {
            names.extend(split_partitions(&state.pending, &state.def)?.into_iter().map(|(name, _)| name));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn drop_partitions(&self, partitions: &[String]) -> Result<(), CoreError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let def = self.def();
        if def.partition_by == PartitionBy::None {
            return Err(CoreError::InvalidArgument(format!("table {} is not partitioned", def.name)));
        }
        let held = self.partitions()?;
        if let Some(missing) = partitions.iter().find(|p| !held.contains(p)) {
            return Err(CoreError::InvalidArgument(format!(
                "table {} has no partition {missing} (it has {})",
                def.name,
                if held.is_empty() { "none".to_string() } else { held.join(", ") }
            )));
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.pending.height() > 0 {
            // The log's rows go to parts first: dropping files then drops them all.
            let last_seq = wal.next_seq - 1;
            self.checkpoint(&mut state, &mut wal, last_seq)?;
        }
        let (dropped, kept): (Vec<PathBuf>, Vec<PathBuf>) =
            std::mem::take(&mut state.parts).into_iter().partition(|p| partitions.contains(&partition_name(p)));
        state.parts = kept;
        upserts::remove_retired_in(&mut state.upserts, partitions);
        for part in &dropped {
            std::fs::remove_file(part).map_err(|e| io_error(part, e))?;
            if let Some(dir) = part.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        sync_dir(&self.dir)?;
        tracing::info!(table = %def.name, ?partitions, "partitions dropped");
        Ok(())
    }

    /// Set the upsert keys (QuestDB's `ALTER TABLE ... DEDUP ENABLE
    /// UPSERT KEYS(...)`; none: `DEDUP DISABLE`). They apply to the rows
    /// appended from now on: rows stored already stay as they are.
    fn set_upsert_keys(&self, keys: Vec<String>) -> Result<(), CoreError> {
        let mut wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut def = self.def();
        def.upsert_keys = keys;
        def.spell_names();
        def.check()?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.pending.height() > 0 {
            // Opening the table applies the log's records with the keys of
            // the time: the log holds none from before the change.
            let last_seq = wal.next_seq - 1;
            self.checkpoint(&mut state, &mut wal, last_seq)?;
        }
        let meta = serde_json::to_vec_pretty(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        write_atomically(&self.dir.join("_meta.json"), &meta)?;
        let parts_newest = if def.upsert_keys.is_empty() { None } else { upserts::newest_in_parts(&state.parts, &def)? };
        state.upserts.parts_newest = parts_newest;
        state.def = def;
        Ok(())
    }

    /// The table's part files, once the rows still in its log are written
    /// out as parts too: what a reader outside this process (a Ballista
    /// executor) sees is every acknowledged row.
    pub fn flushed_parts(&self) -> Result<Vec<PathBuf>, CoreError> {
        let mut wal = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.pending.height() > 0 {
            // Pending rows came from records since the last checkpoint; the
            // newest of them is the one before the log's next number.
            let last_seq = wal.next_seq - 1;
            self.checkpoint(&mut state, &mut wal, last_seq)?;
        }
        Ok(state.parts.clone())
    }

    /// The bytes the table holds on disk: its parts, its log and its
    /// definition (what the PostgreSQL door reports as its size).
    pub fn disk_bytes(&self) -> Result<u64, CoreError> {
        // A file a checkpoint or retention removes while it is counted
        // counts nothing (appends go on while a client asks).
        fn walk(dir: &Path) -> std::io::Result<u64> {
            let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
            let entries = match std::fs::read_dir(dir) {
                Err(e) if gone(&e) => return Ok(0),
                entries => entries?,
            };
            let mut total = 0;
            for entry in entries {
                let meta = match entry.and_then(|e| e.metadata().map(|m| (e.path(), m))) {
                    Err(e) if gone(&e) => continue,
                    meta => meta?,
                };
                total += if meta.1.is_dir() { walk(&meta.0)? } else { meta.1.len() };
            }
            Ok(total)
        }
        walk(&self.dir).map_err(|e| CoreError::Internal(format!("{}: {e}", self.dir.display())))
    }

    /// Each partition that holds rows, by time (QuestDB's `SHOW
    /// PARTITIONS`): `name`, `minTimestamp`, `maxTimestamp`, `numRows` (as
    /// read: replaced rows not counted) and `diskSize`, the bytes of its
    /// parts (rows still in the log take none yet).
    pub fn partition_stats(&self) -> Result<DataFrame, CoreError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner()).clone();
        let def = &state.def;
        let (Some(ts), Some(every), Some(pattern)) = (&def.timestamp, def.partition_by.every(), def.partition_by.pattern()) else {
            return Err(CoreError::InvalidArgument(format!("table {} is not partitioned", def.name)));
        };
        let stats = Self::scan_state(&state)?
            .select([col(ts.as_str()).dt().truncate(lit(every)).dt().to_string(pattern).alias("name"), col(ts.as_str())])
            .group_by([col("name")])
            .agg([
                col(ts.as_str()).min().alias("minTimestamp"),
                col(ts.as_str()).max().alias("maxTimestamp"),
                len().cast(DataType::Int64).alias("numRows"),
            ])
            .sort(["name"], Default::default())
            .collect()?;
        let mut bytes: HashMap<String, i64> = HashMap::new();
        for part in &state.parts {
            // A file retention or a write-out removed meanwhile counts nothing.
            let size = std::fs::metadata(part).map_or(0, |m| m.len() as i64);
            *bytes.entry(partition_name(part)).or_default() += size;
        }
        let sizes: Vec<i64> =
            stats.column("name")?.str()?.iter().map(|n| n.and_then(|n| bytes.get(n).copied()).unwrap_or(0)).collect();
        let mut stats = stats;
        stats.with_column(Column::new("diskSize".into(), sizes))?;
        Ok(stats)
    }

    /// Rows, all of them: parts and log (for tests and tools).
    pub fn row_count(&self) -> Result<u64, CoreError> {
        let counted = self.scan()?.select([len()]).collect()?;
        Ok(counted.column("len")?.get(0)?.extract::<u64>().unwrap_or(0))
    }
}

/// The newest designated timestamp among `rows`.
fn newest_row(rows: &DataFrame, def: &TableDef) -> Result<Option<chrono::NaiveDateTime>, CoreError> {
    let Some(ts) = &def.timestamp else { return Ok(None) };
    let Ok(column) = rows.column(ts) else { return Ok(None) };
    let DataType::Datetime(unit, _) = column.dtype() else { return Ok(None) };
    let unit = *unit;
    let Some(max) = column.datetime()?.physical().max() else { return Ok(None) };
    Ok(Some(instant(max, unit).unwrap_or_default()))
}

/// The UTC time a timestamp of `unit` stands for (`None` out of chrono's range).
fn instant(physical: i64, unit: TimeUnit) -> Option<chrono::NaiveDateTime> {
    let at = match unit {
        TimeUnit::Nanoseconds => Some(chrono::DateTime::from_timestamp_nanos(physical)),
        TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(physical),
        TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(physical),
    };
    at.map(|at| at.naive_utc())
}

/// A UTC time as a timestamp of `unit` (`None` out of its range).
fn physical(at: chrono::NaiveDateTime, unit: TimeUnit) -> Option<i64> {
    let at = at.and_utc();
    match unit {
        TimeUnit::Nanoseconds => at.timestamp_nanos_opt(),
        TimeUnit::Microseconds => Some(at.timestamp_micros()),
        TimeUnit::Milliseconds => Some(at.timestamp_millis()),
    }
}

/// `physical`, a value of `state`'s designated timestamp, as a UTC time.
fn designated_instant(state: &TableState, physical: i64) -> Option<chrono::NaiveDateTime> {
    match state.pending.schema().get(state.def.timestamp.as_ref()?)? {
        DataType::Datetime(unit, _) => instant(physical, *unit),
        _ => None,
    }
}

/// The table's columns as readers see them, from an input that has the
/// columns `has` in the stored `schema`: a column the input lacks (a part
/// written before the column was added) is null, SYMBOL is categorical.
fn read_columns(def: &TableDef, schema: &Schema, has: &Schema) -> Vec<Expr> {
    aligned_columns(def, schema, has, true)
}

/// The table's columns from an input that has the columns `has`, a
/// missing one null; SYMBOL as categorical if `symbols`, else as stored.
fn aligned_columns(def: &TableDef, schema: &Schema, has: &Schema, symbols: bool) -> Vec<Expr> {
    def.columns
        .iter()
        .map(|c| {
            let stored = schema.get(c.name.as_str()).cloned().unwrap_or(DataType::String);
            let read = if symbols && c.kind.eq_ignore_ascii_case("SYMBOL") {
                DataType::from_categories(Categories::global())
            } else {
                stored.clone()
            };
            match has.get(c.name.as_str()) {
                // As it is: a filter on it goes down to the scan (a cast,
                // even to its own type, stops polars' predicate pushdown).
                Some(dtype) if dtype == &read => col(c.name.as_str()),
                Some(_) => col(c.name.as_str()).cast(read),
                None => lit(NULL).cast(stored).cast(read).alias(c.name.as_str()),
            }
        })
        .collect()
}

/// `rows` in the table's columns and types: missing columns are null,
/// unknown ones are an error, values are cast strictly.
fn conform(rows: DataFrame, def: &TableDef, schema: &Schema) -> Result<DataFrame, CoreError> {
    for name in rows.get_column_names() {
        if !def.columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            return Err(CoreError::InvalidArgument(format!("column {name} does not exist in table {}", def.name)));
        }
    }
    let height = rows.height();
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let found = rows.columns().iter().find(|c| c.name().eq_ignore_ascii_case(name));
        let column = match found {
            Some(c) => c.strict_cast(dtype).map_err(|e| {
                CoreError::InvalidArgument(format!("column {name} of {}: cannot store {} as {dtype}: {e}", def.name, c.dtype()))
            })?,
            None => Column::full_null(name.clone(), height, dtype),
        };
        columns.push(column.with_name(name.clone()));
    }
    let df = DataFrame::new(height, columns)?;
    if let Some(ts) = &def.timestamp {
        if df.column(ts)?.null_count() > 0 {
            return Err(CoreError::InvalidArgument(format!("designated timestamp {ts} of {} cannot be null", def.name)));
        }
    }
    Ok(df)
}

fn concat_rows(mut into: DataFrame, rows: DataFrame, schema: &Schema) -> Result<DataFrame, CoreError> {
    // A log written before a column was added lacks it.
    let rows = if rows.width() == schema.len() { rows } else { conform_width(rows, schema)? };
    if into.width() != schema.len() {
        into = conform_width(into, schema)?;
    }
    into.vstack_mut_owned(rows)?;
    Ok(into)
}

/// `df` with every column of `schema`, the missing ones null.
fn conform_width(df: DataFrame, schema: &Schema) -> Result<DataFrame, CoreError> {
    let height = df.height();
    let columns = schema
        .iter()
        .map(|(name, dtype)| match df.column(name) {
            Ok(c) => c.clone(),
            Err(_) => Column::full_null(name.clone(), height, dtype),
        })
        .collect();
    Ok(DataFrame::new(height, columns)?)
}

/// The rows of each partition, by directory name, in time order. Rows are
/// grouped by the instant their partition starts and only those few are
/// named: formatting every row's timestamp (chrono parses the pattern for
/// each value) was a fifth of an ILP ingest's CPU.
fn split_partitions(rows: &DataFrame, def: &TableDef) -> Result<Vec<(String, DataFrame)>, CoreError> {
    let (Some(ts), Some(pattern), Some(every)) = (&def.timestamp, def.partition_by.pattern(), def.partition_by.every())
    else {
        return Ok(vec![("default".into(), rows.clone())]);
    };
    // Most checkpoints hold one partition (a day of live rows). Truncating
    // keeps order, so when the earliest and the latest row start the same
    // partition every row does, and the rows are kept as they are instead
    // of being copied through a filter.
    let ends = rows
        .clone()
        .lazy()
        .select([
            col(ts.as_str()).min().dt().truncate(lit(every)).alias("start"),
            col(ts.as_str()).max().dt().truncate(lit(every)).alias("end"),
            col(ts.as_str()).null_count().alias("nulls"),
        ])
        .collect()?;
    let (start, end) = (ends.column("start")?.get(0)?, ends.column("end")?.get(0)?);
    if !start.is_null() && start == end && ends.column("nulls")?.get(0)?.extract::<u64>() == Some(0) {
        let start = ends.column("start")?.as_materialized_series().clone();
        let names = partition_names(start, pattern)?;
        return Ok(names.get(0).map(|name| vec![(name.to_string(), rows.clone())]).unwrap_or_default());
    }
    let starts = rows.clone().lazy().select([col(ts.as_str()).dt().truncate(lit(every)).alias("start")]).collect()?;
    let starts = starts.column("start")?.as_materialized_series().clone();
    let distinct = starts.unique()?.sort(SortOptions::default())?;
    let names = partition_names(distinct.clone(), pattern)?;
    let (starts, distinct) = (starts.to_physical_repr(), distinct.to_physical_repr());
    let starts = starts.i64()?;
    let mut out = Vec::new();
    // A null start (no timestamp) names no partition: appends refuse those rows.
    for (start, name) in distinct.i64()?.iter().zip(names.iter()) {
        if let (Some(start), Some(name)) = (start, name) {
            out.push((name.to_string(), rows.filter(&starts.equal(start))?));
        }
    }
    Ok(out)
}

/// The directory names of the partitions that start at `starts` (a
/// series named "start").
fn partition_names(starts: Series, pattern: &str) -> Result<StringChunked, CoreError> {
    let names = starts.into_frame().lazy().select([col("start").dt().to_string(pattern)]).collect()?;
    Ok(names.column("start")?.str()?.clone())
}

fn list_parts(dir: &Path) -> Result<Vec<PathBuf>, CoreError> {
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.is_dir() {
            for file in std::fs::read_dir(&path).map_err(|e| io_error(&path, e))? {
                let file = file.map_err(|e| io_error(&path, e))?.path();
                if part_seq(&file).is_some() {
                    parts.push(file);
                }
            }
        }
    }
    parts.sort();
    Ok(parts)
}

fn part_seq(path: &Path) -> Option<u64> {
    upserts::part_number(path)
}

/// One record: the rows encoded after a header whose length and checksum
/// are filled in last, in one buffer sized up front. (The payload used to
/// grow by doubling and then be copied behind the header; memmove was a
/// tenth of ILP ingest's CPU, this among it.)
fn encode_record(seq: u64, rows: &mut DataFrame) -> Result<Vec<u8>, CoreError> {
    let guess = rows.estimated_size().saturating_add(4096).min(MAX_RECORD);
    let mut record = Vec::with_capacity(RECORD_HEADER + guess);
    record.extend_from_slice(&WAL_MAGIC.to_le_bytes());
    record.extend_from_slice(&[0; 8]);
    record.extend_from_slice(&seq.to_le_bytes());
    IpcStreamWriter::new(&mut record).finish(rows)?;
    let len = record.len() - RECORD_HEADER;
    // A longer record would be taken for a corrupt tail and cut on open.
    if len > MAX_RECORD {
        return Err(CoreError::ResourceExhausted(format!(
            "one append is at most {} MiB of rows (this one is {} MiB): append them in smaller batches",
            MAX_RECORD >> 20,
            len >> 20
        )));
    }
    let crc = crc32fast::hash(&record[RECORD_HEADER..]);
    record[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    record[8..12].copy_from_slice(&crc.to_le_bytes());
    Ok(record)
}

/// The log, opened for appending.
struct OpenedWal {
    file: File,
    /// Its intact records after the sequence number `done`.
    records: Vec<DataFrame>,
    /// The number the next record takes.
    next_seq: u64,
    /// The bytes of its intact records (what is left of it).
    len: u64,
    /// Whether it holds the record numbered `done` (a write-out that did
    /// not finish).
    holds_done: bool,
}

/// Open the log: a torn or corrupt tail is cut off.
fn open_wal(path: &Path, done: u64) -> Result<OpenedWal, CoreError> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| io_error(path, e))?;
    let mut reader = BufReader::new(&mut file);
    let (mut records, mut good, mut next, mut holds_done) = (Vec::new(), 0u64, done + 1, false);
    loop {
        let mut header = [0u8; RECORD_HEADER];
        if reader.read_exact(&mut header).is_err() {
            break;
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let (magic, len, crc) = (word(0), word(4) as usize, word(8));
        let seq = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
        if magic != WAL_MAGIC || len > MAX_RECORD {
            break;
        }
        let mut payload = vec![0u8; len];
        if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
            break;
        }
        if seq > done {
            let rows = IpcStreamReader::new(std::io::Cursor::new(payload)).finish()?;
            records.push(rows);
        }
        holds_done |= seq == done;
        next = next.max(seq + 1);
        good += (RECORD_HEADER + len) as u64;
    }
    drop(reader);
    let size = file.metadata().map_err(|e| io_error(path, e))?.len();
    if size > good {
        tracing::warn!(path = %path.display(), kept = good, cut = size - good, "cutting a torn write-ahead log tail");
        file.set_len(good).and_then(|_| file.sync_all()).map_err(|e| io_error(path, e))?;
    }
    file.seek(SeekFrom::End(0)).map_err(|e| io_error(path, e))?;
    Ok(OpenedWal { file, records, next_seq: next, len: good, holds_done })
}

/// Remove the temporary files of a write-out the process died in (they
/// are not parts; the log holds their rows).
fn remove_unfinished_parts(dir: &Path) -> Result<(), CoreError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if !path.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&path).map_err(|e| io_error(&path, e))? {
            let file = file.map_err(|e| io_error(&path, e))?.path();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("part-") && name.ends_with(".tmp") {
                std::fs::remove_file(&file).map_err(|e| io_error(&file, e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn def() -> TableDef {
        TableDef {
            name: "trades".into(),
            columns: vec![
                ColumnDef { name: "ts".into(), kind: "TIMESTAMP".into() },
                ColumnDef { name: "sym".into(), kind: "SYMBOL".into() },
                ColumnDef { name: "px".into(), kind: "DOUBLE".into() },
            ],
            timestamp: Some("ts".into()),
            partition_by: PartitionBy::Day,
            retention: Default::default(),
            upsert_keys: Vec::new(),
        }
    }

    pub(super) fn rows(day: i64, n: i64) -> DataFrame {
        let us = 1_795_392_000_000_000i64 + day * 86_400_000_000; // 2026-11-23 + day
        df!(
            "ts" => (0..n).map(|i| us + i * 1_000_000).collect::<Vec<_>>(),
            "sym" => (0..n).map(|i| if i % 2 == 0 { "A" } else { "B" }).collect::<Vec<_>>(),
            "px" => (0..n).map(|i| i as f64).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap()
    }

    /// Against naming every row's partition (as before): the same names,
    /// the same rows under each, for every partitioning, over instants that
    /// cross hours, days, ISO weeks (2026-12-28 is in 2026-W53, 2027-01-04
    /// starts 2027-W01), months, a leap day and years.
    #[test]
    fn partitions_are_named_as_each_row_s_timestamp_formats() {
        let start = 1_798_243_200_000_000i64; // 2026-12-26T00:00:00
        let mut rng = fastrand::Rng::with_seed(7);
        // Mostly within three weeks around new year, some over ±4 years.
        let ts: Vec<i64> = (0..2_000)
            .map(|i| {
                let span = if i % 10 == 0 { 4 * 366 * 86_400_000_000 } else { 21 * 86_400_000_000 };
                start - span / 3 + rng.i64(0..span)
            })
            .chain([1_709_164_800_000_000, 1_709_251_199_999_999, 1_709_251_200_000_000]) // around 2024-02-29
            .collect();
        let frame = df!("ts" => &ts, "px" => (0..ts.len()).map(|i| i as f64).collect::<Vec<_>>())
            .unwrap()
            .lazy()
            .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            .collect()
            .unwrap();
        for partition_by in [PartitionBy::Hour, PartitionBy::Day, PartitionBy::Week, PartitionBy::Month, PartitionBy::Year] {
            let def = TableDef { partition_by, ..def() };
            let named = frame
                .clone()
                .lazy()
                .select([col("ts").dt().to_string(partition_by.pattern().unwrap()).alias("name"), col("px")])
                .collect()
                .unwrap();
            let mut expected: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
            for (name, px) in named.column("name").unwrap().str().unwrap().iter().zip(named.column("px").unwrap().f64().unwrap().iter()) {
                expected.entry(name.unwrap().to_string()).or_default().push(px.unwrap());
            }
            let split = split_partitions(&frame, &def).unwrap();
            let names: Vec<&String> = split.iter().map(|(name, _)| name).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{partition_by:?}: {names:?} not in order");
            let got: std::collections::BTreeMap<String, Vec<f64>> = split
                .into_iter()
                .map(|(name, rows)| (name, rows.column("px").unwrap().f64().unwrap().into_no_null_iter().collect()))
                .collect();
            assert_eq!(got, expected, "{partition_by:?}");
            assert!(got.len() > 1, "{partition_by:?}: the instants should span several partitions");

            // The rows of one partition alone come back whole, under its name
            // (the path that keeps the rows as they are).
            for (name, px) in &expected {
                let alone = frame.filter(&named.column("name").unwrap().str().unwrap().equal(name.as_str())).unwrap();
                assert_eq!(alone.column("px").unwrap().f64().unwrap().into_no_null_iter().collect::<Vec<_>>(), *px);
                let split = split_partitions(&alone, &def).unwrap();
                assert_eq!(split.len(), 1, "{partition_by:?} {name}");
                assert_eq!(&split[0].0, name, "{partition_by:?}");
                assert!(split[0].1.equals(&alone), "{partition_by:?} {name}");
            }
        }
        // A row without a timestamp is in no partition, even beside rows of one.
        let mut with_null = rows(0, 3);
        with_null.vstack_mut_owned(rows(0, 1).lazy().with_column(lit(NULL).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("ts")).collect().unwrap()).unwrap();
        let split = split_partitions(&with_null, &def()).unwrap();
        assert_eq!(split.iter().map(|(name, rows)| (name.as_str(), rows.height())).collect::<Vec<_>>(), [("2026-11-23", 3)]);
        assert!(split_partitions(&rows(0, 0), &def()).unwrap().is_empty());
    }

    /// A data directory with the table `trades` (of [`def`]) created in it.
    fn with_trades_table() -> (tempfile::TempDir, Namespace, Tables) {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        tables.create(&ns, def(), false).unwrap();
        (dir, ns, tables)
    }

    #[test]
    fn a_bulk_load_creates_appends_replaces_or_refuses_and_a_refused_replacement_keeps_the_table() {
        let (_dir, ns, tables) = with_trades_table();
        let count = |name: &str| tables.get(&ns, name).unwrap().unwrap().scan().unwrap().collect().unwrap().height();
        // Into an existing table: refused, appended (conformed to its types), replaced.
        let refused = tables.ingest(&ns, "trades", rows(0, 3), true, IfExists::Fail).unwrap_err();
        assert!(refused.to_string().contains("table already exists: trades"), "{refused}");
        assert_eq!(tables.ingest(&ns, "trades", rows(0, 3), false, IfExists::Append).unwrap(), 3);
        assert_eq!(tables.ingest(&ns, "TRADES", rows(1, 2), false, IfExists::Append).unwrap(), 2);
        assert_eq!(count("trades"), 5);
        // A replacement that cannot be stored leaves the old table as it was.
        let decimals = df!("px" => ["1.5"]).unwrap().lazy().select([col("px").cast(DataType::Decimal(10, 2))]).collect().unwrap();
        let refused = tables.ingest(&ns, "trades", decimals, true, IfExists::Replace).unwrap_err();
        assert!(refused.to_string().contains("column px is decimal[10,2], which no table type holds"), "{refused}");
        assert_eq!(count("trades"), 5);
        let small = df!("a" => [1u32, 2], "b" => ["x", "y"]).unwrap();
        assert_eq!(tables.ingest(&ns, "trades", small.clone(), true, IfExists::Replace).unwrap(), 2);
        let def = tables.get(&ns, "trades").unwrap().unwrap().def();
        let kinds: Vec<_> = def.columns.iter().map(|c| (c.name.as_str(), c.kind.as_str())).collect();
        // Unsigned integers widen to the next signed type; no designated timestamp.
        assert_eq!(kinds, [("a", "LONG"), ("b", "VARCHAR")]);
        assert_eq!(def.timestamp, None);
        // A missing table: created from the rows, or refused.
        let missing = tables.ingest(&ns, "fresh", small.clone(), false, IfExists::Append).unwrap_err();
        assert!(matches!(missing, CoreError::NotFound(_)), "{missing}");
        assert_eq!(tables.ingest(&ns, "fresh", small.clone(), true, IfExists::Append).unwrap(), 2);
        let read = tables.get(&ns, "fresh").unwrap().unwrap().scan().unwrap().collect().unwrap();
        assert_eq!(read.column("a").unwrap().i64().unwrap().into_no_null_iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(read.column("b").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("x"), Some("y")]);
    }

    #[test]
    fn appended_rows_survive_reopening_and_a_torn_tail_is_cut() {
        let (dir, ns, tables) = with_trades_table();
        assert_eq!(tables.append(&ns, "trades", rows(0, 10), None).unwrap(), 10);
        assert_eq!(tables.append(&ns, "TRADES", rows(1, 5), None).unwrap(), 5);
        // A crash in the middle of a third append: half a record.
        let wal = dir.path().join("tables/default/trades/wal.log");
        let intact = std::fs::metadata(&wal).unwrap().len();
        std::fs::OpenOptions::new().append(true).open(&wal).unwrap().write_all(&WAL_MAGIC.to_le_bytes()).unwrap();

        let reopened = Tables::new(dir.path());
        let table = reopened.get(&ns, "trades").unwrap().unwrap();
        assert_eq!(table.row_count().unwrap(), 15);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), intact);
        let sums = table.scan().unwrap().select([col("px").sum()]).collect().unwrap();
        assert_eq!(sums.column("px").unwrap().get(0).unwrap().extract::<f64>().unwrap(), 45.0 + 10.0);
    }

    #[test]
    fn a_checkpoint_writes_day_partitions_and_replay_skips_what_they_hold() {
        let (dir, ns, tables) = with_trades_table();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        let mut state = table.state.write().unwrap();
        state.pending = concat_rows(rows(0, 3), rows(2, 4), &def().schema().unwrap()).unwrap();
        let mut wal = table.writer.lock().unwrap();
        table.checkpoint(&mut state, &mut wal, 7).unwrap();
        drop((state, wal));
        let base = dir.path().join("tables/default/trades");
        assert!(base.join("2026-11-23/part-00000000000000000007.arrow").is_file());
        assert!(base.join("2026-11-25/part-00000000000000000007.arrow").is_file());
        assert_eq!(table.row_count().unwrap(), 7);
        // New appends continue after the parts' sequence number.
        tables.append(&ns, "trades", rows(3, 2), None).unwrap();
        assert_eq!(Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 9);
    }

    #[test]
    fn flushed_parts_hold_every_row_once_across_reopening() {
        let (dir, ns, tables) = with_trades_table();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert!(table.flushed_parts().unwrap().is_empty(), "nothing to write out yet");
        tables.append(&ns, "trades", rows(0, 4), None).unwrap();
        tables.append(&ns, "trades", rows(1, 3), None).unwrap();
        let parts = table.flushed_parts().unwrap();
        // One part per day, named for the last record they hold (the second).
        let names: Vec<_> = parts.iter().map(|p| p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            ["tables/default/trades/2026-11-23/part-00000000000000000002.arrow", "tables/default/trades/2026-11-24/part-00000000000000000002.arrow"]
        );
        let in_parts = LazyFrame::scan_ipc(PlRefPath::new(parts[0].to_string_lossy().as_ref()), Default::default(), Default::default())
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(in_parts.height(), 4);
        // Flushing again writes nothing new; later rows go to a later part.
        assert_eq!(table.flushed_parts().unwrap(), parts);
        tables.append(&ns, "trades", rows(1, 2), None).unwrap();
        assert_eq!(table.flushed_parts().unwrap().len(), 3);
        // The log was emptied as the parts were written: no row twice.
        assert_eq!(Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 9);
    }

    /// [`with_trades_table`] with 3 rows of 2026-11-23 and 4 of 11-25 (px
    /// 0..3 and 0..4) in its log, and the table's directory.
    fn with_two_days_logged() -> (tempfile::TempDir, Namespace, Tables, PathBuf) {
        let (dir, ns, tables) = with_trades_table();
        tables.append(&ns, "trades", rows(0, 3), None).unwrap();
        tables.append(&ns, "trades", rows(2, 4), None).unwrap();
        let base = dir.path().join("tables/default/trades");
        (dir, ns, tables, base)
    }

    fn px_sum(table: &Table) -> f64 {
        let sums = table.scan().unwrap().select([col("px").sum()]).collect().unwrap();
        sums.column("px").unwrap().get(0).unwrap().extract::<f64>().unwrap()
    }

    /// A write-out that died after renaming in one partition's part but not
    /// the other's: on open the log, not yet emptied, gives back every row.
    #[test]
    fn a_write_out_cut_short_by_a_crash_loses_no_row_and_doubles_none() {
        let (dir, ns, tables, base) = with_two_days_logged();
        let wal = std::fs::read(base.join("wal.log")).unwrap();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        let parts = table.flushed_parts().unwrap();
        assert_eq!(parts.len(), 2);
        let written: Vec<Vec<u8>> = parts.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(std::fs::metadata(base.join("wal.log")).unwrap().len(), 0);
        drop((table, tables));

        // The log not yet emptied, every part renamed in: no row twice.
        std::fs::write(base.join("wal.log"), &wal).unwrap();
        let table = Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap();
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (7, 3.0 + 6.0));
        drop(table);

        // Only the first day's part renamed in, the second's still a
        // temporary file: no row lost.
        std::fs::write(base.join("wal.log"), &wal).unwrap();
        let second = &parts[1];
        for (part, bytes) in parts.iter().zip(&written) {
            std::fs::create_dir_all(part.parent().unwrap()).unwrap();
            std::fs::write(if part == second { part.with_extension("tmp") } else { part.clone() }, bytes).unwrap();
        }
        let tables = Tables::new(dir.path());
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (7, 3.0 + 6.0));
        assert!(list_parts(&base).unwrap().is_empty(), "the unfinished write-out's parts are undone");
        assert!(!second.with_extension("tmp").exists(), "its temporary file is removed");

        // Later write-outs and reopenings count each row once.
        tables.append(&ns, "trades", rows(3, 2), None).unwrap();
        assert_eq!(table.flushed_parts().unwrap().len(), 3);
        assert_eq!(table.row_count().unwrap(), 9);
        let table = Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap();
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (9, 3.0 + 6.0 + 1.0));
    }

    /// A write-out that fails part-way (here the second day's directory
    /// cannot be made) leaves no part behind and keeps every row pending,
    /// and the next one, once it can, writes each row once.
    #[test]
    fn a_failed_write_out_keeps_its_rows_pending_and_leaves_no_part() {
        let (dir, ns, tables, base) = with_two_days_logged();
        std::fs::write(base.join("2026-11-25"), b"in the way").unwrap();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        let err = table.flushed_parts().unwrap_err().to_string();
        assert!(err.contains("2026-11-25"), "{err}");
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (7, 9.0));
        assert!(list_parts(&base).unwrap().is_empty());
        assert!(!base.join("2026-11-23").exists(), "the first day's part and directory are removed");
        assert!(std::fs::metadata(base.join("wal.log")).unwrap().len() > 0, "the log keeps the rows");

        std::fs::remove_file(base.join("2026-11-25")).unwrap();
        assert_eq!(table.flushed_parts().unwrap().len(), 2);
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (7, 9.0));
        let table = Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap();
        assert_eq!((table.row_count().unwrap(), px_sum(&table)), (7, 9.0));
    }

    /// An append's write-out failing does not fail the append: its rows are
    /// in the log, and a client told it failed would send them again.
    #[test]
    fn an_append_stands_when_its_write_out_fails() {
        let (dir, ns, tables) = with_trades_table();
        let base = dir.path().join("tables/default/trades");
        std::fs::write(base.join("2026-11-23"), b"in the way").unwrap();
        let n = CHECKPOINT_ROWS as i64;
        assert_eq!(tables.append(&ns, "trades", rows(0, n), None).unwrap(), n as u64);
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert_eq!(table.row_count().unwrap(), n as u64);
        assert!(list_parts(&base).unwrap().is_empty());
        let retry = |table: &Table| table.writer.lock().unwrap().write_out_retry.map(|(_, delay)| delay);
        assert_eq!(retry(&table), Some(WRITE_OUT_RETRY_FIRST));
        std::fs::remove_file(base.join("2026-11-23")).unwrap();
        // Appends within the delay do not try again, even though the way
        // is clear now: their rows are logged and pending.
        tables.append(&ns, "trades", rows(1, 1), None).unwrap();
        assert!(list_parts(&base).unwrap().is_empty());
        assert_eq!(table.row_count().unwrap(), n as u64 + 1);
        // Once the delay is past (set back here, not waited for), the next
        // append writes them all out: 250,002 seconds from 2026-11-23 00:00
        // end on the 25th.
        table.writer.lock().unwrap().write_out_retry = Some((std::time::Instant::now(), WRITE_OUT_RETRY_FIRST));
        tables.append(&ns, "trades", rows(1, 1), None).unwrap();
        assert_eq!(retry(&table), None, "a write-out that succeeds clears the delay");
        assert_eq!(partitions_of(dir.path()), ["2026-11-23", "2026-11-24", "2026-11-25"]);
        assert_eq!(std::fs::metadata(base.join("wal.log")).unwrap().len(), 0);
        assert_eq!(Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), n as u64 + 2);
    }

    /// Under a lasting failure the delay doubles, up to its cap.
    #[test]
    fn write_out_retries_back_off() {
        let (_dir, ns, tables) = with_trades_table();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        let mut wal = table.writer.lock().unwrap();
        assert!(wal.write_out_due());
        let delays: Vec<u64> = (0..8).map(|_| wal.write_out_failed().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(!wal.write_out_due());
    }

    /// A record's header says its payload's length and checksum.
    #[test]
    fn a_record_is_its_header_then_the_rows_as_an_ipc_stream() {
        let mut frame = rows(0, 5);
        let record = encode_record(42, &mut frame).unwrap();
        let word = |i: usize| u32::from_le_bytes(record[i..i + 4].try_into().unwrap());
        assert_eq!(word(0), WAL_MAGIC);
        assert_eq!(word(4) as usize, record.len() - RECORD_HEADER);
        assert_eq!(word(8), crc32fast::hash(&record[RECORD_HEADER..]));
        assert_eq!(u64::from_le_bytes(record[12..20].try_into().unwrap()), 42);
        let back = IpcStreamReader::new(std::io::Cursor::new(&record[RECORD_HEADER..])).finish().unwrap();
        assert!(back.equals(&frame));
    }

    /// ILP's tags arrive as text and are created as SYMBOL, in a new table
    /// and as a new column of an existing one; other text is VARCHAR.
    #[test]
    fn tags_become_symbol_columns_when_a_table_or_column_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        let auto = |symbols: &[&str]| AutoCreate {
            timestamp: "ts".into(),
            partition_by: PartitionBy::Day,
            retention: Default::default(),
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            upsert_keys: Vec::new(),
        };
        let kinds = |tables: &Tables| -> Vec<(String, String)> {
            tables.get(&ns, "ilp").unwrap().unwrap().def().columns.into_iter().map(|c| (c.name, c.kind)).collect()
        };
        tables.append(&ns, "ilp", rows(0, 2), Some(auto(&["sym"]))).unwrap();
        assert_eq!(kinds(&tables), [("ts".into(), "TIMESTAMP".into()), ("sym".into(), "SYMBOL".into()), ("px".into(), "DOUBLE".into())]);
        let more = rows(0, 2).lazy().with_columns([col("sym").alias("venue"), col("sym").alias("note")]).collect().unwrap();
        tables.append(&ns, "ilp", more, Some(auto(&["sym", "venue"]))).unwrap();
        assert_eq!(kinds(&tables)[3..], [("venue".into(), "SYMBOL".into()), ("note".into(), "VARCHAR".into())]);
        // Read back as a categorical, as every SYMBOL column is.
        let table = Tables::new(dir.path()).get(&ns, "ilp").unwrap().unwrap();
        let read = table.scan().unwrap().select([col("venue"), col("note")]).collect().unwrap();
        assert!(matches!(read.column("venue").unwrap().dtype(), DataType::Categorical(..)));
        assert_eq!(read.column("note").unwrap().dtype(), &DataType::String);
        let venue = read.column("venue").unwrap().cast(&DataType::String).unwrap();
        assert_eq!(venue.str().unwrap().iter().collect::<Vec<_>>(), [None, None, Some("A"), Some("B")]);
    }

    /// `timestamp(TS)` of a column `ts` (SQL names it in any case) made a
    /// table no append could fill ("\"TS\" not found"): the definition kept
    /// the name as written. It is spelt as the column now, at creation and
    /// when a table an earlier build made that way is opened.
    #[test]
    fn a_designated_timestamp_named_in_another_case_is_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        tables.create(&ns, TableDef { timestamp: Some("TS".into()), upsert_keys: vec!["Ts".into(), "SYM".into()], ..def() }, false).unwrap();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert_eq!(table.def().timestamp.as_deref(), Some("ts"));
        assert_eq!(table.def().upsert_keys, ["ts", "sym"]);
        assert_eq!(tables.append(&ns, "trades", rows(0, 3), None).unwrap(), 3);
        // As an earlier build wrote it: opened, the table takes rows.
        let meta = dir.path().join("tables/default/trades/_meta.json");
        let written = std::fs::read_to_string(&meta).unwrap();
        std::fs::write(&meta, written.replace("\"timestamp\": \"ts\"", "\"timestamp\": \"TS\"")).unwrap();
        assert!(std::fs::read_to_string(&meta).unwrap().contains("\"TS\""));
        let reopened = Tables::new(dir.path());
        assert_eq!(reopened.get(&ns, "trades").unwrap().unwrap().def().timestamp.as_deref(), Some("ts"));
        assert_eq!(reopened.append(&ns, "trades", rows(1, 2), None).unwrap(), 2);
        assert_eq!(reopened.get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 5);
    }

    #[test]
    fn a_dropped_table_leaves_nothing_to_reopen_and_its_name_starts_empty() {
        let (dir, ns, tables) = with_trades_table();
        let tenant = dir.path().join("tables/default");
        tables.append(&ns, "trades", rows(0, 3), None).unwrap();
        let stale = tables.get(&ns, "trades").unwrap().unwrap();
        let part = stale.flushed_parts().unwrap().pop().unwrap();
        let stale_part = dir.path().join("a-part.arrow");
        std::fs::copy(&part, &stale_part).unwrap();
        tables.append(&ns, "trades", rows(1, 2), None).unwrap();
        tables.drop(&ns, "TRADES", false).unwrap();
        assert_eq!(std::fs::read_dir(&tenant).unwrap().count(), 0, "no directory left, not even the renamed one");
        assert!(stale_part.is_file());
        // A writer that found the table before the drop is refused after it.
        let err = stale.append(rows(2, 1), None).unwrap_err();
        assert!(matches!(&err, CoreError::NotFound(m) if m == "table trades was dropped"), "{err}");
        assert!(tables.drop(&ns, "trades", false).is_err());
        tables.drop(&ns, "trades", true).unwrap();
        // The same name again: a new, empty table.
        tables.create(&ns, def(), false).unwrap();
        assert_eq!(tables.get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 0);

        // What a drop by an older build could leave: part of the table's
        // files, without its definition. A new table of that name is empty.
        tables.drop(&ns, "trades", false).unwrap();
        let leftover = tenant.join("trades/2026-11-23");
        std::fs::create_dir_all(&leftover).unwrap();
        std::fs::copy(&stale_part, leftover.join("part-00000000000000000001.arrow")).unwrap();
        let tables = Tables::new(dir.path());
        tables.create(&ns, def(), false).unwrap();
        assert_eq!(tables.get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 0);

        // A drop the process died in (renamed away, files not yet removed):
        // the next start neither opens it nor keeps it.
        tables.append(&ns, "trades", rows(0, 4), None).unwrap();
        std::fs::rename(tenant.join("trades"), tenant.join(format!("{DROPPED_PREFIX}1-trades"))).unwrap();
        let reopened = Tables::new(dir.path());
        assert!(reopened.names(&ns).unwrap().is_empty());
        assert_eq!(std::fs::read_dir(&tenant).unwrap().count(), 0);
    }

    #[test]
    fn a_truncated_table_keeps_its_definition_and_a_crash_in_the_middle_is_all_or_nothing() {
        let (dir, ns, tables) = with_trades_table();
        let tenant = dir.path().join("tables/default");
        let ttl = Retention { ttl: Some(crate::retention::Ttl::parse("2 DAYS").unwrap()), max_bytes: None };
        tables.set_retention(&ns, "trades", ttl.clone()).unwrap();
        tables.append(&ns, "trades", rows(0, 3), None).unwrap();
        let stale = tables.get(&ns, "trades").unwrap().unwrap();
        tables.truncate(&ns, "TRADES").unwrap();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert_eq!(table.row_count().unwrap(), 0);
        assert_eq!(table.def(), TableDef { retention: ttl, ..def() });
        // A writer that found the table before is told to send again.
        assert!(matches!(stale.append(rows(2, 1), None), Err(CoreError::Unavailable(_))));
        tables.append(&ns, "trades", rows(1, 2), None).unwrap();
        assert_eq!(Tables::new(dir.path()).get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 2);
        let entries = |d: &Path| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect::<Vec<_>>();
        assert_eq!(entries(&tenant), ["trades"]);
        assert!(tables.truncate(&ns, "nope").is_err());

        // Stopped after the empty table was made, before the full one went:
        // the truncate did not happen.
        let empty = tenant.join(format!("{TRUNCATED_PREFIX}trades"));
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::copy(tenant.join("trades/_meta.json"), empty.join("_meta.json")).unwrap();
        let reopened = Tables::new(dir.path());
        assert_eq!(reopened.get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 2);
        assert_eq!(entries(&tenant), ["trades"]);
        // Stopped after the full table went: the empty one is renamed in.
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::copy(tenant.join("trades/_meta.json"), empty.join("_meta.json")).unwrap();
        std::fs::rename(tenant.join("trades"), tenant.join(format!("{DROPPED_PREFIX}1-trades"))).unwrap();
        let reopened = Tables::new(dir.path());
        assert_eq!(reopened.get(&ns, "trades").unwrap().unwrap().row_count().unwrap(), 0);
        assert_eq!(entries(&tenant), ["trades"]);
    }

    /// A rename is its directory's: one cut short before the definition
    /// followed is finished at the next start.
    #[test]
    fn a_renamed_table_keeps_its_rows_and_a_rename_cut_short_is_finished() {
        let (dir, ns, tables) = with_trades_table();
        tables.append(&ns, "trades", rows(0, 3), None).unwrap();
        let old = tables.existing(&ns, "trades").unwrap();
        tables.rename(&ns, "trades", "fills").unwrap();
        assert!(tables.get(&ns, "trades").unwrap().is_none());
        assert_eq!(old.append(rows(1, 1), None).unwrap_err().to_string(), "table trades was renamed to fills");
        let fills = tables.existing(&ns, "fills").unwrap();
        assert_eq!((fills.def().name, fills.row_count().unwrap()), ("fills".to_string(), 3));
        fills.append(rows(1, 2), None).unwrap();
        drop((old, fills, tables));
        // Cut short: the directory renamed, the definition not yet.
        let base = dir.path().join("tables/default");
        std::fs::rename(base.join("fills"), base.join("ticks")).unwrap();
        let tables = Tables::new(dir.path());
        let ticks = tables.existing(&ns, "ticks").unwrap();
        assert_eq!((ticks.def().name, ticks.row_count().unwrap()), ("ticks".to_string(), 5));
        assert!(tables.get(&ns, "fills").unwrap().is_none());
        let meta: TableDef = serde_json::from_slice(&std::fs::read(base.join("ticks/_meta.json")).unwrap()).unwrap();
        assert_eq!(meta.name, "ticks");
    }

    #[test]
    fn rows_must_fit_the_table() {
        let (_dir, ns, tables) = with_trades_table();
        let extra = rows(0, 2).lazy().with_column(lit(1).alias("qty")).collect().unwrap();
        let err = tables.append(&ns, "trades", extra, None).unwrap_err();
        assert!(err.to_string().contains("column qty does not exist"), "{err}");
        let no_ts = rows(0, 2).drop("ts").unwrap();
        assert!(tables.append(&ns, "trades", no_ts, None).unwrap_err().to_string().contains("cannot be null"));
        assert!(tables.create(&ns, def(), false).is_err());
        assert!(!tables.create(&ns, def(), true).unwrap());
        let bad = TableDef { name: "../x".into(), ..def() };
        assert!(tables.create(&ns, bad, false).is_err());
    }

    fn partitions_of(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("tables/default/trades"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn ttl_and_a_size_cap_drop_whole_partitions_oldest_first() {
        use crate::retention::Ttl;
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::anonymous();
        let tables = Tables::new(dir.path());
        let ttl = Retention { ttl: Some(crate::retention::Ttl::parse("2 DAYS").unwrap()), max_bytes: None };
        tables.create(&ns, TableDef { retention: ttl, ..def() }, false).unwrap();
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        for day in 0..6 {
            tables.append(&ns, "trades", rows(day, 10), None).unwrap();
            table.flushed_parts().unwrap();
        }
        // Newest row 2026-11-28 00:00:09: what ended by 11-26 00:00:09 goes.
        assert_eq!(partitions_of(dir.path()), ["2026-11-26", "2026-11-27", "2026-11-28"]);
        assert_eq!(table.row_count().unwrap(), 30);
        // After a restart the TTL is still there, and the newest row is found again.
        let tables = Tables::new(dir.path());
        assert_eq!(tables.get(&ns, "trades").unwrap().unwrap().def().retention, ttl);
        tables.set_retention(&ns, "trades", Retention { ttl: Some(Ttl::parse("1 DAY").unwrap()), max_bytes: None }).unwrap();
        assert_eq!(partitions_of(dir.path()), ["2026-11-27", "2026-11-28"]);
        // A size cap of one and a half partitions keeps the newest one.
        let part = list_parts(&dir.path().join("tables/default/trades")).unwrap().pop().unwrap();
        let one = std::fs::metadata(&part).unwrap().len();
        tables.set_retention(&ns, "trades", Retention { ttl: None, max_bytes: Some(one + one / 2) }).unwrap();
        assert_eq!(partitions_of(dir.path()), ["2026-11-28"]);
        let table = tables.get(&ns, "trades").unwrap().unwrap();
        assert_eq!(table.row_count().unwrap(), 10);
        // The partition being written to stays even over the cap.
        tables.set_retention(&ns, "trades", Retention { ttl: None, max_bytes: Some(1) }).unwrap();
        assert_eq!(table.row_count().unwrap(), 10);
        // Whole partitions only: a table without them takes no retention.
        let flat = TableDef { name: "flat".into(), partition_by: PartitionBy::None, retention: ttl, ..def() };
        let err = tables.create(&ns, flat, false).unwrap_err().to_string();
        assert!(err.contains("PARTITION BY"), "{err}");
    }
}
