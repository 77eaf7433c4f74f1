//! Patch 0015 decompresses a flat PLAIN ZSTD v1 page with no nulls
//! straight into its column: the definition levels it predicts from the
//! value count land on the column's last bytes (kept aside and put back) or,
//! on an empty column, on placeholder values dropped at the end. Pages are
//! written by hand here, so that each way a page can go is certain to be in
//! the file: its levels predicted right (first page and later ones, 8- and
//! 4-byte values, optional and required), a page of the predicted size whose
//! levels are something else (one null, bit-packed), levels of another size,
//! and a first page too short to hold its levels in placeholders. The
//! oracle is the values written.

use std::io::Cursor;

use polars::prelude::*;
use polars_parquet::parquet::compression::CompressionOptions;
use polars_parquet::parquet::error::ParquetResult;
use polars_parquet::parquet::metadata::{Descriptor, SchemaDescriptor};
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1, FormatEncoding, Page};
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::schema::types::{ParquetType, PhysicalType};
use polars_parquet::parquet::write::{Compressor, DynIter, DynStreamingIterator, FileWriter, Version, WriteOptions};
use polars_parquet::parquet::CowBuffer;

fn varint(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Definition levels of `rows` valid values as one RLE run (what polars and
/// pyarrow write for a page with no nulls).
fn rle_all_valid(rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    varint(rows << 1, &mut out);
    out.push(1);
    out
}

/// Definition levels as one bit-packed run.
fn bit_packed(valid: &[bool]) -> Vec<u8> {
    let mut out = Vec::new();
    varint((valid.len().div_ceil(8) << 1) | 1, &mut out);
    out.extend(valid.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |b, (i, &v)| b | (u8::from(v) << i))));
    out
}

/// One page of a column: its levels (none for a required column) and the
/// non-null values, as plain bytes.
struct PageSpec {
    rows: usize,
    levels: Option<Vec<u8>>,
    values: Vec<u8>,
}

fn v1_page(descriptor: &Descriptor, spec: PageSpec) -> ParquetResult<Page> {
    let mut buffer = Vec::new();
    if let Some(levels) = &spec.levels {
        buffer.extend((levels.len() as u32).to_le_bytes());
        buffer.extend(levels);
    }
    buffer.extend(&spec.values);
    let header = DataPageHeaderV1::new(spec.rows as i32, FormatEncoding::PLAIN, FormatEncoding::RLE, FormatEncoding::RLE, None);
    Ok(Page::Data(DataPage::new(DataPageHeader::V1(header), CowBuffer::Owned(buffer), descriptor.clone(), spec.rows)))
}

/// A column's pages from its values (`None` is null) and, per page, its
/// row count and whether its levels are bit-packed rather than one run.
fn pages<T: Copy>(values: &[Option<T>], layout: &[(usize, bool)], optional: bool, bytes: impl Fn(T) -> Vec<u8>) -> Vec<PageSpec> {
    let mut start = 0;
    layout
        .iter()
        .map(|&(rows, packed)| {
            let slice = &values[start..start + rows];
            start += rows;
            let valid: Vec<bool> = slice.iter().map(Option::is_some).collect();
            let levels = optional.then(|| match (packed, valid.iter().all(|&v| v)) {
                (false, true) => rle_all_valid(rows),
                _ => bit_packed(&valid),
            });
            PageSpec { rows, levels, values: slice.iter().flatten().flat_map(|&v| bytes(v)).collect() }
        })
        .collect()
}

fn write(columns: Vec<(ParquetType, Vec<PageSpec>)>, rows: usize) -> Vec<u8> {
    let schema = SchemaDescriptor::new("schema".into(), columns.iter().map(|(t, _)| t.clone()).collect());
    let descriptors: Vec<Descriptor> = schema.columns().iter().map(|c| c.descriptor.clone()).collect();
    let options = WriteOptions { write_statistics: false, version: Version::V1 };
    let mut writer = FileWriter::new(Cursor::new(Vec::new()), schema, options, None);
    let chunks = columns.into_iter().zip(descriptors).map(|((_, specs), descriptor)| {
        let pages: Vec<ParquetResult<Page>> = specs.into_iter().map(|s| v1_page(&descriptor, s)).collect();
        let compressed = Compressor::new(DynIter::new(pages.into_iter()), CompressionOptions::Zstd(None), Vec::new());
        Ok(DynStreamingIterator::new(compressed))
    });
    writer.write(rows as u64, DynIter::new(chunks)).unwrap();
    writer.end(None).unwrap();
    writer.into_inner().into_inner()
}

#[test]
fn plain_pages_decompressed_into_their_column_read_back_as_written() {
    // (rows, bit-packed levels): the first page's levels fit one placeholder
    // i64 (8 bytes); 80 rows of levels take 7 bytes over the values before;
    // the third page has one null and bit-packed levels of exactly the size
    // predicted for no nulls; the fourth has no nulls but bit-packed levels.
    let layout = [(8192, false), (80, false), (80, true), (80, true), (8192, false), (100, true)];
    // A first page too short to hold its levels in placeholders.
    let short_first = [(80, false), (8192, false), (80, false), (80, true), (8192, false), (100, false)];
    let rows: usize = layout.iter().map(|l| l.0).sum();
    assert_eq!(rows, short_first.iter().map(|l| l.0).sum::<usize>());

    let a: Vec<Option<i64>> = (0..rows as i64).map(|i| (i != 8192 + 80 + 37 && !(i >= rows as i64 - 100 && i % 10 == 3)).then_some(i * 3 - 7)).collect();
    let b: Vec<Option<f64>> = (0..rows).map(|i| Some(i as f64 * 0.25 - 9.5)).collect();
    let c: Vec<Option<i32>> = (0..rows as i32).map(|i| (i != 8192 + 160 + 5).then_some(i * -5)).collect();
    let d: Vec<Option<i64>> = (0..rows as i64).map(|i| Some(i * 1_000_003)).collect();
    let optional = |name: &str, t| ParquetType::try_from_primitive(name.into(), t, Repetition::Optional, None, None, None).unwrap();
    let required = |name: &str, t| ParquetType::try_from_primitive(name.into(), t, Repetition::Required, None, None, None).unwrap();
    let bytes = write(
        vec![
            (optional("a", PhysicalType::Int64), pages(&a, &layout, true, |v: i64| v.to_le_bytes().to_vec())),
            (required("b", PhysicalType::Double), pages(&b, &layout, false, |v: f64| v.to_le_bytes().to_vec())),
            (optional("c", PhysicalType::Int32), pages(&c, &layout, true, |v: i32| v.to_le_bytes().to_vec())),
            (optional("d", PhysicalType::Int64), pages(&d, &short_first, true, |v: i64| v.to_le_bytes().to_vec())),
        ],
        rows,
    );
    let expected = df! { "a" => &a, "b" => &b, "c" => &c, "d" => &d }.unwrap();

    let eager = |bytes: &[u8]| ParquetReader::new(Cursor::new(bytes.to_vec())).finish();
    let read = eager(&bytes).unwrap();
    assert!(read.equals_missing(&expected), "read {read:?}\nwritten {expected:?}");
    assert_eq!(read.column("b").unwrap().null_count(), 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages.parquet");
    std::fs::write(&path, &bytes).unwrap();
    for (offset, len) in [(0, rows), (100, 8300), (8192 + 80 + 20, 200), (rows - 150, 150)] {
        let scanned = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())
        .unwrap()
        .slice(offset as i64, len as IdxSize)
        .collect_with_engine(Engine::Streaming)
        .unwrap()
        .unwrap_single();
        assert!(scanned.equals_missing(&expected.slice(offset as i64, len)), "rows {offset}..{}", offset + len);
    }

    // A page that zstd cannot read is an error, whichever path tried it first.
    let magic = [0x28, 0xb5, 0x2f, 0xfd];
    let first_frame = bytes.windows(4).position(|w| w == magic).expect("a ZSTD frame");
    let mut broken = bytes.clone();
    broken[first_frame..first_frame + 4].copy_from_slice(b"junk");
    assert!(eager(&broken).is_err(), "a page with no ZSTD frame was read");
}
