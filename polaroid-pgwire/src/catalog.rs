//! The part of PostgreSQL's `pg_catalog` that drivers read before they
//! query: `pg_type` (ADBC's PostgreSQL driver maps each result column's
//! type oid through it, by its receive function's name), `pg_namespace`,
//! `pg_class` and `pg_attribute` (the caller's tables and their columns),
//! `pg_am` (psql's `\dt` joins it), `pg_cursors` (the connection's own,
//! which psycopg reads before it closes a cursor it did not open); and
//! `information_schema`'s `tables`, `columns` and `schemata` (what BI
//! tools and Grafana list tables by).
//!
//! They are frames built for the query that names them, planned beside the
//! caller's tables, so any SQL over them works. `pg_catalog.` is dropped
//! from the query: it is PostgreSQL's schema for them, and on its search
//! path, so both spellings name the same relation.

use std::sync::OnceLock;

use pgwire::api::Type;
use polaroid_core::tables::TableDef;
use polaroid_core::{Core, CoreError, Namespace};
use polars::prelude::*;
use regex::Regex;

use crate::encode::pg_type;

/// PostgreSQL's oids of its two schemas, and the first oid it gives a
/// user's relation.
const PG_CATALOG: i64 = 11;
const PUBLIC: i64 = 2200;
const FIRST_USER_OID: i64 = 16384;

/// The catalog's relations by name (`information_schema.x` is read as
/// `information_schema_x`).
const RELATIONS: [&str; 19] = [
    "pg_type",
    "pg_roles",
    "pg_user",
    "pg_database",
    "pg_settings",
    "pg_tablespace",
    "pg_constraint",
    "pg_collation",
    "pg_index",
    "pg_cursors",
    "pg_description",
    "pg_attrdef",
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_am",
    "information_schema_tables",
    "information_schema_columns",
    "information_schema_schemata",
];

/// The database every connection is in, as QuestDB names its own; its oid
/// in `pg_database`, and PostgreSQL's number for its encoding, UTF8.
const DATABASE: &str = "qdb";
const DATABASE_OID: i64 = 16384;
const UTF8_ENCODING: i32 = 6;

/// The role that owns every table, as `pg_get_userbyid` shows it: the
/// server's, whoever wrote the rows.
const OWNER: &str = "polaroid";
const OWNER_OID: i64 = 10;
/// PostgreSQL's oid of the heap access method, its tables' own.
const HEAP: i64 = 2;

/// A connection's open cursors as `pg_cursors` lists them: name, the
/// DECLARE statement, WITH HOLD, BINARY, when declared.
pub type CursorRow = (String, String, bool, bool, chrono::DateTime<chrono::Utc>);

/// The connection a query comes from: who connected, to which database,
/// and its open cursors (`pg_cursors`).
pub struct Connection {
    pub user: String,
    pub database: String,
    pub cursors: Vec<CursorRow>,
}

/// Plan `sql` in QuestDB's SQL, with the session's functions read as
/// their values and the catalog's relations it names.
pub fn plan(core: &Core, ns: &Namespace, sql: &str, connection: &Connection) -> Result<(LazyFrame, Vec<TableDef>), CoreError> {
    let sql = information_schema(sql);
    let named = names(&sql);
    let sql = crate::session::inline(&sql, &connection.user, &connection.database, !named.is_empty());
    if let Some(columns) = crate::empty::columns(&sql) {
        return Ok((no_rows(columns)?.lazy(), Vec::new()));
    }
    if named.is_empty() {
        return polaroid_questdb::plan(core, ns, &sql);
    }
    let tables = user_tables(core, ns)?;
    let sql = regclass(&rewrite(&fold_identifiers(&sql)), &tables)?;
    let sql = crate::arrays::fold(&sql).unwrap_or(sql);
    let sql = crate::empty::simplify(&sql).unwrap_or(sql);
    let (sql, sizes) = match sized(&sql) {
        Some(sized) => (sized, Some(("__pg_sizes".to_string(), table_sizes(core, ns, &tables)?.lazy()))),
        None => (sql, None),
    };
    // A rewrite may read another relation (`format_type` reads pg_type).
    let named = names(&sql);
    let mut frames = named
        .into_iter()
        .map(|name| {
            let frame = if name == "pg_cursors" { pg_cursors(&connection.cursors)? } else { relation(name, &tables)? };
            Ok((name.to_string(), frame.lazy()))
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    frames.extend(sizes);
    polaroid_questdb::plan_over(core, ns, &sql, frames)
}

/// `sql` with PostgreSQL's size functions read from `__pg_sizes` (psql's
/// `\dt+`): `pg_table_size(oid)`, `pg_total_relation_size` and
/// `pg_relation_size` are the table's bytes on disk (parts, log and
/// definition: there is no TOAST or index apart), `pg_indexes_size` is 0,
/// and `pg_size_pretty` of one of them is PostgreSQL's text for it.
/// `None` when it asks for no size.
fn sized(sql: &str) -> Option<String> {
    static PRETTY: OnceLock<Regex> = OnceLock::new();
    static SIZE: OnceLock<Regex> = OnceLock::new();
    static INDEXES: OnceLock<Regex> = OnceLock::new();
    let regex = |cell: &'static OnceLock<Regex>, pattern: &str| cell.get_or_init(|| Regex::new(pattern).expect("a valid regex"));
    let pretty = regex(&PRETTY, r"(?i)\bpg_size_pretty\s*\(\s*pg_(?:total_relation|table|relation)_size\s*\(\s*([\w.]+)\s*\)\s*\)");
    let size = regex(&SIZE, r"(?i)\bpg_(?:total_relation|table|relation)_size\s*\(\s*([\w.]+)\s*\)");
    let indexes = regex(&INDEXES, r"(?i)\bpg_indexes_size\s*\(\s*[\w.]+\s*\)");
    if !(size.is_match(sql) || indexes.is_match(sql)) {
        return None;
    }
    let sql = pretty.replace_all(sql, "(SELECT __pg_size.pretty FROM __pg_sizes __pg_size WHERE __pg_size.oid = $1)");
    let sql = size.replace_all(&sql, "(SELECT __pg_size.bytes FROM __pg_sizes __pg_size WHERE __pg_size.oid = $1)");
    Some(indexes.replace_all(&sql, "CAST(0 AS BIGINT)").into_owned())
}

/// Each table's oid, bytes on disk, and PostgreSQL's `pg_size_pretty` of them.
fn table_sizes(core: &Core, ns: &Namespace, tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    let mut bytes = Vec::with_capacity(tables.len());
    for (_, def) in tables {
        let table = core.tables().get(ns, &def.name)?;
        bytes.push(table.map(|t| t.disk_bytes()).transpose()?.unwrap_or(0) as i64);
    }
    Ok(df!(
        "oid" => tables.iter().map(|(oid, _)| *oid).collect::<Vec<_>>(),
        "pretty" => bytes.iter().map(|b| size_pretty(*b)).collect::<Vec<_>>(),
        "bytes" => bytes,
    )?)
}

/// PostgreSQL's `pg_size_pretty`: bytes below 10 kB, then kB, MB, GB, TB,
/// PB, each used below 20 × 1024 − 1 of it and rounded half away from zero.
fn size_pretty(bytes: i64) -> String {
    // (name, limit, rounded, bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    let mut size = bytes;
    for (i, (name, limit, rounded, bits)) in UNITS.iter().enumerate() {
        let Some((_, _, next_rounded, next_bits)) = UNITS.get(i + 1) else {
            return format!("{} {name}", if *rounded { half_rounded(size) } else { size });
        };
        if size.abs() < *limit {
            return format!("{} {name}", if *rounded { half_rounded(size) } else { size });
        }
        // One bit less when the next unit rounds by halves, one more when this one did.
        let shift = next_bits - bits - u32::from(*next_rounded) + u32::from(*rounded);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit answers")
}

/// An answer of no rows with these text columns. polars cannot hold two
/// columns of one name, which PostgreSQL can (`?column?`): a repeated name
/// gets its place after it (`?column?_3`).
fn no_rows(columns: Vec<String>) -> Result<DataFrame, CoreError> {
    let mut seen = std::collections::HashSet::new();
    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let name = if seen.insert(name.clone()) { name } else { format!("{name}_{}", i + 1) };
            Column::new_empty(name.into(), &DataType::String)
        })
        .collect();
    Ok(DataFrame::new(0, columns)?)
}

/// `information_schema.tables` (and `columns`, `schemata`) as the frame's
/// name, `information_schema_tables`.
fn information_schema(sql: &str) -> std::borrow::Cow<'_, str> {
    static SCHEMA: OnceLock<Regex> = OnceLock::new();
    let pattern = SCHEMA.get_or_init(|| {
        Regex::new(r#"(?i)\b"?information_schema"?\s*\.\s*"?(tables|columns|schemata)\b"?"#).expect("a valid regex")
    });
    pattern.replace_all(sql, |caps: &regex::Captures| format!("information_schema_{}", caps[1].to_ascii_lowercase()))
}

/// The catalog's relations `sql` names, outside quotes.
fn names(sql: &str) -> Vec<&'static str> {
    let unquoted = unquoted(sql);
    let words: Vec<String> = unquoted.split(|c: char| !(c.is_alphanumeric() || c == '_')).map(str::to_ascii_lowercase).collect();
    RELATIONS.into_iter().filter(|r| words.iter().any(|w| w == r)).collect()
}

/// `sql` with its unquoted identifiers in lower case, as PostgreSQL folds
/// them: `AS TABLE_NAME` and `result.table_name` name one column (the JDBC
/// driver's metadata queries write both). Only catalog queries are folded;
/// text and quoted names are kept as written.
fn fold_identifiers(sql: &str) -> String {
    by_quoting(sql, |c, quoted| if quoted { c } else { c.to_ascii_lowercase() })
}

/// `sql` with its quoted text blanked out, for looking at its words.
fn unquoted(sql: &str) -> String {
    by_quoting(sql, |c, quoted| if quoted { ' ' } else { c })
}

/// Each character of `sql` through `map`, told whether it is part of a
/// quoted text or name (its quotes included).
fn by_quoting(sql: &str, mut map: impl FnMut(char, bool) -> char) -> String {
    let mut quote = None;
    sql.chars()
        .map(|c| match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                map(c, true)
            },
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                map(c, true)
            },
            None => map(c, false),
        })
        .collect()
}

/// The catalog relations' own oids in `pg_class`, as PostgreSQL 15 has
/// them: `'pg_class'::regclass` names the class of a `pg_description` row
/// (the JDBC driver's `getTables` asks so).
const CATALOG_OIDS: [(&str, i64); 10] = [
    ("pg_type", 1247),
    ("pg_attribute", 1249),
    ("pg_proc", 1255),
    ("pg_class", 1259),
    ("pg_database", 1262),
    ("pg_am", 2601),
    ("pg_attrdef", 2604),
    ("pg_constraint", 2606),
    ("pg_description", 2609),
    ("pg_namespace", 2615),
];

/// PostgreSQL 15's keywords that are not unreserved (`pg_get_keywords()`
/// with `catcode <> 'U'`): `quote_ident` quotes them.
const KEYWORDS: [&str; 151] = [
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
    "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce", "collate",
    "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date",
    "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "dec", "decimal", "default",
    "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch", "float",
    "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having", "ilike", "in",
    "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into", "is", "isnull", "join",
    "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp", "national", "natural",
    "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric", "offset", "on", "only", "or", "order",
    "out", "outer", "overlaps", "overlay", "placing", "position", "precision", "primary", "real", "references",
    "returning", "right", "row", "select", "session_user", "setof", "similar", "smallint", "some", "substring",
    "symmetric", "table", "tablesample", "then", "time", "timestamp", "to", "trailing", "treat", "trim", "true",
    "union", "unique", "user", "using", "values", "varchar", "variadic", "verbose", "when", "where", "window", "with",
    "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi",
    "xmlroot", "xmlserialize", "xmltable",
];

/// PostgreSQL's `quote_ident`: a name is written bare when it is lower
/// case letters, digits (not first) and `_`, and no keyword; otherwise
/// quoted, its quotes doubled.
fn quote_ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !KEYWORDS.contains(&name);
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// `quote_ident(column)` in SQL: the same rule, for each row.
fn quote_ident_sql(column: &str) -> String {
    let keywords = KEYWORDS.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    format!(
        "(CASE WHEN regexp_like({column}, '^[a-z_][a-z0-9_]*$') AND {column} NOT IN ({keywords}) THEN {column} \
         ELSE '\"' || replace({column}, '\"', '\"\"') || '\"' END)"
    )
}

/// The query in what polars-sql reads, PostgreSQL's meaning kept:
/// - `pg_catalog.x` is `x`; `OPERATOR(pg_catalog.~)` is `~`, and
///   `COLLATE pg_catalog.default` (the default collation) goes (psql);
/// - `pg_encoding_to_char(encoding)` is `UTF8`, the one encoding, and an
///   access privilege list (`array_to_string(datacl, E'\n')`) is null:
///   none is granted here (psql's `\l`);
/// - two texts concatenated are one (SQLAlchemy's `LIKE 'pg/_' || '%'`,
///   which polars-sql takes only as one literal);
/// - a regproc column (`typreceive`, ...) compared with the oid 0 is
///   compared with `'-'`, as PostgreSQL shows the regproc 0, since the
///   frame holds names;
/// - `to_regtype('name')` is the type's oid, or null;
/// - `oid::regtype` is pg_type's `regtype` column, the name it shows;
///   `reloftype::regtype` is null: no table is of a composite type;
/// - an oid column compared with quoted digits (`c.oid = '16385'`, as psql
///   writes it) is compared with the number, as PostgreSQL types the text;
/// - `format_type(type, typmod)` is the type's SQL name, read from
///   `pg_type` (no type here has a modifier);
/// - `pg_table_is_visible(oid)`, `pg_type_is_visible(oid)` and
///   `pg_collation_is_visible(oid)` are true: every table is in `public`,
///   every type and collation in `pg_catalog`, both on the search path;
/// - `pg_get_userbyid(oid)` is the owner's name;
/// - `pg_get_expr(expr, relation)` and `pg_get_constraintdef(oid)` are
///   null: no column has a default, no table a constraint; nothing has a
///   comment (`obj_description`, `col_description`, `shobj_description`);
/// - a table's storage options with its TOAST table's
///   (`array_to_string(c.reloptions || array(select 'toast.' || x from
///   unnest(tc.reloptions) x), ', ')`, psql's `\d+`) are '': no table has
///   options, nor a TOAST table;
/// - `'array_in'::regproc` is the function's name, as the frames hold
///   regproc columns (after `pg_catalog.` is dropped from it);
/// - `(current_schemas(b))[1]`, the search path's first schema, is
///   `pg_catalog` with the implicit schemas (`b` true), else `public`;
/// - `quote_ident(name)` is the name as PostgreSQL writes it in SQL
///   (quoted when it must be), for a text or a column (Grafana's table
///   and column lists);
/// - `information_schema._pg_expandarray(i.indkey)` (a key's columns with
///   their places, `.x` and `.n`) is a null key column: `pg_index` has no
///   rows, so no key has columns (the JDBC driver's `getPrimaryKeys`).
fn rewrite(sql: &str) -> String {
    static SCHEMA: OnceLock<Regex> = OnceLock::new();
    static REGPROC_ZERO: OnceLock<Regex> = OnceLock::new();
    static TO_REGTYPE: OnceLock<Regex> = OnceLock::new();
    static OID_REGTYPE: OnceLock<Regex> = OnceLock::new();
    static VISIBLE: OnceLock<Regex> = OnceLock::new();
    static USER_BY_ID: OnceLock<Regex> = OnceLock::new();
    static GET_EXPR: OnceLock<Regex> = OnceLock::new();
    static FIRST_SCHEMA: OnceLock<Regex> = OnceLock::new();
    static EXPAND_ARRAY: OnceLock<Regex> = OnceLock::new();
    static OPERATOR: OnceLock<Regex> = OnceLock::new();
    static OF_TYPE: OnceLock<Regex> = OnceLock::new();
    static OID_TEXT: OnceLock<Regex> = OnceLock::new();
    static FORMAT_TYPE: OnceLock<Regex> = OnceLock::new();
    static COLLATE: OnceLock<Regex> = OnceLock::new();
    static CONCAT: OnceLock<Regex> = OnceLock::new();
    static FIELD: OnceLock<Regex> = OnceLock::new();
    static ENCODING: OnceLock<Regex> = OnceLock::new();
    static ACL: OnceLock<Regex> = OnceLock::new();
    static QUOTE_IDENT: OnceLock<Regex> = OnceLock::new();
    static COMMENT: OnceLock<Regex> = OnceLock::new();
    static REGPROC: OnceLock<Regex> = OnceLock::new();
    static TOAST_OPTIONS: OnceLock<Regex> = OnceLock::new();
    let regex = |cell: &'static OnceLock<Regex>, pattern: &str| cell.get_or_init(|| Regex::new(pattern).expect("a valid regex"));
    let schema = regex(&SCHEMA, r#"(?i)\b"?pg_catalog"?\s*\.\s*"#);
    let zero = regex(&REGPROC_ZERO, r"(?i)\b(typreceive|typsend|typinput|typoutput)\s*(=|!=|<>)\s*0\b");
    let to_regtype_call = regex(&TO_REGTYPE, r"(?i)\bto_regtype\s*\(\s*'([^']*)'\s*\)");
    let oid_regtype = regex(&OID_REGTYPE, r"(?i)\b((?:\w+\.)?)oid\s*::\s*regtype\b");
    let format_type = regex(&FORMAT_TYPE, r"(?i)\bformat_type\s*\(\s*([\w.]+)\s*,\s*[\w.]+\s*\)");
    let oid_text = regex(&OID_TEXT, r"(?i)\b((?:\w+\.)?\w*(?:oid|relid))\s*(=|<>|!=)\s*'(\d+)'");
    let of_type = regex(&OF_TYPE, r"(?i)\b(?:\w+\.)?reloftype\s*::\s*regtype\b");
    let visible = regex(&VISIBLE, r"(?i)\bpg_(?:table|type|collation)_is_visible\s*\(\s*[\w.]+\s*\)");
    let user_by_id = regex(&USER_BY_ID, r"(?i)\bpg_get_userbyid\s*\(\s*[\w.]+\s*\)");
    let get_expr = regex(
        &GET_EXPR,
        r"(?i)\bpg_get_expr\s*\(\s*[\w.]+\s*,\s*[\w.]+\s*(?:,\s*(?:true|false)\s*)?\)|\bpg_get_constraintdef\s*\(\s*[\w.]+\s*(?:,\s*(?:true|false)\s*)?\)",
    );
    let expand_array = regex(
        &EXPAND_ARRAY,
        r"(?i)\(\s*information_schema\s*\.\s*_pg_expandarray\s*\(\s*[\w.]+\s*\)\s*\)\s*\.\s*[xn]\b|information_schema\s*\.\s*_pg_expandarray\s*\(\s*[\w.]+\s*\)",
    );
    let field = regex(&FIELD, r"(?i)\(\s*(\w+\s*\.\s*keys)\s*\)\s*\.\s*x\b");
    let first_schema = regex(&FIRST_SCHEMA, r"(?i)\(\s*current_schemas\s*\(\s*(true|false)\s*\)\s*\)\s*\[\s*1\s*\]");

    let operator = regex(&OPERATOR, r#"(?i)\bOPERATOR\s*\(\s*(?:"?pg_catalog"?\s*\.\s*)?([~!<>=*]+)\s*\)"#);
    let collate = regex(&COLLATE, r#"(?i)\s+COLLATE\s+(?:"?pg_catalog"?\s*\.\s*)?"?default"?"#);
    let concat = regex(&CONCAT, r"(?i)'((?:[^']|'')*)'(?:\s*::\s*(?:varchar|text))?\s*\|\|\s*'((?:[^']|'')*)'");
    let encoding = regex(&ENCODING, r"(?i)\bpg_encoding_to_char\s*\(\s*[\w.]+\s*\)");
    let comment = regex(&COMMENT, r"(?i)\b(?:obj|col|shobj)_description\s*\(\s*[\w.]+\s*(?:,\s*(?:'[^']*'|[\w.]+)\s*)?\)");
    let toast_options = regex(
        &TOAST_OPTIONS,
        r"(?i)\barray_to_string\s*\(\s*\w+\.reloptions\s*\|\|\s*array\s*\(\s*select\s+'toast\.'\s*\|\|\s*x\s+from\s+unnest\s*\(\s*\w+\.reloptions\s*\)\s*x\s*\)\s*,\s*'[^']*'\s*\)",
    );
    let regproc = regex(&REGPROC, r"(?i)'(\w+)'\s*::\s*regproc\b");
    let quote = regex(&QUOTE_IDENT, r"(?i)\bquote_ident\s*\(\s*(?:'((?:[^']|'')*)'|([\w.]+))\s*\)");
    let acl = regex(&ACL, r"(?i)\barray_to_string\s*\(\s*[\w.]*acl\s*,\s*E?'[^']*'\s*\)");
    let sql = operator.replace_all(sql, "$1");
    let sql = encoding.replace_all(&sql, "'UTF8'");
    let sql = acl.replace_all(&sql, "CAST(NULL AS VARCHAR)");
    let sql = concat.replace_all(&sql, "'$1$2'");
    let sql = quote.replace_all(&sql, |caps: &regex::Captures| match (caps.get(1), caps.get(2)) {
        (Some(text), _) => format!("'{}'", quote_ident(&text.as_str().replace("''", "'")).replace('\'', "''")),
        (_, Some(column)) => quote_ident_sql(column.as_str()),
        _ => caps[0].to_string(),
    });
    let sql = collate.replace_all(&sql, "");
    let sql = schema.replace_all(&sql, "");
    let sql = zero.replace_all(&sql, "$1 $2 '-'");
    let sql = to_regtype_call.replace_all(&sql, |caps: &regex::Captures| to_regtype(&caps[1]).map_or("NULL".to_string(), |oid| oid.to_string()));
    let sql = oid_regtype.replace_all(&sql, "${1}regtype");
    let sql = of_type.replace_all(&sql, "CAST(NULL AS VARCHAR)");
    let sql = oid_text.replace_all(&sql, "$1 $2 $3");
    let sql = format_type.replace_all(&sql, "(SELECT __format.regtype FROM pg_type __format WHERE __format.oid = $1)");
    let sql = visible.replace_all(&sql, "true");
    let sql = get_expr.replace_all(&sql, "CAST(NULL AS VARCHAR)");
    let sql = comment.replace_all(&sql, "CAST(NULL AS VARCHAR)");
    let sql = toast_options.replace_all(&sql, "''");
    let sql = regproc.replace_all(&sql, "'$1'");
    let sql = expand_array.replace_all(&sql, "CAST(NULL AS SMALLINT)");
    let sql = field.replace_all(&sql, "$1");
    let sql = first_schema.replace_all(&sql, |caps: &regex::Captures| {
        if caps[1].eq_ignore_ascii_case("true") { "'pg_catalog'" } else { "'public'" }.to_string()
    });
    user_by_id.replace_all(&sql, format!("'{OWNER}'").as_str()).into_owned()
}

/// `'name'::regclass` (with `::oid` after it or not, or written
/// `CAST('name' AS REGCLASS)`) as the named table's
/// oid in `pg_class` (a catalog relation's is PostgreSQL's); an unknown
/// table is PostgreSQL's error for it. ADBC reads a table's columns so
/// before it appends to it.
fn regclass(sql: &str, tables: &[(i64, TableDef)]) -> Result<String, CoreError> {
    static REGCLASS: OnceLock<Regex> = OnceLock::new();
    let pattern = REGCLASS.get_or_init(|| {
        Regex::new(r"(?i)'((?:[^']|'')*)'\s*::\s*regclass(?:\s*::\s*oid)?\b|\bCAST\s*\(\s*'((?:[^']|'')*)'\s+AS\s+regclass\s*\)")
            .expect("a valid regex")
    });
    let mut missing = None;
    let rewritten = pattern.replace_all(sql, |caps: &regex::Captures| {
        let written = caps.get(1).or(caps.get(2)).map_or("", |m| m.as_str()).replace("''", "'");
        let parts: Vec<&str> = written.split('.').map(|p| p.trim().trim_matches('"')).collect();
        let name = match parts.as_slice() {
            [name] | ["public" | "pg_catalog", name] => *name,
            _ => written.as_str(),
        };
        let catalog = CATALOG_OIDS.iter().find(|(relation, _)| *relation == name).map(|(_, oid)| *oid);
        match tables.iter().find(|(_, t)| t.name == name).map(|(oid, _)| *oid).or(catalog) {
            Some(oid) => oid.to_string(),
            None => {
                missing.get_or_insert_with(|| written.clone());
                "NULL".to_string()
            },
        }
    });
    match missing {
        Some(name) => Err(CoreError::NotFound(format!("relation \"{name}\" does not exist"))),
        None => Ok(rewritten.into_owned()),
    }
}

/// The caller's tables, in name order, with the oid each has in `pg_class`:
/// one from its name, so a table keeps its oid while others come and go.
fn user_tables(core: &Core, ns: &Namespace) -> Result<Vec<(i64, TableDef)>, CoreError> {
    let mut names = core.tables().names(ns)?;
    names.sort();
    let mut tables = Vec::new();
    for name in names {
        if let Some(table) = core.tables().get(ns, &name)? {
            tables.push((oid_of(&name), table.def()));
        }
    }
    Ok(tables)
}

/// A user relation's oid: past PostgreSQL's first one for users, within
/// the positive 32-bit range drivers read oids in.
fn oid_of(name: &str) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    FIRST_USER_OID + (hasher.finish() % 2_000_000_000) as i64
}

fn relation(name: &str, tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    match name {
        "pg_type" => pg_types(),
        "pg_namespace" => Ok(df!(
            "oid" => [PG_CATALOG, PUBLIC],
            "nspname" => ["pg_catalog", "public"],
        )?),
        "pg_class" => Ok(df!(
            "oid" => tables.iter().map(|(oid, _)| *oid).collect::<Vec<_>>(),
            "relname" => tables.iter().map(|(_, t)| t.name.clone()).collect::<Vec<_>>(),
            "relnamespace" => vec![PUBLIC; tables.len()],
            "relkind" => vec!["r"; tables.len()],
            "relpersistence" => vec!["p"; tables.len()],
            "relowner" => vec![OWNER_OID; tables.len()],
            "relam" => vec![HEAP; tables.len()],
            // Plain tables: no checks, indexes, rules, triggers, row
            // security, partitions, TOAST table or composite type; the
            // default tablespace and replica identity (psql's `\d`).
            "relchecks" => vec![0i16; tables.len()],
            "relhasindex" => vec![false; tables.len()],
            "relhasrules" => vec![false; tables.len()],
            "relhastriggers" => vec![false; tables.len()],
            "relrowsecurity" => vec![false; tables.len()],
            "relforcerowsecurity" => vec![false; tables.len()],
            "relispartition" => vec![false; tables.len()],
            "reltablespace" => vec![0i64; tables.len()],
            "reloftype" => vec![0i64; tables.len()],
            "reltoastrelid" => vec![0i64; tables.len()],
            "relreplident" => vec!["d"; tables.len()],
            // No storage options: PostgreSQL's null text[].
            "reloptions" => vec![None::<String>; tables.len()],
            // No grants: the owner holds every privilege (a null acl).
            "relacl" => vec![None::<String>; tables.len()],
        )?),
        "pg_am" => Ok(df!("oid" => [HEAP], "amname" => ["heap"], "amtype" => ["t"])?),
        // No table or column carries a comment or a default.
        "pg_description" => Ok(df!(
            "objoid" => Vec::<i64>::new(),
            "classoid" => Vec::<i64>::new(),
            "objsubid" => Vec::<i32>::new(),
            "description" => Vec::<String>::new(),
        )?),
        // Tables have neither indexes nor keys.
        "pg_index" => Ok(df!(
            "indexrelid" => Vec::<i64>::new(),
            "indrelid" => Vec::<i64>::new(),
            "indnatts" => Vec::<i16>::new(),
            "indkey" => Vec::<i16>::new(),
            "indisunique" => Vec::<bool>::new(),
            "indisprimary" => Vec::<bool>::new(),
            "indisclustered" => Vec::<bool>::new(),
        )?),
        // Columns have the default collation: no row of pg_collation is
        // ever read.
        "pg_collation" => Ok(df!(
            "oid" => Vec::<i64>::new(),
            "collname" => Vec::<String>::new(),
            "collnamespace" => Vec::<i64>::new(),
        )?),
        // The one database, as a client's connection names it or not.
        "pg_database" => Ok(df!(
            "oid" => [DATABASE_OID],
            "datname" => [DATABASE],
            "datdba" => [OWNER_OID],
            "encoding" => [UTF8_ENCODING],
            "datlocprovider" => ["c"],
            "datcollate" => ["C.UTF-8"],
            "datctype" => ["C.UTF-8"],
            "daticulocale" => [None::<&str>],
            "datistemplate" => [false],
            "datallowconn" => [true],
            "datconnlimit" => [-1i32],
            "datacl" => [None::<&str>],
        )?),
        // The one role, the owner of every table: psql's `\du`, and the
        // JDBC driver's table and column privileges.
        "pg_roles" | "pg_user" => Ok(df!(
            "oid" => [OWNER_OID],
            "rolname" => [OWNER],
            "usename" => [OWNER],
            "usesysid" => [OWNER_OID],
            "rolsuper" => [true],
            "usesuper" => [true],
            "rolinherit" => [true],
            "rolcreaterole" => [true],
            "rolcreatedb" => [true],
            "usecreatedb" => [true],
            "rolcanlogin" => [true],
            "rolreplication" => [false],
            "userepl" => [false],
            "rolbypassrls" => [false],
            "usebypassrls" => [false],
            "rolconnlimit" => [-1i32],
            "rolpassword" => ["********"],
            "passwd" => ["********"],
            "rolvaliduntil" => [None::<&str>],
            "valuntil" => [None::<&str>],
            "rolconfig" => [None::<&str>],
            "useconfig" => [None::<&str>],
        )?),
        "pg_settings" => Ok(df!(
            "name" => crate::session::SETTINGS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            "setting" => crate::session::SETTINGS.iter().map(|(_, value)| *value).collect::<Vec<_>>(),
        )?),
        // PostgreSQL's two; every table is in the default (`reltablespace` 0).
        "pg_tablespace" => Ok(df!(
            "oid" => [1663i64, 1664],
            "spcname" => ["pg_default", "pg_global"],
            "spcowner" => [OWNER_OID; 2],
        )?),
        "pg_constraint" => Ok(df!(
            "oid" => Vec::<i64>::new(),
            "conname" => Vec::<String>::new(),
            "connamespace" => Vec::<i64>::new(),
            "contype" => Vec::<String>::new(),
            "conrelid" => Vec::<i64>::new(),
            "confrelid" => Vec::<i64>::new(),
            "conindid" => Vec::<i64>::new(),
        )?),
        "pg_attrdef" => Ok(df!(
            "oid" => Vec::<i64>::new(),
            "adrelid" => Vec::<i64>::new(),
            "adnum" => Vec::<i16>::new(),
            "adbin" => Vec::<String>::new(),
        )?),
        "information_schema_tables" => Ok(df!(
            "table_catalog" => vec![DATABASE; tables.len()],
            "table_schema" => vec!["public"; tables.len()],
            "table_name" => tables.iter().map(|(_, t)| t.name.clone()).collect::<Vec<_>>(),
            "table_type" => vec!["BASE TABLE"; tables.len()],
        )?),
        "information_schema_schemata" => Ok(df!(
            "catalog_name" => [DATABASE; 3],
            "schema_name" => ["public", "pg_catalog", "information_schema"],
            "schema_owner" => [OWNER; 3],
        )?),
        "information_schema_columns" => information_schema_columns(tables),
        _ => pg_attributes(tables),
    }
}

/// `pg_cursors`: the connection's open cursors. None scrolls.
fn pg_cursors(cursors: &[CursorRow]) -> Result<DataFrame, CoreError> {
    let created = cursors.iter().map(|c| c.4.timestamp_micros()).collect::<Vec<_>>();
    let created = Column::new("creation_time".into(), created)
        .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))?;
    let mut frame = df!(
        "name" => cursors.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        "statement" => cursors.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        "is_holdable" => cursors.iter().map(|c| c.2).collect::<Vec<_>>(),
        "is_binary" => cursors.iter().map(|c| c.3).collect::<Vec<_>>(),
        "is_scrollable" => vec![false; cursors.len()],
    )?;
    frame.with_column(created)?;
    Ok(frame)
}

/// `information_schema.columns`: each table's columns, with the type's SQL
/// name (`data_type`, `double precision`) and its catalog name (`udt_name`).
fn information_schema_columns(tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    let (mut table, mut column, mut position, mut data_type, mut udt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (_, def) in tables {
        for (i, (name, dtype)) in def.schema()?.iter().enumerate() {
            let ty = pg_type(name, dtype).unwrap_or(Type::TEXT);
            let sql = TYPES.iter().find(|t| t.ty == ty).map_or("text", |t| t.sql);
            table.push(def.name.clone());
            column.push(name.to_string());
            position.push(i as i32 + 1);
            data_type.push(sql.to_string());
            udt.push(ty.name().to_string());
        }
    }
    let count = table.len();
    Ok(df!(
        "table_catalog" => vec![DATABASE; count],
        "table_schema" => vec!["public"; count],
        "table_name" => table,
        "column_name" => column,
        "ordinal_position" => position,
        "column_default" => vec![None::<&str>; count],
        "is_nullable" => vec!["YES"; count],
        "data_type" => data_type,
        "udt_name" => udt,
    )?)
}

/// One row per column of each table, numbered from 1 as PostgreSQL numbers them.
fn pg_attributes(tables: &[(i64, TableDef)]) -> Result<DataFrame, CoreError> {
    let (mut relid, mut names, mut types, mut numbers, mut lengths) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut storage = Vec::new();
    for (oid, table) in tables {
        for (i, (name, dtype)) in table.schema()?.iter().enumerate() {
            let ty = pg_type(name, dtype).unwrap_or(Type::TEXT);
            relid.push(*oid);
            names.push(name.to_string());
            types.push(ty.oid() as i64);
            numbers.push(i as i16 + 1);
            lengths.push(type_len(&ty));
            // PostgreSQL's storage of the type: a value of variable length
            // may be compressed and moved out of line ("extended").
            storage.push(if type_len(&ty) < 0 { "x" } else { "p" });
        }
    }
    let count = relid.len();
    Ok(df!(
        "attrelid" => relid,
        "attname" => names,
        "atttypid" => types,
        "attnum" => numbers,
        "attlen" => lengths,
        "atttypmod" => vec![-1i32; count],
        "attnotnull" => vec![false; count],
        "atthasdef" => vec![false; count],
        "attisdropped" => vec![false; count],
        // Neither an identity nor a generated column: PostgreSQL's ''.
        "attidentity" => vec![""; count],
        "attgenerated" => vec![""; count],
        "attcollation" => vec![0i64; count],
        "attacl" => vec![None::<String>; count],
        "attstorage" => storage,
        // The default compression, and the default statistics target.
        "attcompression" => vec![""; count],
        "attstattarget" => vec![-1i16; count],
    )?)
}

/// PostgreSQL's `typlen`: a fixed width in bytes, or -1 for a varlena.
fn type_len(ty: &Type) -> i16 {
    match *ty {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 | Type::DATE | Type::OID => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME => 8,
        Type::INTERVAL | Type::UUID => 16,
        Type::NAME => 64,
        _ => -1,
    }
}

/// A type the door sends or binds, as PostgreSQL's catalog has it.
struct PgType {
    ty: Type,
    array: Type,
    /// Its I/O functions' stem, and whether PostgreSQL names them with an
    /// underscore (`date_recv` but `int4recv`).
    io: (&'static str, bool),
    /// What `oid::regtype` shows it as (PostgreSQL's format_type).
    sql: &'static str,
}

const TYPES: [PgType; 22] = [
    PgType { ty: Type::BOOL, array: Type::BOOL_ARRAY, io: ("bool", false), sql: "boolean" },
    PgType { ty: Type::BYTEA, array: Type::BYTEA_ARRAY, io: ("bytea", false), sql: "bytea" },
    PgType { ty: Type::CHAR, array: Type::CHAR_ARRAY, io: ("char", false), sql: "\"char\"" },
    PgType { ty: Type::NAME, array: Type::NAME_ARRAY, io: ("name", false), sql: "name" },
    PgType { ty: Type::INT8, array: Type::INT8_ARRAY, io: ("int8", false), sql: "bigint" },
    PgType { ty: Type::INT2, array: Type::INT2_ARRAY, io: ("int2", false), sql: "smallint" },
    PgType { ty: Type::INT4, array: Type::INT4_ARRAY, io: ("int4", false), sql: "integer" },
    PgType { ty: Type::TEXT, array: Type::TEXT_ARRAY, io: ("text", false), sql: "text" },
    PgType { ty: Type::OID, array: Type::OID_ARRAY, io: ("oid", false), sql: "oid" },
    PgType { ty: Type::JSON, array: Type::JSON_ARRAY, io: ("json", true), sql: "json" },
    PgType { ty: Type::FLOAT4, array: Type::FLOAT4_ARRAY, io: ("float4", false), sql: "real" },
    PgType { ty: Type::FLOAT8, array: Type::FLOAT8_ARRAY, io: ("float8", false), sql: "double precision" },
    PgType { ty: Type::BPCHAR, array: Type::BPCHAR_ARRAY, io: ("bpchar", false), sql: "character" },
    PgType { ty: Type::VARCHAR, array: Type::VARCHAR_ARRAY, io: ("varchar", false), sql: "character varying" },
    PgType { ty: Type::DATE, array: Type::DATE_ARRAY, io: ("date", true), sql: "date" },
    PgType { ty: Type::TIME, array: Type::TIME_ARRAY, io: ("time", true), sql: "time without time zone" },
    PgType { ty: Type::TIMESTAMP, array: Type::TIMESTAMP_ARRAY, io: ("timestamp", true), sql: "timestamp without time zone" },
    PgType { ty: Type::TIMESTAMPTZ, array: Type::TIMESTAMPTZ_ARRAY, io: ("timestamptz", true), sql: "timestamp with time zone" },
    PgType { ty: Type::INTERVAL, array: Type::INTERVAL_ARRAY, io: ("interval", true), sql: "interval" },
    PgType { ty: Type::NUMERIC, array: Type::NUMERIC_ARRAY, io: ("numeric", true), sql: "numeric" },
    PgType { ty: Type::UUID, array: Type::UUID_ARRAY, io: ("uuid", true), sql: "uuid" },
    PgType { ty: Type::JSONB, array: Type::JSONB_ARRAY, io: ("jsonb", true), sql: "jsonb" },
];

/// One row of `pg_type`.
struct TypeRow {
    oid: i64,
    name: String,
    regtype: String,
    io: [String; 4],
    elem: i64,
    array: i64,
    len: i16,
}

/// The rows of `pg_type`: each type, then its array.
/// The array type of a type the door sends (`float8[]` of `float8`).
pub(crate) fn array_type(member: &Type) -> Option<Type> {
    TYPES.iter().find(|t| t.ty == *member).map(|t| t.array.clone())
}

fn type_rows() -> Vec<TypeRow> {
    let mut rows = Vec::new();
    for t in &TYPES {
        let (stem, underscore) = t.io;
        let io = |what: &str| if underscore { format!("{stem}_{what}") } else { format!("{stem}{what}") };
        rows.push(TypeRow {
            oid: t.ty.oid() as i64,
            name: t.ty.name().to_string(),
            regtype: t.sql.to_string(),
            io: [io("in"), io("out"), io("recv"), io("send")],
            elem: 0,
            array: t.array.oid() as i64,
            len: type_len(&t.ty),
        });
        rows.push(TypeRow {
            oid: t.array.oid() as i64,
            name: t.array.name().to_string(),
            regtype: format!("{}[]", t.sql),
            io: ["array_in", "array_out", "array_recv", "array_send"].map(String::from),
            elem: t.ty.oid() as i64,
            array: 0,
            len: -1,
        });
    }
    rows
}

/// `to_regtype(name)`: the oid of the type of that name (its catalog name
/// or its SQL name, `int4` or `integer`), or null.
fn to_regtype(name: &str) -> Option<i64> {
    let name = name.trim().trim_matches('"');
    type_rows().into_iter().find(|t| t.name.eq_ignore_ascii_case(name) || t.regtype.eq_ignore_ascii_case(name)).map(|t| t.oid)
}

/// `pg_type`, with `regtype`: what PostgreSQL shows for `oid::regtype`
/// (the query's `oid::regtype` reads it).
fn pg_types() -> Result<DataFrame, CoreError> {
    let rows = type_rows();
    let count = rows.len();
    let text = |f: &dyn Fn(&TypeRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    Ok(df!(
        "oid" => rows.iter().map(|r| r.oid).collect::<Vec<_>>(),
        "typname" => text(&|r| r.name.clone()),
        "typnamespace" => vec![PG_CATALOG; count],
        "typtype" => vec!["b"; count],
        "typdelim" => vec![","; count],
        "typinput" => text(&|r| r.io[0].clone()),
        "typoutput" => text(&|r| r.io[1].clone()),
        "typreceive" => text(&|r| r.io[2].clone()),
        "typsend" => text(&|r| r.io[3].clone()),
        "typelem" => rows.iter().map(|r| r.elem).collect::<Vec<_>>(),
        "typarray" => rows.iter().map(|r| r.array).collect::<Vec<_>>(),
        "typlen" => rows.iter().map(|r| r.len).collect::<Vec<_>>(),
        "typnotnull" => vec![false; count],
        "typcollation" => vec![0i64; count],
        "typdefault" => vec![None::<String>; count],
        "typtypmod" => vec![-1i32; count],
        "typbasetype" => vec![0i64; count],
        "typrelid" => vec![0i64; count],
        "regtype" => text(&|r| r.regtype.clone()),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_named_with_or_without_its_schema_and_never_inside_text() {
        assert_eq!(names("SELECT * FROM pg_catalog.pg_type t JOIN pg_namespace n ON true"), vec!["pg_type", "pg_namespace"]);
        assert_eq!(names("SELECT 'pg_type' FROM \"pg_class\""), Vec::<&str>::new());
        assert_eq!(names("SELECT * FROM trades"), Vec::<&str>::new());
        let sql = information_schema("SELECT column_name FROM INFORMATION_SCHEMA.Columns c JOIN information_schema . \"tables\" t ON true");
        assert_eq!(sql, "SELECT column_name FROM information_schema_columns c JOIN information_schema_tables t ON true");
        assert_eq!(names(&sql), vec!["information_schema_tables", "information_schema_columns"]);
    }

    #[test]
    fn sizes_are_pretty_as_postgresql_prints_them() {
        // PostgreSQL 15's pg_size_pretty of the same numbers.
        let cases = [(0, "0 bytes"), (8192, "8192 bytes"), (10239, "10239 bytes"), (10240, "10 kB"), (10752, "11 kB"),
                     (20971519, "20 MB"), (123456789, "118 MB"), (5368709120, "5120 MB"), (1099511627776, "1024 GB"),
                     (9007199254740991, "8192 TB")];
        for (bytes, want) in cases {
            assert_eq!(size_pretty(bytes), want, "{bytes}");
        }
        assert_eq!(sized("SELECT 1"), None);
        // (After `rewrite` drops `pg_catalog.`.)
        assert_eq!(
            sized("SELECT pg_size_pretty(pg_table_size(c.oid)), pg_indexes_size(c.oid) FROM pg_class c").as_deref(),
            Some("SELECT (SELECT __pg_size.pretty FROM __pg_sizes __pg_size WHERE __pg_size.oid = c.oid), CAST(0 AS BIGINT) FROM pg_class c")
        );
    }

    #[test]
    fn quote_ident_quotes_as_postgresql_does() {
        // PostgreSQL 15's answers for the same names.
        let names = ["time", "timestamp", "Foo", "a b", "symbol", "user", "value", "price", "_x1$", "1x", "say\"hi"];
        let quoted = ["\"time\"", "\"timestamp\"", "\"Foo\"", "\"a b\"", "symbol", "\"user\"", "value", "price", "\"_x1$\"", "\"1x\"", "\"say\"\"hi\""];
        assert_eq!(names.map(quote_ident), quoted);
        assert_eq!(rewrite("SELECT quote_ident('it''s') || '.'"), "SELECT '\"it''s\"' || '.'");
        assert!(rewrite("SELECT quote_ident(t.table_name) FROM t").starts_with("SELECT (CASE WHEN regexp_like(t.table_name, "));
    }

    #[test]
    fn the_schema_is_dropped_and_regproc_zero_is_its_dash() {
        assert_eq!(
            rewrite("SELECT oid FROM pg_catalog.pg_type WHERE (typreceive != 0 OR typsend <> 0) AND typtype != 'r'"),
            "SELECT oid FROM pg_type WHERE (typreceive != '-' OR typsend <> '-') AND typtype != 'r'"
        );
        assert_eq!(
            rewrite("SELECT typname AS name, oid::regtype::text AS regtype FROM pg_type t WHERE t.oid = to_regtype('hstore') OR t.oid = to_regtype( 'integer' )"),
            "SELECT typname AS name, regtype::text AS regtype FROM pg_type t WHERE t.oid = NULL OR t.oid = 23"
        );
        // Another number, or another column, is left as written.
        assert_eq!(rewrite("SELECT * FROM pg_type WHERE typreceive = 10 AND oid = 0"), "SELECT * FROM pg_type WHERE typreceive = 10 AND oid = 0");
    }

    #[test]
    fn the_jdbc_driver_s_metadata_queries_read_as_postgresql_reads_them() {
        // Unquoted names fold to lower case; text and quoted names do not.
        assert_eq!(
            fold_identifiers(r#"SELECT NULL AS TABLE_CAT, c.RelName FROM pg_class c WHERE c.relname LIKE 'Rt' AND "Q" = 1 ORDER BY TABLE_CAT"#),
            r#"select null as table_cat, c.relname from pg_class c where c.relname like 'Rt' and "Q" = 1 order by table_cat"#
        );
        assert_eq!(
            rewrite("SELECT pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc, (pg_catalog.current_schemas(true))[1], ( current_schemas(false) )[ 1 ]"),
            "SELECT CAST(NULL AS VARCHAR) AS adsrc, 'pg_catalog', 'public'"
        );
        assert_eq!(
            rewrite("SELECT (information_schema._pg_expandarray(i.indkey)).n AS key_seq, information_schema._pg_expandarray(i.indkey) AS keys FROM t result WHERE a = (result.keys).x"),
            "SELECT CAST(NULL AS SMALLINT) AS key_seq, CAST(NULL AS SMALLINT) AS keys FROM t result WHERE a = result.keys"
        );
        assert_eq!(
            rewrite("SELECT n WHERE n NOT LIKE 'pg/_'::VARCHAR || '%' ESCAPE '/'"),
            "SELECT n WHERE n NOT LIKE 'pg/_%' ESCAPE '/'"
        );
        assert_eq!(regclass("SELECT CAST('pg_catalog.pg_constraint' AS REGCLASS)", &[]).unwrap(), "SELECT 2606");
        // A catalog relation's regclass is PostgreSQL's oid for it.
        assert_eq!(regclass("SELECT 1 WHERE d.classoid = 'pg_class'::regclass", &[]).unwrap(), "SELECT 1 WHERE d.classoid = 1259");
        assert!(regclass("SELECT 'nope'::regclass", &[]).is_err());
    }

    #[test]
    fn every_type_has_postgresql_receive_function_and_its_array() {
        let types = pg_types().unwrap();
        let lookup = |name: &str| {
            let row = types.clone().lazy().filter(col("typname").eq(lit(name))).collect().unwrap();
            assert_eq!(row.height(), 1, "{name}");
            row
        };
        // Names as in PostgreSQL 15's pg_type.
        for (name, oid, receive) in [("int4", 23i64, "int4recv"), ("timestamptz", 1184, "timestamptz_recv"), ("numeric", 1700, "numeric_recv"), ("varchar", 1043, "varcharrecv")] {
            let row = lookup(name);
            assert_eq!(row.column("oid").unwrap().i64().unwrap().get(0), Some(oid));
            assert_eq!(row.column("typreceive").unwrap().str().unwrap().get(0), Some(receive));
        }
        let array = lookup("_int4");
        assert_eq!(array.column("oid").unwrap().i64().unwrap().get(0), Some(1007));
        assert_eq!(array.column("typelem").unwrap().i64().unwrap().get(0), Some(23));
        assert_eq!(lookup("int4").column("typarray").unwrap().i64().unwrap().get(0), Some(1007));
    }
}
