//! The host policy (crate `wasiclaw-policy`, shared with the WAMR runner)
//! plus what this host builds from it for connecting: the TLS trust roots and
//! the resolve pins. The policy names `host.extra_ca_file`; the file is read
//! here, once, at startup, so a missing or malformed CA file stops the host
//! before any guest runs.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::Path;

pub use wasiclaw_policy::policy::*;

use crate::connect::{Trust, TrustError};

/// Why the host's policy could not be set up.
#[derive(Debug)]
pub enum LoadError {
    Policy(PolicyError),
    Trust(TrustError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Policy(e) => e.fmt(f),
            LoadError::Trust(e) => write!(f, "host.extra_ca_file: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The policy with the roots outgoing HTTPS trusts. It dereferences to the
/// [`Policy`], so the rest of the host reads limits and endpoints as before.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    pub rules: Policy,
    pub trust: Trust,
}

impl HostPolicy {
    pub fn load(workspace: &Path, ov: &Overrides, env: &dyn Env) -> Result<Self, LoadError> {
        let rules = Policy::load(workspace, ov, env).map_err(LoadError::Policy)?;
        HostPolicy::new(rules)
    }

    pub fn new(rules: Policy) -> Result<Self, LoadError> {
        let trust = Trust::new(rules.extra_ca_file.as_deref()).map_err(LoadError::Trust)?;
        Ok(HostPolicy { rules, trust })
    }
}

impl Deref for HostPolicy {
    type Target = Policy;

    fn deref(&self) -> &Policy {
        &self.rules
    }
}

impl DerefMut for HostPolicy {
    fn deref_mut(&mut self) -> &mut Policy {
        &mut self.rules
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_missing_or_bad_ca_file_stops_the_host_at_startup() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-hostpolicy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("wasiclaw.json"),
            r#"{"host":{"extra_ca_file":"ca.pem"}}"#,
        )
        .unwrap();
        let env = BTreeMap::new();
        let load = || HostPolicy::load(&dir, &Overrides::default(), &env).unwrap_err();
        let err = load().to_string();
        assert!(
            err.starts_with("host.extra_ca_file: cannot read CA file"),
            "{err}"
        );
        std::fs::write(dir.join("ca.pem"), "not a certificate\n").unwrap();
        let err = load().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        std::fs::write(dir.join("wasiclaw.json"), r#"{"host":{"bogus":1}}"#).unwrap();
        assert!(matches!(load(), LoadError::Policy(PolicyError::Parse(..))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
