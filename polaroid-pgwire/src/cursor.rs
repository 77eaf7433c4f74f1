//! SQL cursors: `DECLARE name CURSOR FOR query`, then `FETCH`, `MOVE` and
//! `CLOSE`. psycopg's named cursors are these, and so are SQLAlchemy's
//! `stream_results` (what polars' `read_database(..., iter_batches=True)`
//! documents for results larger than memory) and psql's `FETCH_COUNT`.
//!
//! A cursor's query runs on the streaming engine from its DECLARE, through
//! the same bounded window as every result, and each FETCH takes the next
//! rows from it: the server holds a few batches per cursor, never the
//! result. The rows are written at each FETCH, in that FETCH's format (a
//! binary cursor of psycopg's fetches in binary over the extended protocol).
//!
//! Cursors scan forward only, as PostgreSQL's `NO SCROLL` cursors: a
//! backward move is refused with PostgreSQL's error for it. As in
//! PostgreSQL, a cursor without `WITH HOLD` lives in its transaction block
//! and is closed at its end; one `WITH HOLD` lives until it is closed or
//! the connection ends. A FETCH that fails closes its cursor, as the
//! failed transaction would in PostgreSQL.

use std::collections::HashMap;

use pgwire::api::results::FieldInfo;
use pgwire::messages::data::DataRow;
use pgwire::error::PgWireResult;
use polaroid_core::results::ResultSink;
use polaroid_core::CoreError;
use polars::prelude::*;
use tokio::sync::mpsc;

use crate::catalog::CursorRow;
use crate::encode::RowSink;
use crate::error::user;

/// A cursor statement, read from its text.
#[derive(Debug, Clone, PartialEq)]
pub enum CursorStatement {
    Declare(Declare),
    /// `FETCH` (rows sent) or `MOVE` (`moved`: rows passed over, counted).
    Fetch { name: String, direction: Direction, moved: bool },
    /// `CLOSE name`; `None` is `CLOSE ALL`.
    Close(Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Declare {
    pub name: String,
    /// The query after `FOR`, QuestDB's SQL as the door runs any query.
    pub query: String,
    pub hold: bool,
    pub binary: bool,
}

/// Where a FETCH or MOVE goes, as PostgreSQL's grammar says it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// `NEXT`, `n`, `FORWARD [n]`: the next n rows (n may be 0 or less).
    Forward(i64),
    /// `ALL`, `FORWARD ALL`: every row left.
    All,
    /// `ABSOLUTE n`, `FIRST` (1): the nth row of the result.
    Absolute(i64),
    /// `RELATIVE n`: the row n after the current one.
    Relative(i64),
    /// `PRIOR`, `BACKWARD [n | ALL]`, `LAST`: a move back.
    Backward,
}

impl CursorStatement {
    /// The cursor statement `sql` is, if it is one. A statement that starts
    /// with DECLARE, FETCH, MOVE or CLOSE and cannot be read is a syntax
    /// error, not another kind of statement.
    pub fn of(sql: &str) -> PgWireResult<Option<Self>> {
        let sql = sql.trim().trim_end_matches(';').trim_end();
        let mut words = Words { text: sql, at: 0 };
        let Some(first) = words.next()? else { return Ok(None) };
        Ok(Some(match first.keyword().as_str() {
            // QuestDB's own DECLARE names variables, not a cursor: a query.
            "DECLARE" if declares_variables(words.rest()) => return Ok(None),
            "DECLARE" => CursorStatement::Declare(declare(&mut words)?),
            "FETCH" => fetch(&mut words, false)?,
            "MOVE" => fetch(&mut words, true)?,
            "CLOSE" => {
                let target = words.next()?.ok_or_else(|| syntax("CLOSE needs a cursor's name or ALL"))?;
                let name = if target.keyword() == "ALL" && !target.quoted { None } else { Some(target.name()) };
                words.end()?;
                CursorStatement::Close(name)
            },
            _ => return Ok(None),
        }))
    }

    /// Whether `sql` is a cursor statement (it may still be a malformed one).
    pub fn is(sql: &str) -> bool {
        let mut words = sql.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.eq_ignore_ascii_case("DECLARE") && declares_variables(words.next().unwrap_or("")) {
            return false;
        }
        ["DECLARE", "FETCH", "MOVE", "CLOSE"].iter().any(|k| first.eq_ignore_ascii_case(k))
    }
}

/// Whether what follows DECLARE is QuestDB's variables (`@x := ...`, also
/// a view's `OVERRIDABLE @x`), not a cursor's name.
fn declares_variables(after_declare: &str) -> bool {
    let after = after_declare.trim_start();
    after.starts_with('@') || after.get(..11).is_some_and(|w| w.eq_ignore_ascii_case("OVERRIDABLE"))
}

/// `DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR
/// [{WITH | WITHOUT} HOLD] FOR query`.
fn declare(words: &mut Words) -> PgWireResult<Declare> {
    let name = words.next()?.ok_or_else(|| syntax("DECLARE needs a cursor's name"))?.name();
    let (mut hold, mut binary) = (false, false);
    loop {
        let word = words.next()?.ok_or_else(|| syntax("DECLARE ... CURSOR FOR needs a query"))?;
        match word.keyword().as_str() {
            "BINARY" => binary = true,
            "ASENSITIVE" | "INSENSITIVE" => {},
            "NO" => match words.next()?.map(|w| w.keyword()).as_deref() {
                Some("SCROLL") => {},
                _ => return Err(syntax("NO must be followed by SCROLL")),
            },
            "SCROLL" => {
                return Err(user(
                    "0A000",
                    "SCROLL cursors are not supported: cursors here stream their query's rows once, forward (declare it NO SCROLL, or without SCROLL)",
                ))
            },
            "CURSOR" => break,
            other => return Err(syntax(format!("unexpected \"{other}\" in DECLARE, before CURSOR"))),
        }
    }
    loop {
        let word = words.next()?.ok_or_else(|| syntax("DECLARE ... CURSOR FOR needs a query"))?;
        match word.keyword().as_str() {
            "WITH" | "WITHOUT" => {
                let with = word.keyword() == "WITH";
                match words.next()?.map(|w| w.keyword()).as_deref() {
                    Some("HOLD") => hold = with,
                    _ => return Err(syntax(format!("{} must be followed by HOLD", word.keyword()))),
                }
            },
            "FOR" => break,
            other => return Err(syntax(format!("unexpected \"{other}\" in DECLARE, after CURSOR"))),
        }
    }
    let query = words.rest().to_string();
    if query.is_empty() {
        return Err(syntax("DECLARE ... CURSOR FOR needs a query"));
    }
    Ok(Declare { name, query, hold, binary })
}

/// `FETCH [direction] [FROM | IN] name`, and MOVE alike.
fn fetch(words: &mut Words, moved: bool) -> PgWireResult<CursorStatement> {
    let mut said = Vec::new();
    while let Some(word) = words.next()? {
        said.push(word);
    }
    // The name is the last word; FROM or IN may stand before it.
    let name = said.pop().ok_or_else(|| syntax("FETCH needs a cursor's name"))?.name();
    if said.last().is_some_and(|w| !w.quoted && matches!(w.keyword().as_str(), "FROM" | "IN")) {
        said.pop();
    }
    let count = |word: Option<&Word>| -> PgWireResult<Option<i64>> {
        match word {
            None => Ok(None),
            Some(w) if w.keyword() == "ALL" => Ok(None),
            Some(w) => w.text.parse().map(Some).map_err(|_| syntax(format!("\"{}\" is not a row count", w.text))),
        }
    };
    let keywords = said.iter().map(Word::keyword).collect::<Vec<_>>();
    let keywords = keywords.iter().map(String::as_str).collect::<Vec<_>>();
    let direction = match keywords.as_slice() {
        [] | ["NEXT"] => Direction::Forward(1),
        ["PRIOR"] | ["LAST"] => Direction::Backward,
        ["FIRST"] => Direction::Absolute(1),
        ["ALL"] => Direction::All,
        ["ABSOLUTE", _] => Direction::Absolute(count(said.get(1))?.ok_or_else(|| syntax("ABSOLUTE needs a row number"))?),
        ["RELATIVE", _] => Direction::Relative(count(said.get(1))?.ok_or_else(|| syntax("RELATIVE needs a row count"))?),
        ["FORWARD"] => Direction::Forward(1),
        ["FORWARD", _] => count(said.get(1))?.map_or(Direction::All, Direction::Forward),
        ["BACKWARD"] | ["BACKWARD", _] => {
            count(said.get(1))?;
            Direction::Backward
        },
        [_] => Direction::Forward(count(said.first())?.ok_or_else(|| syntax("a row count or a direction"))?),
        _ => return Err(syntax(format!("cannot read the direction \"{}\"", keywords.join(" ")))),
    };
    Ok(CursorStatement::Fetch { name, direction, moved })
}

/// A FETCH resolved against where the cursor stands: pass over `skip`
/// rows, then take `take` (every row left when `None`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    skip: u64,
    take: Option<u64>,
}

impl Direction {
    /// The step from `position` (rows already read), or PostgreSQL's
    /// error for a move back.
    fn step(self, position: u64) -> PgWireResult<Step> {
        let forward = |n: u64| Ok(Step { skip: 0, take: Some(n) });
        match self {
            Direction::All => Ok(Step { skip: 0, take: None }),
            Direction::Forward(n) if n > 0 => forward(n as u64),
            // Before the first row there is no current row to fetch again.
            Direction::Forward(0) | Direction::Relative(0) | Direction::Absolute(0) if position == 0 => forward(0),
            Direction::Absolute(n) if n > 0 && n as u64 > position => Ok(Step { skip: n as u64 - position - 1, take: Some(1) }),
            Direction::Relative(n) if n > 0 => Ok(Step { skip: n as u64 - 1, take: Some(1) }),
            _ => Err(backward()),
        }
    }
}

pub fn backward() -> pgwire::error::PgWireError {
    user(
        "55000",
        "cursor can only scan forward: cursors here stream their query's rows once (FETCH NEXT, FORWARD n, ALL, or ABSOLUTE/RELATIVE past the current row)",
    )
}

fn syntax(message: impl Into<String>) -> pgwire::error::PgWireError {
    user("42601", format!("syntax error: {}", message.into()))
}

/// A word of a cursor statement: an identifier (folded to lower case unless
/// quoted), a keyword or a number.
struct Word {
    text: String,
    quoted: bool,
}

impl Word {
    fn keyword(&self) -> String {
        if self.quoted {
            String::new()
        } else {
            self.text.to_ascii_uppercase()
        }
    }

    /// The name it is: a quoted name as written, any other in lower case.
    fn name(&self) -> String {
        if self.quoted {
            self.text.clone()
        } else {
            self.text.to_ascii_lowercase()
        }
    }
}

struct Words<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> PgWireResult<Option<Word>> {
        let rest = &self.text[self.at..];
        let start = self.at + (rest.len() - rest.trim_start().len());
        let rest = &self.text[start..];
        let Some(first) = rest.chars().next() else {
            self.at = self.text.len();
            return Ok(None);
        };
        if first == '"' {
            let mut name = String::new();
            let mut chars = rest.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().is_some_and(|&(_, next)| next == '"') {
                        chars.next();
                        name.push('"');
                        continue;
                    }
                    self.at = start + i + 1;
                    return Ok(Some(Word { text: name, quoted: true }));
                }
                name.push(c);
            }
            return Err(syntax("unterminated quoted name"));
        }
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_alphanumeric() || c == '_' || c == '$' || (i == 0 && (c == '-' || c == '+'))))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(syntax(format!("unexpected \"{first}\"")));
        }
        self.at = start + len;
        Ok(Some(Word { text: rest[..len].to_string(), quoted: false }))
    }

    /// Everything after the words read, as written.
    fn rest(&self) -> &'a str {
        self.text[self.at..].trim()
    }

    fn end(&mut self) -> PgWireResult<()> {
        match self.next()? {
            None => Ok(()),
            Some(extra) => Err(syntax(format!("unexpected \"{}\" at the end", extra.text))),
        }
    }
}

/// An open cursor: its query's batches as they stream, and where it stands.
pub struct Cursor {
    pub declare: Declare,
    /// The DECLARE as the client wrote it, for `pg_cursors`.
    pub statement: String,
    pub schema: SchemaRef,
    /// When it was declared, for `pg_cursors`.
    pub created: chrono::DateTime<chrono::Utc>,
    frames: mpsc::Receiver<Result<DataFrame, CoreError>>,
    /// Rows received from the stream and not yet read.
    held: Option<DataFrame>,
    /// Rows read so far (PostgreSQL's portal position).
    position: u64,
    ended: bool,
    /// Declared in the transaction block now open; a ROLLBACK closes it
    /// even when it is WITH HOLD.
    in_this_block: bool,
}

impl Cursor {
    /// `in_block`: declared inside a transaction block.
    pub fn new(
        declare: Declare,
        statement: String,
        schema: SchemaRef,
        frames: mpsc::Receiver<Result<DataFrame, CoreError>>,
        in_block: bool,
    ) -> Self {
        let created = chrono::Utc::now();
        Cursor { declare, statement, schema, created, frames, held: None, position: 0, ended: false, in_this_block: in_block }
    }

    /// Whether the cursor can go where `direction` says (forward only).
    pub fn can(&self, direction: Direction) -> PgWireResult<()> {
        direction.step(self.position).map(drop)
    }

    /// Take the rows `direction` reaches: as frames, each a slice of a
    /// batch the query produced.
    pub async fn fetch(&mut self, direction: Direction) -> PgWireResult<Vec<DataFrame>> {
        let step = direction.step(self.position)?;
        if step.skip > 0 {
            self.read(Some(step.skip), false).await?;
        }
        self.read(step.take, true).await
    }

    /// Read `rows` rows (all that are left when `None`), keeping them if
    /// `keep`.
    async fn read(&mut self, rows: Option<u64>, keep: bool) -> PgWireResult<Vec<DataFrame>> {
        let mut frames = Vec::new();
        let mut wanted = rows;
        while wanted != Some(0) {
            let frame = match self.held.take() {
                Some(frame) => frame,
                None => match self.next_frame().await? {
                    Some(frame) => frame,
                    None => break,
                },
            };
            let height = frame.height() as u64;
            let taken = match wanted {
                Some(n) if n < height => {
                    self.held = Some(frame.slice(n as i64, (height - n) as usize));
                    frame.slice(0, n as usize)
                },
                _ => frame,
            };
            let read = taken.height() as u64;
            self.position += read;
            wanted = wanted.map(|n| n - read);
            if keep {
                frames.push(taken);
            }
        }
        Ok(frames)
    }

    async fn next_frame(&mut self) -> PgWireResult<Option<DataFrame>> {
        while !self.ended {
            match self.frames.recv().await {
                Some(Ok(frame)) if frame.height() == 0 => continue,
                Some(Ok(frame)) => return Ok(Some(frame)),
                Some(Err(e)) => return Err(crate::error::to_pg(e)),
                None => self.ended = true,
            }
        }
        Ok(None)
    }
}

/// A connection's open cursors, by name. A cursor is taken out while a
/// FETCH reads it and put back when the FETCH succeeds.
#[derive(Default)]
pub struct Cursors {
    open: HashMap<String, Cursor>,
}

impl Cursors {
    pub fn exists(&self, name: &str) -> bool {
        self.open.contains_key(name)
    }

    pub fn insert(&mut self, cursor: Cursor) -> PgWireResult<()> {
        let name = cursor.declare.name.clone();
        if self.open.contains_key(&name) {
            return Err(already_exists(&name));
        }
        self.open.insert(name, cursor);
        Ok(())
    }

    pub fn take(&mut self, name: &str) -> PgWireResult<Cursor> {
        self.open.remove(name).ok_or_else(|| missing(name))
    }

    /// Put back a cursor a FETCH has read.
    pub fn put(&mut self, cursor: Cursor) {
        self.open.insert(cursor.declare.name.clone(), cursor);
    }

    pub fn close(&mut self, name: Option<&str>) -> PgWireResult<()> {
        match name {
            Some(name) => self.take(name).map(drop),
            None => {
                self.open.clear();
                Ok(())
            },
        }
    }

    pub fn schema(&self, name: &str) -> Option<(SchemaRef, bool)> {
        self.open.get(name).map(|c| (c.schema.clone(), c.declare.binary))
    }

    /// A transaction block ended: its cursors without HOLD close, and on a
    /// rollback so do those declared in it.
    pub fn end_block(&mut self, committed: bool) {
        self.open.retain(|_, c| c.declare.hold && (committed || !c.in_this_block));
        self.open.values_mut().for_each(|c| c.in_this_block = false);
    }

    /// The open cursors as `pg_cursors` lists them.
    pub fn listing(&self) -> Vec<CursorRow> {
        let mut rows = self
            .open
            .values()
            .map(|c| (c.declare.name.clone(), c.statement.clone(), c.declare.hold, c.declare.binary, c.created))
            .collect::<Vec<_>>();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

pub fn missing(name: &str) -> pgwire::error::PgWireError {
    user("34000", format!("cursor \"{name}\" does not exist"))
}

pub fn already_exists(name: &str) -> pgwire::error::PgWireError {
    user("42P03", format!("cursor \"{name}\" already exists"))
}

/// The frames a cursor's query streams, as they come.
pub struct FrameSink;

impl ResultSink for FrameSink {
    type Message = DataFrame;

    fn head(&mut self) -> Vec<DataFrame> {
        Vec::new()
    }

    fn batch(&mut self, df: &DataFrame, send: &mut dyn FnMut(DataFrame) -> bool) -> Result<bool, CoreError> {
        Ok(send(df.clone()))
    }

    fn tail(&mut self) -> Vec<DataFrame> {
        Vec::new()
    }
}

/// `frames` as data rows of `fields`.
pub fn rows(fields: Arc<Vec<FieldInfo>>, frames: &[DataFrame]) -> Result<Vec<DataRow>, CoreError> {
    let mut sink = RowSink::new(fields);
    let mut rows = Vec::new();
    for frame in frames {
        sink.batch(frame, &mut |batch| {
            rows.extend(batch);
            true
        })?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> CursorStatement {
        CursorStatement::of(sql).unwrap().unwrap_or_else(|| panic!("{sql} is a cursor statement"))
    }

    #[test]
    fn declarations_read_as_postgres_writes_them() {
        let CursorStatement::Declare(d) = parsed("DECLARE \"c_1\" NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM t WHERE x = 'FOR'") else {
            panic!()
        };
        assert_eq!(d, Declare { name: "c_1".into(), query: "SELECT * FROM t WHERE x = 'FOR'".into(), hold: true, binary: false });
        let CursorStatement::Declare(d) = parsed("declare Big binary insensitive cursor without hold for\n trades SAMPLE BY 1m;") else {
            panic!()
        };
        assert_eq!((d.name.as_str(), d.query.as_str(), d.hold, d.binary), ("big", "trades SAMPLE BY 1m", false, true));
        let CursorStatement::Declare(d) = parsed("DECLARE \"My \"\"x\"\"\" CURSOR FOR SELECT 1") else { panic!() };
        assert_eq!(d.name, "My \"x\"");
        for bad in ["DECLARE c CURSOR FOR", "DECLARE c CURSOR", "DECLARE c FOR SELECT 1", "DECLARE c CURSOR WITH FOR SELECT 1", "DECLARE \"c CURSOR FOR SELECT 1"] {
            assert!(CursorStatement::of(bad).is_err(), "{bad}");
        }
        let Err(pgwire::error::PgWireError::UserError(e)) = CursorStatement::of("DECLARE c SCROLL CURSOR FOR SELECT 1") else { panic!() };
        assert_eq!(e.code, "0A000");
        assert!(CursorStatement::of("SELECT 1").unwrap().is_none());
        assert!(CursorStatement::is("fetch 1 c") && !CursorStatement::is("SELECT 1"));
        // QuestDB's variables are a query's, not a cursor.
        for query in ["DECLARE @lim := 10 SELECT * FROM t LIMIT @lim", "declare\n  @x := 1 SELECT @x", "DECLARE OVERRIDABLE @x := 1 SELECT @x"] {
            assert!(CursorStatement::of(query).unwrap().is_none() && !CursorStatement::is(query), "{query}");
        }
    }

    #[test]
    fn fetch_directions_read_as_postgres_grammar_says() {
        let direction = |sql: &str| match parsed(sql) {
            CursorStatement::Fetch { direction, .. } => direction,
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed("FETCH FORWARD 100 FROM \"C\""), CursorStatement::Fetch { name: "C".into(), direction: Direction::Forward(100), moved: false });
        assert_eq!(parsed("move 5 in c"), CursorStatement::Fetch { name: "c".into(), direction: Direction::Forward(5), moved: true });
        assert_eq!(direction("FETCH c"), Direction::Forward(1));
        assert_eq!(direction("FETCH NEXT FROM c"), Direction::Forward(1));
        assert_eq!(direction("FETCH FORWARD FROM c"), Direction::Forward(1));
        assert_eq!(direction("FETCH ALL FROM c"), Direction::All);
        assert_eq!(direction("FETCH FORWARD ALL c"), Direction::All);
        assert_eq!(direction("FETCH -2 FROM c"), Direction::Forward(-2));
        assert_eq!(direction("FETCH ABSOLUTE 7 c"), Direction::Absolute(7));
        assert_eq!(direction("FETCH FIRST c"), Direction::Absolute(1));
        assert_eq!(direction("FETCH RELATIVE 3 FROM c"), Direction::Relative(3));
        for back in ["FETCH PRIOR FROM c", "FETCH LAST c", "FETCH BACKWARD c", "FETCH BACKWARD 5 FROM c", "FETCH BACKWARD ALL FROM c"] {
            assert_eq!(direction(back), Direction::Backward, "{back}");
        }
        assert_eq!(parsed("CLOSE ALL"), CursorStatement::Close(None));
        assert_eq!(parsed("CLOSE \"ALL\""), CursorStatement::Close(Some("ALL".into())));
        assert_eq!(parsed("close Cur;"), CursorStatement::Close(Some("cur".into())));
        for bad in ["FETCH", "FETCH FORWARD x FROM c", "FETCH ABSOLUTE FROM c", "CLOSE", "CLOSE a b", "FETCH 1 2 3 c"] {
            assert!(CursorStatement::of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_go_forward_from_where_the_cursor_stands() {
        let step = |d: Direction, at: u64| d.step(at).map_err(|_| ()).map(|s| (s.skip, s.take));
        assert_eq!(step(Direction::Forward(10), 3), Ok((0, Some(10))));
        assert_eq!(step(Direction::All, 3), Ok((0, None)));
        assert_eq!(step(Direction::Absolute(5), 2), Ok((2, Some(1))));
        assert_eq!(step(Direction::Absolute(3), 2), Ok((0, Some(1))));
        assert_eq!(step(Direction::Relative(4), 2), Ok((3, Some(1))));
        assert_eq!(step(Direction::Forward(0), 0), Ok((0, Some(0))));
        for back in [(Direction::Absolute(2), 2), (Direction::Forward(0), 1), (Direction::Forward(-1), 5), (Direction::Backward, 0), (Direction::Absolute(-1), 0)] {
            assert_eq!(step(back.0, back.1), Err(()), "{back:?}");
        }
    }

    fn cursor(batches: &[&[i64]]) -> Cursor {
        let (tx, rx) = mpsc::channel(batches.len().max(1));
        for batch in batches {
            tx.try_send(Ok(df!("x" => batch.to_vec()).unwrap())).unwrap();
        }
        let schema = Arc::new(Schema::from_iter([Field::new("x".into(), DataType::Int64)]));
        Cursor::new(Declare { name: "c".into(), query: "q".into(), hold: false, binary: false }, "DECLARE c CURSOR FOR q".into(), schema, rx, true)
    }

    fn values(frames: Vec<DataFrame>) -> Vec<i64> {
        frames.iter().flat_map(|f| f.column("x").unwrap().i64().unwrap().into_no_null_iter().collect::<Vec<_>>()).collect()
    }

    #[tokio::test]
    async fn fetches_take_rows_across_batches_in_order() {
        let mut c = cursor(&[&[1, 2, 3], &[], &[4, 5], &[6, 7, 8, 9]]);
        assert_eq!(values(c.fetch(Direction::Forward(2)).await.unwrap()), vec![1, 2]);
        assert_eq!(values(c.fetch(Direction::Forward(4)).await.unwrap()), vec![3, 4, 5, 6]);
        // Row 8 is two past the current row (6).
        assert_eq!(values(c.fetch(Direction::Absolute(8)).await.unwrap()), vec![8]);
        assert!(c.fetch(Direction::Absolute(8)).await.is_err());
        assert_eq!(values(c.fetch(Direction::All).await.unwrap()), vec![9]);
        assert_eq!(values(c.fetch(Direction::Forward(5)).await.unwrap()), Vec::<i64>::new());
        assert_eq!(c.position, 9);

        let mut c = cursor(&[&[1, 2], &[3]]);
        assert_eq!(values(c.fetch(Direction::Relative(3)).await.unwrap()), vec![3]);
        let mut c = cursor(&[&[1, 2], &[3]]);
        assert_eq!(values(c.fetch(Direction::Absolute(10)).await.unwrap()), Vec::<i64>::new());
    }

    #[test]
    fn a_block_s_end_closes_cursors_as_postgres_does() {
        let named = |name: &str, hold: bool| {
            let mut c = cursor(&[]);
            c.declare.name = name.into();
            c.declare.hold = hold;
            c
        };
        let mut open = Cursors::default();
        open.insert(named("a", false)).unwrap();
        open.insert(named("b", true)).unwrap();
        assert!(open.insert(named("b", false)).is_err());
        open.end_block(true);
        assert!(!open.exists("a") && open.exists("b"));
        // A held cursor from a committed block outlives a rollback; one
        // declared in the rolled-back block does not.
        open.insert(named("c", true)).unwrap();
        open.end_block(false);
        assert!(open.exists("b") && !open.exists("c"));
        assert!(open.close(Some("c")).is_err());
        open.close(None).unwrap();
        assert!(!open.exists("b"));
    }
}
