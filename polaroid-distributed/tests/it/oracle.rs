//! Each query runs on the standalone cluster and, independently, in
//! polars-sql over the same files; the results must agree value for value.

use polaroid_core::tables::{ColumnDef, PartitionBy, TableDef};
use polars::prelude::*;

use crate::{assert_same, fixture, frame, polars_sql, run};

fn distributed(f: &crate::Fixture, query: &str) -> DataFrame {
    let info = run(f.core.sql_distributed(&f.ns, query, &[])).unwrap();
    frame(f, &info)
}

#[test]
fn group_by_matches_polars_sql() {
    let f = fixture();
    let query = "SELECT sym, COUNT(*) AS n, SUM(size) AS volume, MIN(price) AS low, MAX(price) AS high, \
                 AVG(price) AS mean FROM \"trades.parquet\" GROUP BY sym";
    let got = distributed(&f, query);
    assert_eq!(got.height(), 7);
    assert_same(&got, &polars_sql(f.dir.path(), query), false);
}

#[test]
fn join_matches_polars_sql() {
    let f = fixture();
    // GOOG has no sector and IBM no trades: the inner join drops both.
    let query = "SELECT s.sector, COUNT(*) AS trades, SUM(t.size) AS volume \
                 FROM \"trades.parquet\" t JOIN \"sectors.csv\" s ON t.sym = s.sym \
                 GROUP BY s.sector";
    let got = distributed(&f, query);
    assert_eq!(got.height(), 5);
    assert_same(&got, &polars_sql(f.dir.path(), query), false);
}

#[test]
fn filter_matches_polars_sql() {
    let f = fixture();
    let query = "SELECT sym, ts, price, size FROM \"trades.parquet\" \
                 WHERE price > 210.5 AND sym IN ('NVDA', 'TSLA') AND size BETWEEN 10 AND 60";
    let got = distributed(&f, query);
    assert!(got.height() > 100, "{got}");
    assert_same(&got, &polars_sql(f.dir.path(), query), false);
}

#[test]
fn order_and_limit_match_polars_sql_row_for_row() {
    let f = fixture();
    let query = "SELECT sym, ts, price FROM \"trades.parquet\" ORDER BY price DESC, ts ASC LIMIT 50";
    let got = distributed(&f, query);
    assert_eq!(got.height(), 50);
    assert_same(&got, &polars_sql(f.dir.path(), query), true);
}

#[test]
fn a_table_is_read_with_every_acknowledged_row() {
    let f = fixture();
    let def = TableDef {
        name: "fills".into(),
        columns: vec![
            ColumnDef { name: "sym".into(), kind: "SYMBOL".into() },
            ColumnDef { name: "qty".into(), kind: "LONG".into() },
        ],
        timestamp: None,
        partition_by: PartitionBy::None,
        retention: Default::default(),
        upsert_keys: Vec::new(),
    };
    f.core.tables().create(&f.ns, def, false).unwrap();
    let append = |rows: usize, offset: i64| {
        let sym: Vec<&str> = (0..rows).map(|i| crate::SYMBOLS[i % 3]).collect();
        let qty: Vec<i64> = (0..rows as i64).map(|i| offset + i).collect();
        f.core.tables().append(&f.ns, "fills", df!("sym" => sym, "qty" => qty).unwrap(), None).unwrap();
    };
    // Rows still in the log (far below a checkpoint) must be visible too.
    append(1_000, 0);
    let query = "SELECT sym, COUNT(*) AS n, SUM(qty) AS total FROM fills GROUP BY sym";
    let oracle = || {
        let table = f.core.tables().get(&f.ns, "fills").unwrap().unwrap();
        let mut ctx = polars::sql::SQLContext::new();
        ctx.register("fills", table.scan().unwrap());
        ctx.execute(query).unwrap().collect().unwrap()
    };
    let first = distributed(&f, query);
    assert_same(&first, &oracle(), false);
    assert_eq!(first.column("n").unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().sum(), Some(1_000));
    append(500, 10_000);
    let second = distributed(&f, query);
    assert_same(&second, &oracle(), false);
    assert_eq!(second.column("n").unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().sum(), Some(1_500));
}

#[test]
fn an_empty_table_and_an_empty_result_keep_their_columns() {
    let f = fixture();
    let def = TableDef {
        name: "empty".into(),
        columns: vec![ColumnDef { name: "qty".into(), kind: "LONG".into() }],
        timestamp: None,
        partition_by: PartitionBy::None,
        retention: Default::default(),
        upsert_keys: Vec::new(),
    };
    f.core.tables().create(&f.ns, def, false).unwrap();
    let got = distributed(&f, "SELECT qty FROM empty");
    assert_eq!((got.height(), got.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>()), (0, vec!["qty"]));
    let none = distributed(&f, "SELECT sym, price FROM \"trades.parquet\" WHERE price < 0");
    assert_eq!((none.height(), none.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>()), (0, vec!["sym", "price"]));
}

#[test]
fn a_scanned_handle_is_read_from_its_file_by_any_name() {
    let f = fixture();
    let scanned = f
        .core
        .scan(&f.ns, &polaroid_core::ScanSpec { path: "trades.parquet".into(), ..Default::default() })
        .unwrap();
    let query = "SELECT sym, SUM(size) AS volume FROM t GROUP BY sym";
    let info = run(f.core.sql_distributed(&f.ns, query, &[("t".into(), scanned.id)])).unwrap();
    let want = polars_sql(f.dir.path(), &query.replace("FROM t", "FROM \"trades.parquet\""));
    assert_same(&frame(&f, &info), &want, false);
    assert!(info.lineage.starts_with("sql_distributed(") && info.lineage.ends_with("over [t] on standalone)"), "{}", info.lineage);
}
