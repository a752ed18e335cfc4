//! One side of an end-to-end bench, run as a process of its own so that its wall time,
//! CPU-seconds (user + sys) and peak RSS are its own; and the benches' Python venv.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one process did, and the JSON summary it printed last.
pub struct Measured {
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
    pub summary: serde_json::Value,
}

/// User + sys CPU-seconds of this process's reaped children (`cutime` + `cstime` of /proc/self/stat).
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which ends at the last ')': state is field 3, cutime 16.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..].split_whitespace().collect();
    let ticks: f64 = fields[13].parse::<f64>().expect("cutime") + fields[14].parse::<f64>().expect("cstime");
    ticks / 100.0 // USER_HZ, 100 on Linux
}

/// Peak resident memory (VmHWM) of a running process, in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `command`, which prints a JSON summary as its last line, to its end.
pub fn measure(name: &str, mut command: Command) -> Measured {
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut peak = 0.0f64;
    while child.try_wait().expect("wait").is_none() {
        peak = peak.max(peak_rss_mib(child.id()).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    let wall_seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{name} failed");
    let cpu_seconds = children_cpu_seconds() - cpu_before;
    let last_line = output.stdout.trim_ascii().rsplit(|b| *b == b'\n').next().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_slice(last_line).unwrap_or_else(|e| panic!("{name}'s summary: {e}"));
    Measured { wall_seconds, cpu_seconds, peak_rss_mib: peak, summary }
}

/// The benches' Python interpreter (bench/python/requirements.txt), its venv made on first use
/// under ~/.cache/medallion/bench-venv (PyPI).
pub fn python_venv(root: &Path) -> PathBuf {
    let home = std::env::var("HOME").expect("HOME");
    let venv = PathBuf::from(home).join(".cache/medallion/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3");
        assert!(made.success(), "python3 -m venv failed (apt install python3-venv)");
    }
    let requirements = root.join("bench/python/requirements.txt");
    let installed =
        Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]).arg(requirements).status().expect("pip");
    assert!(installed.success(), "installing the benches' Python packages failed (PyPI unreachable?)");
    python
}
