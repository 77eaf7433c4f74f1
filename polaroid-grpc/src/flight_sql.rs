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

use arrow_array::RecordBatch;
use std::sync::OnceLock;

use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any,
    Command, CommandGetTables, ProstMessageExt, SqlInfo, SqlSupportedTransaction,
};
use arrow_flight::{FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket};
use arrow_ipc::writer::IpcWriteOptions;
use polaroid_core::{Core, CoreError, HandleId, HandleInfo, Namespace};
use prost::Message;

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

/// Answer a query (or a prepared one) as a handle: its plan, run when
/// the FlightInfo's ticket is fetched.
pub(crate) fn answer(core: &Core, ns: &Namespace, command: Command) -> Result<HandleInfo, CoreError> {
    match command {
        Command::CommandStatementQuery(query) => {
            if query.transaction_id.is_some() {
                return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: run the query without one".into()));
            }
            core.sql_over_namespace(ns, &query.query)
        },
        // A prepared statement is a planned handle: each execution runs it again.
        Command::CommandPreparedStatementQuery(prepared) => core.info(ns, statement_handle(&prepared.prepared_statement_handle)?),
        other => Err(unsupported(&other)),
    }
}

fn unsupported(command: &Command) -> CoreError {
    CoreError::Unimplemented(format!(
        "Flight SQL's {} is not supported here; this server answers queries (CommandStatementQuery, prepared \
         statements without parameters), GetSqlInfo, GetTables, GetTableTypes, GetCatalogs and GetDbSchemas",
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

/// What GetSqlInfo tells of this server: its name and version, that its
/// SQL reads (tables change through the HTTP door), and that it has no
/// transactions nor cancellation by action.
fn server_info() -> Result<&'static SqlInfoData, CoreError> {
    static INFO: OnceLock<Result<SqlInfoData, String>> = OnceLock::new();
    let info = INFO.get_or_init(|| {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "polaroid");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
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

/// CreatePreparedStatement: the query planned as a handle, whose id is the
/// statement's handle; the result (an `Any`) carries its schema.
pub(crate) fn prepare(core: &Core, ns: &Namespace, body: &[u8]) -> Result<Vec<u8>, CoreError> {
    let request: ActionCreatePreparedStatementRequest = unpack(body, CREATE_PREPARED)?;
    if request.transaction_id.is_some() {
        return Err(CoreError::Unimplemented("Flight SQL transactions are not supported: prepare the query without one".into()));
    }
    let info = core.sql_over_namespace(ns, &request.query)?;
    let result = ActionCreatePreparedStatementResult {
        prepared_statement_handle: info.id.to_string().into(),
        dataset_schema: crate::flight::ipc_schema(&info.schema),
        parameter_schema: Default::default(),
    };
    Ok(result.as_any().encode_to_vec())
}

/// ClosePreparedStatement: the statement's handle goes (one that expired
/// already is closed too).
pub(crate) fn close(core: &Core, ns: &Namespace, body: &[u8]) -> Result<(), CoreError> {
    let request: ActionClosePreparedStatementRequest = unpack(body, CLOSE_PREPARED)?;
    match core.drop_handle(ns, statement_handle(&request.prepared_statement_handle)?) {
        Err(CoreError::NotFound(_)) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

fn unpack<M: ProstMessageExt + Default>(body: &[u8], action: &str) -> Result<M, CoreError> {
    let bad = |e: &dyn std::fmt::Display| CoreError::InvalidArgument(format!("the body of {action} does not decode: {e}"));
    let any = Any::decode(body).map_err(|e| bad(&e))?;
    any.unpack::<M>().map_err(|e| bad(&e))?.ok_or_else(|| bad(&format!("it holds a {}", any.type_url)))
}

fn statement_handle(bytes: &[u8]) -> Result<HandleId, CoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CoreError::InvalidArgument("not a prepared statement of this server".into()))
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
