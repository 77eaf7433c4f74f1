// What Go programs send through database/sql with lib/pq (Debian's), the
// driver of QuestDB's own Grafana plugin: its ping, queries without
// parameters (the simple protocol), queries and changes with parameters
// (an unnamed statement, values as text), COPY FROM STDIN through
// pq.CopyIn, and a transaction. The steps are pgx_client.go's; run against
// the door and against PostgreSQL, the JSON lines must agree (test_go.py).
//
// Usage: pq_client <connection URL> < steps
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

func failed(step string, err error) answer {
	a := answer{Step: step, Error: err.Error()}
	if pqErr, ok := err.(*pq.Error); ok {
		a.Code = string(pqErr.Code)
	}
	return a
}

// plain makes a scanned value comparable across servers: numbers as
// float64, instants as RFC 3339 text in UTC, text as text.
func plain(v interface{}) interface{} {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return v
	}
}

func rows(step string, r *sql.Rows, err error) answer {
	if err != nil {
		return failed(step, err)
	}
	defer r.Close()
	a := answer{Step: step}
	a.Columns, _ = r.Columns()
	types, _ := r.ColumnTypes()
	for r.Next() {
		values := make([]interface{}, len(a.Columns))
		pointers := make([]interface{}, len(values))
		for i := range values {
			pointers[i] = &values[i]
		}
		if err := r.Scan(pointers...); err != nil {
			return failed(step, err)
		}
		for i, v := range values {
			// lib/pq hands a numeric over as its text; Grafana reads it as
			// a number (PostgreSQL's extract is numeric, the door's a double).
			if text, ok := v.([]byte); ok && types[i].DatabaseTypeName() == "NUMERIC" {
				if number, err := strconv.ParseFloat(string(text), 64); err == nil {
					v = number
				}
			}
			values[i] = plain(v)
		}
		a.Rows = append(a.Rows, values)
	}
	if err := r.Err(); err != nil {
		return failed(step, err)
	}
	return a
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	for _, step := range steps() {
		words, sql := step.words, step.sql
		switch words[0] {
		case "ping":
			if err := db.PingContext(ctx); err != nil {
				emit(failed("ping", err))
			} else {
				emit(answer{Step: "ping"})
			}
		case "grafana":
			r, err := db.QueryContext(ctx, sql)
			emit(rows("grafana", r, err))
		case "query":
			r, err := db.QueryContext(ctx, sql, parameters[words[1]]...)
			emit(rows("query "+words[1], r, err))
		case "exec":
			result, err := db.ExecContext(ctx, sql, parameters[words[1]]...)
			if err != nil {
				emit(failed("exec", err))
				continue
			}
			n, _ := result.RowsAffected()
			emit(answer{Step: "exec", Tag: fmt.Sprintf("%d rows", n)})
		case "batch":
			// database/sql has no batch: the queries one after another.
			for _, q := range strings.Split(sql, "\n") {
				r, err := db.QueryContext(ctx, q)
				emit(rows("batch", r, err))
			}
		case "copy":
			// COPY FROM STDIN in text, lib/pq's bulk load.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				emit(failed("copy", err))
				continue
			}
			statement, err := tx.Prepare(pq.CopyIn(words[1], "ts", "sym", "px", "qty"))
			if err != nil {
				emit(failed("copy", err))
				tx.Rollback()
				continue
			}
			for _, row := range copyRows() {
				if _, err := statement.Exec(row...); err != nil {
					emit(failed("copy", err))
				}
			}
			if _, err := statement.Exec(); err != nil {
				emit(failed("copy", err))
			}
			statement.Close()
			if err := tx.Commit(); err != nil {
				emit(failed("copy", err))
			} else {
				emit(answer{Step: "copy", Tag: "2500 rows"})
			}
		case "tx":
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				emit(failed("tx", err))
				continue
			}
			for _, statement := range strings.Split(sql, "\n") {
				if _, err = tx.ExecContext(ctx, statement); err != nil {
					break
				}
			}
			if err != nil {
				tx.Rollback()
				emit(failed("tx", err))
			} else if err := tx.Commit(); err != nil {
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
