//! Arrow record batches (arrow-rs, DataFusion's) into polars frames and
//! back for schemas. The two Arrow implementations meet at the IPC stream
//! format, which both read and write in full; a batch is re-encoded once,
//! at memory speed, on its way into a handle.

use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef as ArrowSchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use polaroid_core::CoreError;
use polars::prelude::{DataFrame, IpcStreamReader, IpcStreamWriter, SchemaRef, SerReader, SerWriter};

/// One record batch as a polars frame.
pub fn to_frame(batch: &RecordBatch) -> Result<DataFrame, CoreError> {
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    {
        let mut writer = StreamWriter::try_new(&mut bytes, batch.schema_ref()).map_err(arrow_error)?;
        writer.write(batch).map_err(arrow_error)?;
        writer.finish().map_err(arrow_error)?;
    }
    Ok(IpcStreamReader::new(Cursor::new(bytes)).finish()?)
}

/// A frame with `schema`'s columns and no rows.
pub fn empty_frame(schema: &ArrowSchemaRef) -> Result<DataFrame, CoreError> {
    to_frame(&RecordBatch::new_empty(schema.clone()))
}

/// A polars schema as arrow-rs's.
pub fn arrow_schema(schema: &SchemaRef) -> Result<ArrowSchemaRef, CoreError> {
    let mut empty = DataFrame::empty_with_schema(schema);
    let mut bytes = Vec::new();
    IpcStreamWriter::new(&mut bytes).finish(&mut empty)?;
    let reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(arrow_error)?;
    Ok(Arc::clone(&reader.schema()))
}

fn arrow_error(err: datafusion::arrow::error::ArrowError) -> CoreError {
    CoreError::Internal(format!("converting a Ballista result batch: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray, TimestampNanosecondArray};
    use datafusion::arrow::datatypes as adt;
    use polars::prelude::*;

    #[test]
    fn a_batch_becomes_the_same_values_in_polars() {
        let schema = Arc::new(adt::Schema::new(vec![
            adt::Field::new("sym", adt::DataType::Utf8, true),
            adt::Field::new("n", adt::DataType::Int64, false),
            adt::Field::new("px", adt::DataType::Float64, true),
            adt::Field::new("ts", adt::DataType::Timestamp(adt::TimeUnit::Nanosecond, Some("UTC".into())), false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("AAPL"), None])),
                Arc::new(Int64Array::from(vec![1, -2])),
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
                Arc::new(TimestampNanosecondArray::from(vec![0, 1_000]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let got = to_frame(&batch).unwrap();
        let want = df!(
            "sym" => [Some("AAPL"), None],
            "n" => [1i64, -2],
            "px" => [Some(1.5), None],
            "ts" => [0i64, 1_000],
        )
        .unwrap()
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))))
        .collect()
        .unwrap();
        assert!(got.equals_missing(&want), "{got}\n{want}");
        assert_eq!(empty_frame(&schema).unwrap().schema(), want.schema());
    }

    #[test]
    fn a_polars_schema_round_trips_through_arrow() {
        let schema: SchemaRef = Arc::new(Schema::from_iter([
            Field::new("sym".into(), DataType::String),
            Field::new("px".into(), DataType::Float64),
        ]));
        let arrow = arrow_schema(&schema).unwrap();
        let names: Vec<_> = arrow.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["sym", "px"]);
        assert_eq!(empty_frame(&arrow).unwrap().schema(), &schema);
    }
}
