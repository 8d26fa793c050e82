//! The words after a house number as the address rules read them: the next few words (on the
//! stack), lower-cased in a fixed buffer, and their shapes (number, ordinal, letters).

use std::borrow::Cow;

/// Most words [`next_words`] returns.
pub(super) const NEXT_WORDS_MAX: usize = 8;

/// Up to [`NEXT_WORDS_MAX`] (start, end) pairs on the stack (no allocation per candidate).
pub(super) struct NextWords {
    buf: [(usize, usize); NEXT_WORDS_MAX],
    len: usize,
}

impl NextWords {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, w: (usize, usize)) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = w;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for NextWords {
    type Target = [(usize, usize)];

    fn deref(&self) -> &Self::Target {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Bytes that end a word of [`next_words`]: ASCII whitespace, `,`, `;`, `(`, `)`, `"`.
pub(super) const WORD_END: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_whitespace() || matches!(c, b',' | b';' | b'(' | b')' | b'"');
        b += 1;
    }
    t
};

/// Words (letters, `.`, `'`) of a line starting at `i`, up to `n` (at most
/// [`NEXT_WORDS_MAX`]) of them: (start, end) pairs.
pub(super) fn next_words(text: &str, mut i: usize, n: usize) -> NextWords {
    let bytes = text.as_bytes();
    let n = n.min(NEXT_WORDS_MAX);
    let mut out = NextWords {
        buf: [(0, 0); NEXT_WORDS_MAX],
        len: 0,
    };
    while out.len() < n && i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let s = i;
        while i < bytes.len() && !WORD_END[usize::from(bytes[i])] {
            i += 1;
        }
        if i == s {
            break;
        }
        out.push((s, i));
        if bytes.get(i) != Some(&b' ') {
            break;
        }
    }
    out
}

/// Longest ASCII word [`lower_word`] lower-cases into its buffer.
pub(super) const LOWER_BUF: usize = 24;

/// `text[s..e]` in lower case, borrowed when it already is, lower-cased into `buf` when it
/// is an ASCII word of at most [`LOWER_BUF`] bytes (no allocation for most words).
pub(super) fn lower_word<'a>(
    text: &'a str,
    s: usize,
    e: usize,
    buf: &'a mut [u8; LOWER_BUF],
) -> Cow<'a, str> {
    let w = text.get(s..e).unwrap_or("");
    if w.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(w)
    } else if w.is_ascii() && w.len() <= LOWER_BUF {
        let lower = buf.get_mut(..w.len()).unwrap_or_default();
        lower.copy_from_slice(w.as_bytes());
        lower.make_ascii_lowercase();
        std::str::from_utf8(lower).map_or_else(|_| Cow::Owned(w.to_lowercase()), Cow::Borrowed)
    } else {
        Cow::Owned(w.to_lowercase())
    }
}

pub(super) fn is_number(w: &str) -> bool {
    !w.is_empty() && w.len() <= 6 && w.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn is_ordinal(w: &str) -> bool {
    let d = w.bytes().take_while(u8::is_ascii_digit).count();
    d > 0 && matches!(&w[d..], "st" | "nd" | "rd" | "th")
}

pub(super) fn letters(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_alphabetic)
}
