//! Arrow Flight SQL's commands on the Flight service, so that Flight SQL
//! clients (ADBC's Flight SQL driver, which `pl.read_database` takes; the
//! Flight SQL JDBC driver) run SQL here unchanged.
//!
//! A Flight SQL command is a command descriptor holding a protobuf `Any`.
//! It is answered as the service's other descriptors are: the result
//! becomes a handle, and its FlightInfo's ticket fetches it with DoGet. A
//! query (`CommandStatementQuery`) is SQL over the caller's tables and
//! handles, as `Sql`; the catalog commands describe the caller's tables
//! (no catalogs or schemas: names are bare, as in the SQL).
//!
//! Prepared statements are kept by the client: a statement's handle
//! carries its query, and binding parameters (`?`, `$1`; DoPut) answers a
//! new handle carrying the query and the values, which each execution
//! binds ([`polaroid_core::sql_parameters`]) and plans anew, so that it
//! reads the tables as they are then. The server keeps no statement
//! state, as the protocol's `DoPutPreparedStatementResult` allows.
//!
//! Bulk ingest (`CommandStatementIngest`, what ADBC's `adbc_ingest` and
//! polars' `write_database(engine="adbc")` send) loads the DoPut stream
//! into one of the caller's tables; a temporary one is an upload, named.
//! `INSERT INTO table ...` (and `CREATE TABLE`, `DROP TABLE`, `TRUNCATE`)
//! runs as an update (DoPut: `executemany`'s rows, bound) or as a query
//! (DB-API's `execute`, answering the count); other SQL reads.

use arrow_array::RecordBatch;
use std::sync::OnceLock;

use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any,
    Command, CommandGetTables, CommandStatementIngest, DoPutPreparedStatementResult, DoPutUpdateResult, ProstMessageExt,
    SqlInfo, SqlSupportedTransaction, TableExistsOption, TableNotExistOption,
};
use arrow_flight::{FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket};
use arrow_ipc::writer::IpcWriteOptions;
use bytes::Bytes;
use polaroid_core::sql_changes::is_change;
use polaroid_core::sql_parameters::Parameters;
use polaroid_core::tables::IfExists;
use polaroid_core::{CancelToken, Core, CoreError, Entry, HandleInfo, Namespace};
use polars::prelude::{Column, DataFrame};
use prost::Message;

/// DoPut with a Flight SQL command: binding a prepared query's
/// parameters, a bulk ingest, or an update (INSERT, CREATE TABLE, DROP
/// TABLE, TRUNCATE). Returns the PutResult's app_metadata.
pub(crate) fn put(core: &Core, ns: &Namespace, command: Command, chunks: Vec<Bytes>, cancel: &CancelToken) -> Result<Bytes, CoreError> {
    match command {
        Command::CommandPreparedStatementQuery(prepared) => bind(core, &prepared.prepared_statement_handle, chunks),
        Command::CommandStatementIngest(ingest_command) => ingest(core, ns, ingest_command, chunks),
        Command::CommandStatementUpdate(statement) => {
            if statement.transaction_id.is_some() {
                return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: run the update without one".into()));
            }
            update(core, ns, &statement.query, chunks, cancel)
        },
        Command::CommandPreparedStatementUpdate(prepared) => {
            let statement = Statement::decode_handle(&prepared.prepared_statement_handle)?;
            update(core, ns, &statement.query, chunks, cancel)
        },
        other => Err(unsupported(&other)),
    }
}

/// The type URLs of Flight SQL's messages start so.
const TYPE_PREFIX: &str = "type.googleapis.com/arrow.flight.protocol.sql.";

/// DoAction's types for prepared statements (what ADBC's DB-API cursor
/// uses for every `execute`).
pub(crate) const CREATE_PREPARED: &str = "CreatePreparedStatement";
pub(crate) const CLOSE_PREPARED: &str = "ClosePreparedStatement";

/// Whether a command descriptor's bytes are a Flight SQL command.
pub(crate) fn is_command(cmd: &[u8]) -> bool {
    Any::decode(cmd).is_ok_and(|any| any.type_url.starts_with(TYPE_PREFIX))
}

/// The Flight SQL command in a descriptor's bytes.
pub(crate) fn command(cmd: &[u8]) -> Result<Command, CoreError> {
    let any = Any::decode(cmd).map_err(|e| CoreError::InvalidArgument(format!("a Flight SQL command that does not decode: {e}")))?;
    Command::try_from(any).map_err(|e| CoreError::InvalidArgument(format!("a Flight SQL command that does not decode: {e}")))
}

/// The name of a command, without the protocol's package.
pub(crate) fn name(command: &Command) -> &str {
    command.type_url().trim_start_matches(TYPE_PREFIX)
}

/// The SQL a query command runs, and the values bound to it; `None` for
/// a command that is not a query (a catalog command, an update).
fn query_of(core: &Core, command: &Command) -> Result<Option<(String, Option<DataFrame>)>, CoreError> {
    match command {
        Command::CommandStatementQuery(query) => {
            if query.transaction_id.is_some() {
                return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: run the query without one".into()));
            }
            Ok(Some((query.query.clone(), None)))
        },
        // Planned anew at each execution, so that it reads the tables as
        // they are then (and the values bound to it, bound now).
        Command::CommandPreparedStatementQuery(prepared) => {
            let statement = Statement::decode_handle(&prepared.prepared_statement_handle)?;
            let values = statement.values(core)?;
            Ok(Some((statement.query, values)))
        },
        _ => Ok(None),
    }
}

/// Answer a query (or a prepared one) as a handle: its plan, run when
/// the FlightInfo's ticket is fetched.
pub(crate) fn answer(core: &Core, ns: &Namespace, command: Command, cancel: &CancelToken) -> Result<HandleInfo, CoreError> {
    let Some((query, values)) = query_of(core, &command)? else { return Err(unsupported(&command)) };
    if is_change(&query) {
        // DB-API's execute runs an INSERT (a DROP TABLE, ...) as a query:
        // its answer is the count of rows stored.
        let stored = core.change(ns, &query, values.as_ref(), cancel)?;
        let count = DataFrame::new(1, vec![Column::new("count".into(), [stored as i64])])?;
        return core.keep_frame(ns, Entry::frame(count, "change()"));
    }
    core.sql_with_parameters(ns, &query, values.as_ref())
}

/// The SQL a query command runs on the distributed engine (its
/// parameters bound), or `None` for a command that is not a query there
/// (a change runs on the server's own tables; a catalog command).
pub(crate) fn distributed_query(core: &Core, command: &Command) -> Result<Option<String>, CoreError> {
    let Some((query, values)) = query_of(core, command)? else { return Ok(None) };
    if is_change(&query) {
        return Ok(None);
    }
    polaroid_core::sql_parameters::bind_one(&query, values.as_ref()).map(Some)
}

/// Whether a descriptor's command changes tables (an INSERT, ...), which
/// runs when executed: GetSchema must not run it.
pub(crate) fn is_change_command(cmd: &[u8]) -> bool {
    match command(cmd) {
        Ok(Command::CommandStatementQuery(query)) => is_change(&query.query),
        Ok(Command::CommandPreparedStatementQuery(prepared)) => {
            Statement::decode_handle(&prepared.prepared_statement_handle).is_ok_and(|s| is_change(&s.query))
        },
        _ => false,
    }
}

/// DoPut of an update (`CommandStatementUpdate`, or a prepared one with
/// its parameters: DB-API's `executemany`): an INSERT (a CREATE TABLE,
/// DROP TABLE, TRUNCATE), run. Returns the `DoPutUpdateResult`.
fn update(core: &Core, ns: &Namespace, query: &str, chunks: Vec<Bytes>, cancel: &CancelToken) -> Result<Bytes, CoreError> {
    if !is_change(query) {
        let first = query.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        return Err(CoreError::InvalidArgument(format!(
            "{first} is not an update this SQL runs: INSERT, CREATE TABLE, DROP TABLE and TRUNCATE are; a query \
             runs with execute, not executemany"
        )));
    }
    let values = if chunks.iter().all(|c| c.is_empty()) { None } else { Some(core.decode_upload(chunks)?) };
    let stored = core.change(ns, query, values.as_ref(), cancel)?;
    Ok(DoPutUpdateResult { record_count: stored as i64 }.encode_to_vec().into())
}

/// A prepared statement as its handle carries it: the query and the
/// values bound to it (an Arrow IPC stream; empty before DoPut binds
/// them, and for a query without placeholders).
#[derive(Clone, PartialEq, prost::Message)]
struct Statement {
    #[prost(string, tag = "1")]
    query: String,
    #[prost(bytes = "bytes", tag = "2")]
    parameters: Bytes,
}

/// What starts the handle of a [`Statement`].
const STATEMENT_HANDLE: &[u8] = b"polaroid.sql.statement.v1:";

impl Statement {
    fn handle(&self) -> Bytes {
        let mut bytes = STATEMENT_HANDLE.to_vec();
        self.encode(&mut bytes).expect("a Vec grows");
        bytes.into()
    }

    /// The statement a handle carries.
    fn decode_handle(handle: &[u8]) -> Result<Self, CoreError> {
        let Some(message) = handle.strip_prefix(STATEMENT_HANDLE) else {
            return Err(CoreError::InvalidArgument("not a prepared statement of this server".into()));
        };
        Self::decode(message).map_err(|e| CoreError::InvalidArgument(format!("a prepared statement handle that does not decode: {e}")))
    }

    fn values(&self, core: &Core) -> Result<Option<DataFrame>, CoreError> {
        if self.parameters.is_empty() {
            return Ok(None);
        }
        core.decode_upload(vec![self.parameters.clone()]).map(Some)
    }
}

/// DoPut of a prepared query: `chunks` (an Arrow IPC stream) are its
/// parameters, one row per execution. The answer (a PutResult's
/// app_metadata) is the statement's new handle, carrying them.
pub(crate) fn bind(core: &Core, handle: &[u8], chunks: Vec<Bytes>) -> Result<Bytes, CoreError> {
    let statement = Statement::decode_handle(handle)?;
    let values = core.decode_upload(chunks.clone())?;
    if values.width() == 0 {
        return Ok(DoPutPreparedStatementResult { prepared_statement_handle: None }.encode_to_vec().into());
    }
    // Checked now, so that a wrong count fails where it was made.
    Parameters::of(&statement.query)?.bind(&values)?;
    let updated = Statement { query: statement.query, parameters: chunks.concat().into() }.handle();
    Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(updated) }.encode_to_vec().into())
}

/// DoPut of a bulk ingest: `chunks` (an Arrow IPC stream) into the table
/// the command names. The answer (a PutResult's app_metadata) is a
/// `DoPutUpdateResult` with the rows stored.
pub(crate) fn ingest(core: &Core, ns: &Namespace, command: CommandStatementIngest, chunks: Vec<Bytes>) -> Result<Bytes, CoreError> {
    if command.transaction_id.is_some() {
        return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: ingest without one".into()));
    }
    let scoped = |what: &str, value: &Option<String>| match value.as_deref() {
        None | Some("") => Ok(()),
        Some(given) => Err(CoreError::InvalidArgument(format!(
            "tables here have no {what}: load into {:?} without one (it was {given:?})",
            command.table
        ))),
    };
    scoped("catalog", &command.catalog)?;
    scoped("schema", &command.schema)?;
    let options = command.table_definition_options.unwrap_or_default();
    let create = match TableNotExistOption::try_from(options.if_not_exist) {
        Ok(TableNotExistOption::Create) => true,
        Ok(TableNotExistOption::Fail) => false,
        _ => return Err(CoreError::InvalidArgument("the ingest's if_not_exist option is unset: CREATE or FAIL".into())),
    };
    let if_exists = match TableExistsOption::try_from(options.if_exists) {
        Ok(TableExistsOption::Fail) => IfExists::Fail,
        Ok(TableExistsOption::Append) => IfExists::Append,
        Ok(TableExistsOption::Replace) => IfExists::Replace,
        _ => return Err(CoreError::InvalidArgument("the ingest's if_exists option is unset: FAIL, APPEND or REPLACE".into())),
    };
    let rows = core.decode_upload(chunks)?;
    let stored = if command.temporary {
        // A temporary table lives as long as a handle: an upload, named.
        let height = rows.height();
        let label = format!("upload({:?})", command.table);
        core.keep_frame(ns, Entry::frame(rows, label).named(&command.table))?;
        height as u64
    } else {
        core.tables().ingest(ns, &command.table, rows, create, if_exists)?
    };
    Ok(DoPutUpdateResult { record_count: stored as i64 }.encode_to_vec().into())
}

fn unsupported(command: &Command) -> CoreError {
    CoreError::Unimplemented(format!(
        "Flight SQL's {} is not supported here; this server answers queries (CommandStatementQuery, prepared \
         statements with or without parameters), INSERT, CREATE TABLE, DROP TABLE and TRUNCATE (as queries or updates), bulk ingest \
         (CommandStatementIngest), GetSqlInfo, GetTables, GetTableTypes, GetCatalogs and GetDbSchemas",
        name(command)
    ))
}

/// The answer to a catalog command (GetTables, ...), in the schema the
/// protocol fixes (clients check it); `None` for other commands.
fn catalog(core: &Core, ns: &Namespace, command: Command) -> Result<Option<RecordBatch>, CoreError> {
    let arrow = |e: arrow_flight::error::FlightError| CoreError::Internal(format!("a Flight SQL catalog answer: {e}"));
    let batch = match command {
        Command::CommandGetCatalogs(request) => request.into_builder().build(),
        Command::CommandGetDbSchemas(request) => {
            // One unnamed schema, which holds the tables (so that
            // ADBC's get_objects finds them); the builder filters it.
            let mut schemas = request.into_builder();
            schemas.append("", "");
            schemas.build()
        },
        Command::CommandGetTableTypes(request) => {
            let mut types = request.into_builder();
            types.append("TABLE");
            types.build()
        },
        Command::CommandGetTables(request) => tables(core, ns, request)?.build(),
        Command::CommandGetSqlInfo(request) => request.into_builder(server_info()?).build(),
        _ => return Ok(None),
    };
    batch.map(Some).map_err(arrow)
}

/// What GetSqlInfo tells of this server: its name and version, that it
/// writes (bulk ingest, INSERT), and that it has no transactions nor
/// cancellation by action.
fn server_info() -> Result<&'static SqlInfoData, CoreError> {
    static INFO: OnceLock<Result<SqlInfoData, String>> = OnceLock::new();
    let info = INFO.get_or_init(|| {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "polaroid");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerReadOnly, false);
        info.append(SqlInfo::FlightSqlServerBulkIngestion, true);
        info.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, false);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, SqlSupportedTransaction::None as i32);
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.build().map_err(|e| e.to_string())
    });
    info.as_ref().map_err(|e| CoreError::Internal(format!("the Flight SQL server info: {e}")))
}

/// The FlightInfo of a catalog command: its ticket is the command itself,
/// answered afresh by [`catalog_data`]. `None` for other commands.
pub(crate) fn catalog_info(core: &Core, ns: &Namespace, cmd: &[u8]) -> Result<Option<FlightInfo>, CoreError> {
    let Some(batch) = catalog(core, ns, command(cmd)?)? else { return Ok(None) };
    let IpcMessage(schema) = SchemaAsIpc::new(&batch.schema(), &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: arrow_schema::ArrowError| CoreError::Internal(e.to_string()))?;
    Ok(Some(FlightInfo {
        schema,
        flight_descriptor: Some(FlightDescriptor::new_cmd(cmd.to_vec())),
        endpoint: vec![FlightEndpoint { ticket: Some(Ticket { ticket: cmd.to_vec().into() }), ..Default::default() }],
        total_records: batch.num_rows() as i64,
        total_bytes: -1,
        ordered: false,
        app_metadata: Default::default(),
    }))
}

/// DoGet of a catalog command's ticket: its answer as FlightData.
pub(crate) fn catalog_data(core: &Core, ns: &Namespace, ticket: &[u8]) -> Result<Vec<FlightData>, CoreError> {
    let command = command(ticket)?;
    let Some(batch) = catalog(core, ns, command.clone())? else { return Err(unsupported(&command)) };
    arrow_flight::utils::batches_to_flight_data(&batch.schema(), vec![batch]).map_err(|e| CoreError::Internal(e.to_string()))
}

/// CreatePreparedStatement: the query as a [`Statement`]; the result (an
/// `Any`) carries its schema when it has no placeholders.
pub(crate) fn prepare(core: &Core, ns: &Namespace, body: &[u8], distributed: bool) -> Result<Vec<u8>, CoreError> {
    let request: ActionCreatePreparedStatementRequest = unpack(body, CREATE_PREPARED)?;
    if request.transaction_id.is_some() {
        return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: prepare the query without one".into()));
    }
    // Planned now only to refuse a bad query at once and to tell its
    // schema; with placeholders, its values (and so its schema) come
    // later; an INSERT runs only when executed; a distributed query is
    // DataFusion's to plan, when executed.
    let has_placeholders = !Parameters::of(&request.query)?.is_empty();
    let dataset_schema = if distributed || is_change(&request.query) || has_placeholders {
        Bytes::new()
    } else {
        let info = core.sql_over_namespace(ns, &request.query)?;
        let _ = core.drop_handle(ns, info.id);
        crate::flight::ipc_schema(&info.schema)
    };
    let result = ActionCreatePreparedStatementResult {
        prepared_statement_handle: Statement { query: request.query, parameters: Bytes::new() }.handle(),
        dataset_schema,
        parameter_schema: Default::default(),
    };
    Ok(result.as_any().encode_to_vec())
}

/// ClosePreparedStatement: nothing to free, the client holds the
/// statement; a handle not of this server is refused.
pub(crate) fn close(body: &[u8]) -> Result<(), CoreError> {
    let request: ActionClosePreparedStatementRequest = unpack(body, CLOSE_PREPARED)?;
    Statement::decode_handle(&request.prepared_statement_handle).map(drop)
}

fn unpack<M: ProstMessageExt + Default>(body: &[u8], action: &str) -> Result<M, CoreError> {
    let bad = |e: &dyn std::fmt::Display| CoreError::InvalidArgument(format!("the body of {action} does not decode: {e}"));
    let any = Any::decode(body).map_err(|e| bad(&e))?;
    any.unpack::<M>().map_err(|e| bad(&e))?.ok_or_else(|| bad(&format!("it holds a {}", any.type_url)))
}

/// GetTables: the caller's tables (no catalog, no schema: names are bare,
/// as in the SQL), filtered by the builder as the request asks.
fn tables(core: &Core, ns: &Namespace, request: CommandGetTables) -> Result<arrow_flight::sql::metadata::GetTablesBuilder, CoreError> {
    let mut builder = request.into_builder();
    for name in core.tables().names(ns)? {
        let Some(table) = core.tables().get(ns, &name)? else { continue };
        let polars_schema = table.def().schema()?;
        let schema = arrow_ipc::convert::try_schema_from_ipc_buffer(&crate::flight::ipc_schema(&polars_schema))
            .map_err(|e| CoreError::Internal(format!("table {name}'s schema in Arrow: {e}")))?;
        builder
            .append("", "", &name, "TABLE", &schema)
            .map_err(|e| CoreError::Internal(format!("table {name} in GetTables: {e}")))?;
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};

    use super::*;

    #[test]
    fn flight_sql_commands_are_told_from_sql_text_and_plans() {
        let query = CommandStatementQuery { query: "SELECT 1".into(), transaction_id: None }.as_any().encode_to_vec();
        assert!(is_command(&query));
        assert!(matches!(command(&query).unwrap(), Command::CommandStatementQuery(q) if q.query == "SELECT 1"));
        assert!(!is_command(b"SELECT 1 AS x"));
        assert!(!is_command(b"DSL_VERSION..."));
    }
}
