//! A Redis for one test: Debian's `redis-server` on a free loopback port,
//! nothing persisted, its directory a temp dir, stopped by its pid when
//! dropped. `get` reads a key over RESP so tests can check what the
//! key-value build stored without a client crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve::server::free_port;

pub struct Redis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("wasiclaw-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is required (scripts/setup installs it from Debian)");
        let r = Redis { child, port, dir };
        let t0 = Instant::now();
        while r.command(&["PING"]).as_deref() != Some(&b"PONG"[..]) {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// `--store` for `wasiclaw serve`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.command(&["GET", key])
    }

    /// One command; the simple-string or bulk reply, `None` for nil or an
    /// unreachable server.
    fn command(&self, args: &[&str]) -> Option<Vec<u8>> {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        c.write_all(req.as_bytes()).ok()?;
        let mut r = BufReader::new(c);
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        match line.as_bytes().first()? {
            b'+' => line.as_bytes().get(1..).map(<[u8]>::to_vec),
            b'$' => {
                let n: i64 = line[1..].parse().ok()?;
                let n = usize::try_from(n).ok()?;
                let mut buf = vec![0; n + 2];
                r.read_exact(&mut buf).ok()?;
                buf.truncate(n);
                Some(buf)
            }
            _ => None,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // Child::kill signals this child's own pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
