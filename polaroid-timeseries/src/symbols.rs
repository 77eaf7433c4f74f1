//! Series identity: each distinct by-key gets a dense id, in order of first
//! appearance, remembered across chunks.

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};

use crate::error::Result;

/// Memo slots (a power of two); `NO_ID` marks an empty one.
const MEMO_SLOTS: usize = 1024;
const NO_ID: u32 = u32::MAX;

/// A direct-mapped memo of inline views to ids; `NO_ID` marks an empty slot.
/// Its own `Default` allocates the slots, so every `Symbols` has them.
struct Memo(Box<[(u128, u32)]>);

impl Default for Memo {
    fn default() -> Self {
        Self(vec![(0, NO_ID); MEMO_SLOTS].into_boxed_slice())
    }
}

/// A view's memo slot: both halves folded, then a multiplicative hash's top bits.
#[inline]
fn memo_slot(view: u128) -> usize {
    let folded = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_SLOTS.trailing_zeros())) as usize
}

#[derive(Default)]
pub(crate) struct Symbols {
    by: Vec<PlSmallStr>,
    ids: PlHashMap<Box<[u8]>, u32>,
    /// Short strings (<= 12 bytes) are stored inline in their 16-byte view:
    /// the view itself is the key, hashed as one u128 instead of as bytes.
    /// A miss falls back to `ids`, so a view that differs only in padding
    /// still finds the same id.
    inline_ids: PlHashMap<u128, u32>,
    /// A direct-mapped memo in front of `inline_ids`: feeds have few
    /// symbols, arriving interleaved, and a multiply and one compare cost
    /// less than hashing the view.
    memo: Memo,
    /// A single categorical (or enum) by-column: each category id's series
    /// id (`NO_ID` until seen), so a row costs one table load. Valid for
    /// `cat_mapping` only; another mapping starts a new table.
    cat_ids: Vec<u32>,
    cat_mapping: Option<Arc<CategoricalMapping>>,
    /// `cat_ids` as handed to the kernel (see [`Symbols::category_table`]);
    /// `None` once `cat_ids` has changed since.
    cat_table: Option<Arc<[u32]>>,
    null_id: Option<u32>,
    /// One single-row frame of by-values per id.
    keys: Vec<DataFrame>,
    /// The by-columns with no rows, for an output without bars.
    empty: Option<DataFrame>,
}

impl Symbols {
    pub(crate) fn new(by: Vec<PlSmallStr>) -> Self {
        Self { by, ..Self::default() }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len().max(usize::from(self.by.is_empty()))
    }

    /// The id of each row of `df` (which holds the by-columns).
    pub(crate) fn ids(&mut self, df: &DataFrame) -> Result<Vec<u32>> {
        let n = df.height();
        if self.by.is_empty() {
            return Ok(vec![0; n]);
        }
        if self.empty.is_none() {
            self.empty = Some(df.select(self.by.iter().cloned())?.clear());
        }
        let mut out = Vec::with_capacity(n);
        let single = df.column(&self.by[0])?;
        if self.by.len() == 1 && (single.dtype().is_categorical() || single.dtype().is_enum()) {
            let series = single.as_materialized_series();
            match single.dtype().cat_physical()? {
                CategoricalPhysical::U8 => self.categorical_ids(series.cat8()?, df, &mut out)?,
                CategoricalPhysical::U16 => self.categorical_ids(series.cat16()?, df, &mut out)?,
                CategoricalPhysical::U32 => self.categorical_ids(series.cat32()?, df, &mut out)?,
            }
        } else if self.by.len() == 1 && single.dtype() == &DataType::String {
            let ca = single.str()?;
            let mut row = 0;
            for arr in ca.downcast_iter() {
                let validity = arr.validity();
                for (i, view) in arr.views().iter().enumerate() {
                    let id = if validity.is_some_and(|v| !v.get_bit(i)) {
                        self.null(df, row)?
                    } else if view.is_inline() {
                        let key = view.as_u128();
                        let slot = memo_slot(key);
                        match self.memo.0[slot] {
                            (k, id) if k == key && id != NO_ID => id,
                            _ => {
                                let id = match self.inline_ids.get(&key) {
                                    Some(&id) => id,
                                    None => {
                                        let id = self.intern(arr.value(i).as_bytes(), df, row)?;
                                        self.inline_ids.insert(key, id);
                                        id
                                    },
                                };
                                self.memo.0[slot] = (key, id);
                                id
                            },
                        }
                    } else {
                        self.intern(arr.value(i).as_bytes(), df, row)?
                    };
                    out.push(id);
                    row += 1;
                }
            }
        } else {
            let columns: Vec<Column> = self.by.iter().map(|c| df.column(c).cloned()).collect::<PolarsResult<_>>()?;
            let rows = polars::chunked_array::ops::row_encode::encode_rows_unordered(&columns)?;
            for (row, value) in rows.iter().enumerate() {
                let id = match value {
                    Some(bytes) => self.intern(bytes, df, row)?,
                    None => self.null(df, row)?,
                };
                out.push(id);
            }
        }
        Ok(out)
    }

    /// For a frame whose by-column is categorical (u32 category ids) with
    /// no nulls, when every category its mapping holds already has a series
    /// id: the column's category ids and the table from category id to
    /// series id. No row can then be a series not seen yet, so the kernel
    /// looks each row's series up itself and this makes no pass over the
    /// rows (it did one, writing a u32 per row, ~3 % of a 10M-tick run's
    /// CPU). `None` otherwise; [`Symbols::ids`] then interns row by row.
    pub(crate) fn category_table(&mut self, df: &DataFrame) -> Result<Option<(PrimitiveArray<u32>, Arc<[u32]>)>> {
        let [by] = &self.by[..] else { return Ok(None) };
        let column = df.column(by)?;
        if !matches!(column.dtype(), DataType::Categorical(..) | DataType::Enum(..))
            || column.dtype().cat_physical()? != CategoricalPhysical::U32
        {
            return Ok(None);
        }
        let ca = column.as_materialized_series().cat32()?;
        let mapping = ca.get_mapping();
        let known = self.cat_mapping.as_ref().is_some_and(|m| Arc::ptr_eq(m, mapping))
            && mapping.num_cats_upper_bound() <= self.cat_ids.len()
            && !self.cat_ids[..mapping.num_cats_upper_bound()].contains(&NO_ID);
        if !known || ca.physical().null_count() > 0 {
            return Ok(None);
        }
        let physical = ca.physical().rechunk();
        let arr = physical.downcast_as_array();
        let table = self.cat_table.get_or_insert_with(|| self.cat_ids.as_slice().into()).clone();
        Ok(Some((arr.clone(), table)))
    }

    /// Ids of a categorical column's rows through `cat_ids`; a category seen
    /// for the first time is interned by its string, as a string column's
    /// value would be.
    fn categorical_ids<T: PolarsCategoricalType>(
        &mut self,
        ca: &CategoricalChunked<T>,
        df: &DataFrame,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let mapping = ca.get_mapping();
        if !self.cat_mapping.as_ref().is_some_and(|m| Arc::ptr_eq(m, mapping)) {
            self.cat_ids.clear();
            self.cat_table = None;
            self.cat_mapping = Some(mapping.clone());
        }
        let mut row = 0;
        for arr in ca.physical().downcast_iter() {
            let validity = arr.validity().filter(|v| v.unset_bits() > 0);
            for (i, cat) in arr.values().iter().enumerate() {
                let id = if validity.is_some_and(|v| !v.get_bit(i)) {
                    self.null(df, row)?
                } else {
                    let cat = cat.as_cat() as usize;
                    match self.cat_ids.get(cat) {
                        Some(&id) if id != NO_ID => id,
                        _ => self.first_of_category(mapping, cat, df, row)?,
                    }
                };
                out.push(id);
                row += 1;
            }
        }
        Ok(())
    }

    /// The id of a category not seen before (for this mapping), kept in `cat_ids`.
    #[cold]
    fn first_of_category(&mut self, mapping: &CategoricalMapping, cat: usize, df: &DataFrame, row: usize) -> Result<u32> {
        let value = mapping.cat_to_str(cat as CatSize).ok_or_else(|| {
            polars_err!(ComputeError: "category id {cat} of column '{}' has no string", self.by[0])
        })?;
        let id = self.intern(value.as_bytes(), df, row)?;
        if self.cat_ids.len() <= cat {
            self.cat_ids.resize(cat + 1, NO_ID);
        }
        self.cat_ids[cat] = id;
        self.cat_table = None;
        Ok(id)
    }

    fn intern(&mut self, key: &[u8], df: &DataFrame, row: usize) -> Result<u32> {
        if let Some(&id) = self.ids.get(key) {
            return Ok(id);
        }
        let id = self.remember(df, row)?;
        self.ids.insert(key.into(), id);
        Ok(id)
    }

    fn null(&mut self, df: &DataFrame, row: usize) -> Result<u32> {
        if let Some(id) = self.null_id {
            return Ok(id);
        }
        let id = self.remember(df, row)?;
        self.null_id = Some(id);
        Ok(id)
    }

    fn remember(&mut self, df: &DataFrame, row: usize) -> Result<u32> {
        let id = self.keys.len() as u32;
        self.keys.push(df.select(self.by.iter().cloned())?.slice(row as i64, 1));
        Ok(id)
    }

    /// Each id's position when the series are sorted by their by-keys (as
    /// polars sorts them: ascending, nulls first); ties keep id order.
    pub(crate) fn ranks(&self) -> Result<Vec<u32>> {
        let n = self.len();
        if self.by.is_empty() || n <= 1 {
            return Ok((0..n as u32).collect());
        }
        let keys = self.keys_frame()?.with_row_index("__id".into(), None)?;
        let sorted = keys.sort(self.by.clone(), SortMultipleOptions::default().with_maintain_order(true))?;
        let mut rank = vec![0u32; n];
        for (position, id) in sorted.column("__id")?.idx()?.into_no_null_iter().enumerate() {
            rank[id as usize] = position as u32;
        }
        Ok(rank)
    }

    /// One row of by-values per id, in id order.
    fn keys_frame(&self) -> Result<DataFrame> {
        let mut keys = self.keys[0].clone();
        for k in &self.keys[1..] {
            keys.vstack_mut(k)?;
        }
        Ok(keys)
    }

    /// The by-columns for a list of ids (one output row each).
    pub(crate) fn gather(&self, ids: &[u32]) -> Result<Vec<Column>> {
        if self.by.is_empty() {
            return Ok(Vec::new());
        }
        if self.keys.is_empty() {
            return Ok(self.empty.clone().map(DataFrame::into_columns).unwrap_or_default());
        }
        let keys = self.keys_frame()?;
        let idx = IdxCa::from_vec("idx".into(), ids.iter().map(|&i| i as IdxSize).collect());
        Ok(keys.take(&idx)?.into_columns())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(symbols: &[Option<&str>], categories: &Arc<Categories>) -> DataFrame {
        df! { "symbol" => symbols }
            .unwrap()
            .lazy()
            .with_column(col("symbol").cast(DataType::from_categories(categories.clone())))
            .collect()
            .unwrap()
    }

    /// The kernel looks rows up only when no row can be a series not seen
    /// yet: after a per-row pass has given every category of the mapping a
    /// series, and while the chunk has no null symbol.
    #[test]
    fn category_table_only_when_every_category_has_a_series() {
        let categories = Categories::new("t".into(), "category-table".into(), CategoricalPhysical::U32);
        let mut symbols = Symbols::new(vec!["symbol".into()]);
        let first = chunk(&[Some("A"), Some("B"), Some("A")], &categories);
        assert!(symbols.category_table(&first).unwrap().is_none(), "no series yet");
        assert_eq!(symbols.ids(&first).unwrap(), [0, 1, 0]);

        let known = chunk(&[Some("B"), Some("A")], &categories);
        let (cats, series_of) = symbols.category_table(&known).unwrap().expect("every category has a series");
        let looked_up: Vec<u32> = cats.values().iter().map(|&c| series_of[c as usize]).collect();
        assert_eq!(looked_up, symbols.ids(&known).unwrap());

        let new = chunk(&[Some("C"), Some("A")], &categories);
        assert!(symbols.category_table(&new).unwrap().is_none(), "C has no series yet");
        assert_eq!(symbols.ids(&new).unwrap(), [2, 0]);
        let (cats, series_of) = symbols.category_table(&new).unwrap().expect("C has one now");
        assert_eq!(cats.values().iter().map(|&c| series_of[c as usize]).collect::<Vec<_>>(), [2, 0]);

        let null = chunk(&[Some("A"), None], &categories);
        assert!(symbols.category_table(&null).unwrap().is_none(), "a null symbol goes row by row");

        // A category in the mapping that no row has shown yet.
        chunk(&[Some("D")], &categories);
        assert!(symbols.category_table(&known).unwrap().is_none(), "D has no series yet");
    }
}

