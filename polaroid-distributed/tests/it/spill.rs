//! A result larger than the caller's budget is not collected in the
//! gateway: it is written to a result file and read through a plan handle,
//! and the file lives exactly as long as some handle reads it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polaroid_core::PayloadKind;
use polars::prelude::*;

use crate::{assert_same, fixture_with, polars_sql, run, STANDALONE};

fn result_files(data: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(data.join("results/default")) {
        Ok(dir) => dir.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_large_result_is_spilled_and_its_file_lives_as_long_as_its_readers() {
    // 256 KiB: the 20k trades (about 1 MiB as a frame) do not fit.
    let f = fixture_with(STANDALONE.clone(), 256 << 10);
    let query = "SELECT sym, ts, price, size FROM \"trades.parquet\" WHERE size > 5";
    let info = run(f.core.sql_distributed(&f.ns, query, &[])).unwrap();
    assert_eq!(info.kind, PayloadKind::Plan, "a large result is a plan over its file");
    let files = result_files(f.dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    {
        let got = f.core.handle(&f.ns, info.id).unwrap().lazy().collect().unwrap();
        assert_same(&got, &polars_sql(f.dir.path(), query), false);
    }
    // A handle built on it holds the file too: dropping the first keeps it.
    let aapl = f
        .core
        .derive(&f.ns, info.id, |lf| Ok((lf.filter(col("sym").eq(lit("AAPL"))), "filter(sym == AAPL)".into())))
        .unwrap();
    f.core.drop_handle(&f.ns, info.id).unwrap();
    assert!(files[0].exists());
    {
        let got = f.core.handle(&f.ns, aapl.id).unwrap().lazy().collect().unwrap();
        let want = polars_sql(f.dir.path(), &format!("{query} AND sym = 'AAPL'"));
        assert_same(&got, &want, false);
    }
    // The last reader gone, the file goes.
    f.core.drop_handle(&f.ns, aapl.id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while files[0].exists() {
        assert!(Instant::now() < deadline, "{} outlived every handle reading it", files[0].display());
        std::thread::sleep(Duration::from_millis(20));
    }
    // A small result from the same caller is still a frame.
    let small = run(f.core.sql_distributed(&f.ns, "SELECT COUNT(*) AS n FROM \"trades.parquet\"", &[])).unwrap();
    assert_eq!(small.kind, PayloadKind::Frame);
}

#[test]
fn result_files_are_reached_only_through_their_handles() {
    let f = fixture_with(STANDALONE.clone(), 256 << 10);
    let info = run(f.core.sql_distributed(&f.ns, "SELECT * FROM \"trades.parquet\"", &[])).unwrap();
    let file = result_files(f.dir.path()).pop().unwrap();
    let relative = file.strip_prefix(f.dir.path().canonicalize().unwrap()).unwrap().display().to_string();
    let scan = polaroid_core::ScanSpec { path: relative.clone(), ..Default::default() };
    let err = f.core.scan(&f.ns, &scan).unwrap_err();
    assert_eq!(err.kind(), polaroid_core::ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("result storage; read a result through its handle"), "{err}");
    let err = run(f.core.sql_distributed(&f.ns, &format!("SELECT * FROM \"{relative}\""), &[])).unwrap_err();
    assert_eq!(err.kind(), polaroid_core::ErrorKind::PermissionDenied, "{err}");
    f.core.drop_handle(&f.ns, info.id).unwrap();
}
