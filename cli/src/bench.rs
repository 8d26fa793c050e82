//! `bacca bench`: measurements that are not criterion micro-benchmarks, because they need a
//! whole process: a function's cold start (exec to the first 200 from `/healthz`), its idle
//! resident memory, and the release binaries' sizes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Result of one cold start.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// From `exec` to the first `200` answer of `GET /healthz`.
    pub to_first_200: Duration,
    /// Resident set size after the process has idled for a moment, in KiB.
    pub idle_rss_kib: u64,
}

/// Starts `binary` with only `PORT` (and a private data directory) set, times how long it takes
/// to answer `GET /healthz` with 200, reads its idle RSS, then stops it.
///
/// # Errors
/// When the binary cannot be started, exits early, or does not answer within 10 s.
pub fn cold_start(binary: &Path, idle: Duration) -> Result<ColdStart> {
    let port = free_port()?;
    let data_dir = tempfile::tempdir()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    let child = Command::new(binary)
        .env_clear()
        .env("PORT", port.to_string())
        .env("BACCA_DATA_DIR", data_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut guard = ChildGuard(child);
    let to_first_200 = loop {
        if healthz_ok(addr) {
            break started.elapsed();
        }
        if let Some(status) = guard.0.try_wait()? {
            bail!("{} exited early with {status}", binary.display());
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("{} did not answer /healthz within 10 s", binary.display());
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    std::thread::sleep(idle);
    let idle_rss_kib = rss_kib(guard.0.id()).unwrap_or(0);
    Ok(ColdStart {
        to_first_200,
        idle_rss_kib,
    })
}

/// Kills the child when dropped, so a failed measurement leaves no process behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

fn healthz_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(50)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Resident set size of a process, from `/proc/<pid>/status` (Linux only).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs [`cold_start`] `runs` times for each binary and prints a table of the median and
/// the range, plus each binary's size on disk.
///
/// # Errors
/// As [`cold_start`]; also when a binary is missing.
pub fn cold_start_report(binaries: &[PathBuf], runs: usize) -> Result<String> {
    let mut out = String::from(
        "binary              size      cold start (median, min-max)    idle RSS (median)\n",
    );
    for bin in binaries {
        let size = std::fs::metadata(bin)
            .with_context(|| format!("missing binary {}", bin.display()))?
            .len();
        let mut times = Vec::with_capacity(runs);
        let mut rss = Vec::with_capacity(runs);
        for _ in 0..runs.max(1) {
            let r = cold_start(bin, Duration::from_millis(300))?;
            times.push(r.to_first_200);
            rss.push(r.idle_rss_kib);
        }
        times.sort();
        rss.sort_unstable();
        let name = bin.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        out.push_str(&format!(
            "{name:<19} {:>5.1} MiB  {:>6.2} ms ({:.2}-{:.2} ms, {} runs)   {:>5.1} MiB\n",
            size as f64 / 1048576.0,
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1]),
            times.len(),
            rss[rss.len() / 2] as f64 / 1024.0,
        ));
    }
    Ok(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_rss() {
        let rss = rss_kib(std::process::id()).unwrap();
        assert!(rss > 0);
    }

    #[test]
    fn healthz_refused_on_closed_port() {
        let port = free_port().unwrap();
        assert!(!healthz_ok(SocketAddr::from(([127, 0, 0, 1], port))));
    }
}
