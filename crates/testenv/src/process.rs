//! Child processes that die with the test process: spawned from one long-lived thread with `PR_SET_PDEATHSIG`, killed by process group on drop.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use crate::{Result, TestenvError, io_err};

type SpawnRequest = (Command, Sender<std::io::Result<Child>>);

/// `PR_SET_PDEATHSIG` fires when the *thread* that spawned a child exits, not the process; test
/// threads end early, so every child is spawned from this one thread, which lives as long as the
/// process does. When the test binary exits (or panics, or is killed), the kernel kills the children.
fn launcher() -> &'static std::sync::Mutex<Sender<SpawnRequest>> {
    static LAUNCHER: OnceLock<std::sync::Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    LAUNCHER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-launcher".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawn the testenv launcher thread");
        std::sync::Mutex::new(tx)
    })
}

/// A running server process whose output goes to a log file.
#[derive(Debug)]
pub struct ManagedProcess {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl ManagedProcess {
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, &str)],
        log: PathBuf,
    ) -> Result<Self> {
        let out =
            File::create(&log).map_err(io_err(format!("create log file {}", log.display())))?;
        let err = out.try_clone().map_err(io_err("clone a log file handle"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in envs {
            command.env(key, value);
        }
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let (reply_tx, reply_rx) = channel();
        launcher()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send((command, reply_tx))
            .map_err(|_| TestenvError::Io {
                action: format!("start {name}"),
                source: std::io::Error::other("the launcher thread is gone"),
            })?;
        let child = reply_rx
            .recv()
            .map_err(|_| TestenvError::Io {
                action: format!("start {name}"),
                source: std::io::Error::other("the launcher thread is gone"),
            })?
            .map_err(|source| TestenvError::Spawn {
                what: format!("{name} ({})", program.display()),
                source,
            })?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Whether the process has exited (and so will never become ready).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Kills the whole process group and reaps the child.
    pub fn stop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscalls on a pid (and its group) that this process spawned and has not reaped.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
