//! The runner's command line. Host options are those of `wasiclaw run` that
//! apply here (they build the same `wasiclaw_policy` policy); everything else is
//! the agent's own command line and goes to the module unchanged.

use std::path::PathBuf;

use wasiclaw_policy::policy::{Env, Overrides, Policy as HostPolicy};

use crate::policy::Policy;

pub const USAGE: &str = "\
usage: wasiclaw-wamr [host options] [agent options]

host options (as for `wasiclaw run`):
  --workspace DIR            directory mapped to /workspace (default: .)
  --policy FILE              policy file with a `host` section (default: DIR/wasiclaw.json)
  --allow-host HOST[:PORT]   also allow HOST for web_fetch (repeatable; *.suffix, *)
  --resolve HOST:PORT:ADDR   connect to ADDR[,ADDR...] for HOST:PORT, as curl's --resolve;
                             TLS still checks HOST's certificate (repeatable)
  --max-response-bytes N     largest HTTP response body the guest may receive
  --session-budget N         refuse model calls once the session spent N tokens
  --daily-budget N           refuse model calls once N tokens were spent today (UTC)
  --timeout-secs N           wall-clock limit for the turn (default 300)
  --memory-limit-mib N       linear-memory limit for the guest (default 64)
WAMR options:
  --module PATH              core module to run (default: the embedded dist/wasiclaw-p1.wasm)
  --stack-size BYTES         interpreter stack for the guest (default 262144)
  -h, --help                 this help

agent options (passed to the module): -m MESSAGE, --session NAME, --model M,
  --provider P, --max-iterations N, --no-stream, --help (after -m), ...

From the environment: OPENAI_BASE_URL / ANTHROPIC_BASE_URL and WASICLAW_* go to
the guest; OPENAI_API_KEY / ANTHROPIC_API_KEY stay in the runner, which adds
them only to that provider's model calls and redacts them from its answers.
Model calls are metered into DIR/usage.jsonl, as under `wasiclaw run`.
";

const DEFAULT_STACK: u32 = 256 * 1024;

pub struct Plan {
    pub workspace: PathBuf,
    pub module: Option<PathBuf>,
    /// `NAME=VALUE` entries: exactly the policy's guest environment.
    pub env: Vec<String>,
    /// `argv` for the guest, `argv[0]` included.
    pub args: Vec<String>,
    pub stack_size: u32,
    pub policy: Policy,
}

pub enum Parsed {
    Help,
    Run(Box<Plan>),
}

pub fn plan(argv: &[String], host_env: &dyn Env) -> Result<Parsed, String> {
    let mut workspace = None;
    let mut module = None;
    let mut ov = Overrides::default();
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
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name} wants a number, got {v:?}"))
        };
        match flag {
            "-h" | "--help" if guest_args.len() == 1 => return Ok(Parsed::Help),
            "--workspace" => workspace = Some(PathBuf::from(value(flag)?)),
            "--policy" => ov.policy_file = Some(PathBuf::from(value(flag)?)),
            "--allow-host" => ov.allow_hosts.push(value(flag)?),
            "--resolve" => ov.resolve.push(value(flag)?),
            "--max-response-bytes" => ov.max_response_bytes = Some(number(flag, value(flag)?)?),
            "--session-budget" => ov.session_budget = Some(number(flag, value(flag)?)?),
            "--daily-budget" => ov.daily_budget = Some(number(flag, value(flag)?)?),
            "--timeout-secs" => ov.turn_timeout_secs = Some(number(flag, value(flag)?)?),
            "--memory-limit-mib" => ov.memory_limit_mib = Some(number(flag, value(flag)?)?),
            "--module" => module = Some(PathBuf::from(value(flag)?)),
            "--stack-size" => {
                stack_size = number(flag, value(flag)?)?
                    .try_into()
                    .ok()
                    .filter(|n| *n >= 16 * 1024)
                    .ok_or_else(|| "--stack-size wants 16384..=4294967295 bytes".to_string())?
            }
            _ => guest_args.push(a.clone()),
        }
    }
    let dir = workspace.unwrap_or_else(|| PathBuf::from("."));
    let workspace = dir
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| format!("--workspace {}: not a directory", dir.display()))?;
    let host = HostPolicy::load(&workspace, &ov, host_env).map_err(|e| e.to_string())?;
    let env = host
        .guest_env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let policy = Policy::new(host).map_err(|e| format!("host.extra_ca_file: {e}"))?;
    Ok(Parsed::Run(Box::new(Plan {
        workspace,
        module,
        env,
        args: guest_args,
        stack_size,
        policy,
    })))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Plan, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match plan(&args, &env)? {
            Parsed::Run(p) => Ok(*p),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn keys_stay_in_the_runner_and_urls_pass() {
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
                "--max-response-bytes",
                "5",
                "--no-stream",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(p.args, vec!["wasiclaw", "-m", "x", "--no-stream"]);
        assert_eq!(p.policy.body_limit(), 5);
        let p = run(
            &[
                "--session-budget=7",
                "--daily-budget",
                "9",
                "--timeout-secs=3",
                "--memory-limit-mib",
                "16",
            ],
            &[],
        )
        .unwrap();
        let rules = p.policy.rules();
        assert_eq!(
            (rules.session_budget, rules.daily_budget),
            (Some(7), Some(9))
        );
        assert_eq!(rules.turn_timeout_secs, 3);
        assert_eq!(rules.memory_limit_bytes, 16 << 20);
        assert!(run(&["--timeout-secs", "soon"], &[]).is_err());
        assert_eq!(p.args, vec!["wasiclaw"]);
        assert!(run(&["--stack-size", "10"], &[]).is_err());
        assert!(run(&["--max-response-bytes", "lots"], &[]).is_err());
        assert!(run(&["--workspace", "/nonexistent/dir"], &[]).is_err());
        assert!(run(&["--allow-host", "a/b"], &[]).is_err());
        let p = run(
            &["--resolve", "api.openai.com:443:127.0.0.1", "-m", "x"],
            &[],
        )
        .unwrap();
        assert_eq!(p.args, vec!["wasiclaw", "-m", "x"]);
        let pins = &p.policy.rules().resolve;
        assert_eq!(pins[0].to_string(), "api.openai.com:443:127.0.0.1");
        let e = run(&["--resolve=api.openai.com:443"], &[]).err().unwrap();
        assert!(e.contains("invalid resolve entry"), "{e}");
        let e = run(&["--policy", "/nonexistent/p.json"], &[])
            .err()
            .unwrap();
        assert!(e.contains("cannot read"), "{e}");
        assert!(run(&["--help"], &[]).is_err_and(|e| e == "help"));
        // Once the agent's own arguments began, --help is the agent's.
        assert_eq!(run(&["-m", "x", "--help"], &[]).unwrap().args.len(), 4);
    }
}
