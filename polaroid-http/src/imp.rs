//! `POST /imp`: a CSV file (multipart field `data`) into a table, as
//! QuestDB imports it. Parameters: `name` (default: the file's name),
//! `timestamp` (the designated timestamp of a new table), `partitionBy`,
//! `overwrite`, `delimiter`, `forceHeader`, `fmt=json`.
//!
//! The whole file is read by polars' CSV reader (types inferred, ISO dates
//! parsed); a file that does not parse is refused whole, so rows are never
//! half imported. An existing table takes the rows in its own types.

use std::collections::HashMap;
use std::io::Cursor;

use axum::extract::{Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use polaroid_core::tables::{kind_of, ColumnDef, PartitionBy, TableDef};
use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;

use crate::error::http_status;
use crate::Door;

struct Import {
    name: String,
    timestamp: Option<String>,
    partition_by: PartitionBy,
    overwrite: bool,
    delimiter: u8,
    header: bool,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(message.into())
}

fn read_csv(data: Vec<u8>, import: &Import) -> Result<DataFrame, CoreError> {
    let parse = CsvParseOptions::default().with_separator(import.delimiter).with_try_parse_dates(true);
    CsvReadOptions::default()
        .with_has_header(import.header)
        .with_infer_schema_length(Some(10_000))
        .with_parse_options(parse)
        .into_reader_with_file_handle(Cursor::new(data))
        .finish()
        .map_err(|e| invalid(format!("the CSV does not parse: {e}")))
}

/// Into `import.name`: created from the file's types when new (or when
/// `overwrite`), appended otherwise. Returns the table as it now is.
fn import(core: &Core, ns: &Namespace, import: &Import, rows: DataFrame) -> Result<(TableDef, u64), CoreError> {
    let tables = core.tables();
    if import.overwrite {
        tables.drop(ns, &import.name, true)?;
    }
    if tables.get(ns, &import.name)?.is_none() {
        if let Some(ts) = &import.timestamp {
            let dtype = rows.column(ts).map_err(|_| invalid(format!("timestamp column {ts} is not in the file")))?.dtype();
            if !dtype.is_temporal() {
                return Err(invalid(format!("timestamp column {ts} holds {dtype}, not timestamps")));
            }
        }
        let columns = rows.schema().iter().map(|(c, dtype)| ColumnDef { name: c.to_string(), kind: kind_of(dtype).into() }).collect();
        let partition_by = if import.timestamp.is_some() { import.partition_by } else { PartitionBy::None };
        let def = TableDef {
            name: import.name.clone(),
            columns,
            timestamp: import.timestamp.clone(),
            partition_by,
            retention: Default::default(),
            upsert_keys: Vec::new(),
        };
        tables.create(ns, def, true)?;
    }
    let appended = tables.append(ns, &import.name, rows, None)?;
    core.metrics().ingested(&import.name, appended);
    let def = tables.get(ns, &import.name)?.ok_or_else(|| CoreError::Internal("the table vanished".into()))?.def();
    Ok((def, appended))
}

fn params(params: &HashMap<String, String>, file_name: Option<&str>) -> Result<Import, CoreError> {
    let flag = |k: &str| params.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let name = params
        .get("name")
        .cloned()
        .or_else(|| file_name.map(|f| f.rsplit_once('.').map_or(f, |(stem, _)| stem).to_string()))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name the table: ?name=<table>"))?;
    let delimiter = match params.get("delimiter").map(String::as_str) {
        None | Some("") => b',',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) => return Err(invalid(format!("delimiter must be one character, got {d:?}"))),
    };
    Ok(Import {
        name,
        timestamp: params.get("timestamp").filter(|t| !t.is_empty()).cloned(),
        partition_by: params.get("partitionBy").map_or(Ok(PartitionBy::None), |p| PartitionBy::parse(p))?,
        overwrite: flag("overwrite"),
        delimiter,
        // QuestDB detects the header; CSV exports carry one, so it is assumed.
        header: params.get("forceHeader").is_none_or(|v| !v.eq_ignore_ascii_case("false")),
    })
}

fn failure(json: bool, error: CoreError) -> Response {
    let status = http_status(&error);
    if json {
        (status, axum::Json(serde_json::json!({ "status": error.to_string() }))).into_response()
    } else {
        (status, format!("{error}\n")).into_response()
    }
}

pub async fn upload(
    State(door): State<Door>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    mut multipart: Multipart,
) -> Response {
    let json = query.get("fmt").is_some_and(|f| f == "json");
    let ns = match crate::auth::namespace(&door.core, &headers) {
        Ok(ns) => ns,
        Err(e) => return failure(json, e),
    };
    let (mut data, mut file_name) = (None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("data") => {
                file_name = field.file_name().map(str::to_string);
                match field.bytes().await {
                    Ok(bytes) => data = Some(bytes.to_vec()),
                    Err(e) => return failure(json, invalid(format!("reading the upload: {e}"))),
                }
            },
            // The optional `schema` part and anything else: not needed.
            Ok(Some(_)) => {},
            Ok(None) => break,
            Err(e) => return failure(json, invalid(format!("malformed multipart body: {e}"))),
        }
    }
    let Some(data) = data else {
        return failure(json, invalid("send the CSV as the multipart field `data`"));
    };
    let spec = match params(&query, file_name.as_deref()) {
        Ok(spec) => spec,
        Err(e) => return failure(json, e),
    };
    let done = door
        .core
        .run(move |core, _| {
            let rows = read_csv(data, &spec)?;
            import(core, &ns, &spec, rows)
        })
        .await;
    match done {
        Ok((def, rows)) if json => {
            let columns: Vec<_> = def.columns.iter().map(|c| serde_json::json!({"name": c.name, "type": c.kind, "size": 0, "errors": 0})).collect();
            let body = serde_json::json!({
                "status": "OK",
                "location": def.name,
                "rowsRejected": 0,
                "rowsImported": rows,
                "header": true,
                "partitionBy": def.partition_by.name(),
                "timestamp": def.timestamp,
                "columns": columns,
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        },
        Ok((def, rows)) => {
            let text = format!("+---------------+\n| Location: | {} |\n| Rows handled: | {rows} |\n| Rows imported: | {rows} |\n+---------------+\n", def.name);
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        },
        Err(e) => failure(json, e),
    }
}
