// What a JDBC tool (DBeaver, Metabase, Spark's JDBC source) does on the
// PostgreSQL door, through PostgreSQL's own JDBC driver. Run by
// ../python/test_jdbc.py: java -cp postgresql.jar JdbcClient.java PORT.
// Prints one tab-separated line per value read; the test checks them
// against python-polars on the same data.

import java.sql.*;
import java.util.Properties;

public class JdbcClient {
    static final String TRADES = "SELECT ts, sym, px, qty FROM read_parquet('trades.parquet') WHERE px > ? ORDER BY ts";

    static int count(ResultSet r) throws SQLException {
        try (r) {
            int rows = 0;
            while (r.next()) rows++;
            return rows;
        }
    }

    public static void main(String[] args) throws Exception {
        Properties login = new Properties();
        login.setProperty("user", "admin");
        login.setProperty("password", "quest");
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + args[0] + "/qdb", login)) {
            System.out.println("version\t" + c.getMetaData().getDatabaseProductVersion());

            // A prepared statement, its parameter bound as a double.
            try (PreparedStatement ps = c.prepareStatement(TRADES)) {
                ps.setDouble(1, 150.0);
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        long qty = r.getLong(4);
                        String shown = r.wasNull() ? "null" : Long.toString(qty);
                        System.out.println("row\t" + r.getTimestamp(1).toLocalDateTime() + "\t" + r.getString(2) + "\t"
                            + r.getDouble(3) + "\t" + shown);
                    }
                }
            }

            // setFetchSize in a transaction: the driver reads the portal 500
            // rows at a time (Execute with a row limit, PortalSuspended).
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(TRADES)) {
                ps.setFetchSize(500);
                ps.setDouble(1, 0.0);
                long rows = 0;
                double sum = 0;
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        rows++;
                        sum += r.getDouble(3);
                    }
                }
                System.out.println("fetched\t" + rows + "\t" + sum);
            }
            c.commit();
            c.setAutoCommit(true);

            // A batch of INSERTs.
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS jdbc_fills (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) timestamp(ts)");
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_fills VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < 100; i++) {
                    ps.setTimestamp(1, Timestamp.valueOf(java.time.LocalDateTime.of(2024, 1, 2, 9, 30).plusSeconds(i)));
                    ps.setString(2, i % 2 == 0 ? "AAPL" : "MSFT");
                    ps.setDouble(3, 100 + i * 0.25);
                    if (i % 10 == 0) ps.setNull(4, Types.BIGINT); else ps.setLong(4, i);
                    ps.addBatch();
                }
                int inserted = 0;
                for (int n : ps.executeBatch()) inserted += n;
                System.out.println("inserted\t" + inserted);
            }

            // What a tool's schema browser reads.
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet r = md.getSchemas()) {
                while (r.next()) System.out.println("schema\t" + r.getString("TABLE_SCHEM"));
            }
            try (ResultSet r = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (r.next()) System.out.println("table\t" + r.getString("TABLE_SCHEM") + "\t" + r.getString("TABLE_NAME") + "\t" + r.getString("TABLE_TYPE"));
            }
            try (ResultSet r = md.getColumns(null, "public", "jdbc_fills", "%")) {
                while (r.next()) {
                    System.out.println("column\t" + r.getString("COLUMN_NAME") + "\t" + r.getString("TYPE_NAME") + "\t" + r.getInt("DATA_TYPE")
                        + "\t" + r.getInt("ORDINAL_POSITION") + "\t" + r.getString("IS_NULLABLE"));
                }
            }
            // Keys, indexes and functions: none exist here, and each call
            // answers so rather than failing the tool's browser.
            System.out.println("primary_keys\t" + count(md.getPrimaryKeys(null, "public", "jdbc_fills")));
            System.out.println("imported_keys\t" + count(md.getImportedKeys(null, "public", "jdbc_fills")));
            System.out.println("indexes\t" + count(md.getIndexInfo(null, "public", "jdbc_fills", false, true)));
            System.out.println("functions\t" + count(md.getFunctions(null, "public", "%")));
            System.out.println("udts\t" + count(md.getUDTs(null, null, "%", null)));
            // The types a tool offers (its column editor), and who may do what.
            try (ResultSet r = md.getTypeInfo()) {
                while (r.next()) System.out.println("type\t" + r.getString("TYPE_NAME") + "\t" + r.getInt("DATA_TYPE"));
            }
            try (ResultSet r = md.getTablePrivileges(null, "public", "jdbc_fills")) {
                while (r.next()) System.out.println("privilege\t" + r.getString("GRANTEE") + "\t" + r.getString("PRIVILEGE"));
            }
            System.out.println("column_privileges\t" + count(md.getColumnPrivileges(null, "public", "jdbc_fills", "%")));
            // An array column, and a float PostgreSQL writes as Infinity.
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT array_agg(qty ORDER BY ts) AS q, CAST('Infinity' AS DOUBLE) AS inf FROM jdbc_fills WHERE ts < '2024-01-02T09:30:03'")) {
                r.next();
                System.out.println("array\t" + java.util.Arrays.toString((Object[]) r.getArray(1).getArray()) + "\t" + r.getDouble(2));
            }

            // An error is an SQLState, and the connection lives on.
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT nope FROM read_parquet('trades.parquet')");
            } catch (SQLException e) {
                System.out.println("error\t" + e.getSQLState());
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM jdbc_fills")) {
                r.next();
                System.out.println("count\t" + r.getLong(1));
            }
        }
    }
}
