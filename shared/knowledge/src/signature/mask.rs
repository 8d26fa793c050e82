//! Tokenising and masking: one raw log line to a sequence of masked tokens.
//!
//! The rules are generic, not per dataset:
//! - the line is split on ASCII whitespace;
//! - a token whose core (outer brackets, quotes and punctuation trimmed) is made only of hex
//!   digits and `:.-` separators and holds at least one digit (numbers, IPv4/IPv6 and MAC
//!   addresses, UUIDs, hashes, versions) becomes `<*>`;
//! - a path or URL (`a/b`, `/a`, `C:\a\b`, `scheme://...`) becomes `<*>`;
//! - otherwise the token is cut at delimiters (`=:,;()[]{}"'<>/\|@#`) and every piece that
//!   holds a digit becomes `<*>` (`ambient=32` -> `ambient=<*>`, `blk_-42` -> `<*>`);
//! - a token with no letters left outside `<*>` is a variable, and a run of such tokens collapses
//!   into a single `<*>`, so variable-length lists (stack frames, numbers) keep one shape.

/// The wildcard that stands for a variable part in templates.
pub const WILDCARD: &str = "<*>";

const fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':'
            | b','
            | b';'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'"'
            | b'\''
            | b'<'
            | b'>'
            | b'/'
            | b'\\'
            | b'|'
            | b'@'
            | b'#'
    )
}

const fn is_trim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b','
            | b';'
            | b':'
            | b'"'
            | b'\''
            | b'.'
    )
}

/// A letter for the "does this token still carry words" test: ASCII letters and any non-ASCII
/// byte (UTF-8 continuation or lead bytes of letters in other scripts).
const fn is_letter(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

fn trim_core(t: &[u8]) -> &[u8] {
    let mut s = 0;
    let mut e = t.len();
    while s < e && is_trim(t[s]) {
        s += 1;
    }
    while e > s && is_trim(t[e - 1]) {
        e -= 1;
    }
    &t[s..e]
}

fn is_hexish(core: &[u8]) -> bool {
    let mut digit = false;
    for &b in core {
        if b.is_ascii_digit() {
            digit = true;
        } else if !(b.is_ascii_hexdigit() || b == b':' || b == b'.' || b == b'-') {
            return false;
        }
    }
    digit
}

fn is_path(core: &[u8]) -> bool {
    if core.windows(3).any(|w| w == b"://") {
        return true;
    }
    for sep in [b'/', b'\\'] {
        let mut seps = 0usize;
        let mut segments = 0usize;
        let mut in_seg = false;
        for &b in core {
            if b == sep {
                seps += 1;
                in_seg = false;
            } else if !in_seg {
                in_seg = true;
                segments += 1;
            }
        }
        if seps > 0 && (segments >= 2 || (core.first() == Some(&sep) && segments >= 1)) {
            return true;
        }
    }
    false
}

/// Appends the masked form of `token` to `out`; returns true when the token is a pure variable
/// (nothing but wildcards and punctuation).
fn mask_token(token: &[u8], out: &mut Vec<u8>) -> bool {
    let core = trim_core(token);
    if !core.is_empty() && (is_hexish(core) || is_path(core)) {
        return true;
    }
    let start = out.len();
    let mut has_letter = false;
    let mut has_wild = false;
    let mut piece_start = 0usize;
    let mut piece_digit = false;
    let mut piece_letter = false;
    let mut flush = |out: &mut Vec<u8>, from: usize, to: usize, digit: bool, letter: bool| {
        if from < to {
            if digit {
                out.extend_from_slice(WILDCARD.as_bytes());
                has_wild = true;
            } else {
                out.extend_from_slice(&token[from..to]);
                has_letter |= letter;
            }
        }
    };
    for (i, &b) in token.iter().enumerate() {
        if is_delim(b) {
            flush(out, piece_start, i, piece_digit, piece_letter);
            out.push(b);
            piece_start = i + 1;
            piece_digit = false;
            piece_letter = false;
        } else if b.is_ascii_digit() {
            piece_digit = true;
        } else if is_letter(b) {
            piece_letter = true;
        }
    }
    flush(out, piece_start, token.len(), piece_digit, piece_letter);
    if has_wild && !has_letter {
        out.truncate(start);
        return true;
    }
    false
}

/// Masks `line` into `out` as tokens separated by single spaces, at most `max_tokens` tokens
/// (the rest of a longer line is one trailing wildcard). Returns the number of tokens written.
pub(crate) fn mask_line(line: &[u8], max_tokens: usize, out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut count = 0usize;
    let mut prev_var = false;
    for token in line
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
    {
        if count >= max_tokens {
            if !prev_var {
                out.push(b' ');
                out.extend_from_slice(WILDCARD.as_bytes());
                count += 1;
            }
            break;
        }
        let mark = out.len();
        if count > 0 {
            out.push(b' ');
        }
        let var = mask_token(token, out);
        if var {
            if prev_var {
                out.truncate(mark);
                continue;
            }
            out.truncate(if count > 0 { mark + 1 } else { mark });
            out.extend_from_slice(WILDCARD.as_bytes());
        }
        prev_var = var;
        count += 1;
    }
    count
}

/// True when `text`, masked, contains `template` as a run of consecutive tokens (each template
/// token `<*>` or equal to the masked token), so a log line quoted inside an alert still
/// matches its signature.
#[must_use]
pub fn template_matches(template: &str, text: &str) -> bool {
    let mut out = Vec::new();
    mask_line(text.as_bytes(), 256, &mut out);
    let masked = String::from_utf8_lossy(&out);
    let line: Vec<&str> = masked.split(' ').collect();
    let tpl: Vec<&str> = template.split(' ').collect();
    if tpl.len() > line.len() {
        return false;
    }
    line.windows(tpl.len())
        .any(|w| w.iter().zip(&tpl).all(|(l, t)| *t == WILDCARD || t == l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str) -> String {
        let mut out = Vec::new();
        mask_line(line.as_bytes(), 256, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_addresses_and_ids_become_wildcards() {
        assert_eq!(
            masked("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010"),
            "Receiving block <*> src: <*> dest: <*>"
        );
        assert_eq!(masked("ambient=32"), "ambient=<*>");
        assert_eq!(masked("MAC 00:1b:44:11:3a:b7 up"), "MAC <*> up");
    }

    #[test]
    fn variable_runs_collapse_into_one_wildcard() {
        assert_eq!(
            masked("called (stack @0x7fed806eb5d @0x7fef9fb9b6d @0xff83e97c)"),
            "called (stack <*>"
        );
        assert_eq!(
            masked("Fan speeds ( 3552 3534 **** 3515 )"),
            "Fan speeds ( <*> **** <*> )"
        );
    }

    #[test]
    fn paths_and_urls_are_variables_but_words_are_kept() {
        assert_eq!(masked("Deleting /var/log/x.log now"), "Deleting <*> now");
        assert_eq!(masked(r"from C:\Windows\winsxs"), "from <*>");
        assert_eq!(masked("see https://example.invalid/a"), "see <*>");
        assert_eq!(
            masked("session opened for user root"),
            "session opened for user root"
        );
    }

    #[test]
    fn templates_match_masked_lines() {
        assert!(template_matches(
            "Deleted block <*> size <*>",
            "Deleted block blk_9 size 10"
        ));
        assert!(template_matches("removing <*> now", "removing echo now"));
        assert!(!template_matches("removing <*> now", "removing echo later"));
        assert!(!template_matches("a <*>", "a"));
        assert!(template_matches(
            "pool exhausted for db <*>",
            "ALERT svc: pool exhausted for db x1"
        ));
    }

    #[test]
    fn long_lines_are_capped() {
        let line = "word ".repeat(1000);
        let mut out = Vec::new();
        assert_eq!(mask_line(line.as_bytes(), 8, &mut out), 9);
        assert!(out.ends_with(b"<*>"));
    }
}
