//! The web SDK's own tests (`sdk/web/test`, node's test runner): session rotation and sampling, batching, retry
//! with `Retry-After`, the bounded queue, beacons on unload. Needs `node` and `npm ci` in `sdk/web` (`.ci/run`
//! does both); elsewhere the test says what is missing and checks nothing, and under `CI=true` that is a failure.

use std::path::Path;
use std::process::Command;

#[test]
fn the_web_sdk_unit_tests_pass() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/web");
    let missing = |what: &str| {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{what}, but CI must have it");
        eprintln!("{what}: nothing checked");
    };
    if Command::new("node").arg("--version").output().is_err() {
        return missing("no node");
    }
    if !sdk.join("node_modules/esbuild").exists() {
        return missing("sdk/web has no node_modules (npm ci)");
    }
    let build = Command::new("node").arg("build.mjs").arg("--tests").current_dir(&sdk).output().unwrap();
    assert!(build.status.success(), "building the tests failed: {}", String::from_utf8_lossy(&build.stderr));
    let run = Command::new("node").args(["--test", "build/test/"]).current_dir(&sdk).output().unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the SDK's tests failed:\n{report}\n{}", String::from_utf8_lossy(&run.stderr));
    let passed = report.lines().find_map(|l| l.strip_prefix("# pass ")).and_then(|n| n.trim().parse::<u32>().ok());
    assert!(passed.is_some_and(|n| n >= 13), "expected the SDK's 13 tests or more to pass:\n{report}");
}
