//! E-mail addresses and IP addresses.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::keywords::of_byte;
use super::{before, is_word_byte};
use crate::span::{EntityType, Span};

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// True when the `@` at `at` is the end of URL userinfo (`scheme://user:pass@host`).
fn in_url_userinfo(bytes: &[u8], at: usize) -> bool {
    let mut i = at;
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b'/' => return i >= 2 && bytes[i - 1] == b'/' && bytes[i - 2] == b':',
            b'?' | b'#' | b'=' | b'&' => return false,
            b if b.is_ascii_whitespace() => return false,
            _ => {}
        }
    }
    false
}

/// E-mail addresses: `@` prefilter, then local part, dotted domain, alphabetic TLD.
/// `marks`: [`Keywords::marks`](super::keywords::Keywords::marks) of `text`.
pub(crate) fn emails(text: &str, marks: &[usize], out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut last_end = 0usize;
    for at in of_byte(bytes, marks, b'@', b'@') {
        if at < last_end {
            continue;
        }
        let mut s = at;
        while s > last_end && is_local_byte(bytes[s - 1]) {
            s -= 1;
        }
        while s < at && bytes[s] == b'.' {
            s += 1;
        }
        if s == at {
            continue;
        }
        let mut e = at + 1;
        while e < bytes.len() && is_domain_byte(bytes[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(bytes[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let domain = &bytes[at + 1..e];
        let Some(dot) = memchr::memrchr(b'.', domain) else {
            continue;
        };
        let tld = &domain[dot + 1..];
        if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || dot == 0 {
            continue;
        }
        // git remotes like git@github.com:org/repo are operational, not personal
        if bytes.get(e) == Some(&b':')
            && bytes
                .get(e + 1)
                .is_some_and(|b| !b.is_ascii_whitespace() && !b.is_ascii_digit())
        {
            continue;
        }
        if in_url_userinfo(bytes, at) {
            continue;
        }
        out.push(Span::new(s, e, EntityType::EmailAddress));
        last_end = e;
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let seg0 = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (seg0 & 0xfe00) == 0xfc00
        || (seg0 & 0xffc0) == 0xfe80
}

/// Letters glued before a dotted quad at `s` (`d203.0.113.9`, `src10.1.2.3`): accepted
/// unless they mark a version (`v1.2.3.4`, `build1.2.3.4`) or continue a dotted or dashed
/// name (`ip-10.0.0.1`, `host.a10.0.0.1`).
fn glued_prefix_ok(bytes: &[u8], s: usize) -> bool {
    let mut p = s;
    while p > 0 && bytes[p - 1].is_ascii_alphabetic() && s - p < 12 {
        p -= 1;
    }
    if p == s || before(bytes, p).is_some_and(|b| is_word_byte(b) || b == b'.' || b == b'-') {
        return false;
    }
    let prefix = &bytes[p..s];
    const VERSION_MARKS: &[&[u8]] = &[
        b"v", b"ver", b"version", b"r", b"rel", b"release", b"b", b"build", b"rc", b"beta",
        b"alpha", b"p", b"patch", b"u", b"update", b"sp", b"jdk", b"python", b"node", b"go",
    ];
    !VERSION_MARKS.iter().any(|m| prefix.eq_ignore_ascii_case(m))
}

/// IPv4 (dotted quad, octets <= 255, not part of a longer dotted run) and IPv6 (anything
/// `std::net::Ipv6Addr` accepts around a colon run of hex digits).
/// `marks`: [`Keywords::marks`](super::keywords::Keywords::marks) of `text`.
pub(crate) fn ips(text: &str, marks: &[usize], keep_private: bool, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    // IPv4: prefilter on '.' between digits
    let mut skip_to = 0usize;
    for dot in of_byte(bytes, marks, b'.', b'.') {
        if dot < skip_to || dot == 0 || !bytes[dot - 1].is_ascii_digit() {
            continue;
        }
        let mut s = dot;
        while s > 0 && bytes[s - 1].is_ascii_digit() {
            s -= 1;
        }
        if let Some(b) = before(bytes, s) {
            if (is_word_byte(b) && !glued_prefix_ok(bytes, s)) || b == b'.' || b == b'-' {
                continue;
            }
        }
        let mut e = s;
        let mut parts = 0;
        loop {
            let ds = e;
            while e < bytes.len() && bytes[e].is_ascii_digit() && e - ds < 4 {
                e += 1;
            }
            if e == ds || e - ds > 3 {
                break;
            }
            parts += 1;
            if parts == 4 || bytes.get(e) != Some(&b'.') {
                break;
            }
            e += 1;
        }
        skip_to = e;
        if parts != 4 {
            continue;
        }
        match bytes.get(e) {
            Some(&b) if is_word_byte(b) || b == b'-' => continue,
            Some(b'.') if bytes.get(e + 1).is_some_and(u8::is_ascii_digit) => continue,
            _ => {}
        }
        let Some(ip) = text.get(s..e).and_then(|t| t.parse::<Ipv4Addr>().ok()) else {
            continue;
        };
        if keep_private && is_private_v4(ip) {
            continue;
        }
        out.push(Span::new(s, e, EntityType::IpAddress));
    }
    // IPv6: prefilter on ':' with hex or ':' on both sides
    let is_v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let mut skip_to = 0usize;
    for c in of_byte(bytes, marks, b':', b':') {
        if c < skip_to {
            continue;
        }
        let l = before(bytes, c).is_some_and(|b| b.is_ascii_hexdigit() || b == b':');
        let r = bytes
            .get(c + 1)
            .is_some_and(|&b| b.is_ascii_hexdigit() || b == b':');
        if !(l && r) {
            continue;
        }
        let mut s = c;
        while s > 0 && is_v6(bytes[s - 1]) {
            s -= 1;
        }
        // glued on the left (`sha256:`, `T21:39`): rejected before the walk to the right (a
        // `:` later in the same run walks back to the same start and is rejected the same)
        if before(bytes, s).is_some_and(|b| is_word_byte(b) || b == b'-') {
            continue;
        }
        let mut e = c;
        while e < bytes.len() && is_v6(bytes[e]) {
            e += 1;
        }
        skip_to = e;
        while e > s && matches!(bytes[e - 1], b'.' | b':') && !bytes[..e].ends_with(b"::") {
            e -= 1;
        }
        if bytes.get(e).is_some_and(|&b| is_word_byte(b)) {
            continue;
        }
        let cand = &bytes[s..e];
        if cand.iter().filter(|&&b| b == b':').count() < 2 {
            continue;
        }
        let Some(ip) = text.get(s..e).and_then(|t| t.parse::<Ipv6Addr>().ok()) else {
            continue;
        };
        if keep_private && is_private_v6(ip) {
            continue;
        }
        out.push(Span::new(s, e, EntityType::IpAddress));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(t: &str) -> Vec<usize> {
        super::super::keywords::Keywords::scan(t).marks().to_vec()
    }

    fn found(f: impl Fn(&str, &mut Vec<Span>), t: &str) -> Vec<String> {
        let mut v = Vec::new();
        f(t, &mut v);
        v.iter().map(|s| t[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn emails_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "mail Jane.Doe+x@Example.co.uk now",
                &["Jane.Doe+x@Example.co.uk"],
            ),
            ("<mailto:a@b.io|a@b.io>", &["a@b.io", "a@b.io"]),
            ("git@github.com:org/repo.git", &[]),
            ("postgres://app:pw@db.internal:5432/x", &[]),
            ("user@localhost", &[]),
            ("end a@b.com.", &["a@b.com"]),
        ];
        for (t, want) in cases {
            let f = |t: &str, v: &mut Vec<Span>| emails(t, &marks(t), v);
            assert_eq!(found(f, t), *want, "{t}");
        }
    }

    #[test]
    fn ips_table() {
        let f = |t: &str, v: &mut Vec<Span>| ips(t, &marks(t), false, v);
        let cases: &[(&str, &[&str])] = &[
            ("from 203.0.113.9, ok", &["203.0.113.9"]),
            ("peer d203.0.113.9 closed", &["203.0.113.9"]),
            (
                "ip=10.0.0.1 src=192.0.2.44:443",
                &["10.0.0.1", "192.0.2.44"],
            ),
            ("v10.0.0.1 build1.2.3.4 ip-10.0.0.1 a.b10.0.0.1", &[]),
            ("node-a1.prod 10.2.3.4a", &[]),
            ("v1.2.3.4 and 1.2.3.4.5", &[]),
            ("ip-10-0-1-23.ec2.internal", &[]),
            ("256.1.1.1", &[]),
            (
                "addr 2001:db8::8a2e:370:7334 up",
                &["2001:db8::8a2e:370:7334"],
            ),
            ("at 03:09:37Z", &[]),
            ("mac 00:1a:2b:3c:4d:5e", &[]),
        ];
        for (t, want) in cases {
            assert_eq!(found(f, t), *want, "{t}");
        }
        let mut v = Vec::new();
        let t = "10.1.2.3 and ::1";
        ips(t, &marks(t), true, &mut v);
        assert!(v.is_empty());
    }
}
