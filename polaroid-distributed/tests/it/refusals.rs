//! What a distributed request may not do, each with its code, and the
//! server (the core) still serving afterwards.

use polaroid_core::{Entry, ErrorKind};
use polaroid_distributed::{BallistaEngine, Cluster};
use polars::prelude::*;

use crate::{fixture, fixture_on, run};

fn refusal(f: &crate::Fixture, query: &str) -> polaroid_core::CoreError {
    run(f.core.sql_distributed(&f.ns, query, &[])).unwrap_err()
}

#[test]
fn files_outside_the_data_directory_are_refused() {
    let f = fixture();
    let outside = f.dir.path().parent().unwrap().join("outside.csv");
    std::fs::write(&outside, "a\n1\n").unwrap();
    let err = refusal(&f, "SELECT * FROM \"../outside.csv\"");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = refusal(&f, &format!("SELECT * FROM \"{}\"", outside.display()));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    std::fs::remove_file(outside).unwrap();
    let err = refusal(&f, "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = refusal(&f, "COPY (SELECT 1 AS one) TO '/tmp/polaroid-copy.parquet'");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(!std::path::Path::new("/tmp/polaroid-copy.parquet").exists());
}

#[test]
fn bad_sql_is_invalid_argument_with_datafusions_message() {
    let f = fixture();
    let err = refusal(&f, "SELECT nope FROM \"trades.parquet\"");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = refusal(&f, "SELECT * FROM");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = refusal(&f, "SELECT * FROM nowhere");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("\"nowhere\""), "{err}");
}

#[test]
fn handles_held_in_memory_are_refused_with_the_reason() {
    let f = fixture();
    let frame = df!("sym" => ["AAPL"], "qty" => [1i64]).unwrap();
    let uploaded = f.core.keep_frame(&f.ns, Entry::frame(frame, "upload")).unwrap();
    let err = run(f.core.sql_distributed(&f.ns, "SELECT * FROM mine", &[("mine".into(), uploaded.id)])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("held in this server's memory"), "{err}");
    // By id, too.
    let err = refusal(&f, &format!("SELECT * FROM \"{}\"", uploaded.id));
    assert!(err.to_string().contains("held in this server's memory"), "{err}");
}

#[test]
fn an_unreachable_scheduler_is_unavailable_and_the_core_goes_on() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let f = fixture_on(BallistaEngine::new(Cluster::parse(&format!("df://127.0.0.1:{port}")).unwrap()));
    let err = refusal(&f, "SELECT COUNT(*) FROM \"trades.parquet\"");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&format!("df://127.0.0.1:{port} cannot be reached")), "{err}");
    // The same core still answers polars-sql.
    let info = f.core.sql_over_namespace(&f.ns, "SELECT COUNT(*) AS n FROM read_parquet('trades.parquet')").unwrap();
    assert_eq!(info.schema.len(), 1);
}

#[test]
fn scheduler_addresses_are_checked() {
    assert_eq!(Cluster::parse("df://sched:50051").unwrap().to_string(), "df://sched:50051");
    assert_eq!(Cluster::parse("df://sched").unwrap().to_string(), "df://sched:50050");
    assert!(Cluster::parse("http://sched:50050").unwrap_err().to_string().contains("starts with df://"));
    assert!(Cluster::parse("sched:50050").is_err());
}
