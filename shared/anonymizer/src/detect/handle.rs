//! User handles: Slack mentions (`<@U123ABC>`, `<@U123ABC|jane>`), `@handles`, Jira account
//! ids, and the values of user-name fields in log lines (`user=jdoe`, `reporter: Jane Doe`).

use super::keywords::{of_byte, Group, Keywords};
use super::{before, is_word_byte};
use crate::span::{EntityType, Span};

/// `<@U…>` / `<@W…>` with an optional `|name`.
pub(crate) fn slack_mentions(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for p in super::finders().mention.find_iter(bytes) {
        let mut j = p + 2;
        if !matches!(bytes.get(j), Some(b'U' | b'W' | b'B')) {
            continue;
        }
        while j < bytes.len() && (bytes[j].is_ascii_uppercase() || bytes[j].is_ascii_digit()) {
            j += 1;
        }
        if j - p < 7 {
            continue;
        }
        if bytes.get(j) == Some(&b'|') {
            while j < bytes.len() && bytes[j] != b'>' && bytes[j] != b'\n' && j - p < 128 {
                j += 1;
            }
        }
        if bytes.get(j) == Some(&b'>') {
            out.push(Span::new(p, j + 1, EntityType::UserHandle));
        }
    }
}

/// Slack broadcast keywords, decorators, and log facets that look like handles.
const NOT_HANDLES: &[&[u8]] = &[
    b"here",
    b"channel",
    b"everyone",
    b"timestamp",
    b"version",
    b"type",
    b"id",
    b"http",
    b"network",
    b"usr",
    b"error",
    b"duration",
    b"evt",
    b"db",
    b"service",
    b"host",
    b"status",
    b"message",
    b"title",
    b"override",
    b"param",
    b"return",
    b"returns",
    b"since",
    b"deprecated",
    b"see",
    b"throws",
    b"author",
    b"todo",
    b"latest",
    b"next",
    b"types",
    b"team",
];

fn is_handle_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// `@jane.doe`, `@jdoe` (not e-mail local parts, npm scopes, decorators or log facets).
/// `marks`: [`Keywords::marks`] of `text`.
pub(crate) fn at_handles(text: &str, marks: &[usize], out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for at in of_byte(bytes, marks, b'@', b'@') {
        if before(bytes, at).is_some_and(|b| {
            is_word_byte(b) || matches!(b, b'.' | b'/' | b'<' | b'-' | b'+' | b'=' | b'\\' | b'$')
        }) {
            continue;
        }
        let mut e = at + 1;
        while e < bytes.len() && is_handle_byte(bytes[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(bytes[e - 1], b'.' | b'-' | b'_') {
            e -= 1;
        }
        let h = &bytes[at + 1..e];
        if h.len() < 2 || !h[0].is_ascii_alphabetic() || e - at > 40 {
            continue;
        }
        if matches!(bytes.get(e), Some(b'/' | b':' | b'(' | b'@' | b'[' | b'{'))
            || (bytes.get(e) == Some(&b'.')
                && bytes.get(e + 1).is_some_and(u8::is_ascii_alphanumeric))
        {
            continue;
        }
        let first = h.split(|&b| b == b'.').next().unwrap_or(h);
        let lower: Vec<u8> = first.iter().map(u8::to_ascii_lowercase).collect();
        if NOT_HANDLES.contains(&lower.as_slice()) {
            continue;
        }
        out.push(Span::new(at, e, EntityType::UserHandle));
    }
}

/// Atlassian account ids: `557058:f58131cb-b67d-43c7-b30d-6b58d40bd077`.
/// `marks`: [`Keywords::marks`] of `text`.
pub(crate) fn jira_account_ids(text: &str, marks: &[usize], out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for c in of_byte(bytes, marks, b':', b':') {
        if c < 6 || !bytes[c - 6..c].iter().all(u8::is_ascii_digit) {
            continue;
        }
        let s = c - 6;
        if before(bytes, s).is_some_and(is_word_byte) {
            continue;
        }
        let u = bytes.get(c + 1..c + 37);
        let is_uuid = u.is_some_and(|u| {
            u.iter().enumerate().all(|(k, &b)| {
                if matches!(k, 8 | 13 | 18 | 23) {
                    b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            })
        });
        if is_uuid {
            out.push(Span::new(s, c + 37, EntityType::UserHandle));
        }
    }
}

/// How many of [`IDENTITY_KEYS`] name a handle (`user` … `requester_id`); the rest name a person.
const HANDLE_KEY_COUNT: usize = 15;
/// Handle keys first, then person keys (see [`HANDLE_KEY_COUNT`]).
pub(crate) const IDENTITY_KEYS: &[&str] = &[
    "user",
    "username",
    "user_name",
    "userName",
    "login",
    "user_id",
    "userid",
    "userId",
    "account_id",
    "accountId",
    "usr.name",
    "usr.id",
    "actor",
    "uid",
    "requester_id",
    "reporter",
    "assignee",
    "author",
    "owner",
    "requester",
    "creator",
    "on-call",
    "oncall",
    "commander",
    "incident commander",
    "responder",
    "approver",
    "reviewer",
    "displayName",
    "display_name",
    "full_name",
    "fullName",
    "real_name",
    "realName",
];

/// Values of identity fields in free text: `user=jdoe`, `"login": "jdoe"`, `Reporter: Jane Doe`.
#[derive(Debug)]
pub(crate) struct KeyFinder;

impl KeyFinder {
    pub(crate) const fn new() -> Self {
        Self
    }

    pub(crate) fn find(&self, text: &str, kw: &Keywords, out: &mut Vec<Span>) {
        let bytes = text.as_bytes();
        for m in kw.of(Group::IdentityKey) {
            let person = m.local() >= HANDLE_KEY_COUNT;
            // the key must be a whole identifier
            if before(bytes, m.start()).is_some_and(|b| is_word_byte(b) || b == b'-' || b == b'.') {
                continue;
            }
            let mut j = m.end();
            if bytes
                .get(j)
                .is_some_and(|&b| is_word_byte(b) || b == b'-' || b == b'.')
            {
                continue;
            }
            if matches!(bytes.get(j), Some(b'"' | b'\'')) {
                j += 1;
            }
            while bytes.get(j) == Some(&b' ') {
                j += 1;
            }
            if !matches!(bytes.get(j), Some(b'=' | b':')) {
                continue;
            }
            j += 1;
            while bytes.get(j) == Some(&b' ') {
                j += 1;
            }
            let quoted = matches!(bytes.get(j), Some(b'"' | b'\''));
            if quoted {
                j += 1;
            }
            let s = j;
            let mut e = s;
            if person {
                // up to four words of a name, on one line
                let mut words = 0;
                while e < bytes.len() && words < 4 {
                    let ws = e;
                    while e < bytes.len()
                        && (is_word_byte(bytes[e]) || matches!(bytes[e], b'\'' | b'-' | b'.'))
                        && !(quoted && bytes[e] == b'\'')
                    {
                        e += 1;
                    }
                    if e == ws {
                        break;
                    }
                    words += 1;
                    if bytes.get(e) == Some(&b' ')
                        && bytes
                            .get(e + 1)
                            .is_some_and(|b| b.is_ascii_uppercase() || *b >= 0x80)
                    {
                        e += 1;
                    } else {
                        break;
                    }
                }
                while e > s && matches!(bytes[e - 1], b' ' | b'.') {
                    e -= 1;
                }
            } else {
                while e < bytes.len()
                    && (is_word_byte(bytes[e]) || matches!(bytes[e], b'.' | b'-' | b'@' | b'\\'))
                {
                    e += 1;
                }
                while e > s && matches!(bytes[e - 1], b'.' | b'-') {
                    e -= 1;
                }
            }
            if e <= s {
                continue;
            }
            let val = &bytes[s..e];
            let lower: Vec<u8> = val.iter().map(u8::to_ascii_lowercase).collect();
            if matches!(
                lower.as_slice(),
                b"null"
                    | b"none"
                    | b"true"
                    | b"false"
                    | b"unassigned"
                    | b"nobody"
                    | b"unknown"
                    | b"n"
                    | b"-"
            ) || val.iter().all(u8::is_ascii_digit) && val.len() < 3
            {
                continue;
            }
            let t = if person {
                EntityType::Person
            } else {
                EntityType::UserHandle
            };
            out.push(Span::new(s, e, t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<(String, EntityType)> {
        let mut v = Vec::new();
        slack_mentions(t, &mut v);
        let kw = Keywords::scan(t);
        at_handles(t, kw.marks(), &mut v);
        jira_account_ids(t, kw.marks(), &mut v);
        KeyFinder::new().find(t, &Keywords::scan(t), &mut v);
        let v = crate::span::resolve(v);
        v.iter()
            .map(|s| (t[s.start..s.end].to_string(), s.entity_type))
            .collect()
    }

    #[test]
    fn handle_keys_end_at_requester_id() {
        assert_eq!(IDENTITY_KEYS[HANDLE_KEY_COUNT - 1], "requester_id");
        assert_eq!(IDENTITY_KEYS[HANDLE_KEY_COUNT], "reporter");
    }

    #[test]
    fn handles_table() {
        use EntityType::*;
        let cases: &[(&str, &[(&str, EntityType)])] = &[
            (
                "hey <@U024BE7LH> and <@U0G9QF9C6|jane>",
                &[
                    ("<@U024BE7LH>", UserHandle),
                    ("<@U0G9QF9C6|jane>", UserHandle),
                ],
            ),
            ("ping @jane.doe, @here", &[("@jane.doe", UserHandle)]),
            ("npm i @types/node; @http.status_code:500 a@b.com", &[]),
            (
                "id 557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
                &[("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", UserHandle)],
            ),
            ("login failed user=jdoe from", &[("jdoe", UserHandle)]),
            ("Reporter: Jane Doe\nStatus", &[("Jane Doe", Person)]),
            ("service=checkout user_agent=curl", &[]),
        ];
        for (t, want) in cases {
            let want: Vec<(String, EntityType)> =
                want.iter().map(|(s, e)| ((*s).to_string(), *e)).collect();
            assert_eq!(found(t), want, "{t}");
        }
    }
}
