//! Unit tests of the GCS wire formats and naming rules.

use super::wire::{multipart, ObjectResource};
use super::*;
use chrono::{DateTime, Utc};

#[test]
fn bucket_names() {
    for ok in ["abc", "bacca-tenant-a-raw", "a_b.c9"] {
        assert!(validate_bucket(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ab",
        "-abc",
        "abc-",
        "ABC",
        "a/b",
        "google-x",
        &"a".repeat(64),
    ] {
        assert!(validate_bucket(bad).is_err(), "{bad}");
    }
}

#[test]
fn multipart_shape() -> Result<()> {
    let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .map_err(|_| Error::Protocol { what: "t".into() })?
        .with_timezone(&Utc);
    let (ct, body) = multipart(
        "raw/x",
        b"DATA",
        &PutOptions::create_only().with_custom_time(t),
    )?;
    let boundary = ct
        .strip_prefix("multipart/related; boundary=")
        .ok_or(Error::Protocol { what: "ct".into() })?;
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with(&format!("--{boundary}\r\n")));
    assert!(text.contains(r#""customTime":"2026-01-02T03:04:05Z""#));
    assert!(text.ends_with(&format!("\r\nDATA\r\n--{boundary}--\r\n")));
    Ok(())
}

#[test]
fn resource_parsing() -> Result<()> {
    let r: ObjectResource = serde_json::from_str(
        r#"{"name":"a","generation":"17","size":"5","customTime":"2026-01-01T10:00:00Z",
            "updated":"2026-11-24T03:09:52.537431Z","kind":"storage#object"}"#,
    )
    .map_err(|_| Error::Protocol { what: "t".into() })?;
    let m = r.into_meta()?;
    assert_eq!((m.generation, m.size), (17, 5));
    assert!(m.custom_time.is_some());
    let r: ObjectResource =
        serde_json::from_str(r#"{"name":"a","generation":"x","updated":"2026-11-24T03:09:52Z"}"#)
            .map_err(|_| Error::Protocol { what: "t".into() })?;
    assert!(matches!(r.into_meta(), Err(Error::Protocol { .. })));
    Ok(())
}
