//! The runner's command line and what the guest gets from the host
//! environment: base URLs and settings, placeholders instead of keys.

use std::path::PathBuf;

use crate::policy::{self, AllowEntry, Credential, Policy};

pub const USAGE: &str = "\
usage: wasiclaw-wamr [runner options] [agent options]

runner options:
  --workspace DIR          host directory mapped to /workspace (default: .)
  --module PATH            core module to run (default: the embedded dist/wasiclaw-p1.wasm)
  --allow-host HOST[:PORT] also allow this host for web_fetch (repeatable; * = any public host)
  --env NAME=VALUE         set a guest environment variable (repeatable; never keys)
  --body-limit BYTES       largest HTTP response body (default 33554432)
  --stack-size BYTES       interpreter stack for the guest (default 262144)
  -h, --help               this help

agent options (passed to the module): -m MESSAGE, --session NAME, --no-stream, ...

From the environment: OPENAI_BASE_URL, ANTHROPIC_BASE_URL and WASICLAW_* go to
the guest; OPENAI_API_KEY / ANTHROPIC_API_KEY stay in the runner, which adds
them only to requests to that provider's base URL.
";

const OPENAI_DEFAULT: &str = "https://api.openai.com/v1";
const ANTHROPIC_DEFAULT: &str = "https://api.anthropic.com";
const DEFAULT_STACK: u32 = 256 * 1024;

/// (base URL variable, key variable, default base URL)
const PROVIDERS: [(&str, &str, &str); 2] = [
    ("OPENAI_BASE_URL", "OPENAI_API_KEY", OPENAI_DEFAULT),
    ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", ANTHROPIC_DEFAULT),
];

pub struct Plan {
    pub workspace: PathBuf,
    pub module: Option<PathBuf>,
    pub env: Vec<String>,
    /// `argv` for the guest, `argv[0]` included.
    pub args: Vec<String>,
    pub stack_size: u32,
    pub policy: Policy,
}

pub enum Parsed {
    Help,
    Run(Plan),
}

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.ends_with("_KEY") || n.contains("TOKEN") || n.contains("SECRET") || n.contains("PASSWORD")
}

pub fn plan(argv: &[String], host_env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    let mut workspace = PathBuf::from(".");
    let mut module = None;
    let mut allow = Vec::new();
    let mut extra_env: Vec<(String, String)> = Vec::new();
    let mut body_limit = policy::DEFAULT_BODY_LIMIT;
    let mut stack_size = DEFAULT_STACK;
    let mut guest_args = vec!["wasiclaw".to_string()];

    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "-h" | "--help" if guest_args.len() == 1 => return Ok(Parsed::Help),
            "--workspace" => workspace = PathBuf::from(value(flag)?),
            "--module" => module = Some(PathBuf::from(value(flag)?)),
            "--allow-host" => allow.push(AllowEntry::parse(&value(flag)?)?),
            "--env" => {
                let v = value(flag)?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--env wants NAME=VALUE, got {v:?}"))?;
                if k.is_empty() || is_secret_name(k) {
                    return Err(format!(
                        "--env {k}: keys stay on the host; set it in the runner's environment instead"
                    ));
                }
                extra_env.push((k.to_string(), val.to_string()));
            }
            "--body-limit" => {
                body_limit = value(flag)?
                    .parse()
                    .map_err(|_| "--body-limit wants a byte count".to_string())?
            }
            "--stack-size" => {
                stack_size = value(flag)?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 16 * 1024)
                    .ok_or_else(|| "--stack-size wants a byte count >= 16384".to_string())?
            }
            _ => guest_args.push(a.clone()),
        }
    }
    if !workspace.is_dir() {
        return Err(format!(
            "--workspace {}: not a directory",
            workspace.display()
        ));
    }

    let mut env: Vec<(String, String)> = Vec::new();
    let mut providers = Vec::new();
    for (url_var, key_var, default) in PROVIDERS {
        let url = host_env(url_var);
        let base = url.clone().unwrap_or_else(|| default.to_string());
        let (origin, _) =
            policy::parse_url(base.trim()).map_err(|e| format!("{url_var}: {}", e.message))?;
        let cred = host_env(key_var).map(|key| Credential {
            placeholder: policy::placeholder(key_var),
            key,
        });
        if let Some(u) = url {
            env.push((url_var.to_string(), u));
        }
        if let Some(c) = &cred {
            env.push((key_var.to_string(), c.placeholder.clone()));
        }
        providers.push((origin, cred));
    }
    for name in [
        "WASICLAW_PROVIDER",
        "WASICLAW_MODEL",
        "WASICLAW_EMBEDDING_MODEL",
    ] {
        if let Some(v) = host_env(name) {
            env.push((name.to_string(), v));
        }
    }
    for (k, v) in extra_env {
        env.retain(|(name, _)| *name != k);
        env.push((k, v));
    }
    Ok(Parsed::Run(Plan {
        workspace,
        module,
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        args: guest_args,
        stack_size,
        policy: Policy::new(providers, allow, body_limit),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Plan, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match plan(&args, &|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })? {
            Parsed::Run(p) => Ok(p),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn keys_become_placeholders_and_urls_pass() {
        let p = run(
            &["--workspace", ".", "-m", "hi", "--session", "s"],
            &[
                ("OPENAI_API_KEY", "sk-secret"),
                ("OPENAI_BASE_URL", "http://127.0.0.1:5/v1"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        assert_eq!(p.args, vec!["wasiclaw", "-m", "hi", "--session", "s"]);
        assert!(p
            .env
            .contains(&"OPENAI_BASE_URL=http://127.0.0.1:5/v1".to_string()));
        assert!(p.env.contains(&format!(
            "OPENAI_API_KEY={}",
            policy::placeholder("OPENAI_API_KEY")
        )));
        assert!(
            !p.env
                .iter()
                .any(|e| e.contains("sk-secret") || e.starts_with("HOME=")),
            "{:?}",
            p.env
        );
    }

    #[test]
    fn runner_flags_are_taken_and_the_rest_forwarded() {
        let p = run(
            &[
                "-m",
                "x",
                "--allow-host=example.com",
                "--env",
                "WASICLAW_MODEL=m",
                "--no-stream",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(p.args, vec!["wasiclaw", "-m", "x", "--no-stream"]);
        assert_eq!(p.env, vec!["WASICLAW_MODEL=m".to_string()]);
        assert!(run(&["--env", "OPENAI_API_KEY=x"], &[]).is_err());
        assert!(run(&["--stack-size", "10"], &[]).is_err());
        assert!(run(&["--workspace", "/nonexistent/dir"], &[]).is_err());
        assert!(run(&["--help"], &[]).is_err_and(|e| e == "help"));
        // After the agent's own arguments began, --help is the agent's.
        assert_eq!(run(&["-m", "x", "--help"], &[]).unwrap().args.len(), 4);
    }
}
