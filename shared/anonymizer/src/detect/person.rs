//! PERSON names from the lexicon and context cues. Directory names are matched separately
//! (see `directory.rs`).
//!
//! Rules, in order:
//! - a capitalised first name that is not also a common word (`Tamara`, `Kevin`) starts a name;
//! - a capitalised first name that is also a common word (`Will`, `Grant`) starts a name only
//!   when a surname follows or a cue precedes it;
//! - after a cue (`paging`, `cc`, `thanks`, `hi`, `Mr.`, `Reporter:`, a sign-off line), a
//!   capitalised word that is not a common word starts a name, and lower-case first names count;
//! - a name extends over up to two following capitalised words that are surnames or not common
//!   words (`Brandon Ottarsdóttir`).

use super::lexicon::{self, Lexicon};
use crate::span::{EntityType, Span};

#[derive(Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    /// End without a possessive `'s`.
    name_end: usize,
    cap: bool,
    lower: bool,
    clean: bool,
    /// Not glued to a preceding identifier.
    clean_start: bool,
}

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn is_letter_at(text: &str, i: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(i)?;
    if b.is_ascii_alphabetic() {
        return Some((char::from(b), 1));
    }
    if b < 0x80 {
        return None;
    }
    let c = char_at(text, i)?;
    c.is_alphabetic().then(|| (c, c.len_utf8()))
}

fn clean_before(bytes: &[u8], s: usize) -> bool {
    match s.checked_sub(1).and_then(|k| bytes.get(k)) {
        None => true,
        Some(&b) => {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b'(' | b'['
                        | b'"'
                        | b'\''
                        | b','
                        | b';'
                        | b':'
                        | b'>'
                        | b'*'
                        | b'|'
                        | b'!'
                        | b'?'
                        | b'{'
                )
        }
    }
}

fn clean_after(bytes: &[u8], e: usize) -> bool {
    match bytes.get(e) {
        None => true,
        Some(b'.' | b'-') => !bytes.get(e + 1).is_some_and(u8::is_ascii_alphanumeric),
        // an escaped quote (`\"`, `\'`) in JSON or log text
        Some(b'\\') => matches!(bytes.get(e + 1), Some(b'"' | b'\'')),
        Some(&b) => {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b')' | b']'
                        | b'"'
                        | b'\''
                        | b','
                        | b';'
                        | b':'
                        | b'!'
                        | b'?'
                        | b'*'
                        | b'<'
                        | b'|'
                        | b'}'
                )
        }
    }
}

/// Whether `text[a..b]` is exactly one space.
#[inline]
fn space_gap(text: &str, a: usize, b: usize) -> bool {
    b == a + 1 && text.as_bytes().get(a) == Some(&b' ')
}

fn words(text: &str) -> Vec<Word> {
    let bytes = text.as_bytes();
    // one allocation for a typical line (about one word per six bytes), not a series of
    // reallocations
    let mut out = Vec::with_capacity(text.len() / 6 + 1);
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 && !b.is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let Some((c0, w0)) = is_letter_at(text, i) else {
            i += 1;
            continue;
        };
        let s = i;
        let mut e = i + w0;
        let mut all_upper = c0.is_uppercase();
        let mut all_lower = c0.is_lowercase();
        let mut n = 1;
        loop {
            // ASCII letters: the common case, without decoding
            if let Some(&b) = bytes.get(e) {
                if b.is_ascii_lowercase() {
                    all_upper = false;
                    e += 1;
                    n += 1;
                    continue;
                }
                if b.is_ascii_uppercase() {
                    all_lower = false;
                    e += 1;
                    n += 1;
                    continue;
                }
            }
            if let Some((c, w)) = is_letter_at(text, e) {
                all_upper &= c.is_uppercase();
                all_lower &= c.is_lowercase();
                e += w;
                n += 1;
                continue;
            }
            // internal apostrophe or hyphen: O'Brien, Jean-Luc, Fiammetta's
            let sep = match bytes.get(e) {
                Some(b'\'' | b'-') => 1,
                Some(0xE2) if text.get(e..).is_some_and(|r| r.starts_with('\u{2019}')) => 3,
                _ => 0,
            };
            if sep > 0 && is_letter_at(text, e + sep).is_some() {
                e += sep;
                continue;
            }
            break;
        }
        let mut name_end = e;
        if e - s > 2 && bytes[e - 1] == b's' {
            if bytes[e - 2] == b'\'' {
                name_end = e - 2;
            } else if e - s > 4 && bytes[e - 4..e - 1] == [0xE2, 0x80, 0x99] {
                name_end = e - 4; // U+2019 RIGHT SINGLE QUOTATION MARK
            }
        }
        let digit_glued = bytes
            .get(e)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'_')
            || s.checked_sub(1)
                .and_then(|k| bytes.get(k))
                .is_some_and(|b| b.is_ascii_digit() || *b == b'_');
        out.push(Word {
            start: s,
            end: e,
            name_end,
            cap: c0.is_uppercase() && (n == 1 || !all_upper),
            lower: all_lower,
            clean: !digit_glued && clean_before(bytes, s) && clean_after(bytes, e),
            clean_start: !digit_glued && clean_before(bytes, s),
        });
        i = e;
    }
    out
}

/// The cue word `w` (any ASCII case) as its lower-case spelling, if it is one.
fn cue_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    if b.len() > 10 || b.is_empty() {
        return None;
    }
    let mut buf = [0u8; 10];
    for (d, s) in buf.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    let l = buf.get(..b.len())?;
    Some(match l {
        b"paging" => "paging",
        b"page" => "page",
        b"paged" => "paged",
        b"cc" => "cc",
        b"thanks" => "thanks",
        b"thank" => "thank",
        b"thx" => "thx",
        b"ty" => "ty",
        b"hi" => "hi",
        b"hey" => "hey",
        b"hello" => "hello",
        b"dear" => "dear",
        b"ping" => "ping",
        b"pinged" => "pinged",
        b"pinging" => "pinging",
        b"mr" => "mr",
        b"mrs" => "mrs",
        b"ms" => "ms",
        b"dr" => "dr",
        b"prof" => "prof",
        b"reporter" => "reporter",
        b"assignee" => "assignee",
        b"author" => "author",
        b"owner" => "owner",
        b"oncall" => "oncall",
        b"on-call" => "on-call",
        b"regards" => "regards",
        b"cheers" => "cheers",
        b"best" => "best",
        b"sincerely" => "sincerely",
        b"per" => "per",
        b"ask" => "ask",
        b"asked" => "asked",
        b"told" => "told",
        b"congrats" => "congrats",
        b"welcome" => "welcome",
        b"escalated" => "escalated",
        b"escalating" => "escalating",
        b"assigned" => "assigned",
        b"named" => "named",
        b"is" => "is",
        b"says" => "says",
        b"said" => "said",
        b"i'm" => "i'm",
        b"me" => "me",
        _ => return None,
    })
}

/// Strong cue right before word `i`: a cue word separated by at most a few spaces or
/// punctuation (a sign-off cue may end the previous line).
fn has_cue(text: &str, ws: &[Word], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|k| ws.get(k)) else {
        return false;
    };
    let cur = ws[i];
    // cheap rejections first: cue words are 2 to 10 bytes, gaps at most 4
    if cur.start > prev.end + 4 || !(2..=10).contains(&(prev.end - prev.start)) {
        return false;
    }
    let Some(gap) = text.as_bytes().get(prev.end..cur.start) else {
        return false;
    };
    if !gap
        .iter()
        .all(|b| matches!(b, b' ' | b'.' | b',' | b':' | b'\n' | b'\r' | b'\t' | b'-'))
    {
        return false;
    }
    let Some(pw) = text.get(prev.start..prev.end) else {
        return false;
    };
    let Some(pl) = cue_word(pw) else {
        return false;
    };
    if pl == "me" {
        // only "call me X" / "calls me X" / "called me X"
        let Some(pp) = i.checked_sub(2).and_then(|k| ws.get(k)) else {
            return false;
        };
        let ppw = text.get(pp.start..pp.end).unwrap_or("");
        if !["call", "calls", "called"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(ppw))
            || !space_gap(text, pp.end, prev.start)
        {
            return false;
        }
    }
    if pl == "is" {
        // only "name is X" / "this is X"
        let Some(pp) = i.checked_sub(2).and_then(|k| ws.get(k)) else {
            return false;
        };
        let ppw = text.get(pp.start..pp.end).unwrap_or("");
        if !(ppw.eq_ignore_ascii_case("name") || ppw.eq_ignore_ascii_case("this"))
            || !space_gap(text, pp.end, prev.start)
        {
            return false;
        }
    }
    // only sign-off cues may end the previous line
    !gap.contains(&b'\n')
        || matches!(
            pl,
            "thanks" | "regards" | "cheers" | "best" | "sincerely" | "thx"
        )
}

fn lower(text: &str, s: usize, e: usize) -> String {
    text.get(s..e).map(str::to_lowercase).unwrap_or_default()
}

/// `text[s..e]` lower-cased into `buf` (no allocation once `buf` has grown).
fn lower_into<'a>(text: &str, s: usize, e: usize, buf: &'a mut String) -> &'a str {
    buf.clear();
    let w = text.get(s..e).unwrap_or("");
    if w.is_ascii() {
        buf.push_str(w);
        buf.make_ascii_lowercase();
    } else {
        for c in w.chars() {
            buf.extend(c.to_lowercase());
        }
    }
    buf
}

/// PERSON spans from the lexicon and cues.
pub(crate) fn find(text: &str, out: &mut Vec<Span>) {
    let lex = Lexicon::get();
    let ws = words(text);
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut lw_buf = String::new();
    let mut nl_buf = String::new();
    let mut i = 0usize;
    while i < ws.len() {
        let w = ws[i];
        if !w.clean || !(w.cap || w.lower) || w.name_end - w.start < 2 {
            i += 1;
            continue;
        }
        let cue = i > 0 && has_cue(text, &ws, i);
        if w.lower
            && !cue
            && !(w.name_end - w.start >= 4
                && ws
                    .get(i + 1)
                    .is_some_and(|n| n.lower && space_gap(text, w.end, n.start)))
        {
            i += 1;
            continue;
        }
        let lw: &str = lower_into(text, w.start, w.name_end, &mut lw_buf);
        let title = cue && {
            let p = ws[i - 1];
            p.clean
                && text.get(p.start..p.end).is_some_and(|t| {
                    ["mr", "mrs", "ms", "dr", "prof"]
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(t))
                })
        };
        let lwf = lex.flags(lw);
        let first = lwf & (lexicon::FIRST | lexicon::INTL) != 0;
        let common = lwf & lexicon::WORD != 0;
        let lw_last = lwf & lexicon::LAST != 0;
        if w.lower && !first && !title {
            i += 1;
            continue;
        }
        if lwf & lexicon::TECH != 0 {
            i += 1;
            continue;
        }
        let next_is_surname = ws.get(i + 1).is_some_and(|n| {
            n.clean && n.cap && space_gap(text, w.end, n.start) && {
                let nl = lower_into(text, n.start, n.name_end, &mut nl_buf);
                lex.is_last(nl) && !lex.is_word(nl) && !lex.is_tech(nl)
            }
        });
        let sentence_start = text
            .get(..w.start)
            .map(str::trim_end)
            .is_none_or(|t| t.is_empty() || t.ends_with(['.', '!', '?', '\n', ':', '"', '>']));
        let lower_pair = w.lower
            && first
            && !common
            && ws.get(i + 1).is_some_and(|n| {
                n.lower && n.clean && space_gap(text, w.end, n.start) && {
                    let nl = lower_into(text, n.start, n.name_end, &mut nl_buf);
                    lex.is_last(nl) && !lex.is_word(nl)
                }
            });
        // chat speaker at the start of a line: "Sven: rolled back"
        let speaker = w.cap
            && !common
            && text
                .get(..w.start)
                .is_none_or(|t| t.is_empty() || t.ends_with('\n'))
            && text.get(w.end..).is_some_and(|t| t.starts_with(": "));
        let start = if title {
            lwf & lexicon::TECH == 0
        } else if w.cap {
            speaker
                || (first && !common)
                || (first && next_is_surname)
                || (cue && (!common || first || lw_last))
                || (!sentence_start && lw_last && !common && lw.len() >= 4)
        } else {
            (cue && first && !common) || lower_pair
        };
        if !start {
            i += 1;
            continue;
        }
        let mut end = w.name_end;
        let mut j = i + 1;
        while j < ws.len() && j - i <= 4 {
            let n = ws[j];
            let prev_end = ws[j - 1].end;
            // nobiliary particles: "Gary de Vaan", "Donald van der Voet"
            if w.cap && n.lower && space_gap(text, prev_end, n.start) {
                let particle = matches!(
                    text.get(n.start..n.end),
                    Some(
                        "van"
                            | "von"
                            | "de"
                            | "der"
                            | "den"
                            | "da"
                            | "di"
                            | "del"
                            | "dos"
                            | "das"
                            | "du"
                            | "le"
                            | "la"
                            | "ten"
                            | "ter"
                            | "bin"
                            | "al"
                            | "el"
                    )
                );
                let mut k = j + 1;
                while particle
                    && k < ws.len()
                    && ws[k].lower
                    && k - j < 2
                    && space_gap(text, ws[k - 1].end, ws[k].start)
                {
                    k += 1;
                }
                if particle
                    && ws.get(k).is_some_and(|m| {
                        m.cap && m.clean && space_gap(text, ws[k - 1].end, m.start)
                    })
                {
                    end = ws[k].name_end;
                    j = k + 1;
                    continue;
                }
            }
            if ws[j - 1].name_end != ws[j - 1].end
                || !n.clean
                || !space_gap(text, prev_end, n.start)
            {
                break;
            }
            if !(w.cap && n.cap || w.lower && n.lower) {
                break;
            }
            let nl = lower_into(text, n.start, n.name_end, &mut nl_buf);
            if lex.is_tech(nl) || (lex.is_word(nl) && !lex.is_last(nl) && !lex.is_first(nl)) {
                break;
            }
            if lex.is_word(nl) && !(lex.is_last(nl) && j == i + 1 && !common) {
                break;
            }
            end = n.name_end;
            j += 1;
        }
        out.push(Span::new(
            title_start(text, &ws, i),
            end,
            EntityType::Person,
        ));
        found.push((i, j));
        i = j;
    }
    lists(text, &ws, &found, out);
}

/// Where the name starting at word `i` starts, with a preceding title (`Mr. `, `Dr `,
/// `Mrs. `): the title goes with the name.
fn title_start(text: &str, ws: &[Word], i: usize) -> usize {
    let w = ws[i];
    let Some(p) = i.checked_sub(1).and_then(|k| ws.get(k)) else {
        return w.start;
    };
    let is_title = text.get(p.start..p.end).is_some_and(|t| {
        [
            "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam",
        ]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(t))
    });
    let gap_ok = matches!(text.get(p.end..w.start), Some(". " | " "));
    if is_title && gap_ok && p.clean_start {
        p.start
    } else {
        w.start
    }
}

/// Names listed next to a found name (`Nicholas, Sean, John and Dawn`): capitalised words in
/// either name lexicon joined by `, `, ` and `, ` & ` or `/` to a found name.
fn lists(text: &str, ws: &[Word], found: &[(usize, usize)], out: &mut Vec<Span>) {
    let lex = Lexicon::get();
    let gap = |a: usize, b: usize| text.get(ws[a].end..ws[b].start).unwrap_or("");
    let is_conj = |k: usize| matches!(text.get(ws[k].start..ws[k].end), Some("and" | "or"));
    // the index of the next listed word after word `a`, if `a` is followed by a list separator
    let next = |a: usize| -> Option<usize> {
        let b = a + 1;
        if b >= ws.len() {
            return None;
        }
        match gap(a, b) {
            "/" | " & " => Some(b),
            ", " | " " if is_conj(b) && b + 1 < ws.len() && gap(b, b + 1) == " " => Some(b + 1),
            ", " => Some(b),
            _ => None,
        }
    };
    let prev = |b: usize| -> Option<usize> {
        let a = b.checked_sub(1)?;
        match gap(a, b) {
            "/" | " & " | ", " => Some(a),
            " " if is_conj(a) => {
                let z = a.checked_sub(1)?;
                matches!(gap(z, a), " " | ", ").then_some(z)
            }
            _ => None,
        }
    };
    let is_name = |w: &Word| {
        let l = lower(text, w.start, w.name_end);
        w.clean
            && w.cap
            && !lex.is_tech(&l)
            && (lex.is_first(&l) || lex.is_last(&l) || !lex.is_word(&l))
    };
    for &(s, e) in found {
        let mut k = e - 1;
        while let Some(n) = next(k) {
            if !is_name(&ws[n]) || ws[k].name_end != ws[k].end {
                break;
            }
            out.push(Span::new(ws[n].start, ws[n].name_end, EntityType::Person));
            k = n;
        }
        let mut k = s;
        while let Some(p) = prev(k) {
            if !is_name(&ws[p]) {
                break;
            }
            out.push(Span::new(ws[p].start, ws[p].name_end, EntityType::Person));
            k = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<String> {
        let mut v = Vec::new();
        find(t, &mut v);
        v.iter().map(|s| t[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn person_table() {
        let cases: &[(&str, &[&str])] = &[
            ("Tamara restarted the pod", &["Tamara"]),
            ("Brandon Ottarsdóttir joined", &["Brandon Ottarsdóttir"]),
            ("Tamara's address", &["Tamara"]),
            ("we will grant access", &[]),
            ("thanks Grant for the fix", &["Grant"]),
            ("paging Okonkwo about it", &["Okonkwo"]),
            ("Restart the Kafka consumer on Monday", &[]),
            ("Error in CheckoutService", &[]),
            ("cc jennifer please", &["jennifer"]),
            ("pod api-Kevin-7d9f", &[]),
            ("ask Dr. hurst today", &["Dr. hurst"]),
            ("this is Mr. Eric Costa.", &["Mr. Eric Costa"]),
            ("everyone calls me Kateřina", &["Kateřina"]),
            ("Dariusz restarted the broker", &["Dariusz"]),
            ("\\\"I\\'m Mary\\'s daughter\\\"", &["Mary"]),
            ("\"we rolled back,\" says Okafor.", &["Okafor"]),
            ("call me tomorrow", &[]),
            ("thanks to Gary de Vaan and the team", &["Gary de Vaan"]),
            (
                "founders: Kevin, Smith and Lee.",
                &["Kevin", "Smith", "Lee"],
            ),
        ];
        for (t, want) in cases {
            assert_eq!(found(t), *want, "{t}");
        }
    }
}
