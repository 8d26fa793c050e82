//! Credentials: vendor-prefixed tokens (Aho-Corasick on the prefixes, then charset and length
//! checks), JWTs, PEM private-key blocks, passwords in URLs and connection strings, bearer
//! tokens, and high-entropy values assigned to key/token/password/secret names.

use aho_corasick::{AhoCorasick, MatchKind};

use super::keywords::{present, Group, Keywords};
use super::{before, entropy, is_word_byte};
use crate::span::{EntityType, Span};

#[derive(Debug, Clone, Copy)]
enum Body {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Z0-9]`
    UpperAlnum,
    /// `[A-Za-z0-9_-]`
    UrlSafe,
    /// `[A-Za-z0-9_.-]`
    UrlSafeDot,
    /// JWT: three dot-separated base64url segments
    Jwt,
    /// Rest of a URL path
    Path,
}

impl Body {
    fn accepts(self, b: u8) -> bool {
        match self {
            Self::Alnum => b.is_ascii_alphanumeric(),
            Self::UpperAlnum => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Self::UrlSafe => b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
            Self::UrlSafeDot | Self::Jwt => {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
            }
            Self::Path => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'),
        }
    }
}

/// (prefix, body charset, minimum body length, whether the prefix must start a word)
const PREFIXES: &[(&str, Body, usize, bool)] = &[
    ("AKIA", Body::UpperAlnum, 16, true),
    ("ASIA", Body::UpperAlnum, 16, true),
    ("AGPA", Body::UpperAlnum, 16, true),
    ("AIDA", Body::UpperAlnum, 16, true),
    ("AROA", Body::UpperAlnum, 16, true),
    ("AIza", Body::UrlSafe, 35, true),
    ("ya29.", Body::UrlSafeDot, 20, true),
    ("ghp_", Body::Alnum, 30, true),
    ("gho_", Body::Alnum, 30, true),
    ("ghu_", Body::Alnum, 30, true),
    ("ghs_", Body::Alnum, 30, true),
    ("ghr_", Body::Alnum, 30, true),
    ("github_pat_", Body::UrlSafe, 22, true),
    ("glpat-", Body::UrlSafe, 20, true),
    ("gldt-", Body::UrlSafe, 20, true),
    ("glrt-", Body::UrlSafe, 20, true),
    ("glptt-", Body::UrlSafe, 20, true),
    ("xoxb-", Body::UrlSafe, 10, true),
    ("xoxp-", Body::UrlSafe, 10, true),
    ("xoxa-", Body::UrlSafe, 10, true),
    ("xoxr-", Body::UrlSafe, 10, true),
    ("xoxs-", Body::UrlSafe, 10, true),
    ("xoxe-", Body::UrlSafe, 10, true),
    ("xapp-", Body::UrlSafe, 10, true),
    ("sk_live_", Body::Alnum, 16, true),
    ("sk_test_", Body::Alnum, 16, true),
    ("rk_live_", Body::Alnum, 16, true),
    ("rk_test_", Body::Alnum, 16, true),
    ("whsec_", Body::Alnum, 16, true),
    ("npm_", Body::Alnum, 36, true),
    ("pypi-", Body::UrlSafe, 50, true),
    ("shpat_", Body::Alnum, 32, true),
    ("SG.", Body::UrlSafeDot, 40, true),
    ("dapi", Body::Alnum, 32, true),
    ("eyJ", Body::Jwt, 20, true),
    ("hooks.slack.com/services/", Body::Path, 20, false),
];

/// Key names whose values are credentials (matched case-insensitively inside a key).
pub(crate) const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "credential",
    "auth",
    "app_key",
    "appkey",
    "client_key",
    "signing_key",
    "encryption_key",
    "session_key",
    "x-api-key",
];

const PLACEHOLDERS: &[&str] = &[
    "null",
    "none",
    "true",
    "false",
    "redacted",
    "<redacted>",
    "[redacted]",
    "***",
    "xxx",
    "changeme",
    "undefined",
    "empty",
    "required",
    "optional",
    "string",
    "example",
    "sensitive",
    "hidden",
    "filtered",
    "masked",
    "secret",
    "password",
    "token",
    "bearer",
    "basic",
];

/// Finds credentials; built once.
#[derive(Debug)]
pub(crate) struct SecretFinder {
    prefixes: Option<AhoCorasick>,
}

impl SecretFinder {
    pub(crate) fn new() -> Self {
        let prefixes = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(PREFIXES.iter().map(|p| p.0))
            .ok();
        Self { prefixes }
    }

    pub(crate) fn find(&self, text: &str, kw: &Keywords, out: &mut Vec<Span>) {
        let bytes = text.as_bytes();
        if let Some(ac) = &self.prefixes {
            for m in ac.find_iter(text) {
                let (_, body, min, word_start) = PREFIXES[m.pattern().as_usize()];
                if word_start && before(bytes, m.start()).is_some_and(is_word_byte) {
                    continue;
                }
                let mut e = m.end();
                while e < bytes.len() && body.accepts(bytes[e]) {
                    e += 1;
                }
                if matches!(body, Body::Jwt | Body::UrlSafeDot) {
                    while e > m.end() && bytes[e - 1] == b'.' {
                        e -= 1;
                    }
                }
                if e - m.end() < min || bytes.get(e).is_some_and(|&b| is_word_byte(b)) {
                    continue;
                }
                if matches!(body, Body::Jwt) && !is_jwt(&bytes[m.start()..e]) {
                    continue;
                }
                out.push(Span::new(m.start(), e, EntityType::Secret));
            }
        }
        if kw.has(present::DASH) {
            pem_blocks(text, out);
        }
        if kw.has(present::COLON) && kw.has(present::SLASH) {
            url_passwords(bytes, out);
        }
        bearer(text, out);
        for m in kw.of(Group::SecretKey) {
            key_value(bytes, m.start(), m.end(), out);
        }
    }
}

fn is_jwt(tok: &[u8]) -> bool {
    let parts: Vec<&[u8]> = tok.split(|&b| b == b'.').collect();
    parts.len() == 3 && parts[0].len() >= 10 && parts[1].len() >= 10 && parts[1].starts_with(b"eyJ")
}

/// PEM private-key blocks, up to the END line or the end of the text.
fn pem_blocks(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for s in super::finders().pem.find_iter(bytes) {
        let header_end = memchr::memmem::find(&bytes[s + 11..], b"-----").map(|k| s + 11 + k);
        let Some(h) = header_end else { continue };
        if !bytes[s..h].ends_with(b"PRIVATE KEY") {
            continue;
        }
        let end = memchr::memmem::find(&bytes[h..], b"-----END ")
            .and_then(|k| {
                let from = h + k + 9;
                memchr::memmem::find(&bytes[from..], b"-----").map(|k2| from + k2 + 5)
            })
            .unwrap_or(bytes.len());
        out.push(Span::new(s, end, EntityType::Secret));
    }
}

/// `scheme://user:password@host`: the password.
fn url_passwords(bytes: &[u8], out: &mut Vec<Span>) {
    for p in super::finders().scheme.find_iter(bytes) {
        let s = p + 3;
        let mut colon = None;
        let mut j = s;
        while j < bytes.len() {
            match bytes[j] {
                b'@' => break,
                b':' if colon.is_none() => colon = Some(j),
                b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' => {
                    j = bytes.len();
                    break;
                }
                b if b.is_ascii_whitespace() => {
                    j = bytes.len();
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        if j < bytes.len() {
            if let Some(c) = colon {
                if j > c + 1 {
                    out.push(Span::new(c + 1, j, EntityType::Secret));
                }
            }
        }
    }
}

/// `Bearer <token>` and `Basic <base64>` credentials. Each scheme is searched for on its own
/// (`earer ` with a `B` or `b` before it, then `Basic `): the letters `b` and `B` are common
/// in text, those strings are not. No scheme overlaps itself and every occurrence is judged
/// alone, so the two searches report what one pass over the text would.
fn bearer(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let f = super::finders();
    for p in f.bearer.find_iter(bytes) {
        if p.checked_sub(1)
            .and_then(|k| bytes.get(k))
            .is_some_and(|&b| b == b'B' || b == b'b')
        {
            credential_after(bytes, p + f.bearer.needle().len(), out);
        }
    }
    for p in f.basic.find_iter(bytes) {
        credential_after(bytes, p + f.basic.needle().len(), out);
    }
}

/// The credential of an HTTP authorization scheme that ends at `s`: a token of at least 12
/// bytes with a digit.
fn credential_after(bytes: &[u8], s: usize, out: &mut Vec<Span>) {
    let mut e = s;
    while e < bytes.len()
        && (bytes[e].is_ascii_alphanumeric()
            || matches!(bytes[e], b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'='))
    {
        e += 1;
    }
    if e - s >= 12 && bytes[s..e].iter().any(u8::is_ascii_digit) {
        out.push(Span::new(s, e, EntityType::Secret));
    }
}

/// Bytes of a credential key (also what the keyword windows walk back over).
pub(crate) const fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// `key = value`, `key: value`, `"key": "value"`, `key=>value` where the key names a
/// credential: report the value when it looks like one.
fn key_value(bytes: &[u8], ks: usize, ke: usize, out: &mut Vec<Span>) {
    // the whole key: extend over identifier bytes around the matched keyword
    let mut key_start = ks;
    while key_start > 0 && is_key_byte(bytes[key_start - 1]) {
        key_start -= 1;
    }
    let mut j = ke;
    while j < bytes.len() && is_key_byte(bytes[j]) {
        j += 1;
    }
    let key = &bytes[key_start..j];
    let lower: Vec<u8> = key.iter().map(u8::to_ascii_lowercase).collect();
    // keys that merely mention a token: counts, lengths, expiry, types, urls, ids, usernames
    const NOT_SECRET: &[&[u8]] = &[
        b"count",
        b"length",
        b"len",
        b"expir",
        b"ttl",
        b"type",
        b"url",
        b"uri",
        b"_id",
        b"name",
        b"user",
        b"limit",
        b"max",
        b"min",
        b"size",
        b"usage",
        b"author",
        b"path",
        b"file",
        b"policy",
        b"strength",
        b"reset",
        b"_at",
        b"time",
        b"version",
        b"enabled",
        b"endpoint",
        b"header",
        b"field",
        b"rotation",
        b"scope",
        b"kind",
        b"format",
        b"mode",
    ];
    if NOT_SECRET.iter().any(|n| super::contains(&lower, n)) {
        return;
    }
    let is_password = [&b"pass"[..], b"pwd", b"secret", b"private"]
        .iter()
        .any(|n| super::contains(&lower, n));
    // closing quote of a JSON/YAML key, spaces, then the separator
    if matches!(bytes.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    while bytes.get(j) == Some(&b' ') || bytes.get(j) == Some(&b'\t') {
        j += 1;
    }
    match bytes.get(j) {
        Some(b'=') => {
            j += 1;
            if bytes.get(j) == Some(&b'>') {
                j += 1;
            }
        }
        Some(b':') => j += 1,
        _ => return,
    }
    while bytes.get(j) == Some(&b' ') || bytes.get(j) == Some(&b'\t') {
        j += 1;
    }
    let quote = match bytes.get(j) {
        Some(&q @ (b'"' | b'\'')) => {
            j += 1;
            Some(q)
        }
        _ => None,
    };
    let mut vs = j;
    let value_end = |from: usize| {
        let mut e = from;
        while e < bytes.len() {
            let b = bytes[e];
            let stop = match quote {
                Some(q) => b == q || b == b'\n' || b == b'\\',
                None => {
                    b.is_ascii_whitespace()
                        || matches!(b, b',' | b';' | b'&' | b'}' | b')' | b']' | b'"' | b'\'')
                }
            };
            if stop {
                break;
            }
            e += 1;
        }
        e
    };
    let mut ve = value_end(vs);
    // `Authorization: Bearer xyz`
    let first = &bytes[vs..ve];
    if first.eq_ignore_ascii_case(b"bearer")
        || first.eq_ignore_ascii_case(b"basic")
        || first.eq_ignore_ascii_case(b"token")
    {
        vs = ve + 1;
        if vs >= bytes.len() {
            return;
        }
        ve = value_end(vs);
    }
    let val = &bytes[vs..ve];
    if val.is_empty()
        || val.starts_with(b"${")
        || val.starts_with(b"{{")
        || val.starts_with(b"<")
        || val.starts_with(b"%(")
    {
        return;
    }
    let lower_val: Vec<u8> = val.iter().map(u8::to_ascii_lowercase).collect();
    if PLACEHOLDERS
        .iter()
        .any(|p| p.as_bytes() == lower_val.as_slice())
        || val.iter().all(|&b| b == b'*' || b == b'x' || b == b'X')
    {
        return;
    }
    let ok = if is_password {
        val.len() >= 4
    } else {
        let has_digit = val.iter().any(u8::is_ascii_digit);
        let has_alpha = val.iter().any(u8::is_ascii_alphabetic);
        val.len() >= 12 && has_digit && has_alpha && entropy(val) >= 3.0
    };
    if ok {
        out.push(Span::new(vs, ve, EntityType::Secret));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<String> {
        let mut v = Vec::new();
        SecretFinder::new().find(t, &Keywords::scan(t), &mut v);
        let v = crate::span::resolve(v);
        v.iter().map(|s| t[s.start..s.end].to_string()).collect()
    }

    /// The scan before the two searches: every `B` or `b`, then each scheme tried there.
    fn bearer_by_first_letter(text: &str) -> Vec<Span> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        for p in memchr::memchr2_iter(b'B', b'b', bytes) {
            let rest = &bytes[p..];
            if let Some(n) = [&b"Bearer "[..], b"bearer ", b"Basic "]
                .iter()
                .find(|n| rest.starts_with(n))
            {
                credential_after(bytes, p + n.len(), &mut out);
            }
        }
        out
    }

    #[test]
    fn bearer_searches_find_what_a_scan_of_every_b_finds() {
        // pieces glued in every order: schemes next to each other, inside tokens, glued to
        // `B`/`b`, at the start and the end of the text
        let pieces = [
            "Bearer ",
            "bearer ",
            "Basic ",
            "B",
            "b",
            "earer ",
            "asic ",
            "BEARER ",
            "x",
            "tok_1234567890ab",
            "dXNlcjpwYXNzd29yZDEy",
            "abcdefghijklmnop",
            " ",
            "=",
            "/9",
        ];
        let mut rng = crate::detect::Xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let count = rng.0 % 9;
            let t = rng.glued(&pieces, count);
            let mut got = Vec::new();
            bearer(&t, &mut got);
            got.sort_by_key(|s| s.start);
            assert_eq!(got, bearer_by_first_letter(&t), "{t:?}");
        }
    }

    #[test]
    fn secrets_table() {
        let cases: &[(&str, &[&str])] = &[
            ("key AKIAIOSFODNN7EXAMPLE here", &["AKIAIOSFODNN7EXAMPLE"]),
            ("t=ghp_0123456789abcdefghijABCDEFGHIJ012345", &["ghp_0123456789abcdefghijABCDEFGHIJ012345"]),
            ("xoxb-1234567890-abcdefghijkl", &["xoxb-1234567890-abcdefghijkl"]),
            ("postgres://app:s3cr3t@db:5432/x", &["s3cr3t"]),
            ("password=hunter22 user=bob", &["hunter22"]),
            ("\"client_secret\": \"a8Fk2mQ9zX1pL0vB7\"", &["a8Fk2mQ9zX1pL0vB7"]),
            ("DD_API_KEY=3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e", &["3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"]),
            ("Authorization: Bearer abc123def456ghi789", &["abc123def456ghi789"]),
            // every scheme, several in one line, one right after another, glued to a `B`
            (
                "x Basic dXNlcjpwYXNzd29yZDEy, bearer tok_1234567890ab BBearer Bearer 1234567890abcdef",
                &["dXNlcjpwYXNzd29yZDEy", "tok_1234567890ab", "1234567890abcdef"],
            ),
            ("max_tokens=4096 token_count: 12 password: ${DB_PASSWORD}", &[]),
            ("trace_id=4bf92f3577b34da6a3ce929d0e0e4736 sha 9fceb02d0ae598e95dc970b74767f19372d61af8", &[]),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- after", &["-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"]),
            ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", &["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"]),
        ];
        for (t, want) in cases {
            assert_eq!(found(t), *want, "{t}");
        }
    }
}
