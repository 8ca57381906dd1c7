//! CPU time of this process, for benchmarks on a shared machine: when other processes compete
//! for the cores, wall time varies from run to run but the CPU time a step needs varies less.

/// User + system CPU seconds of this process so far (all threads), from `/proc/self/stat`;
/// `None` where that file does not exist (not Linux). Resolution: one clock tick (10 ms).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at state; utime and
    // stime are fields 14 and 15 of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    Some((user + system) / 100.0)
}
