//! Evaluating build.envd in a child process with hard limits.
//!
//! The evaluator bounds itself in ticks, heap and call depth, but it can
//! only check its heap now and then, and one Starlark expression
//! (`"x" * 10**9`, `list(range(10**9))`) can allocate gigabytes between two
//! checks. So the frontend runs evaluation in a child — itself, re-executed
//! with [`CHILD_ARG`] — whose address space and CPU time are capped by the
//! kernel, and kills it after a wall-clock limit. Whatever the file does, the
//! build ends with a sentence about it, never with an out-of-memory frontend.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use envd_lang::{Diagnostic, EvalOptions, Evaluated};
use serde::{Deserialize, Serialize};

/// The first argument that makes the binary evaluate instead of serve.
pub const CHILD_ARG: &str = "__evaluate";

/// Address space of the child.
const MEMORY_LIMIT: u64 = 1 << 30;
/// CPU time of the child.
const CPU_SECONDS: u64 = 20;
/// Wall-clock time before the child is killed.
const WALL: Duration = Duration::from_secs(30);

/// What the parent sends the child on stdin.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    filename: String,
    source: String,
    target: Option<String>,
    build_args: BTreeMap<String, String>,
    locate_reads: bool,
}

/// What the child answers on stdout.
#[derive(Debug, Serialize, Deserialize)]
enum Response {
    Evaluated(Box<Evaluated>),
    Failed(Diagnostic),
}

/// The child's side: cap itself, evaluate the request on stdin, answer on
/// stdout. Run before anything else in `main`.
pub fn child_main() -> ExitCode {
    // Out of memory, the bump allocator panics; the default hook would then
    // allocate (message, backtrace) with no memory left and can deadlock.
    // This hook only writes static text and aborts.
    std::panic::set_hook(Box::new(|info| {
        let oom = info.payload().downcast_ref::<&str>().is_some_and(|m| *m == "out of memory");
        let text: &[u8] = if oom { b"envd-frontend: out of memory\n" } else { b"envd-frontend: evaluator panicked\n" };
        let _ = std::io::stderr().write_all(text);
        std::process::abort();
    }));
    let caps = rlimit::Resource::AS
        .set(MEMORY_LIMIT, MEMORY_LIMIT)
        .and_then(|()| rlimit::Resource::CPU.set(CPU_SECONDS, CPU_SECONDS + 1));
    if let Err(e) = caps {
        eprintln!("envd-frontend: cannot limit the evaluator: {e}");
        return ExitCode::FAILURE;
    }
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        return ExitCode::FAILURE;
    }
    let Ok(req) = serde_json::from_str::<Request>(&input) else {
        eprintln!("envd-frontend: malformed evaluation request");
        return ExitCode::FAILURE;
    };
    let opts = EvalOptions {
        target: req.target,
        build_args: req.build_args,
        locate_reads: req.locate_reads,
        ..Default::default()
    };
    let response = match envd_lang::evaluate(&req.filename, &req.source, &opts) {
        Ok(ev) => Response::Evaluated(Box::new(ev)),
        Err(e) => Response::Failed(e),
    };
    let out = serde_json::to_vec(&response).expect("responses serialise");
    // This is the child's own stdout, a pipe to the parent; the parent's
    // stdout (the gRPC wire) is never inherited.
    match std::io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// How messages about the evaluator itself (not the user's file) begin.
pub const INTERNAL: &str = "the build.envd evaluator";

/// Evaluates `source` in a child run of `program` (this binary).
pub fn evaluate(program: &Path, filename: &str, source: &str, opts: &EvalOptions) -> Result<Evaluated, Diagnostic> {
    Child::start(program)?.evaluate(filename, source, opts)
}

/// An evaluation child, started before its request is ready: a build
/// starts it while it reads build.envd, so the child's start is not on the
/// build's path. Dropped unused, it is killed.
pub struct Child {
    process: Option<std::process::Child>,
}

impl Child {
    /// Starts `program` (this binary) as an evaluation child; it waits for
    /// its request.
    pub fn start(program: &Path) -> Result<Self, Diagnostic> {
        let process = Command::new(program)
            .arg(CHILD_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Diagnostic::nowhere(format!("{INTERNAL} cannot start: {e}")))?;
        Ok(Self { process: Some(process) })
    }

    /// Evaluates `source`, named `filename`.
    pub fn evaluate(mut self, filename: &str, source: &str, opts: &EvalOptions) -> Result<Evaluated, Diagnostic> {
        let child = self.process.take().expect("a child evaluates once");
        run(child, filename, source, opts)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// Sends the request to `child` and reads its answer, within [`WALL`].
fn run(
    mut child: std::process::Child,
    filename: &str,
    source: &str,
    opts: &EvalOptions,
) -> Result<Evaluated, Diagnostic> {
    let fail = Diagnostic::nowhere;
    let req = Request {
        filename: filename.to_owned(),
        source: source.to_owned(),
        target: opts.target.clone(),
        build_args: opts.build_args.clone(),
        locate_reads: opts.locate_reads,
    };
    let body = serde_json::to_vec(&req).expect("requests serialise");
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    // The child's answer ends when its stdout closes, as it exits: a
    // thread reads it and says so, and this one waits for that word, or
    // kills the child at the wall-clock limit. No polling.
    let mut stdout = child.stdout.take().expect("piped");
    let (done, answered) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let read = stdout.read_to_end(&mut buf).map(|_| buf);
        let _ = done.send(());
        read
    });
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = stderr.read_to_string(&mut buf);
        buf
    });
    if answered.recv_timeout(WALL).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(fail(format!(
            "evaluating {filename} took longer than {} seconds; look for a loop that does not end",
            WALL.as_secs()
        )));
    }
    let status = child.wait().map_err(|e| fail(format!("{INTERNAL} was lost: {e}")))?;
    let _ = writer.join();
    let out = reader.join().ok().and_then(Result::ok).unwrap_or_default();
    let err_text = err_reader.join().unwrap_or_default();
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let message = if err_text.contains("out of memory") || err_text.contains("memory allocation") {
            format!(
                "evaluating {filename} used more than {} MiB of memory; it must describe a build, not compute one",
                MEMORY_LIMIT >> 20
            )
        } else if matches!(status.signal(), Some(24) | Some(9)) {
            format!(
                "evaluating {filename} used more than {CPU_SECONDS} seconds of CPU; look for a loop that does not end"
            )
        } else {
            format!("{INTERNAL} failed ({status}): {}", err_text.trim())
        };
        return Err(fail(message));
    }
    match serde_json::from_slice::<Response>(&out) {
        Ok(Response::Evaluated(ev)) => Ok(*ev),
        Ok(Response::Failed(e)) => Err(e),
        Err(e) => Err(fail(format!("{INTERNAL} answered in a way that cannot be read: {e}"))),
    }
}
