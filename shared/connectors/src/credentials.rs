//! Credentials from environment variables, or from files mounted from Secret Manager.
//!
//! For a variable `NAME`, the value of `NAME` is used when set and non-empty; otherwise
//! `NAME_FILE` names a file whose content (trailing newline removed) is the value. Values are
//! [`SecretString`]s: Debug prints `[REDACTED]`, and nothing here formats a value into an error.

use secrecy::SecretString;

use crate::{Error, Result};

/// Looks variables up: the process environment in production, a map in tests.
pub trait Env: Send + Sync {
    /// The value of variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Reads the secret `name` (or the file named by `name_FILE`); `None` when neither is set.
///
/// # Errors
/// [`Error::Credential`] when `name_FILE` is set but unreadable or empty.
pub fn optional_secret(env: &dyn Env, name: &str) -> Result<Option<SecretString>> {
    if let Some(v) = env.var(name).filter(|v| !v.trim().is_empty()) {
        return Ok(Some(SecretString::from(v.trim().to_owned())));
    }
    let file_var = format!("{name}_FILE");
    let Some(path) = env.var(&file_var).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let content = std::fs::read_to_string(&path).map_err(|_| Error::Credential {
        name: file_var.clone(),
        reason: "the file cannot be read",
    })?;
    let value = content.trim_end_matches(['\r', '\n']).to_owned();
    if value.trim().is_empty() {
        return Err(Error::Credential {
            name: file_var,
            reason: "the file is empty",
        });
    }
    Ok(Some(SecretString::from(value)))
}

/// Reads the secret `name` (or `name_FILE`).
///
/// # Errors
/// [`Error::Credential`] when neither is set, or the file is unreadable or empty.
pub fn required_secret(env: &dyn Env, name: &str) -> Result<SecretString> {
    optional_secret(env, name)?.ok_or_else(|| Error::Credential {
        name: name.to_owned(),
        reason: "set it, or NAME_FILE to a file holding it",
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn env_then_file_then_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "xoxb-from-file\n").unwrap();
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert(
            "SLACK_BOT_TOKEN_FILE".into(),
            path.to_string_lossy().into_owned(),
        );
        let s = required_secret(&env, "SLACK_BOT_TOKEN").unwrap();
        assert_eq!(s.expose_secret(), "xoxb-from-file");
        env.insert("SLACK_BOT_TOKEN".into(), "xoxb-direct".into());
        let s = required_secret(&env, "SLACK_BOT_TOKEN").unwrap();
        assert_eq!(s.expose_secret(), "xoxb-direct");
        let e = required_secret(&env, "DD_API_KEY").unwrap_err();
        assert!(e.to_string().contains("DD_API_KEY"));
        env.insert("DD_APP_KEY_FILE".into(), "/nonexistent/secret".into());
        assert!(matches!(
            required_secret(&env, "DD_APP_KEY"),
            Err(Error::Credential { .. })
        ));
    }

    #[test]
    fn secrets_never_print() {
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("NOTION_TOKEN".into(), "secret_abc123".into());
        let s = required_secret(&env, "NOTION_TOKEN").unwrap();
        assert!(!format!("{s:?}").contains("abc123"));
    }
}
