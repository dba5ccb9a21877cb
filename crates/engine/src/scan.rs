//! Range reads of the data column family: pages of keys (and values) in either direction, and
//! bounded counts. A range is a prefix or `[start, end)`; `after` resumes a paged read after
//! the previous page's last key, in the read's own direction.

use rocksdb::{Direction, IteratorMode, ReadOptions};

use crate::{
    prefix_successor, Engine, EngineError, RangeCount, Result, ScanPage, ScanRequest, CF_DATA,
};

/// The range's bounds: inclusive lower, exclusive upper (`None`: the end of the keyspace); a
/// request for no keys at all is refused.
fn bounds(req: &ScanRequest) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    if req.limit == 0 {
        return Err(EngineError::InvalidArgument(
            "a range read's limit must be at least 1".into(),
        ));
    }
    Ok(match &req.prefix {
        Some(prefix) => (prefix.clone(), prefix_successor(prefix)),
        None => (req.start.clone(), req.end.clone()),
    })
}

impl Engine {
    pub fn scan(&self, req: &ScanRequest) -> Result<ScanPage> {
        let (lower, upper) = bounds(req)?;
        let mut ro = ReadOptions::default();
        let mode = if req.reverse {
            // Invariant: a reverse read never yields a key at or past `upper` nor at or past
            // `after` (both exclusive); SeekForPrev lands at or before its target, so the
            // loop below skips an exact hit.
            ro.set_iterate_lower_bound(lower.clone());
            match (&req.after, &upper) {
                (Some(after), Some(up)) if after < up => {
                    IteratorMode::From(after, Direction::Reverse)
                }
                (Some(after), None) => IteratorMode::From(after, Direction::Reverse),
                (_, Some(up)) => IteratorMode::From(up, Direction::Reverse),
                (None, None) => IteratorMode::End,
            }
        } else {
            if let Some(up) = &upper {
                ro.set_iterate_upper_bound(up.clone());
            }
            match &req.after {
                Some(after) if after.as_slice() >= lower.as_slice() => {
                    IteratorMode::From(after, Direction::Forward)
                }
                _ => IteratorMode::From(&lower, Direction::Forward),
            }
        };
        let iter = self.db.iterator_cf_opt(self.cf(CF_DATA), ro, mode);
        let bytes_max = req.bytes_max.unwrap_or(usize::MAX);
        let mut page = ScanPage::default();
        let mut bytes = 0usize;
        for item in iter {
            let (k, v) = item?;
            if req.after.as_deref() == Some(&*k)
                || (req.reverse && upper.as_deref().is_some_and(|up| *k >= *up))
            {
                continue;
            }
            let full = bytes.saturating_add(v.len()) > bytes_max && !page.items.is_empty();
            if page.items.len() == req.limit || full {
                page.more = true;
                break;
            }
            bytes += v.len();
            let kept = req.value_prefix_bytes.map_or(v.len(), |n| n.min(v.len()));
            let value = if req.keys_only {
                Vec::new()
            } else {
                v[..kept].to_vec()
            };
            page.items.push((k.to_vec(), value));
        }
        Ok(page)
    }

    /// Counts the range's keys (after `after`, ascending), at most `req.limit` of them: a count
    /// copies no value.
    pub fn count(&self, req: &ScanRequest) -> Result<RangeCount> {
        let (lower, upper) = bounds(req)?;
        let mut ro = ReadOptions::default();
        if let Some(up) = upper {
            ro.set_iterate_upper_bound(up);
        }
        let from = match &req.after {
            Some(after) if after.as_slice() >= lower.as_slice() => after.clone(),
            _ => lower,
        };
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(CF_DATA), ro);
        iter.seek(&from);
        if iter.valid() && req.after.as_deref() == iter.key() {
            iter.next();
        }
        let mut out = RangeCount::default();
        // One buffer reused for the last key counted (no allocation per key).
        let mut last = Vec::new();
        while let Some(key) = iter.key() {
            if out.count as usize == req.limit {
                out.more = true;
                break;
            }
            out.count += 1;
            last.clear();
            last.extend_from_slice(key);
            iter.next();
        }
        iter.status()?;
        out.last = (out.count > 0).then_some(last);
        Ok(out)
    }
}
