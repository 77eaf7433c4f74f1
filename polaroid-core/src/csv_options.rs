//! How Scan reads a CSV file: polars' `scan_csv` options a client may set.
//!
//! Every field left unset keeps polars' own default, so a request that names
//! nothing reads a file as `pl.scan_csv(path)` does. Values are checked here,
//! before polars sees them: some of its setters assert on what they accept.

use polars::prelude::*;

use crate::error::CoreError;

/// polars' `scan_csv` options (`None`: polars' default).
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Whether the first line (after `skip_rows`) holds column names (default true).
    pub has_header: Option<bool>,
    /// One byte (default `,`).
    pub separator: Option<String>,
    /// Lines skipped before the header.
    pub skip_rows: Option<u64>,
    /// Rows skipped after the header.
    pub skip_rows_after_header: Option<u64>,
    /// Values read as null in every column.
    pub null_values: Vec<String>,
    /// One byte; empty: no quoting (default `"`).
    pub quote_char: Option<String>,
    /// Lines that start with it are skipped.
    pub comment_prefix: Option<String>,
    /// An empty field is null, not "" (default true).
    pub missing_is_null: Option<bool>,
    pub try_parse_dates: Option<bool>,
    /// `,` is the decimal point.
    pub decimal_comma: Option<bool>,
    /// Rows read to infer the types (default 100; 0: every column a string).
    pub infer_schema_length: Option<u64>,
    /// Infer the types from the whole file (polars' `infer_schema_length=None`).
    pub infer_schema_all: bool,
    pub ignore_errors: Option<bool>,
    pub truncate_ragged_lines: Option<bool>,
    /// The whole schema, in the file's order: no inference, and these names
    /// instead of the header's.
    pub schema: Option<Schema>,
    /// Types of these columns, by name; the others are inferred.
    pub schema_overrides: Option<Schema>,
    /// One byte (default `\n`).
    pub eol_char: Option<String>,
    /// Invalid UTF-8 becomes U+FFFD instead of an error.
    pub utf8_lossy: bool,
}

impl CsvOptions {
    /// A lazy scan of `sources` with these options.
    pub(crate) fn reader(&self, sources: ScanSources) -> Result<LazyCsvReader, CoreError> {
        let mut reader = LazyCsvReader::new_with_sources(sources)
            .with_has_header(self.has_header.unwrap_or(true))
            .with_separator(one_byte("csv_separator", self.separator.as_deref())?.unwrap_or(b','))
            .with_skip_rows(count("csv_skip_rows", self.skip_rows)?)
            .with_skip_rows_after_header(count("csv_skip_rows_after_header", self.skip_rows_after_header)?)
            .with_missing_is_null(self.missing_is_null.unwrap_or(true))
            .with_try_parse_dates(self.try_parse_dates.unwrap_or(false))
            .with_decimal_comma(self.decimal_comma.unwrap_or(false))
            .with_ignore_errors(self.ignore_errors.unwrap_or(false))
            .with_truncate_ragged_lines(self.truncate_ragged_lines.unwrap_or(false))
            .with_eol_char(one_byte("csv_eol_char", self.eol_char.as_deref())?.unwrap_or(b'\n'))
            .with_encoding(if self.utf8_lossy { CsvEncoding::LossyUtf8 } else { CsvEncoding::Utf8 });
        if let Some(quote) = &self.quote_char {
            // "" turns quoting off, as polars' quote_char=None.
            let quote = if quote.is_empty() { None } else { one_byte("csv_quote_char", Some(quote))? };
            reader = reader.with_quote_char(quote);
        }
        if let Some(prefix) = &self.comment_prefix {
            if prefix.is_empty() || prefix.contains(['\n', '\r']) {
                return Err(CoreError::InvalidArgument(format!(
                    "csv_comment_prefix must be non-empty and on one line, got {prefix:?}"
                )));
            }
            reader = reader.with_comment_prefix(Some(prefix.as_str().into()));
        }
        if !self.null_values.is_empty() {
            let values = self.null_values.iter().map(|v| PlSmallStr::from(v.as_str())).collect();
            reader = reader.with_null_values(Some(NullValues::AllColumns(values)));
        }
        if self.infer_schema_all {
            reader = reader.with_infer_schema_length(None);
        } else if let Some(rows) = self.infer_schema_length {
            reader = reader.with_infer_schema_length(Some(count("csv_infer_schema_length", Some(rows))?));
        }
        if let Some(schema) = &self.schema {
            reader = reader.with_schema(Some(Arc::new(schema.clone())));
        }
        if let Some(overrides) = &self.schema_overrides {
            reader = reader.with_dtype_overwrite(Some(Arc::new(overrides.clone())));
        }
        Ok(reader)
    }
}

fn one_byte(what: &str, value: Option<&str>) -> Result<Option<u8>, CoreError> {
    match value {
        None => Ok(None),
        Some(s) if s.len() == 1 => Ok(Some(s.as_bytes()[0])),
        Some(s) => Err(CoreError::InvalidArgument(format!("{what} must be one byte, got {s:?}"))),
    }
}

fn count(what: &str, value: Option<u64>) -> Result<usize, CoreError> {
    usize::try_from(value.unwrap_or(0)).map_err(|_| CoreError::InvalidArgument(format!("{what} is too large")))
}
