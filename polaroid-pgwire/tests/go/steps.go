// What pgx_client.go and pq_client.go share (each is built with this
// file): the steps they read, the parameters the steps name, the rows they
// copy, and the answers they print.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// One answer, as test_go.py compares them.
type answer struct {
	Step    string          `json:"step"`
	Columns []string        `json:"columns,omitempty"`
	Rows    [][]interface{} `json:"rows,omitempty"`
	Tag     string          `json:"tag,omitempty"`
	Error   string          `json:"error,omitempty"`
	Code    string          `json:"code,omitempty"`
}

func emit(a answer) {
	line, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}

// A step: the words of its first line (what is done, and the parameters'
// name), and its SQL.
type step struct {
	words []string
	sql   string
}

// The steps on stdin, each block separated by a line ";;".
func steps() []step {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	var all []step
	for _, block := range strings.Split(string(input), "\n;;\n") {
		block = strings.TrimSpace(block)
		if block == "" {
			continue
		}
		head, sql, _ := strings.Cut(block, "\n")
		all = append(all, step{words: strings.Fields(head), sql: sql})
	}
	return all
}

// The parameters a step's query is given, by the step's second word.
var parameters = map[string][]interface{}{
	"none":       nil,
	"sym_since":  {"MSFT", time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)},
	"qty_over":   {int64(490)},
	"new_trade":  {time.Date(2026, 11, 24, 9, 30, 0, 123456000, time.UTC), "AMZN", 187.25, int64(40)},
	"null_trade": {time.Date(2026, 11, 24, 9, 31, 0, 0, time.UTC), "AMZN", 187.5, nil},
}

// The rows a copy step loads (ts, sym, px, qty): 2,500, a null qty in 50.
func copyRows() [][]interface{} {
	var rows [][]interface{}
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2500; i++ {
		var qty interface{} = int64(i%97 + 1)
		if i%50 == 0 {
			qty = nil
		}
		rows = append(rows, []interface{}{start.Add(time.Duration(i) * 1500 * time.Millisecond), []string{"A", "B", "C"}[i%3], 50 + float64(i%400)/8, qty})
	}
	return rows
}
