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
use super::words::{words_into, Word};
use crate::span::{EntityType, Span};

/// Whether `text[a..b]` is exactly one space.
#[inline]
fn space_gap(text: &str, a: usize, b: usize) -> bool {
    b == a + 1 && text.as_bytes().get(a) == Some(&b' ')
}

/// The cue words, in lower case (ASCII, 2 to 10 bytes each).
const CUE_WORDS: &[&str] = &[
    "paging",
    "page",
    "paged",
    "cc",
    "thanks",
    "thank",
    "thx",
    "ty",
    "hi",
    "hey",
    "hello",
    "dear",
    "ping",
    "pinged",
    "pinging",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "reporter",
    "assignee",
    "author",
    "owner",
    "oncall",
    "on-call",
    "regards",
    "cheers",
    "best",
    "sincerely",
    "per",
    "ask",
    "asked",
    "told",
    "congrats",
    "welcome",
    "escalated",
    "escalating",
    "assigned",
    "named",
    "is",
    "says",
    "said",
    "i'm",
    "me",
];

/// Longest cue word, in bytes.
const CUE_MAX: usize = 10;

/// Per cue-word length and first byte (its low five bits), the low five bits of the last
/// bytes of the cue words of that length and first byte, one bit each: a word whose entry
/// lacks its last byte's bit is no cue word in any ASCII case (upper and lower case of a
/// letter share their low five bits), so most words are rejected before any comparison.
const CUE_ENDS: [[u32; 32]; CUE_MAX + 1] = {
    let mut t = [[0u32; 32]; CUE_MAX + 1];
    let mut k = 0;
    while k < CUE_WORDS.len() {
        let c = CUE_WORDS[k].as_bytes();
        t[c.len()][(c[0] & 31) as usize] |= 1 << (c[c.len() - 1] & 31);
        k += 1;
    }
    t
};

/// The cue word `w` (any ASCII case) as its lower-case spelling, if it is one.
fn cue_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    let (&first, &last) = (b.first()?, b.last()?);
    let ends = CUE_ENDS.get(b.len())?[usize::from(first & 31)];
    if ends & (1 << (last & 31)) == 0 {
        return None;
    }
    CUE_WORDS
        .iter()
        .copied()
        .find(|c| c.as_bytes().eq_ignore_ascii_case(b))
}

/// Strong cue right before word `i`: a cue word separated by at most a few spaces or
/// punctuation (a sign-off cue may end the previous line).
fn has_cue(text: &str, ws: &[Word], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|k| ws.get(k)) else {
        return false;
    };
    let cur = ws[i];
    // cheap rejections first: cue words are 2 to 10 bytes, gaps at most 4
    if cur.start > prev.end + 4 || !(2..=CUE_MAX).contains(&(prev.end - prev.start)) {
        return false;
    }
    // then the word itself (`cue_word` rejects most words on their length and end bytes)
    let Some(pw) = text.get(prev.start..prev.end) else {
        return false;
    };
    let Some(pl) = cue_word(pw) else {
        return false;
    };
    let Some(gap) = text.as_bytes().get(prev.end..cur.start) else {
        return false;
    };
    if !gap
        .iter()
        .all(|b| matches!(b, b' ' | b'.' | b',' | b':' | b'\n' | b'\r' | b'\t' | b'-'))
    {
        return false;
    }
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

/// Word lists kept above this many entries after a line are released (a 10 MiB line must not
/// pin its word list for the life of the thread).
const WORDS_KEEP: usize = 1 << 14;

std::thread_local! {
    /// The word list of the previous line, reused (no allocation per line).
    static WORDS: std::cell::RefCell<Vec<Word>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The lexicon-flag storage of the previous line, reused (see [`WordFlags`]).
    static FLAGS: std::cell::RefCell<FlagStore> =
        const { std::cell::RefCell::new((Vec::new(), String::new())) };
}

/// [`WordFlags`]' storage: flags per word and the lower-casing buffer.
type FlagStore = (Vec<u8>, String);

/// PERSON spans from the lexicon and cues.
/// `word_starts`: where the runs of word bytes of `text` start (`Keywords::word_starts`).
pub(crate) fn find(text: &str, word_starts: &[usize], out: &mut Vec<Span>) {
    let mut ws = WORDS.with(std::cell::RefCell::take);
    let store = FLAGS.with(std::cell::RefCell::take);
    words_into(text, word_starts, true, &mut ws);
    let (mut flags, mut buf) = find_with(text, &ws, store, out);
    ws.clear();
    ws.shrink_to(WORDS_KEEP);
    WORDS.with(|c| c.replace(ws));
    flags.clear();
    flags.shrink_to(WORDS_KEEP);
    buf.clear();
    buf.shrink_to(WORDS_KEEP);
    FLAGS.with(|c| c.replace((flags, buf)));
}

/// Lexicon flags of the words of one line, looked up at most once per word.
struct WordFlags<'a> {
    lex: &'a Lexicon,
    /// Flags per word; `UNKNOWN` until looked up (allocated at the first lookup: the Bloom
    /// filters answer for every word of most lines).
    flags: Vec<u8>,
    words: usize,
    buf: String,
}

/// Not a combination of lexicon flags: the word was not looked up yet.
const UNKNOWN: u8 = 0xFF;

impl<'a> WordFlags<'a> {
    /// Flags for `n` words, in `store` (emptied first; its capacity is reused).
    fn new(lex: &'a Lexicon, n: usize, store: FlagStore) -> Self {
        let (mut flags, buf) = store;
        flags.clear();
        Self {
            lex,
            flags,
            words: n,
            buf,
        }
    }

    /// [`Lexicon::flags`] of word `k` (`text[start..name_end]`, lower-cased).
    fn get(&mut self, text: &str, ws: &[Word], k: usize) -> u8 {
        match self.flags.get(k) {
            Some(&f) if f != UNKNOWN => f,
            _ => {
                if self.flags.is_empty() {
                    self.flags.resize(self.words, UNKNOWN);
                }
                let w = ws[k];
                let f = self
                    .lex
                    .flags(lower_into(text, w.start, w.name_end, &mut self.buf));
                if let Some(slot) = self.flags.get_mut(k) {
                    *slot = f;
                }
                f
            }
        }
    }

    /// Whether word `k` is a surname that is no common word or operational term (asks the
    /// Bloom filter first: most words are no name).
    fn plain_surname(&mut self, text: &str, ws: &[Word], k: usize) -> bool {
        let w = ws[k];
        let bytes = text.as_bytes().get(w.start..w.name_end).unwrap_or_default();
        self.lex.maybe_name(bytes)
            && self.get(text, ws, k) & (lexicon::LAST | lexicon::WORD | lexicon::TECH)
                == lexicon::LAST
    }
}

/// PERSON spans of `text`, whose words are `ws` (with fresh flag storage).
#[cfg(test)]
fn find_in(text: &str, ws: &[Word], out: &mut Vec<Span>) {
    find_with(text, ws, FlagStore::default(), out);
}

/// PERSON spans of `text`, whose words are `ws`, with the flag storage `store` (handed back
/// for the next line).
fn find_with(text: &str, ws: &[Word], store: FlagStore, out: &mut Vec<Span>) -> FlagStore {
    let lex = Lexicon::get();
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut fl = WordFlags::new(lex, ws.len(), store);
    let bytes = text.as_bytes();
    let mut i = 0usize;
    while i < ws.len() {
        let w = ws[i];
        if !w.clean || !(w.cap || w.lower) || w.name_end - w.start < 2 {
            i += 1;
            continue;
        }
        let cue = i > 0 && has_cue(text, ws, i);
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
        // without a cue (so without a title), a lower-case word starts a name only as a given
        // name, a capitalised one only as a given name, a surname or a chat speaker: the Bloom
        // filters reject most other words before any lookup
        if !cue {
            let wb = bytes.get(w.start..w.name_end).unwrap_or_default();
            let possible = if w.lower {
                lex.maybe_first(wb)
            } else {
                lex.maybe_name(wb) || speaker_shape(text, w)
            };
            if !possible {
                i += 1;
                continue;
            }
        }
        // the byte length of the lower-cased word (the same as the word's unless a letter
        // changes length when lower-cased)
        let lw_len = || {
            let t = text.get(w.start..w.name_end).unwrap_or("");
            if t.is_ascii() {
                t.len()
            } else {
                t.to_lowercase().len()
            }
        };
        let title = cue && {
            let p = ws[i - 1];
            p.clean
                && text.get(p.start..p.end).is_some_and(|t| {
                    ["mr", "mrs", "ms", "dr", "prof"]
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(t))
                })
        };
        let lwf = fl.get(text, ws, i);
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
            n.clean && n.cap && space_gap(text, w.end, n.start) && fl.plain_surname(text, ws, i + 1)
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
                    let f = fl.get(text, ws, i + 1);
                    f & (lexicon::LAST | lexicon::WORD) == lexicon::LAST
                }
            });
        // chat speaker at the start of a line: "Sven: rolled back"
        let speaker = w.cap && !common && speaker_shape(text, w);
        let start = if title {
            lwf & lexicon::TECH == 0
        } else if w.cap {
            speaker
                || (first && !common)
                || (first && next_is_surname)
                || (cue && (!common || first || lw_last))
                || (!sentence_start && lw_last && !common && lw_len() >= 4)
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
            // one lexicon lookup for every question about the next word
            let nf = fl.get(text, ws, j);
            let n_word = nf & lexicon::WORD != 0;
            let n_last = nf & lexicon::LAST != 0;
            let n_first = nf & (lexicon::FIRST | lexicon::INTL) != 0;
            if nf & lexicon::TECH != 0 || (n_word && !n_last && !n_first) {
                break;
            }
            if n_word && !(n_last && j == i + 1 && !common) {
                break;
            }
            end = n.name_end;
            j += 1;
        }
        out.push(Span::new(title_start(text, ws, i), end, EntityType::Person));
        found.push((i, j));
        i = j;
    }
    lists(text, ws, &found, out);
    (fl.flags, fl.buf)
}

/// A chat speaker's shape: the word starts the line and `: ` follows (`Sven: rolled back`).
fn speaker_shape(text: &str, w: Word) -> bool {
    text.get(..w.start)
        .is_none_or(|t| t.is_empty() || t.ends_with('\n'))
        && text.get(w.end..).is_some_and(|t| t.starts_with(": "))
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
        let f = lex.flags(&l);
        w.clean
            && w.cap
            && f & lexicon::TECH == 0
            && (f & (lexicon::FIRST | lexicon::INTL | lexicon::LAST) != 0 || f & lexicon::WORD == 0)
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
        let kw = super::super::keywords::Keywords::scan(t);
        find(t, kw.word_starts(), &mut v);
        v.iter().map(|s| t[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn jumping_between_word_runs_finds_the_words_a_byte_by_byte_scan_finds() {
        let texts = [
            "Paging Jean-Luc O'Brien, cc: @sam_9 (María José) -- Fiammetta's x9Kevin_ab",
            "2026-11-24T03:09:37Z blk_-1608999687919862906 O\u{2019}Neil — Søren\t'quoted'",
            "ÆØÅ æøå Ärger, 東京 Ωmega x-y-z a' b- 'c -d \"e\" don’t",
            "",
            "   ...   ",
        ];
        for t in texts {
            // a start at every byte makes the scan step byte by byte
            let every: Vec<usize> = (0..t.len()).collect();
            let kw = super::super::keywords::Keywords::scan(t);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            words_into(t, &every, false, &mut a);
            words_into(t, kw.word_starts(), false, &mut b);
            assert_eq!(a, b, "{t}");
            assert!(!t.chars().any(char::is_alphabetic) || !b.is_empty(), "{t}");
        }
    }

    #[test]
    fn leaving_out_words_glued_to_a_following_digit_changes_no_finding() {
        let vocab = [
            "thanks", "Thanks", "hi", "cc", "call", "me", "name", "is", "this", "Mr.", "Dr",
            "Kevin", "Will", "Grant", "Smith", "jennifer", "van", "de", "and", "or", "Costa",
            "Okafor", "error", "pod", "x", "ab", "_", "9", "12", "bea5e", "f0", "-", "'", ", ",
            " ", " ", " ", "  ", ": ", "/", " & ", ".", "\n", "Sven", "Lee", "O'Brien", "s",
        ];
        let mut rng = crate::detect::Xorshift(0x2545_f491_4f6c_dd1d);
        let mut differs = 0usize;
        for _ in 0..20_000 {
            let t = rng.glued(&vocab, 10);
            let kw = super::super::keywords::Keywords::scan(&t);
            let (mut all, mut kept) = (Vec::new(), Vec::new());
            words_into(&t, kw.word_starts(), false, &mut all);
            words_into(&t, kw.word_starts(), true, &mut kept);
            differs += usize::from(all.len() != kept.len());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            find_in(&t, &all, &mut a);
            find_in(&t, &kept, &mut b);
            assert_eq!(a, b, "{t:?}");
        }
        assert!(differs > 1000, "{differs}");
    }

    #[test]
    fn cue_word_filter_keeps_every_cue_word_in_any_case() {
        let reference = |w: &str| {
            CUE_WORDS
                .iter()
                .copied()
                .find(|c| c.eq_ignore_ascii_case(w))
        };
        for c in CUE_WORDS {
            assert!((2..=CUE_MAX).contains(&c.len()), "{c}");
            let upper = c.to_ascii_uppercase();
            let title = format!("{}{}", &upper[..1], &c[1..]);
            for w in [(*c).to_string(), upper, title] {
                assert_eq!(cue_word(&w), Some(*c), "{w}");
            }
        }
        // every word of a mixed vocabulary, as the reference scan answers
        let words = [
            "Pager",
            "cc",
            "CCs",
            "pages",
            "Thanks",
            "mE",
            "i'M",
            "im",
            "on-call",
            "oncal",
            "x",
            "",
            "Søren",
            "ié",
            "escalatingx",
            "Is",
            "it",
            "bests",
            "Best",
            "per",
            "peR",
            "prof.",
            "hey",
            "hex",
            "tz",
            "ty",
        ];
        for w in words {
            assert_eq!(cue_word(w), reference(w), "{w}");
        }
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
