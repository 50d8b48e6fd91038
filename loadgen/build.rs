//! Sets `SCAN_BENCH_GIT_COMMIT` for the reports' environment fingerprint when built from a git
//! checkout; elsewhere (a source tarball, no git) reports say the commit is unknown.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=SCAN_BENCH_GIT_COMMIT={}", commit.trim());
    }
    // Rebuilt when the checked-out commit moves (HEAD, and the branch file it names), and
    // not on every build when there is no checkout to watch.
    println!("cargo:rerun-if-changed=build.rs");
    let git = Path::new("../.git");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        println!("cargo:rerun-if-changed=../.git/HEAD");
        if let Some(branch) = head.trim().strip_prefix("ref: ")
            && git.join(branch).exists()
        {
            println!("cargo:rerun-if-changed=../.git/{branch}");
        }
    }
}
