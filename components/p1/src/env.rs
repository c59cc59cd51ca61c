//! The environment, read from the host once at start (`KEY=VALUE` strings)
//! and looked up by name, as `std::env::var` did.

use alloc::string::String;
use alloc::vec::Vec;

pub struct Env(Vec<String>);

impl Env {
    pub fn new(vars: Vec<String>) -> Env {
        Env(vars)
    }

    /// The value of the first `name=` entry.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find_map(|kv| {
            let value = kv.strip_prefix(name)?.strip_prefix('=')?;
            Some(String::from(value))
        })
    }
}
