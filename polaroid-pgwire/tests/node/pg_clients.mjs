// What Node.js programs send to a PostgreSQL server through its two common
// drivers: node-postgres (`pg`: simple queries, and unnamed or named
// statements whose values all go as untyped text) and postgres.js (tagged
// templates, statements it prepares, its cursor and transaction helpers).
// Run against the door and against PostgreSQL, its JSON lines must agree
// (test_node.py).
//
// Usage: node pg_clients.mjs <port> <user> <database>
import pg from 'pg';
import postgres from 'postgres';

const [port, user, database] = process.argv.slice(2);
const options = { host: '127.0.0.1', port: Number(port), user, database, password: 'quest' };

// A value as both servers' answers can be compared: instants as ISO text.
const plain = (v) => (v instanceof Date ? v.toISOString() : v);

function emit(step, result) {
  console.log(JSON.stringify({ step, ...result }));
}

async function run(step, work) {
  try {
    emit(step, await work());
  } catch (e) {
    emit(step, { error: e.message, code: e.code });
  }
}

// node-postgres's result: its columns, rows as arrays, the command and count.
const pgResult = (r) => ({
  columns: r.fields.map((f) => f.name),
  rows: r.rows.map((row) => row.map(plain)),
  tag: `${r.command} ${r.rowCount}`,
});

// postgres.js's result: rows as objects in column order.
const jsResult = (rows) => ({
  columns: rows.columns ? rows.columns.map((c) => c.name) : [],
  rows: [...rows].map((row) => Object.values(row).map(plain)),
  tag: `${rows.command} ${rows.count}`,
});

const client = new pg.Client(options);
await client.connect();
const q = (text, values, name) => client.query({ text, values, name, rowMode: 'array' }).then(pgResult);
await run('pg simple', () => q('SELECT sym, count(*) AS n, sum(qty) AS qty FROM grafana_trades GROUP BY sym ORDER BY sym'));
// Every value goes as text of no declared type: the query's context types it.
await run('pg untyped values', () =>
  q('SELECT ts, px, qty FROM grafana_trades WHERE sym = $1 AND qty > $2 AND px < $3 ORDER BY ts LIMIT 4', ['MSFT', 400, 150.5]));
await run('pg instant value', () =>
  q('SELECT count(*) AS n FROM grafana_trades WHERE ts >= $1 AND ts < $2', [new Date('2026-11-23T15:00:00Z'), '2026-11-23T16:00:00Z']));
await run('pg named', () => q('SELECT max(px) AS hi, min(qty) AS lo FROM grafana_trades WHERE qty > $1', [250], 'hi_lo'));
await run('pg named again', () => q('SELECT max(px) AS hi, min(qty) AS lo FROM grafana_trades WHERE qty > $1', [450], 'hi_lo'));
await run('pg insert', () =>
  q('INSERT INTO go_copy (ts, sym, px, qty) VALUES ($1, $2, $3, $4)', [new Date('2026-11-27T00:00:00.250Z'), 'N', 1.25, 7]));
await run('pg insert null', () => q('INSERT INTO go_copy (ts, sym, px, qty) VALUES ($1, $2, $3, $4)', ['2026-11-27T00:00:01Z', 'N', '2.5', null]));
await run('pg transaction', async () => {
  await client.query('BEGIN');
  await client.query('INSERT INTO go_copy (ts, sym, px, qty) VALUES ($1, $2, $3, $4)', ['2026-11-27T00:00:02Z', 'N', 4, 3]);
  await client.query('COMMIT');
  return q("SELECT ts, px, qty FROM go_copy WHERE sym = 'N' ORDER BY ts");
});
await run('pg error', () => q('SELECT nothing FROM grafana_trades'));
await run('pg bad number', () => q('SELECT count(*) AS n FROM grafana_trades WHERE qty > $1', ['lots']));
await run('pg after errors', () => q('SELECT count(*) AS n FROM grafana_trades'));
await client.end();

const sql = postgres({ ...options, max: 1, onnotice: () => {} });
await run('postgres.js template', async () =>
  jsResult(await sql`SELECT sym, max(px) AS hi FROM grafana_trades WHERE qty > ${400} GROUP BY sym ORDER BY sym`));
await run('postgres.js instant', async () =>
  jsResult(await sql`SELECT ts, px FROM grafana_trades WHERE sym = ${'NVDA'} AND ts >= ${new Date('2026-11-23T15:00:00Z')} ORDER BY ts LIMIT 3`));
await run('postgres.js unsafe', async () => jsResult(await sql.unsafe('SELECT count(*) AS n FROM grafana_trades')));
await run('postgres.js insert helper', async () =>
  jsResult(await sql`INSERT INTO go_copy ${sql({ ts: new Date('2026-11-27T00:00:03Z'), sym: 'P', px: 2.5, qty: 8 })}`));
await run('postgres.js cursor', async () => {
  const batches = [];
  for await (const rows of sql`SELECT ts, px FROM grafana_trades ORDER BY ts LIMIT 25`.cursor(10)) {
    batches.push(rows.map((r) => [plain(r.ts), r.px]));
  }
  return { rows: batches.map((b) => [b.length, b[0][0]]) };
});
await run('postgres.js begin', async () =>
  jsResult(await sql.begin(async (tx) => {
    await tx`INSERT INTO go_copy (ts, sym, px, qty) VALUES (${new Date('2026-11-27T00:00:04Z')}, 'P', 3.5, 9)`;
    return tx`SELECT sym, sum(px) AS px, sum(qty) AS qty FROM go_copy WHERE sym = 'P' GROUP BY sym`;
  })));
await run('postgres.js error', async () => jsResult(await sql`SELECT nothing FROM grafana_trades`));
await sql.end();
