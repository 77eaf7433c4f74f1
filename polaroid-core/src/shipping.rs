//! Plan shipping: a polars `LazyFrame` travels whole, as polars' own
//! versioned plan serialization (`DslPlan::serialize_versioned`), and runs on
//! the server as one new plan handle.
//!
//! Client and server are built from the same fork, so they share the DSL
//! format exactly; [`PlanHeader`] reads the version and schema hash the bytes
//! start with, and a plan from another build is refused before polars
//! deserializes anything.
//!
//! A shipped plan names server-side handles by scanning
//! `polaroid://<name>` ([`placeholder_path`]): the name is a key of the
//! request's bindings, a handle id, or one of the caller's tables. Such scans
//! are replaced by the handle's plan ([`resolve`]), and the result then goes
//! through the same sandbox as every other plan (`Core::keep_plan`).
//!
//! Functions that only exist as code in the client's process (Rust closures,
//! `map_batches`, `pipe_with_schema`, anonymous scans, callback sinks) cannot
//! run here; [`refuse_opaque`] names the first one, on both sides: the client
//! refuses before sending, the server refuses a crafted plan.

use std::io::Cursor;
use std::sync::Arc;

use polars::prelude::{DataFrame, LazyFrame, PlRefPath, PolarsError, SchemaRef};
use polars_plan::dsl::{
    DslPlan, Expr, FileScanDsl, LazySerde, PlanSerializationContext, RenameAliasFn, ScanSources, SinkType,
};
use polars_plan::plans::{DslFunction, FunctionIR, IR};

use crate::error::CoreError;
use crate::plan_walk::{walk, PlanVisitor};

/// The scheme a shipped plan's scans use to name server-side handles.
pub const PLACEHOLDER_SCHEME: &str = "polaroid://";

/// The path a scan uses to name a handle (or a binding, or a table).
pub fn placeholder_path(name: &str) -> String {
    format!("{PLACEHOLDER_SCHEME}{name}")
}

/// A lazy frame that stands for the server-side handle or table `name`. It
/// runs only on the server; locally it is a scan of a path that is not there.
pub fn placeholder(name: &str) -> LazyFrame {
    let path = PlRefPath::new(placeholder_path(name).as_str());
    // An IPC scan: its options are plain data and serialize everywhere.
    LazyFrame::scan_ipc(path, Default::default(), Default::default())
        .expect("building a scan reads nothing, so it cannot fail")
}

/// [`placeholder`] with the handle's schema known locally, so that polars
/// can plan on it in the client (`collect_schema`, polars-sql, selectors).
/// The schema rides in the scan's conversion cache, which polars never
/// serializes: the server sees a plain placeholder. Collected locally it is
/// an empty frame of that schema.
pub fn placeholder_with_schema(name: &str, schema: SchemaRef) -> LazyFrame {
    let lf = placeholder(name);
    if let DslPlan::Scan { cached_ir, .. } = &lf.logical_plan {
        let empty = DataFrame::empty_with_schema(&schema);
        let ir = IR::DataFrameScan { df: Arc::new(empty), schema, output_schema: None };
        *cached_ir.lock().unwrap_or_else(|p| p.into_inner()) = Some(ir);
    }
    lf
}

const MAGIC: &[u8] = b"DSL_VERSION";
const HASH_LEN: usize = 64;
const HEADER_LEN: usize = MAGIC.len() + 4 + HASH_LEN;

/// Whether `bytes` claim to be a serialized plan (they start with polars'
/// DSL magic): how a door tells a plan from, say, SQL text.
pub fn is_plan(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The version stamp at the start of a serialized plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanHeader {
    pub major: u16,
    pub minor: u16,
    /// Hex digest of polars' DSL schema: equal hashes, same format.
    pub schema_hash: String,
}

impl PlanHeader {
    /// Read the stamp `bytes` start with.
    pub fn read(bytes: &[u8]) -> Result<Self, CoreError> {
        if bytes.len() < HEADER_LEN || !bytes.starts_with(MAGIC) {
            return Err(CoreError::InvalidArgument(format!(
                "the plan is not a serialized polars plan: it must start with polars' {HEADER_LEN}-byte \
                 DSL version header (DslPlan::serialize_versioned), got {} bytes{}",
                bytes.len(),
                if bytes.starts_with(MAGIC) { "" } else { " without the DSL_VERSION magic" }
            )));
        }
        let at = MAGIC.len();
        let major = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let minor = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let hash = &bytes[at + 4..HEADER_LEN];
        let schema_hash = String::from_utf8_lossy(hash).into_owned();
        Ok(Self { major, minor, schema_hash })
    }

    /// The stamp this build writes (and therefore reads).
    pub fn ours() -> &'static PlanHeader {
        static OURS: std::sync::OnceLock<PlanHeader> = std::sync::OnceLock::new();
        OURS.get_or_init(|| {
            // polars keeps the hash private; the header of any plan it
            // writes carries it.
            let empty = DslPlan::DataFrameScan { df: DataFrame::empty().into(), schema: Default::default() };
            let mut bytes = Vec::new();
            empty
                .serialize_versioned(&mut bytes, PlanSerializationContext { use_cloudpickle: false })
                .expect("an empty in-memory plan serializes");
            PlanHeader::read(&bytes).expect("polars writes its own header")
        })
    }

    fn describe(&self) -> String {
        format!("DSL {}.{} (schema {})", self.major, self.minor, self.schema_hash)
    }
}

/// A plan as bytes, the way polars itself serializes it, after checking
/// that nothing in it is opaque code (which would only fail to serialize,
/// with a less helpful message).
pub fn encode(lf: &LazyFrame) -> Result<Vec<u8>, CoreError> {
    let mut plan = lf.logical_plan.clone();
    refuse_opaque(&mut plan)?;
    let mut bytes = Vec::new();
    plan.serialize_versioned(&mut bytes, PlanSerializationContext { use_cloudpickle: false })
        .map_err(|e| CoreError::InvalidArgument(format!("the plan cannot be serialized: {e}")))?;
    Ok(bytes)
}

/// Bytes from [`encode`] (or any build of the same polars) back to a plan.
///
/// A plan from a different DSL is FAILED_PRECONDITION naming both versions;
/// bytes that do not decode are INVALID_ARGUMENT; a plan with opaque code in
/// it is INVALID_ARGUMENT naming the first such node. `client_polars` is the
/// polars version the client says it was built with (for the message only).
pub fn decode(bytes: &[u8], client_polars: &str) -> Result<DslPlan, CoreError> {
    let theirs = PlanHeader::read(bytes)?;
    let ours = PlanHeader::ours();
    if theirs.major != ours.major || theirs.minor > ours.minor || theirs.schema_hash != ours.schema_hash {
        let client = if client_polars.is_empty() { String::new() } else { format!("polars {client_polars}, ") };
        return Err(CoreError::FailedPrecondition(format!(
            "the plan was serialized by a different polars: the client's is {client}{}; this server's is \
             polars {}, {}. Build the client from the same polars release as the server",
            theirs.describe(),
            polars::VERSION,
            ours.describe(),
        )));
    }
    // A crafted body may trip an assertion in a deserializer: that is a bad
    // plan, not a server bug.
    let decoded = std::panic::catch_unwind(|| DslPlan::deserialize_versioned(Cursor::new(bytes)));
    let mut plan = match decoded {
        Ok(Ok(plan)) => plan,
        Ok(Err(e)) => return Err(CoreError::InvalidArgument(format!("the plan does not decode: {}", one_line(&e)))),
        Err(_) => return Err(CoreError::InvalidArgument("the plan does not decode (its body is malformed)".into())),
    };
    refuse_opaque(&mut plan)?;
    Ok(plan)
}

fn one_line(e: &PolarsError) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Refuse `plan` if it holds code in the client's process (not data),
/// naming the first such node: INVALID_ARGUMENT.
pub fn refuse_opaque(plan: &mut DslPlan) -> Result<(), CoreError> {
    fn refusal(kind: &str, name: Option<String>) -> Result<(), CoreError> {
        let name = name.map(|n| format!(" ({n})")).unwrap_or_default();
        Err(CoreError::InvalidArgument(format!(
            "the plan has {kind}{name}: it is code in the client's process and cannot run on the server; \
             use polars expressions instead"
        )))
    }
    struct Finder;
    impl PlanVisitor for Finder {
        fn node(&mut self, plan: &mut DslPlan) -> Result<(), CoreError> {
            match plan {
                DslPlan::PipeWithSchema { .. } => refusal("a pipe_with_schema callback", None),
                DslPlan::GroupBy { apply: Some(_), .. } => refusal("a group-by apply function", None),
                DslPlan::MapFunction { function: DslFunction::FunctionIR(FunctionIR::Opaque { fmt_str, .. }), .. } => {
                    refusal("an opaque frame function (map_batches)", Some(fmt_str.to_string()))
                },
                DslPlan::Scan { scan_type, .. } if matches!(**scan_type, FileScanDsl::Anonymous { .. }) => {
                    refusal("an anonymous scan (a Rust AnonymousScan)", None)
                },
                DslPlan::Sink { payload: SinkType::Callback(_), .. } => refusal("a callback sink", None),
                _ => Ok(()),
            }
        }

        fn expr(&mut self, expr: &Expr) -> Result<(), CoreError> {
            match expr {
                Expr::AnonymousFunction { function, fmt_str, .. } => {
                    let name = match function {
                        LazySerde::Named { name, .. } => Some(name.clone()),
                        LazySerde::Bytes(bytes) => registry_name(bytes),
                        _ if !fmt_str.is_empty() => Some(fmt_str.to_string()),
                        _ => None,
                    };
                    refusal("an opaque expression function (map, map_batches, apply or a UDF)", name)
                },
                Expr::RenameAlias { function: RenameAliasFn::Map(_), .. } => refusal("a name.map function", None),
                _ => Ok(()),
            }
        }
    }
    walk(plan, &mut Finder)
}

/// The registry name a received named function carries (polars writes
/// `PLNAMEDFN<name>!<payload>`), for the refusal message.
fn registry_name(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(b"PLNAMEDFN".as_slice())?;
    let end = rest.iter().position(|b| *b == b'!')?;
    std::str::from_utf8(&rest[..end]).ok().map(|n| n.chars().take(100).collect())
}

/// The handle-or-table name a scan node stands for, if it is a placeholder.
pub(crate) fn placeholder_name(node: &DslPlan) -> Option<&str> {
    let DslPlan::Scan { sources: ScanSources::Paths(paths), .. } = node else { return None };
    match paths.as_ref() {
        [one] => one.as_str().strip_prefix(PLACEHOLDER_SCHEME),
        _ => None,
    }
}

/// Replace every placeholder scan in `plan` by the plan `lookup` gives for
/// its name. A placeholder with scan options (a row index, a slice, file
/// paths) is refused: those belong on the handle's own plan.
pub(crate) fn resolve(
    plan: &mut DslPlan,
    lookup: &mut dyn FnMut(&str) -> Result<LazyFrame, CoreError>,
) -> Result<(), CoreError> {
    walk(plan, &mut |node: &mut DslPlan| {
        let Some(name) = placeholder_name(node) else {
            if let DslPlan::Scan { sources: ScanSources::Paths(paths), .. } = node {
                if let Some(p) = paths.iter().find(|p| p.as_str().starts_with(PLACEHOLDER_SCHEME)) {
                    return Err(CoreError::InvalidArgument(format!(
                        "a scan of {:?} names a handle among other paths; scan one handle at a time",
                        p.as_str()
                    )));
                }
            }
            return Ok(());
        };
        if let DslPlan::Scan { unified_scan_args: args, .. } = &*node {
            if args.row_index.is_some() || args.pre_slice.is_some() || args.include_file_paths.is_some() {
                return Err(CoreError::InvalidArgument(format!(
                    "the scan of {PLACEHOLDER_SCHEME}{name} has scan options (row index, slice or file paths); \
                     apply them to the frame instead (with_row_index, slice)"
                )));
            }
        }
        let name = name.to_string();
        *node = lookup(&name)?.logical_plan;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    fn frame() -> LazyFrame {
        df!("a" => [1i64, 2, 3], "b" => ["x", "y", "z"]).unwrap().lazy()
    }

    #[test]
    fn a_plan_round_trips_and_computes_the_same() {
        let lf = frame().filter(col("a").gt(lit(1))).with_columns([col("b").str().to_uppercase().alias("B")]);
        let bytes = encode(&lf).unwrap();
        let back = LazyFrame::from(decode(&bytes, polars::VERSION).unwrap());
        assert_eq!(back.collect().unwrap(), lf.collect().unwrap());
    }

    /// A union's tail: the last rows of the concatenation, parallel or
    /// not, in both engines, as shipped. A sequential union in the
    /// in-memory engine once answered every row (patch 0110), and the
    /// streaming engine's `slice(-4, 2)` three rows (patch 0111).
    #[test]
    fn a_union_s_tail_is_the_last_rows_of_its_inputs() {
        let part = |from: i64, to: i64| df!("a" => (from..to).collect::<Vec<_>>()).unwrap().lazy();
        for parallel in [false, true] {
            let union = concat([part(0, 3), part(3, 4), part(4, 9)], UnionArgs { parallel, ..Default::default() }).unwrap();
            // The hand-worked rows of 0..9: the last 2, the last 6, 2 rows
            // from 4 before the end, and slices starting before the first
            // row (polars counts their length from where they start).
            let cases = [
                (-2, 2, vec![7, 8]),
                (-6, 6, vec![3, 4, 5, 6, 7, 8]),
                (-4, 2, vec![5, 6]),
                (-11, 3, vec![0]),
                (-20, 3, vec![]),
            ];
            for (offset, len, want) in cases {
                let shipped = LazyFrame::from(decode(&encode(&union.clone().slice(offset, len)).unwrap(), polars::VERSION).unwrap());
                for engine in [Engine::InMemory, Engine::Streaming] {
                    let got = shipped.clone().collect_with_engine(engine).unwrap().unwrap_single();
                    let got: Vec<i64> = got.column("a").unwrap().i64().unwrap().into_no_null_iter().collect();
                    assert_eq!(got, want, "parallel {parallel}, slice({offset}, {len}), {engine:?}");
                }
            }
        }
    }

    #[test]
    fn the_header_is_ours_and_a_foreign_one_names_both_versions() {
        let mut bytes = encode(&frame()).unwrap();
        assert_eq!(&PlanHeader::read(&bytes).unwrap(), PlanHeader::ours());
        // Another schema hash: same length, different digest.
        bytes[MAGIC.len() + 4..HEADER_LEN].copy_from_slice(&[b'0'; HASH_LEN]);
        let err = decode(&bytes, "0.99.0").unwrap_err();
        let CoreError::FailedPrecondition(message) = &err else { panic!("expected FAILED_PRECONDITION: {err}") };
        assert!(message.contains(&"0".repeat(HASH_LEN)), "{message}");
        assert!(message.contains(&PlanHeader::ours().schema_hash), "{message}");
        assert!(message.contains("polars 0.99.0") && message.contains(polars::VERSION), "{message}");
    }

    #[test]
    fn truncated_and_garbage_bytes_are_invalid_argument() {
        let bytes = encode(&frame().select([col("a").sum()])).unwrap();
        for cut in [0, 5, HEADER_LEN, HEADER_LEN + 3, bytes.len() / 2, bytes.len() - 1] {
            let err = decode(&bytes[..cut], "").unwrap_err();
            assert!(matches!(err, CoreError::InvalidArgument(_)), "cut at {cut}: {err:?}");
        }
        let mut garbage = bytes[..HEADER_LEN].to_vec();
        garbage.extend((0..500u32).map(|i| (i * 7919 % 251) as u8));
        assert!(matches!(decode(&garbage, "").unwrap_err(), CoreError::InvalidArgument(_)));
    }

    #[test]
    fn opaque_functions_are_named_before_anything_is_sent() {
        let udf = frame().select([col("a").map(|c| Ok(c.clone()), |_, f| Ok(f.clone())).alias("same")]);
        let err = encode(&udf).unwrap_err().to_string();
        assert!(err.contains("opaque expression function") && err.contains("cannot run on the server"), "{err}");
        let pipe = frame().map(Ok, AllowedOptimizations::default(), None, Some("my_udf"));
        let err = encode(&pipe).unwrap_err().to_string();
        assert!(err.contains("map_batches") && err.contains("my_udf"), "{err}");
    }

    #[test]
    fn placeholders_are_replaced_by_the_looked_up_plan() {
        let lf = placeholder("h1").join(placeholder("t"), [col("a")], [col("a")], JoinArgs::new(JoinType::Inner));
        let mut plan = lf.logical_plan;
        let mut seen = Vec::new();
        resolve(&mut plan, &mut |name| {
            seen.push(name.to_string());
            Ok(frame())
        })
        .unwrap();
        seen.sort();
        assert_eq!(seen, ["h1", "t"]);
        assert_eq!(LazyFrame::from(plan).collect().unwrap().height(), 3);
    }
}
