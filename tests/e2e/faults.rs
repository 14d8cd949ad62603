//! Builds that survive what they meet (issue 27), through real builds: an
//! index that refuses HEAD, a base whose python is externally managed, and
//! indexes and channels that fail on request.

use envd_e2e::{cpu_base, docker_ok, ensure_env, wheels, Context, HostServer};

#[test]
fn an_index_that_answers_head_with_501_is_installed_from_with_pip() {
    let _engine = ensure_env();
    let ctx = Context::new("no-head");
    let served = ctx.dir().join("served");
    wheels(&served, &["one:envd-e2e-one:1.0"]);
    let server = HostServer::files_without_head(&served, ctx.dir().join("http.log"));
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.pip_index(url=\"http://pypi.test:{}/one/simple\", trust=True)\n    base(image=\"{}\")\n    install.python_packages(name=[\"envd-e2e-one==1.0\"])\n",
            server.port,
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--add-host", "pypi.test:host-gateway"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("envd: installing with pip: the index answers HEAD with 501 Not Implemented"),
        "{}",
        r.stderr
    );
    assert!(server.requests().contains("\"HEAD /one/files/envd_e2e_one-1.0-py3-none-any.whl"), "uv asked HEAD");
    let got = docker_ok(&["run", "--rm", &ctx.tag, "python3", "-c", "import envd_e2e_one as m; print(m.VERSION)"]);
    assert_eq!(got.trim(), "1.0");
}

#[test]
fn an_externally_managed_python_stops_the_step_with_what_to_do() {
    let _engine = ensure_env();
    // the CPU stand-in with the marker Debian 12's python has
    let managed = Context::new("pep668-base");
    managed.write(
        "Dockerfile",
        &format!(
            "FROM {}\nRUN touch \"$(python3 -c 'import sysconfig; print(sysconfig.get_path(\"stdlib\"))')/EXTERNALLY-MANAGED\"\n",
            cpu_base()
        ),
    );
    let r = managed.build(&[]);
    assert!(r.ok, "{}", r.stderr);
    let base = &managed.tag;
    let ctx = Context::new("pep668");
    let served = ctx.dir().join("served");
    wheels(&served, &["one:envd-e2e-one:1.0"]);
    let server = HostServer::files(&served, ctx.dir().join("http.log"));
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.pip_index(url=\"http://pypi.test:{}/one/simple\", trust=True)\n    base(image=\"{base}\")\n    install.python_packages(name=[\"envd-e2e-one==1.0\"])\n",
            server.port
        ),
    );
    let host = ["--add-host", "pypi.test:host-gateway"];
    let r = ctx.build_envd(&host);
    assert!(!r.ok);
    assert!(r.stderr.contains("build.envd:4"), "at the call: {}", r.stderr);
    assert!(
        r.stderr
            .contains("the base's python is externally managed (PEP 668, as on Debian 12 and Ubuntu 23.04 or later)")
            && r.stderr.contains("--build-arg ENVD_BREAK_SYSTEM_PACKAGES=1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("apt install python3-xyz"), "not uv's paragraph: {}", r.stderr);

    let r = ctx.build_envd(&[&host[..], &["--build-arg", "ENVD_BREAK_SYSTEM_PACKAGES=1"]].concat());
    assert!(r.ok, "{}", r.stderr);
    let got = docker_ok(&["run", "--rm", &ctx.tag, "python3", "-c", "import envd_e2e_one as m; print(m.VERSION)"]);
    assert_eq!(got.trim(), "1.0");
}

/// Who installs in a fault scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Installer {
    Uv,
    Pip,
    /// uv first, on an index that answers HEAD with 501: the step falls
    /// back to pip, which then meets the fault.
    PipFallback,
    Conda,
}

/// What a fault scenario comes to: the build's outcome, how long it took,
/// and how often the faulty file was asked for.
struct Outcome {
    run: envd_e2e::Run,
    seconds: f64,
    tries: usize,
}

/// The timeout the scenarios build with (`ENVD_HTTP_TIMEOUT`), so that a
/// stalled server costs seconds.
const TIMEOUT: &str = "2";

/// Builds a package of `installer` from a server that meets `fault` (see
/// `tests/servers/fault_http.py`) on the package's file.
fn under_fault(installer: Installer, n: usize, fault: &str) -> Outcome {
    let ctx = Context::new(&format!("fault-{installer:?}-{n}").to_lowercase());
    // a name no cache of an earlier run has (pip's wheelhouse, conda's
    // package cache), nor a test that starts in the same millisecond
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let n = format!("{installer:?}{n}x{millis}").to_lowercase();
    let served = ctx.dir().join("served");
    let (file, body) = match installer {
        Installer::Conda => {
            let name = format!("faulty{n}");
            let package = envd_conda_fixture::Package::new(&name, "1.0", "h0_0")
                .file("share/faulty.txt", envd_conda_fixture::Content::File(format!("{name}\n")));
            let file = package.filename();
            envd_conda_fixture::write_channel(&served.join("channel"), &[package]).expect("write the channel");
            (file, format!("install.conda_packages(name=[\"{name}\"])"))
        }
        _ => {
            let name = format!("envd-e2e-fault{n}");
            wheels(&served, &[&format!("one:{name}:1.0")]);
            (
                format!("envd_e2e_fault{n}-1.0-py3-none-any.whl"),
                format!("install.python_packages(name=[\"{name}==1.0\"])"),
            )
        }
    };
    let log = ctx.dir().join("faults.log");
    let faults = match installer {
        Installer::PipFallback => format!(r#"{{"{file}": {fault}, "HEAD {file}": {{"kind": "status", "code": 501}}}}"#),
        _ => format!("{{\"{file}\": {fault}}}"),
    };
    let server = HostServer::faulty(&served, log.clone(), &faults);
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [http://files.test:{port}/channel]\")\n    config.pip_index(url=\"http://files.test:{port}/one/simple\", trust=True)\n    base(image=\"{}\")\n    {body}\n",
            cpu_base(),
            port = server.port
        ),
    );
    let timeout = format!("ENVD_HTTP_TIMEOUT={TIMEOUT}");
    let mut args = vec!["--add-host", "files.test:host-gateway", "--build-arg", timeout.as_str()];
    if installer == Installer::Pip {
        args.extend(["--build-arg", "ENVD_PYTHON_INSTALLER=pip"]);
    }
    let started = std::time::Instant::now();
    let run = ctx.build_envd(&args);
    let seconds = started.elapsed().as_secs_f64();
    // the downloads of the file, not uv's HEAD requests
    let tries = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with(&file) && !l.contains(" head-"))
        .count();
    Outcome { run, seconds, tries }
}

/// What a scenario is expected to come to: success, or a failure whose
/// output says `what` within `seconds`.
#[derive(Clone, Copy)]
enum Expect {
    Ok,
    Fails { what: &'static str, seconds: f64 },
}

/// The faults of the scenarios, as `tests/servers/fault_http.py` takes them.
const FAULTS: [(&str, &str); 5] = [
    ("503 twice", r#"{"kind": "status", "code": 503, "times": 2}"#),
    ("dropped mid-body once", r#"{"kind": "drop", "times": 1}"#),
    ("truncated", r#"{"kind": "truncate"}"#),
    ("corrupted", r#"{"kind": "corrupt"}"#),
    ("stalls", r#"{"kind": "stall", "seconds": 600}"#),
];

/// Each fault of [`FAULTS`] for `installer`, with what each is expected
/// to come to: a transient one is retried and the build succeeds; one
/// that stays fails within a bounded time, at the build.envd line, saying
/// what went wrong. The table of outcomes and times goes to the test's
/// output (the README's "When things fail" has it).
fn faults_for(installer: Installer, expected: [Expect; 5]) {
    let _engine = ensure_env();
    let mut table = String::from(
        "| fault | installer | outcome | seconds | requests of the file |\n| --- | --- | --- | --- | --- |\n",
    );
    for (n, ((what, fault), expect)) in FAULTS.into_iter().zip(expected).enumerate() {
        let o = under_fault(installer, n, fault);
        let outcome = if o.run.ok { "ok" } else { "failed" };
        table.push_str(&format!("| {what} | {installer:?} | {outcome} | {:.1} | {} |\n", o.seconds, o.tries));
        let scenario = format!("{what} / {installer:?}");
        match expect {
            Expect::Ok => {
                assert!(o.run.ok, "{scenario}: {}", o.run.stderr);
                assert!(o.tries >= 2, "{scenario}: the file was asked for again ({} requests)", o.tries);
            }
            Expect::Fails { what: says, seconds } => {
                assert!(!o.run.ok, "{scenario}");
                assert!(o.run.stderr.contains(says), "{scenario}: {}", o.run.stderr);
                assert!(o.run.stderr.contains("build.envd:5"), "{scenario}: at the line: {}", o.run.stderr);
                assert!(o.seconds < seconds, "{scenario}: {:.1}s, more than {seconds}s", o.seconds);
            }
        }
    }
    eprintln!("{table}");
}

/// uv tries a 5xx and a dropped download again; a damaged archive fails
/// at once; a stalled index after 4 timeouts.
#[test]
fn uv_retries_transient_faults_and_fails_in_bounded_time_on_the_rest() {
    let damaged = Expect::Fails { what: "Failed to extract archive", seconds: 60.0 };
    let stalled = Expect::Fails { what: "operation timed out", seconds: 60.0 };
    faults_for(Installer::Uv, [Expect::Ok, Expect::Ok, damaged, damaged, stalled]);
}

/// pip tries a 5xx again; a download cut short it takes for a hash
/// mismatch (the index's `#sha256=`), which envd's second run of pip
/// mends; a file damaged every time fails with our sentence after that
/// second run; a stalled index after pip's 5 retries.
#[test]
fn pip_retries_transient_faults_and_fails_in_bounded_time_on_the_rest() {
    let damaged = Expect::Fails { what: "on two tries: the server, or a proxy on the way", seconds: 60.0 };
    let stalled = Expect::Fails { what: "Read timed out", seconds: 60.0 };
    faults_for(Installer::Pip, [Expect::Ok, Expect::Ok, damaged, damaged, stalled]);
}

/// A step that falls back from uv to pip (here: an index that refuses
/// HEAD) meets the faults with pip: a download cut short is fetched again
/// by the second run of pip, and the step succeeds.
#[test]
fn the_pip_fallback_fetches_a_download_cut_short_again() {
    let _engine = ensure_env();
    let o = under_fault(Installer::PipFallback, 0, FAULTS[1].1);
    assert!(o.run.ok, "{}", o.run.stderr);
    assert!(o.run.stderr.contains("envd: installing with pip: the index answers HEAD with 501"), "{}", o.run.stderr);
    assert!(o.run.stderr.contains("envd runs pip once more"), "{}", o.run.stderr);
    assert_eq!(o.tries, 2, "cut short once, fetched again once: {}", o.run.stderr);
    eprintln!("| {} | PipFallback | ok | {:.1} | {} |", FAULTS[1].0, o.seconds, o.tries);
}

/// The conda installer tries a 5xx (its client) and a dropped download
/// (the package cache) again; a damaged archive fails after the package
/// cache's tries; a stalled channel after them too.
#[test]
fn the_conda_installer_retries_transient_faults_and_fails_in_bounded_time_on_the_rest() {
    let damaged = Expect::Fails { what: "as the lock file pins it", seconds: 60.0 };
    let stalled = Expect::Fails { what: "operation timed out", seconds: 60.0 };
    faults_for(Installer::Conda, [Expect::Ok, Expect::Ok, damaged, damaged, stalled]);
}
