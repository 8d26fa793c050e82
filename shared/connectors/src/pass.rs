//! The incremental-pass checkpoint shared by the ticketing and document connectors (Jira,
//! Linear, Confluence, Notion, Google Drive).
//!
//! A *pass* reads everything changed since the previous pass, page by page, following the
//! vendor's cursor. The state between pages is a [`PassState`]: the watermark of the last
//! completed pass, the pass being read, and the cursor of the next page. Two flavours:
//!
//! - **fixed start** (Jira, Linear, Drive): a pass remembers when it started and the query it
//!   runs (so the vendor's cursor stays valid); when it ends, its start becomes the watermark
//!   ([`PassState::pass`]);
//! - **newest first** (Confluence, Notion): the vendor lists newest changes first; the pass
//!   stops at the first item not newer than the watermark ([`PassState::is_old`]) and, when it
//!   ends, the newest time it saw becomes the watermark ([`PassState::saw`]).
//!
//! [`PassState::end_page`] closes every page the same way: a cursor repeated by the vendor is a
//! [`Error::CursorLoop`] ([`check_cursor`], which the connectors with cursors of their own
//! use too); no next cursor ends the pass.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::{Page, Record};
use crate::source::encode;
use crate::{Error, Result};

/// The checkpoint state of an incremental connector; `Q` is the query a fixed-start pass
/// keeps (`()` for newest-first sources).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PassState<Q> {
    /// Where the last completed pass reached.
    #[serde(default)]
    pub(crate) watermark: Option<DateTime<Utc>>,
    /// The fixed-start pass being read: its start and query.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pass: Option<(DateTime<Utc>, Q)>,
    /// The newest change seen by the newest-first pass being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_max: Option<DateTime<Utc>>,
    /// The vendor's cursor of the next page (`token` in checkpoints written before the
    /// state was shared).
    #[serde(default, alias = "token")]
    pub(crate) cursor: Option<String>,
}

/// [`Error::CursorLoop`] when the vendor answered a page read with cursor `given` with that
/// same cursor as the next one: following it would never end.
///
/// # Errors
/// [`Error::CursorLoop`] naming `source_name` and `endpoint`.
pub(crate) fn check_cursor(
    source_name: &'static str,
    endpoint: &str,
    given: Option<&str>,
    next: Option<&str>,
) -> Result<()> {
    match (given, next) {
        (Some(g), Some(n)) if g == n => Err(Error::CursorLoop {
            source_name,
            endpoint: endpoint.to_owned(),
        }),
        _ => Ok(()),
    }
}

const fn none<T>() -> Option<T> {
    None
}

impl<Q> Default for PassState<Q> {
    fn default() -> Self {
        Self {
            watermark: None,
            pass: None,
            pass_max: None,
            cursor: None,
        }
    }
}

impl<Q: Clone + Serialize> PassState<Q> {
    /// The fixed-start pass being read, or a new one starting `now` whose query `query`
    /// builds from the watermark.
    pub(crate) fn pass(
        &mut self,
        now: DateTime<Utc>,
        query: impl FnOnce(Option<DateTime<Utc>>) -> Q,
    ) -> (DateTime<Utc>, Q) {
        let watermark = self.watermark;
        self.pass
            .get_or_insert_with(|| (now, query(watermark)))
            .clone()
    }

    /// Whether a newest-first item changed at `t` was already read by an earlier pass.
    pub(crate) fn is_old(&self, t: DateTime<Utc>) -> bool {
        self.watermark.is_some_and(|w| t <= w)
    }

    /// Notes an item changed at `t` in a newest-first pass.
    pub(crate) fn saw(&mut self, t: DateTime<Utc>) {
        if self.pass_max.is_none_or(|m| t > m) {
            self.pass_max = Some(t);
        }
    }

    /// The page of `records` whose next cursor is `next` (`None` or empty: the pass is
    /// complete, and the watermark moves to the pass start or the newest change seen).
    ///
    /// # Errors
    /// [`Error::CursorLoop`] when `next` repeats the cursor this page was read with.
    pub(crate) fn end_page(
        mut self,
        source_name: &'static str,
        endpoint: &str,
        records: Vec<Record>,
        next: Option<String>,
    ) -> Result<Page> {
        let next = next.filter(|c| !c.is_empty());
        check_cursor(
            source_name,
            endpoint,
            self.cursor.as_deref(),
            next.as_deref(),
        )?;
        let done = next.is_none();
        if done {
            let watermark = self
                .pass
                .take()
                .map(|(start, _)| start)
                .or(self.pass_max.take())
                .or(self.watermark);
            self = Self {
                watermark,
                ..Self::default()
            };
        } else {
            self.cursor = next;
        }
        Ok(Page {
            records,
            next_checkpoint: encode(&self),
            done,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::record::Checkpoint;
    use crate::source::decode;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    fn state<Q: serde::de::DeserializeOwned>(cp: &Checkpoint) -> PassState<Q> {
        decode("test", Some(cp)).unwrap()
    }

    #[test]
    fn fixed_start_pass_keeps_its_query_and_ends_at_its_start() {
        let mut s = PassState::<String>::default();
        let (start, q) = s.pass(t(1), |w| format!("since {w:?}"));
        assert_eq!((start, q.as_str()), (t(1), "since None"));
        let page = s
            .end_page("x", "/e", Vec::new(), Some("c1".into()))
            .unwrap();
        assert!(!page.done);
        let mut s: PassState<String> = state(&page.next_checkpoint);
        // Resumed: same start and query, whatever the clock says.
        assert_eq!(s.pass(t(5), |_| "other".into()), (t(1), q));
        assert_eq!(s.cursor.as_deref(), Some("c1"));
        let page = s.end_page("x", "/e", Vec::new(), None).unwrap();
        assert!(page.done);
        let mut s: PassState<String> = state(&page.next_checkpoint);
        assert_eq!(s.watermark, Some(t(1)));
        assert!(s.cursor.is_none());
        let (start, q) = s.pass(t(6), |w| format!("{w:?}"));
        assert_eq!(start, t(6));
        assert!(q.contains("01:00"));
    }

    #[test]
    fn newest_first_pass_ends_at_the_newest_change() {
        let mut s = PassState::<()>::default();
        s.saw(t(3));
        s.saw(t(2));
        let page = s.end_page("x", "/e", Vec::new(), Some("c".into())).unwrap();
        let mut s: PassState<()> = state(&page.next_checkpoint);
        s.saw(t(1));
        let page = s
            .end_page("x", "/e", Vec::new(), Some(String::new()))
            .unwrap();
        assert!(page.done);
        let s: PassState<()> = state(&page.next_checkpoint);
        assert_eq!(s.watermark, Some(t(3)));
        assert!(s.is_old(t(3)) && !s.is_old(t(4)));
        // A pass that saw nothing keeps the watermark.
        let page = s.end_page("x", "/e", Vec::new(), None).unwrap();
        let s: PassState<()> = state(&page.next_checkpoint);
        assert_eq!(s.watermark, Some(t(3)));
    }

    #[test]
    fn a_repeated_cursor_is_a_loop_and_old_checkpoints_still_read() {
        let s: PassState<String> = state(&Checkpoint(
            r#"{"watermark":null,"pass":["2026-11-20T01:00:00Z","q"],"token":"T"}"#.into(),
        ));
        assert_eq!(s.cursor.as_deref(), Some("T"));
        assert!(matches!(
            s.end_page("jira", "/e", Vec::new(), Some("T".into())),
            Err(Error::CursorLoop {
                source_name: "jira",
                ..
            })
        ));
        let s: PassState<()> = state(&Checkpoint(
            r#"{"watermark":"2026-11-20T01:00:00Z","pass_max":null,"cursor":null}"#.into(),
        ));
        assert_eq!(s.watermark, Some(t(1)));
    }
}
