//! The allocator's settings. mimalloc's defaults keep freed pages for a second before handing
//! them back and commit its arenas eagerly; under the HTTP benchmark on sled that held the
//! server at 130 MiB after 4,000 tickets, where returning memory promptly gives 69 MiB at about
//! the same request rates (BENCHMARKS.md).
//!
//! A third setting keeps a page abandoned by an exiting thread from being taken over by
//! whichever thread frees into it. sled's I/O pool starts and ends threads as the write load
//! comes and goes (227 thread heaps in one 10-second round of creates), and each leaves partly
//! used pages behind; with mimalloc's default the server peaked 20 MiB higher at the same
//! number of tickets, and with reclaiming across threads (`1`) it reached 274 MiB
//! (BENCHMARKS.md, runs of 2026-12-04).
//!
//! mimalloc reads its options from the environment when the process starts, before `main`
//! runs, so when none of these options is set the server runs itself again with them set: one
//! `exec` at start, same process id, same arguments. Set any of them yourself to choose
//! otherwise (mimalloc's defaults: `MIMALLOC_PURGE_DELAY=1000`, `MIMALLOC_ARENA_EAGER_COMMIT=2`,
//! `MIMALLOC_PAGE_RECLAIM_ON_FREE=0`).

use std::os::unix::process::CommandExt as _;

/// mimalloc options: purge freed pages at once; commit arena memory as it is used; never
/// reclaim an abandoned page on a free.
const SETTINGS: [(&str, &str); 3] =
    [("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MIMALLOC_PAGE_RECLAIM_ON_FREE", "-1")];

/// Re-executes the server with [`SETTINGS`] unless one of them is already in the environment.
/// Returns only when nothing was done or the `exec` failed (then the defaults stay).
pub fn apply() {
    if SETTINGS.iter().any(|(k, _)| std::env::var_os(k).is_some()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let err = cmd.args(args).envs(SETTINGS).exec();
    eprintln!("note: could not restart with the allocator settings ({err}); running with mimalloc's defaults");
}
