//! Memory and CPU from /proc (Linux): the server's, PostgreSQL's, this tool's and the machine's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn status_field_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Resident set size now, in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_field_kb(pid, "VmRSS:")
}

/// Peak resident set size since the process started, in kB.
pub fn hwm_kb(pid: u32) -> Option<u64> {
    status_field_kb(pid, "VmHWM:")
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of the process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&text).map(|t| t as f64 / clock_ticks())
}

/// utime + stime ticks from a /proc/<pid>/stat line. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after the last ')'.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// utime + stime of every process named `name` (e.g. all of PostgreSQL's: postmaster, backends,
/// WAL writer, checkpointer), in seconds. Processes that exit between two readings are missed, so
/// use it for long-lived processes.
pub fn cpu_seconds_named(name: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    let ticks: u64 = dir
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| command_name(stat) == Some(name))
        .filter_map(|stat| parse_cpu_ticks(&stat))
        .sum();
    ticks as f64 / clock_ticks()
}

fn command_name(stat: &str) -> Option<&str> {
    stat.get(stat.find('(')? + 1..stat.rfind(')')?)
}

/// CPU seconds the whole machine has been busy (all but idle and iowait), from /proc/stat.
pub fn machine_busy_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_busy_ticks(text.lines().next()?).map(|t| t as f64 / clock_ticks())
}

/// Busy ticks from the aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq
/// steal (guest time is already inside user).
pub fn parse_busy_ticks(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields.take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = v.try_into().ok()?;
    Some(user + nice + system + irq + softirq + steal)
}

/// Samples VmRSS every 20 ms on its own thread and keeps the largest value.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kb(pid).unwrap_or(0)));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(v) = rss_kb(pid) {
                    p.fetch_max(v, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssSampler { stop, peak, handle: Some(handle) }
    }

    /// Stops sampling; returns the peak in kB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_after_the_command_name() {
        let line = "1234 (port cul) lis) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(line), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        assert_eq!(parse_busy_ticks("cpu  100 5 50 1000 30 2 3 4 0 0"), Some(164));
        assert_eq!(parse_busy_ticks("cpu0 100 5 50 1000 30 2 3 4 0 0"), None);
        assert_eq!(parse_busy_ticks("cpu  100 5"), None);
    }

    #[test]
    fn command_name_may_hold_parentheses() {
        assert_eq!(command_name("7 (postgres) S 1"), Some("postgres"));
        assert_eq!(command_name("7 (a (b)) S 1"), Some("a (b)"));
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_kb(me).unwrap() > 0);
        assert!(hwm_kb(me).unwrap() >= rss_kb(me).unwrap() / 2);
        assert!(cpu_seconds(me).is_some());
        assert!(machine_busy_seconds().is_some_and(|s| s > 0.0));
        let name = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        assert!(cpu_seconds_named(command_name(&name).unwrap()) >= 0.0);
    }
}
