use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polars::prelude::{DataFrame, DslPlan, LazyFrame, SchemaRef};

use crate::error::Result;
use crate::id::HandleId;

/// Whose handles these are. Handles of one namespace are invisible to every
/// other: a server derives the namespace from the caller's auth token.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(Arc<str>);

impl Namespace {
    pub fn new(name: impl AsRef<str>) -> Self {
        Self(Arc::from(name.as_ref()))
    }

    /// The namespace of a server without authentication.
    pub fn anonymous() -> Self {
        Self::new("")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Namespace {
    // Namespaces may be derived from secrets: never print them whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace(<{} chars>)", self.0.chars().count())
    }
}

/// What a handle names.
#[derive(Clone)]
pub enum Payload {
    /// A lazy plan, run when its result is collected or fetched.
    Plan(LazyFrame),
    /// A materialized frame. Buffers are shared, so handles derived from it
    /// cost about nothing until they are collected.
    Frame(Arc<DataFrame>),
}

/// `Plan` or `Frame`, without the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Plan,
    Frame,
}

/// A materialized frame a handle keeps alive, by identity: handles whose
/// plans scan the same `Arc<DataFrame>` share its buffers, and the store
/// charges its bytes once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FrameRef {
    pub(crate) ptr: usize,
    pub(crate) bytes: u64,
}

impl FrameRef {
    fn of(df: &Arc<DataFrame>) -> Self {
        Self { ptr: Arc::as_ptr(df) as usize, bytes: df.estimated_size() as u64 }
    }
}

/// One stored handle: its payload and what the store knows about it.
pub struct Entry {
    frames: Vec<FrameRef>,
    /// What must live as long as this handle: a result file its plan
    /// scans, deleted when its last holder goes.
    guards: Vec<Arc<dyn std::any::Any + Send + Sync>>,
    payload: Payload,
    schema: SchemaRef,
    rows: Option<usize>,
    bytes: Option<u64>,
    lineage: Arc<str>,
    name: Option<Arc<str>>,
    namespace: Namespace,
    created: SystemTime,
    created_mono: std::time::Instant,
    /// Milliseconds since the Unix epoch; updated on every successful lookup.
    last_access_ms: AtomicU64,
}

impl Entry {
    /// A materialized frame. `lineage` is a short human description such as
    /// `scan_parquet("ticks.parquet")`.
    pub fn frame(df: impl Into<Arc<DataFrame>>, lineage: impl AsRef<str>) -> Self {
        let df: Arc<DataFrame> = df.into();
        let schema = df.schema().clone();
        let rows = df.height();
        let bytes = df.estimated_size() as u64;
        let frames = vec![FrameRef::of(&df)];
        Self { frames, ..Self::build(Payload::Frame(df), schema, Some(rows), Some(bytes), lineage) }
    }

    /// A lazy plan. Its schema is resolved now, so a plan that cannot be
    /// resolved (an unknown column, a bad cast) is refused here.
    pub fn plan(lf: LazyFrame, lineage: impl AsRef<str>) -> Result<Self> {
        let schema = lf.clone().collect_schema()?;
        let mut entry = Self::build(Payload::Plan(lf), schema, None, None, lineage);
        entry.frames = match &entry.payload {
            Payload::Plan(lf) => frames_scanned(&lf.logical_plan),
            Payload::Frame(_) => unreachable!("built as a plan just above"),
        };
        Ok(entry)
    }

    /// The materialized frames this handle keeps alive.
    pub(crate) fn frames(&self) -> &[FrameRef] {
        &self.frames
    }

    fn build(
        payload: Payload,
        schema: SchemaRef,
        rows: Option<usize>,
        bytes: Option<u64>,
        lineage: impl AsRef<str>,
    ) -> Self {
        let now = SystemTime::now();
        Self {
            frames: Vec::new(),
            guards: Vec::new(),
            payload,
            schema,
            rows,
            bytes,
            lineage: Arc::from(lineage.as_ref()),
            name: None,
            namespace: Namespace::anonymous(),
            created: now,
            created_mono: std::time::Instant::now(),
            last_access_ms: AtomicU64::new(epoch_ms(now)),
        }
    }

    /// Keep `guards` alive as long as this handle (and anything holding
    /// this entry, such as a result stream) lives.
    pub fn holding(mut self, guards: Vec<Arc<dyn std::any::Any + Send + Sync>>) -> Self {
        self.guards.extend(guards);
        self
    }

    /// Give the handle a human name (an upload's table name), by which SQL
    /// can refer to it. Names need not be unique; the newest handle wins.
    pub fn named(mut self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref().trim();
        self.name = (!name.is_empty()).then(|| Arc::from(name));
        self
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn with_namespace(mut self, ns: &Namespace) -> Self {
        self.namespace = ns.clone();
        self
    }

    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    pub fn kind(&self) -> PayloadKind {
        match self.payload {
            Payload::Plan(_) => PayloadKind::Plan,
            Payload::Frame(_) => PayloadKind::Frame,
        }
    }

    /// The payload as a lazy plan: a plan as is, a frame as a scan of its
    /// (shared) buffers. This is how operations extend a handle.
    pub fn lazy(&self) -> LazyFrame {
        match &self.payload {
            Payload::Plan(lf) => lf.clone(),
            // The scan holds this very Arc, so plans built on the frame are
            // known (by identity) to share its buffers.
            Payload::Frame(df) => LazyFrame::from(DslPlan::DataFrameScan { df: df.clone(), schema: self.schema.clone() }),
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Row count, for a materialized frame.
    pub fn rows(&self) -> Option<usize> {
        self.rows
    }

    /// Estimated size in bytes, for a materialized frame.
    pub fn estimated_bytes(&self) -> Option<u64> {
        self.bytes
    }

    pub fn lineage(&self) -> &str {
        &self.lineage
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn created(&self) -> SystemTime {
        self.created
    }

    pub(crate) fn age(&self) -> Duration {
        self.created_mono.elapsed()
    }

    pub fn last_access(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.last_access_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn mark_accessed(&self) {
        self.last_access_ms.store(epoch_ms(SystemTime::now()), Ordering::Relaxed);
    }

    /// A description of this entry under `id`, as `list` gives it.
    pub fn info(&self, id: HandleId) -> HandleInfo {
        HandleInfo {
            id,
            kind: self.kind(),
            schema: self.schema.clone(),
            rows: self.rows,
            estimated_bytes: self.bytes,
            lineage: self.lineage.clone(),
            name: self.name.clone(),
            created: self.created,
            last_access: self.last_access(),
        }
    }
}

impl fmt::Debug for Entry {
    // A summary: printing a whole frame or plan into a log line helps nobody.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.kind())
            .field("columns", &self.schema.len())
            .field("rows", &self.rows)
            .field("bytes", &self.bytes)
            .field("lineage", &self.lineage)
            .finish()
    }
}

/// A description of a handle, as `list` returns it.
#[derive(Debug, Clone)]
pub struct HandleInfo {
    pub id: HandleId,
    pub kind: PayloadKind,
    pub schema: SchemaRef,
    pub rows: Option<usize>,
    pub estimated_bytes: Option<u64>,
    pub lineage: Arc<str>,
    pub name: Option<Arc<str>>,
    pub created: SystemTime,
    pub last_access: SystemTime,
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The distinct in-memory frames a plan scans (not those inside expression
/// subplans, which no door builds from handles).
fn frames_scanned(plan: &DslPlan) -> Vec<FrameRef> {
    let mut frames: Vec<FrameRef> = Vec::new();
    for node in plan {
        if let DslPlan::DataFrameScan { df, .. } = node {
            let frame = FrameRef::of(df);
            if !frames.iter().any(|f| f.ptr == frame.ptr) {
                frames.push(frame);
            }
        }
    }
    frames
}
