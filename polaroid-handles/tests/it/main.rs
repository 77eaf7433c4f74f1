//! Integration tests of the handle store: one test binary, one module per concern.

mod concurrency;
mod expiry;
mod ids;
mod memory;
mod namespaces;

use polaroid_handles::{Entry, HandleConfig, HandleStore};
use polars::prelude::*;

/// A frame of `rows` i64 values: estimated size is 8 bytes a row.
pub fn frame(rows: usize) -> DataFrame {
    let values: Vec<i64> = (0..rows as i64).collect();
    DataFrame::new(rows, vec![Column::new("v".into(), values)]).unwrap()
}

pub fn store(config: HandleConfig) -> HandleStore {
    HandleStore::new(config)
}

pub fn frame_entry(rows: usize) -> Entry {
    Entry::frame(frame(rows), format!("test_frame({rows})"))
}
