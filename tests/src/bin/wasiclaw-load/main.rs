//! wasiclaw-load: a small closed-loop HTTP/1.1 load generator for
//! benchmarking `wasiclaw serve` on loopback. Each of C threads keeps one
//! keep-alive connection and sends its next request as soon as the previous
//! answer is read, until N requests are done or the time cap is reached.
//! It reports requests/s, latency percentiles, and the `Server-Timing`
//! durations the server attached.

mod args;
mod response;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use args::{parse_args, request_bytes, Config};
use response::{read_response, ResponseError};

const USAGE: &str = "usage: wasiclaw-load --url http://127.0.0.1:PORT/PATH [--method M]
       [--body-file F] [--header 'name: value']... [--connections C]
       [--requests N] [--max-secs S]

Sends N requests (default 1000) over C keep-alive connections (default 1),
each connection sending its next request when the previous answer is read,
and stops early after S seconds (default 60). Loopback hosts only
(127.0.0.0/8, ::1, localhost). In header values, {conn} is replaced by the
connection number and {req} by the request number, e.g.
--header 'x-wasiclaw-session: bench-{conn}-{req}'.
Prints requests/s, latency min/median/p99/max and the median/p99 of the
server-timing `instantiate` and `guest` durations when the server sends them.
Exits 1 when a request failed or was answered with a non-2xx status.";

/// What one connection's thread saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    instantiate_ms: Vec<f64>,
    guest_ms: Vec<f64>,
    non_2xx: Vec<u16>,
    failures: Vec<String>,
    reconnects: usize,
}

type Conn = (BufReader<TcpStream>, TcpStream);

fn connect(cfg: &Config, left: Duration) -> std::io::Result<Conn> {
    let s = TcpStream::connect_timeout(&cfg.addr, left.min(Duration::from_secs(5)))?;
    s.set_nodelay(true)?;
    Ok((BufReader::new(s.try_clone()?), s))
}

/// One request on `conn` (connected first if needed); the connection is
/// dropped when the server closes it or anything goes wrong.
fn exchange(
    cfg: &Config,
    conn: &mut Option<Conn>,
    bytes: &[u8],
    left: Duration,
    tally: &mut Tally,
) -> Result<(), String> {
    if conn.is_none() {
        *conn = Some(connect(cfg, left).map_err(|e| format!("connect to {}: {e}", cfg.addr))?);
    }
    let Some((reader, writer)) = conn.as_mut() else {
        return Err("no connection".into());
    };
    let started = Instant::now();
    let result = (|| -> Result<response::Response, ResponseError> {
        writer.set_write_timeout(Some(left))?;
        writer.set_read_timeout(Some(left))?;
        writer.write_all(bytes)?;
        read_response(reader, cfg.method == "HEAD")
    })();
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            *conn = None;
            return Err(e.to_string());
        }
    };
    tally.latencies.push(started.elapsed());
    if !(200..300).contains(&resp.status) {
        tally.non_2xx.push(resp.status);
    }
    if let Some(ms) = resp.server_timing_ms("instantiate") {
        tally.instantiate_ms.push(ms);
    }
    if let Some(ms) = resp.server_timing_ms("guest") {
        tally.guest_ms.push(ms);
    }
    if resp.close {
        *conn = None;
        tally.reconnects += 1;
    }
    Ok(())
}

fn worker(cfg: &Config, id: usize, next: &AtomicUsize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut conn = None;
    let mut failed_in_a_row = 0;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let left = deadline.saturating_duration_since(Instant::now());
        if i >= cfg.requests || left.is_zero() {
            return tally;
        }
        match exchange(cfg, &mut conn, &request_bytes(cfg, id, i), left, &mut tally) {
            Ok(()) => failed_in_a_row = 0,
            Err(e) => {
                tally.failures.push(format!("request {i}: {e}"));
                failed_in_a_row += 1;
                // A server that is gone: stop instead of spinning on it.
                if failed_in_a_row == 3 {
                    return tally;
                }
            }
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn timing_line(name: &str, mut v: Vec<f64>, responses: usize) -> String {
    v.sort_by(f64::total_cmp);
    match (percentile(&v, 50.0), percentile(&v, 99.0)) {
        (Some(med), Some(p99)) => format!(
            "server-timing {name} ms: median {med:.3} p99 {p99:.3} ({} of {responses} responses)",
            v.len()
        ),
        _ => format!("server-timing {name}: not in the responses"),
    }
}

fn run(cfg: &Config) -> bool {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + cfg.max;
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.connections)
            .map(|id| {
                let next = &next;
                s.spawn(move || worker(cfg, id, next, deadline))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = started.elapsed();
    let mut all = Tally::default();
    for t in tallies {
        all.latencies.extend(t.latencies);
        all.instantiate_ms.extend(t.instantiate_ms);
        all.guest_ms.extend(t.guest_ms);
        all.non_2xx.extend(t.non_2xx);
        all.failures.extend(t.failures);
        all.reconnects += t.reconnects;
    }
    let done = all.latencies.len();
    all.latencies.sort();
    println!(
        "{} http://{}{} over {} connection(s): {done} of {} requests answered in {:.3} s ({} non-2xx, {} failed, {} reconnects)",
        cfg.method,
        cfg.authority,
        cfg.path,
        cfg.connections,
        cfg.requests,
        wall.as_secs_f64(),
        all.non_2xx.len(),
        all.failures.len(),
        all.reconnects
    );
    println!("throughput: {:.1} req/s", done as f64 / wall.as_secs_f64());
    if let (Some(min), Some(med), Some(p99), Some(max)) = (
        all.latencies.first(),
        percentile(&all.latencies, 50.0),
        percentile(&all.latencies, 99.0),
        all.latencies.last(),
    ) {
        println!(
            "latency ms: min {:.3} median {:.3} p99 {:.3} max {:.3}",
            ms(*min),
            ms(med),
            ms(p99),
            ms(*max)
        );
    }
    println!("{}", timing_line("instantiate", all.instantiate_ms, done));
    println!("{}", timing_line("guest", all.guest_ms, done));
    let mut ok = true;
    if done < cfg.requests {
        eprintln!(
            "wasiclaw-load: only {done} of {} requests answered (time cap {} s)",
            cfg.requests,
            cfg.max.as_secs()
        );
        ok = false;
    }
    if let Some(status) = all.non_2xx.first() {
        eprintln!(
            "wasiclaw-load: {} non-2xx answers, the first {status}",
            all.non_2xx.len()
        );
        ok = false;
    }
    for f in all.failures.iter().take(5) {
        eprintln!("wasiclaw-load: {f}");
    }
    ok && all.failures.is_empty()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cfg = match parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wasiclaw-load: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if run(&cfg) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }
}
