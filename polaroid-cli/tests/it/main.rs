//! The `polaroid` binary: `bars` end to end on real files, its output
//! checked against the library on the same ticks (which is itself checked
//! against upstream polars), and its errors.

mod plain_in_place;

use std::path::Path;
use std::process::{Command, Output};

use polaroid_timeseries::{BarKind, OhlcvExt, OhlcvOptions};
use polars::prelude::*;

fn ticks(n: usize) -> DataFrame {
    let syms = ["AAPL", "MSFT", "SPY"];
    let t: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 1_300_000).collect();
    let s: Vec<&str> = (0..n).map(|i| syms[(i * 7) % 3]).collect();
    let p: Vec<f64> = (0..n).map(|i| 100.0 + ((i * 31) % 97) as f64 / 8.0).collect();
    let z: Vec<i64> = (0..n).map(|i| 1 + (i % 50) as i64).collect();
    df! { "symbol" => s, "ts" => t, "price" => p, "size" => z }
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap()
}

fn polaroid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polaroid")).args(args).output().unwrap()
}

fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap();
    match path.extension().unwrap().to_str().unwrap() {
        "parquet" => ParquetReader::new(file).finish().unwrap(),
        "ipc" => IpcReader::new(file).finish().unwrap(),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn bars_from_parquet_to_parquet_equal_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ticks.parquet");
    let output = dir.path().join("bars.parquet");
    let df = ticks(30_000);
    ParquetWriter::new(std::fs::File::create(&input).unwrap()).finish(&mut df.clone()).unwrap();

    let out = polaroid(&["bars", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap(), "--every", "5m"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("30000 ticks"), "{summary}");

    let expected = (&df).ohlcv(&OhlcvOptions::every("5m").unwrap()).unwrap();
    assert!(read(&output).equals_missing(&expected));
}

/// `polaroid bars` reads a parquet file's string by-column as categorical.
/// Here one row group holds three symbols (dictionary-encoded: categories
/// from the dictionary keys) and the next only distinct ones (the writer
/// stores those plainly: decoded as strings, then cast); a null symbol is a
/// series of its own. The bars are the library's over the string column,
/// and the symbol column stays a string column.
#[test]
fn bars_by_a_parquet_string_column_dictionary_encoded_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ticks.parquet");
    let output = dir.path().join("bars.parquet");
    let half = 20_000;
    let mut df = ticks(2 * half);
    let symbols: Vec<Option<String>> = (0..2 * half)
        .map(|i| match i {
            i if i % 1000 == 999 => None,
            i if i < half => Some(["AAPL", "MSFT", "SPY"][(i * 7) % 3].to_string()),
            i => Some(format!("SYMBOL-{i:06}")),
        })
        .collect();
    df.with_column(Column::new("symbol".into(), symbols)).unwrap();
    ParquetWriter::new(std::fs::File::create(&input).unwrap())
        .with_row_group_size(Some(half))
        .finish(&mut df.clone())
        .unwrap();

    let out = polaroid(&["bars", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap(), "--every", "1m"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let expected = (&df).ohlcv(&OhlcvOptions::every("1m").unwrap()).unwrap();
    let got = read(&output);
    assert_eq!(got.column("symbol").unwrap().dtype(), &DataType::String);
    assert_eq!(got.height(), expected.height());
    assert!(got.equals_missing(&expected), "{got}\n{expected}");
}

#[test]
fn activity_bars_from_csv_to_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ticks.csv");
    let output = dir.path().join("bars.ipc");
    let df = ticks(5_000);
    CsvWriter::new(std::fs::File::create(&input).unwrap()).finish(&mut df.clone()).unwrap();

    let out = polaroid(&[
        "bars", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap(), "--kind", "volume", "--threshold", "500",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = (&df).ohlcv(&OhlcvOptions { kind: BarKind::Volume(500.0), ..OhlcvOptions::default() }).unwrap();
    let got = read(&output);
    assert_eq!(got.height(), expected.height());
    // The csv round trip keeps microsecond timestamps and exact prices.
    assert!(got.equals_missing(&expected), "{got}\n{expected}");
}

fn fails_cleanly(args: &[&str], output: &Path, expect: &str) {
    let out = polaroid(args);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expect), "expected {expect:?} in: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!output.exists(), "no output file is left behind");
    let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "no partial file is left behind");
}

#[test]
fn bad_arguments_and_inputs_fail_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ticks.parquet");
    let output = dir.path().join("bars.parquet");
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    ParquetWriter::new(std::fs::File::create(&input).unwrap()).finish(&mut ticks(100)).unwrap();

    fails_cleanly(&["bars", "--input", i, "--output", o, "--price", "px"], &output, "column \"px\" not found");
    fails_cleanly(&["bars", "--input", i, "--output", o, "--time", "price"], &output, "must be a Datetime");
    fails_cleanly(&["bars", "--input", i, "--output", o, "--every", "soon"], &output, "invalid option every");
    fails_cleanly(&["bars", "--input", i, "--output", o, "--kind", "tick"], &output, "needs --threshold");
    fails_cleanly(&["bars", "--input", i, "--output", &format!("{o}.xlsx")], &output, "cannot tell the format");
    fails_cleanly(&["bars", "--input", "/no/such/ticks.parquet", "--output", o], &output, "no such file");

    let with_text_size = dir.path().join("text.parquet");
    let mut bad = ticks(10).lazy().with_column(col("size").cast(DataType::String)).collect().unwrap();
    ParquetWriter::new(std::fs::File::create(&with_text_size).unwrap()).finish(&mut bad).unwrap();
    fails_cleanly(&["bars", "--input", with_text_size.to_str().unwrap(), "--output", o], &output, "\"size\" must be numeric");
}

/// `polaroid bars` writes with ParquetWriter's parallel path, which patch
/// 0012 makes encode and compress each column in its own task. The file
/// must be the sequential path's, byte for byte: here over several row
/// groups, nulls, strings, booleans and a list column (a nested leaf).
#[test]
fn parquet_written_in_parallel_is_byte_identical_to_sequential() {
    let n = 5_000usize;
    let lists: Vec<Series> = (0..n).map(|i| Series::new("".into(), vec![i as i32; i % 4])).collect();
    let df = df! {
        "i" => (0..n).map(|i| (i % 7 != 0).then_some(i as i64 * 31)).collect::<Vec<_>>(),
        "f" => (0..n).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
        "s" => (0..n).map(|i| (i % 5 != 0).then(|| format!("sym-{}", i % 113))).collect::<Vec<_>>(),
        "b" => (0..n).map(|i| i % 3 == 0).collect::<Vec<_>>(),
        "l" => lists,
    }
    .unwrap();
    let write = |parallel: bool| {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_row_group_size(Some(1_024))
            .set_parallel(parallel)
            .finish(&mut df.clone())
            .unwrap();
        bytes
    };
    let (parallel, sequential) = (write(true), write(false));
    assert!(parallel == sequential, "the parallel writer's file differs from the sequential writer's");

    let mut reader = ParquetReader::new(std::io::Cursor::new(parallel));
    assert!(reader.get_metadata().unwrap().row_groups.len() > 1, "one row group only");
    assert!(reader.finish().unwrap().equals_missing(&df));
}

/// Patch 0013 has polars' streaming parquet source decode a large row group
/// in pieces of rows, each cut where a page of the largest column starts.
/// The scan must read what the eager reader reads (it decodes whole row
/// groups): flat columns of several kinds with nulls, whole, sliced (a slice
/// across row groups) and with a row index (the pieces' row offsets), and a
/// file with a nested column, which stays whole. A column chunk's
/// dictionary page is decompressed once for all pieces, so a row group with
/// a large dictionary (pyarrow's time columns have one of 1 MiB) is cut too
/// and read right. The scans run in a child
/// process of this test binary (`row_pieces_child`), so the piece size,
/// read from `POLARS_PARQUET_DECODE_PIECE_ROWS` when a scan starts, can be
/// small there without changing this process's environment; polars' verbose
/// log shows how many pieces each row group was decoded in.
#[test]
fn streaming_scan_in_row_pieces_reads_what_the_eager_reader_reads() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "row_pieces_child", "--nocapture", "--test-threads=1"])
        .env("POLARS_PARQUET_DECODE_PIECE_ROWS", "3000")
        .env("POLARS_VERBOSE", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test did not run: {stdout}");
    // One segment of the log per scan, in the child's order: the flat file
    // whole, sliced, with a row index; the nested file; the file with large
    // dictionaries, whole and sliced; the file with a float dictionary.
    let pieces_per_scan: Vec<Vec<usize>> = stderr
        .split("[ParquetFileReader]: project:")
        .skip(1)
        .map(|scan| {
            scan.lines()
                .filter_map(|l| l.split_once("decoded in ").map(|(_, n)| n.trim_end_matches(" pieces").parse().unwrap()))
                .collect()
        })
        .collect();
    assert_eq!(pieces_per_scan.len(), 7, "{stderr}");
    // The writer made two row groups of 25,000 rows: about 3,000 rows a
    // piece is 9 pieces, fewer only if page starts are too far apart.
    for whole in [&pieces_per_scan[0], &pieces_per_scan[2]] {
        assert_eq!(whole.len(), 2, "{stderr}");
        assert!(whole.iter().all(|&n| (5..=9).contains(&n)), "{pieces_per_scan:?}");
    }
    assert!(!pieces_per_scan[1].is_empty(), "{pieces_per_scan:?}");
    assert!(pieces_per_scan[3].is_empty(), "a nested column's row group was cut: {pieces_per_scan:?}");
    // Decompressing its dictionary (96 KB) again in each of 9 pieces would
    // redo twice a row group's bytes, which kept such row groups whole.
    let keyed = &pieces_per_scan[4];
    assert_eq!(keyed.len(), 2, "{pieces_per_scan:?}");
    assert!(keyed.iter().all(|&n| (5..=9).contains(&n)), "{pieces_per_scan:?}");
    assert!(!pieces_per_scan[5].is_empty(), "{pieces_per_scan:?}");
    let priced = &pieces_per_scan[6];
    assert_eq!(priced.len(), 3, "{pieces_per_scan:?}");
    assert!(priced[..2].iter().all(|&n| (5..=9).contains(&n)), "{pieces_per_scan:?}");
}

#[test]
#[ignore = "run by streaming_scan_in_row_pieces_reads_what_the_eager_reader_reads in a child process"]
fn row_pieces_child() {
    let n = 50_000usize;
    let df = df! {
        "i" => (0..n).map(|i| (i % 7 != 0).then_some(i as i64 * 31)).collect::<Vec<_>>(),
        "f" => (0..n).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
        "sym" => (0..n).map(|i| (i % 5 != 0).then(|| format!("sym-{}", i % 113))).collect::<Vec<_>>(),
        "id" => (0..n).map(|i| format!("row-{i}")).collect::<Vec<_>>(),
        "b" => (0..n).map(|i| (i % 11 != 0).then_some(i % 3 == 0)).collect::<Vec<_>>(),
        "t" => (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 1_300_000).collect::<Vec<_>>(),
    }
    .unwrap()
    .lazy()
    .with_column(col("t").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
    .collect()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, df: &DataFrame| {
        let path = dir.path().join(name);
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(20_000))
            .with_data_page_size(Some(1_024))
            .finish(&mut df.clone())
            .unwrap();
        path
    };
    let eager = |path: &Path| ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap();
    let scan = |path: &Path| LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default()).unwrap();
    let streamed = |lf: LazyFrame| lf.collect_with_engine(Engine::Streaming).unwrap().unwrap_single();

    let flat = write("flat.parquet", &df);
    assert!(eager(&flat).equals_missing(&df));
    assert!(streamed(scan(&flat)).equals_missing(&eager(&flat)));
    assert!(streamed(scan(&flat).slice(17_001, 12_345)).equals_missing(&eager(&flat).slice(17_001, 12_345)));
    let indexed = streamed(scan(&flat).with_row_index("idx", None));
    assert!(indexed.drop("idx").unwrap().equals_missing(&df));
    let idx: Vec<IdxSize> = indexed.column("idx").unwrap().idx().unwrap().into_no_null_iter().collect();
    assert!(idx.iter().enumerate().all(|(row, &i)| i as usize == row));

    let lists: Vec<Series> = (0..n).map(|i| Series::new("".into(), vec![i as i32; i % 4])).collect();
    let mut nested = df.clone();
    nested.with_column(Column::new("l".into(), lists)).unwrap();
    let nested_path = write("nested.parquet", &nested);
    assert!(streamed(scan(&nested_path)).equals_missing(&nested));

    // 12,000 distinct integers in each of the two row groups: polars
    // writes them dictionary-encoded, a dictionary page of 96 KB. The
    // pieces of a row group share it, decompressed once (patch 0016). Each
    // row group's values, and so its dictionary, are its own: a piece given
    // another row group's page reads wrong values.
    let keyed = df! {
        "k" => (0..n as i64).map(|i| (i * 7_919) % 12_000 + i / 25_000 * 100_000).collect::<Vec<_>>(),
        "v" => (0..n).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
        "p" => (0..n).map(|i| (i % 9 != 0).then_some(((i * 104_729) % 9_000) as f64 * 0.25 + (i / 20_000 * 10_000) as f64)).collect::<Vec<_>>(),
    }
    .unwrap();
    let keyed_path = write("keyed.parquet", &keyed);
    let metadata = ParquetReader::new(std::fs::File::open(&keyed_path).unwrap()).get_metadata().unwrap().clone();
    let k = &metadata.row_groups[0].parquet_columns()[0];
    assert!(k.dictionary_page_offset().is_some(), "k is not dictionary-encoded");
    assert!(streamed(scan(&keyed_path)).equals_missing(&keyed));
    assert!(streamed(scan(&keyed_path).slice(21_000, 9_001)).equals_missing(&keyed.slice(21_000, 9_001)));

    // Floats with nulls (9,000 distinct), dictionary-encoded as pyarrow
    // writes them (polars' writer never does): shared the same way.
    let prices: Vec<Option<f64>> = keyed.column("p").unwrap().f64().unwrap().iter().collect();
    let priced_path = dir.path().join("priced.parquet");
    write_float_dictionary(&priced_path, "p", &prices, 20_000);
    let metadata = ParquetReader::new(std::fs::File::open(&priced_path).unwrap()).get_metadata().unwrap().clone();
    assert_eq!(metadata.row_groups.len(), 3);
    assert!(metadata.row_groups[0].parquet_columns()[0].dictionary_page_offset().is_some());
    let priced = keyed.select(["p"]).unwrap();
    assert!(eager(&priced_path).equals_missing(&priced));
    assert!(streamed(scan(&priced_path)).equals_missing(&priced));
}

/// `values` as one optional DOUBLE column `name`, dictionary-encoded, in
/// row groups of `rows_per_group` rows and pages of about 1 KiB.
fn write_float_dictionary(path: &Path, name: &str, values: &[Option<f64>], rows_per_group: usize) {
    use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray};
    use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field, IntegerType};
    use polars_arrow::record_batch::RecordBatchT;
    use polars_parquet::write::{
        CompressionOptions, Encoding, FileWriter, RowGroupIterator, StatisticsOptions, Version, WriteOptions,
    };

    let dtype = ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(ArrowDataType::Float64), false);
    let schema = Arc::new(ArrowSchema::from_iter([(PlSmallStr::from(name), Field::new(name.into(), dtype.clone(), true))]));
    let batches: Vec<PolarsResult<RecordBatchT<Box<dyn Array>>>> = values
        .chunks(rows_per_group)
        .map(|rows| {
            let mut distinct: Vec<f64> = rows.iter().flatten().copied().collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            let keys: Vec<Option<u32>> = rows
                .iter()
                .map(|v| v.map(|v| distinct.binary_search_by(|d| d.total_cmp(&v)).unwrap() as u32))
                .collect();
            let values = PrimitiveArray::from_vec(distinct).boxed();
            let column = DictionaryArray::try_new(dtype.clone(), PrimitiveArray::from(keys), values)?;
            Ok(RecordBatchT::new(rows.len(), schema.clone(), vec![column.boxed()]))
        })
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Snappy,
        data_page_size: Some(1_024),
    };
    let groups = RowGroupIterator::try_new(batches.into_iter(), &schema, options, vec![vec![Encoding::RleDictionary]].into())
        .unwrap();
    let mut writer = FileWriter::try_new(std::fs::File::create(path).unwrap(), (*schema).clone(), options).unwrap();
    for (group, rows) in groups.zip(values.chunks(rows_per_group)) {
        writer.write(rows.len() as u64, group.unwrap()).unwrap();
    }
    // No arrow schema in the footer: the column reads back as the DOUBLE it is.
    writer.end(Some(Vec::new())).unwrap();
}

/// Patch 0014 keeps a ZSTD context per thread for the pages polars
/// compresses or decompresses on it. A reused context must write what a new
/// one writes: each level's file is written on a thread of its own (a new
/// context), and again on this thread after the other levels' files (a
/// context reused across levels and data); the bytes must be the same. A
/// context whose last read failed (a page's frame made unreadable, read
/// with parallelism off, so on this thread) must then read the next file
/// right.
#[test]
fn zstd_contexts_kept_per_thread_write_and_read_what_new_ones_do() {
    let df = ticks(20_000);
    let write = |level: i32| {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_compression(ParquetCompression::Zstd(Some(polars_parquet::write::ZstdLevel::try_new(level).unwrap())))
            .with_row_group_size(Some(4_096))
            .set_parallel(false)
            .finish(&mut df.clone())
            .unwrap();
        bytes
    };
    let levels = [1, 3, 12, 19];
    let fresh: Vec<Vec<u8>> = levels.iter().map(|&l| std::thread::scope(|s| s.spawn(|| write(l)).join().unwrap())).collect();
    for _round in 0..2 {
        for (level, expected) in levels.iter().zip(&fresh) {
            assert!(write(*level) == *expected, "level {level}: a reused context wrote other bytes than a new one");
        }
    }

    let read = |bytes: &[u8]| {
        ParquetReader::new(std::io::Cursor::new(bytes.to_vec())).read_parallel(ParallelStrategy::None).finish()
    };
    let magic = [0x28, 0xb5, 0x2f, 0xfd];
    let first_frame = fresh[1].windows(4).position(|w| w == magic).expect("a ZSTD frame");
    let mut broken = fresh[1].clone();
    broken[first_frame..first_frame + 4].copy_from_slice(b"junk");
    assert!(read(&broken).is_err(), "a page with no ZSTD frame was read");
    for bytes in &fresh {
        assert!(read(bytes).unwrap().equals(&df));
    }
}

/// Patch 0009: a dictionary array imported as categorical (how parquet's
/// dictionary-encoded strings reach `polaroid bars`) looks each dictionary
/// value up once and maps the keys through that table. The column must be
/// the strings the keys point at, null for a null key and for a key
/// pointing at a null value, whatever the key width; and the keys' buffer,
/// which the caller may still hold, must stay as it was.
#[test]
fn dictionary_keys_import_as_the_categories_of_their_values() {
    use polars_arrow::array::{DictionaryArray, PrimitiveArray, Utf8ViewArray};
    use polars_arrow::datatypes::ArrowDataType;
    use polars_arrow::types::NativeType;

    fn import<K: polars_arrow::array::DictionaryKey>(keys: PrimitiveArray<K>, values: &Utf8ViewArray) -> Series {
        let dtype = ArrowDataType::Dictionary(K::KEY_TYPE, Box::new(ArrowDataType::Utf8View), false);
        let dict = DictionaryArray::try_new(dtype, keys, values.clone().boxed()).unwrap();
        let series = Series::try_from((PlSmallStr::from("symbol"), dict.boxed())).unwrap();
        assert!(series.dtype().is_categorical(), "{:?}", series.dtype());
        series.cast(&DataType::String).unwrap()
    }
    fn keys<K: NativeType>(k: &[Option<K>]) -> PrimitiveArray<K> {
        PrimitiveArray::from(k.to_vec())
    }
    let values = Utf8ViewArray::from_slice([Some("b-sym"), Some("a-sym"), Some("c-sym")]);
    let rows = [Some(1u32), Some(0), None, Some(2), Some(1), None, Some(0)];
    let expected = Series::new("symbol".into(), [Some("a-sym"), Some("b-sym"), None, Some("c-sym"), Some("a-sym"), None, Some("b-sym")]);

    assert!(import(keys(&rows), &values).equals_missing(&expected), "u32 keys");
    let held = keys(&rows);
    assert!(import(held.clone(), &values).equals_missing(&expected), "u32 keys also held here");
    assert_eq!(held, keys(&rows), "the import wrote to keys held elsewhere");
    let narrow: Vec<Option<u8>> = rows.iter().map(|k| k.map(|k| k as u8)).collect();
    assert!(import(keys(&narrow), &values).equals_missing(&expected), "u8 keys");

    let with_null = Utf8ViewArray::from_slice([Some("b-sym"), None, Some("c-sym")]);
    let expected = Series::new("symbol".into(), [None, Some("b-sym"), None, Some("c-sym"), None, None, Some("b-sym")]);
    assert!(import(keys(&rows), &with_null).equals_missing(&expected), "a null dictionary value");
}
