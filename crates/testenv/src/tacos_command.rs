//! Runs the `tacos` binary as a user would, with the test environment's kubeconfig, AWS emulator and helm, and captures what it did.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{AwsEmulator, Binaries};

/// Variables of the caller's shell that would change what tacos does; every run starts without them.
const CALLER_SETTINGS: &[&str] = &[
    "KUBECONFIG",
    "TACOS_LOG",
    "TACOS_HELM",
    "TACOS_CHART_DIR",
    "TACOS_CACHE_DIR",
    "TACOS_GOPROXY",
    "GOPROXY",
    "XDG_CACHE_HOME",
];

/// `tacos_command!()`: a [`TacosCommand`] for the calling crate's `tacos` binary, run at its
/// manifest folder (the repository root).
#[macro_export]
macro_rules! tacos_command {
    () => {
        $crate::TacosCommand::new(env!("CARGO_BIN_EXE_tacos"), env!("CARGO_MANIFEST_DIR"))
    };
}

/// One invocation of the binary, built up like a shell command line. It never inherits the
/// caller's kubeconfig, AWS settings or tacos settings, and runs without colour, with the test
/// environment's cache and module proxy mirror (see [`crate::binaries::module_proxy_mirror`]);
/// a test that needs its own sets `TACOS_CACHE_DIR` or `TACOS_GOPROXY` after.
#[derive(Debug, Clone)]
pub struct TacosCommand {
    binary: PathBuf,
    dir: PathBuf,
    global: Vec<OsString>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl TacosCommand {
    /// `binary` run in `dir`; [`tacos_command!`] fills both for a test of the tacos crate.
    pub fn new(binary: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> Self {
        let binaries = Binaries::locate().expect("the test environment's paths");
        let mirror = crate::binaries::module_proxy_mirror().unwrap_or_else(|e| panic!("{e}"));
        Self {
            binary: binary.into(),
            dir: dir.into(),
            global: Vec::new(),
            args: Vec::new(),
            env: vec![
                ("NO_COLOR".into(), "1".into()),
                ("TACOS_CACHE_DIR".into(), binaries.tacos_cache.into()),
                ("TACOS_GOPROXY".into(), mirror.into()),
            ],
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        vars.into_iter()
            .fold(self, |command, (key, value)| command.env(key, value))
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// `--kubeconfig FILE`, before the subcommand.
    pub fn kubeconfig(mut self, kubeconfig: impl AsRef<Path>) -> Self {
        self.global.push("--kubeconfig".into());
        self.global.push(kubeconfig.as_ref().into());
        self
    }

    /// The emulator's endpoint, credentials and region, and `--profile ""` so tacos.yaml's
    /// profile does not replace them.
    pub fn aws(self, aws: &AwsEmulator) -> Self {
        self.aws_env(aws.env())
    }

    /// AWS settings of the test's own (an endpoint, credentials of another account), and
    /// `--profile ""` as [`TacosCommand::aws`].
    pub fn aws_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.global.push("--profile".into());
        self.global.push("".into());
        self.envs(vars)
    }

    /// Credentials for an AWS that refuses every connection at once: port 1 (tcpmux) is
    /// privileged and served by nothing here, where a free port could be taken by another test's
    /// emulator in the meantime. One attempt per call, so tacos gives up without retrying.
    pub fn aws_unreachable(self) -> Self {
        self.aws_env([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "ap-northeast-2"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ])
    }

    /// `TACOS_HELM` set to the helm testenv/install.sh builds; panics with the install command
    /// when it is missing.
    pub fn helm(self) -> Self {
        let binaries = Binaries::locate().expect("the test environment's paths");
        let helm = binaries
            .require("helm", &binaries.helm)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_path_buf();
        self.env("TACOS_HELM", helm)
    }

    /// The command line as a user would type it, for failure messages.
    pub fn display(&self) -> String {
        std::iter::once(OsStr::new("tacos"))
            .chain(self.global.iter().map(OsString::as_os_str))
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| {
                let a = a.to_string_lossy();
                if a.is_empty() || a.contains(' ') {
                    format!("{a:?}")
                } else {
                    a.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `std::process::Command` this runs, for callers that handle the child themselves (benches).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.dir)
            .args(&self.global)
            .args(&self.args);
        for (key, _) in std::env::vars_os() {
            let caller_setting = key
                .to_str()
                .is_some_and(|k| k.starts_with("AWS_") || CALLER_SETTINGS.contains(&k));
            if caller_setting {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs to the end, blocking the thread. From an async test use [`TacosCommand::run_async`]:
    /// blocking would stall the tasks the test spawned (players, stand-in controllers).
    pub fn run(&self) -> Run {
        let output = self
            .command()
            .output()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.display()));
        Run::new(self.display(), output)
    }

    /// Runs to the end on the calling tokio runtime.
    pub async fn run_async(&self) -> Run {
        let output = tokio::process::Command::from(self.command())
            .output()
            .await
            .unwrap_or_else(|e| panic!("start {}: {e}", self.display()));
        Run::new(self.display(), output)
    }

    /// Starts it with stdout and stderr piped, for a test that reads it while it runs; finish with
    /// [`Run::new`] on the child's output.
    pub fn spawn(&self) -> tokio::process::Child {
        tokio::process::Command::from(self.command())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.display()))
    }
}

/// What one run of the binary did. Its `Display` is the command line, exit code, stdout and
/// stderr, for assertion messages.
#[derive(Debug, Clone)]
pub struct Run {
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics when tacos was killed by a signal or panicked: neither is ever an expected outcome.
    pub fn new(command: String, output: Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let Some(code) = output.status.code() else {
            panic!(
                "{command} was killed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                output.status
            );
        };
        let run = Self {
            command,
            code,
            stdout,
            stderr,
        };
        assert!(!run.stderr.contains("panicked"), "tacos panicked: {run}");
        run
    }

    /// stdout then stderr, each under a `--- stdout` / `--- stderr` line: what the user saw.
    pub fn transcript(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "exit code of {self}");
        self
    }

    pub fn assert_stdout_contains(&self, expected: &str) -> &Self {
        assert!(
            self.stdout.contains(expected),
            "no {expected:?} in stdout of {self}"
        );
        self
    }

    pub fn assert_stderr_contains(&self, expected: &str) -> &Self {
        assert!(
            self.stderr.contains(expected),
            "no {expected:?} in stderr of {self}"
        );
        self
    }

    /// `expected` in stdout or stderr.
    pub fn assert_output_contains(&self, expected: &str) -> &Self {
        assert!(
            self.stdout.contains(expected) || self.stderr.contains(expected),
            "no {expected:?} in the output of {self}"
        );
        self
    }

    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (exit {})\n{}",
            self.command,
            self.code,
            self.transcript()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh -c SCRIPT` through the runner, standing in for the binary.
    fn shell(script: &str) -> TacosCommand {
        TacosCommand::new("/bin/sh", std::env::temp_dir()).args(["-c", script])
    }

    #[test]
    fn a_run_captures_the_exit_code_and_both_streams_without_colour() {
        let run = shell("printf 'out %s' \"$NO_COLOR\"; printf err >&2; exit 3").run();
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (3, "out 1", "err")
        );
    }

    #[test]
    fn the_callers_kubeconfig_and_tacos_settings_are_not_inherited() {
        let command = shell("true").env("TACOS_HELM", "/opt/helm").command();
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| key.to_string_lossy().into_owned())
            .collect();
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || CALLER_SETTINGS.contains(&key.as_str()) {
                assert!(
                    removed.contains(&key)
                        || ["TACOS_HELM", "TACOS_CACHE_DIR", "TACOS_GOPROXY"]
                            .contains(&key.as_str()),
                    "{key} is inherited"
                );
            }
        }
        assert!(
            command
                .get_envs()
                .any(|(key, value)| key == "TACOS_HELM" && value == Some(OsStr::new("/opt/helm"))),
            "a variable the test sets is kept"
        );
    }

    #[test]
    #[should_panic(expected = "--- stdout\nsaid this\n--- stderr\nand that")]
    fn a_wrong_exit_code_fails_with_what_tacos_printed() {
        shell("printf 'said this'; printf 'and that' >&2; exit 1")
            .run()
            .assert_code(0);
    }

    #[test]
    #[should_panic(expected = "tacos panicked")]
    fn a_panic_fails_the_run_whatever_the_test_expects() {
        shell("echo \"thread 'main' panicked at src/main.rs:1:1\" >&2; exit 101").run();
    }

    #[test]
    fn the_command_line_shows_global_flags_first_and_quotes_empty_arguments() {
        let command = TacosCommand::new("tacos", ".")
            .args(["deploy", "--phase", "gateway"])
            .kubeconfig("/tmp/k config")
            .aws_unreachable();
        assert_eq!(
            command.display(),
            "tacos --kubeconfig \"/tmp/k config\" --profile \"\" deploy --phase gateway"
        );
    }
}
