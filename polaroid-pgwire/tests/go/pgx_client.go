// What Go programs send to a PostgreSQL server through pgx (Debian's v4,
// with its pool): Grafana's backend, which runs a panel's SQL through
// PgConn().Exec (the simple protocol) and pings a rested connection with
// "-- ping", and a service's typed queries (prepared, with binary values),
// batches, binary COPY and a transaction. Run against the door and against
// PostgreSQL, its JSON lines must agree (test_go.py).
//
// Usage: pgx_client <connection string> < steps (see steps.go; the first
// word of a step names what is done with it, in main).
package main

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgtype"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

func failed(step string, err error) answer {
	a := answer{Step: step, Error: err.Error()}
	if pgErr, ok := err.(*pgconn.PgError); ok {
		a.Code = pgErr.Code
	}
	return a
}

// plain makes a decoded value comparable across servers, as Grafana's
// frames hold them: numbers as float64 (PostgreSQL's numeric, the door's
// double), instants as RFC 3339 text in UTC.
func plain(v interface{}) interface{} {
	switch x := v.(type) {
	case nil:
		return nil
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	case pgtype.Numeric:
		var f float64
		if err := x.AssignTo(&f); err != nil {
			return fmt.Sprintf("numeric: %v", err)
		}
		return f
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case string, bool:
		return x
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

// grafana runs sql as Grafana's backend does: PgConn().Exec, every result
// read, its values decoded by their type oids.
func grafana(ctx context.Context, pool *pgxpool.Pool, sql string) answer {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return failed("grafana", err)
	}
	defer conn.Release()
	results, err := conn.Conn().PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return failed("grafana", err)
	}
	info := conn.Conn().ConnInfo()
	a := answer{Step: "grafana"}
	for _, result := range results {
		a.Tag = string(result.CommandTag)
		if len(result.FieldDescriptions) == 0 {
			continue
		}
		a.Columns = nil
		for _, f := range result.FieldDescriptions {
			a.Columns = append(a.Columns, string(f.Name))
		}
		for _, raw := range result.Rows {
			row := make([]interface{}, len(raw))
			for i, f := range result.FieldDescriptions {
				if raw[i] == nil {
					continue
				}
				dt, ok := info.DataTypeForOID(f.DataTypeOID)
				if !ok {
					row[i] = fmt.Sprintf("unknown type oid %d", f.DataTypeOID)
					continue
				}
				value := pgtype.NewValue(dt.Value)
				if err := value.(pgtype.TextDecoder).DecodeText(info, raw[i]); err != nil {
					row[i] = fmt.Sprintf("decode: %v", err)
					continue
				}
				row[i] = plain(value.Get())
			}
			a.Rows = append(a.Rows, row)
		}
	}
	return a
}

// rows reads a pgx query's rows, each value as pgx decodes it (binary
// where it knows the type).
func rows(step string, r pgx.Rows, err error) answer {
	if err != nil {
		return failed(step, err)
	}
	defer r.Close()
	a := answer{Step: step}
	for _, f := range r.FieldDescriptions() {
		a.Columns = append(a.Columns, string(f.Name))
	}
	for r.Next() {
		values, err := r.Values()
		if err != nil {
			return failed(step, err)
		}
		row := make([]interface{}, len(values))
		for i, v := range values {
			row[i] = plain(v)
		}
		a.Rows = append(a.Rows, row)
	}
	if err := r.Err(); err != nil {
		return failed(step, err)
	}
	a.Tag = string(r.CommandTag())
	return a
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pool, err := pgxpool.Connect(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(2)
	}
	defer pool.Close()

	for _, step := range steps() {
		words, sql := step.words, step.sql
		switch words[0] {
		case "ping":
			// pgx v5's PgConn.Ping, which pgxpool (and so Grafana)
			// sends before it reuses a connection that rested.
			conn, err := pool.Acquire(ctx)
			if err != nil {
				emit(failed("ping", err))
				continue
			}
			results, err := conn.Conn().PgConn().Exec(ctx, "-- ping").ReadAll()
			conn.Release()
			if err != nil {
				emit(failed("ping", err))
				continue
			}
			tags := []string{}
			for _, result := range results {
				tags = append(tags, string(result.CommandTag))
			}
			emit(answer{Step: "ping", Tag: fmt.Sprintf("results %q", tags)})
			if err := pool.Ping(ctx); err != nil {
				emit(failed("pool ping", err))
			} else {
				emit(answer{Step: "pool ping"})
			}
		case "grafana":
			emit(grafana(ctx, pool, sql))
		case "query":
			r, err := pool.Query(ctx, sql, parameters[words[1]]...)
			emit(rows("query "+words[1], r, err))
		case "exec":
			tag, err := pool.Exec(ctx, sql, parameters[words[1]]...)
			if err != nil {
				emit(failed("exec", err))
			} else {
				emit(answer{Step: "exec", Tag: string(tag)})
			}
		case "batch":
			// The block's lines are the batch's queries, sent together.
			batch := &pgx.Batch{}
			queries := strings.Split(sql, "\n")
			for _, q := range queries {
				batch.Queue(q)
			}
			results := pool.SendBatch(ctx, batch)
			for range queries {
				r, err := results.Query()
				emit(rows("batch", r, err))
			}
			if err := results.Close(); err != nil {
				emit(failed("batch close", err))
			}
		case "copy":
			// Binary COPY FROM STDIN into the named table.
			n, err := pool.CopyFrom(ctx, pgx.Identifier{words[1]}, []string{"ts", "sym", "px", "qty"}, pgx.CopyFromRows(copyRows()))
			if err != nil {
				emit(failed("copy", err))
			} else {
				emit(answer{Step: "copy", Tag: fmt.Sprintf("%d rows", n)})
			}
		case "tx":
			// A transaction of the block's statements, committed.
			err := pool.BeginFunc(ctx, func(tx pgx.Tx) error {
				for _, statement := range strings.Split(sql, "\n") {
					if _, err := tx.Exec(ctx, statement); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				emit(failed("tx", err))
			} else {
				emit(answer{Step: "tx", Tag: "COMMIT"})
			}
		default:
			fmt.Fprintln(os.Stderr, "unknown step:", words[0])
			os.Exit(2)
		}
	}
}
