//! buildx flags beyond `-t` and `--build-arg`, through real buildx: each
//! applies to build.envd steps as it does to a Dockerfile's, or is refused
//! by name with a sentence.

use envd_e2e::{cpu_base, docker_ok, engine_alone, ensure_env, steps, Context, HostServer, Scratch};

fn run_build(name: &str, commands: &[&str]) -> Context {
    // Every test builds through here or `Context::new`.
    let ctx = Context::new(name);
    let cmds: Vec<String> = commands.iter().map(|c| format!("{c:?}")).collect();
    ctx.write(
        "build.envd",
        &format!("def build():\n    base(image=\"{}\")\n    run(commands=[{}])\n", cpu_base(), cmds.join(", ")),
    );
    ctx
}

#[test]
fn network_none_cuts_every_step_off() {
    let _engine = ensure_env();
    let served = Scratch::new("net");
    std::fs::write(served.join("ping"), "pong\n").unwrap();
    let server = HostServer::files(&served, served.join("http.log"));
    let fetch = format!(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://srv.test:{}/ping', timeout=5).read().decode())\" > /home/aiges/ping.txt",
        server.port
    );
    let ctx = run_build("network", &[&fetch]);
    let r = ctx.build_envd(&["--add-host", "srv.test:host-gateway"]);
    assert!(r.ok, "the server is reachable by default: {}", r.stderr);
    let r = ctx.build_envd(&["--add-host", "srv.test:host-gateway", "--network", "none", "--no-cache"]);
    assert!(!r.ok, "--network none cuts the step off:\n{}", r.stderr);
    assert!(r.stderr.contains("run python3 -c"), "{}", r.stderr);
}

/// An HTTP proxy that answers every request with "via proxy" and logs it.
const PROXY: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[3], "a") as f:
            f.write(self.path + "\n")
        body = b"via proxy\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"#;

#[test]
fn proxy_args_reach_steps_and_stay_out_of_the_image_and_the_cache_key() {
    let _engine = ensure_env();
    let dir = Scratch::new("proxy");
    let log = dir.join("proxy.log");
    std::fs::write(&log, "").unwrap();
    let log_arg = log.clone();
    let proxy = HostServer::start(log.clone(), move |gateway, port| {
        let mut c = std::process::Command::new("python3");
        c.args(["-c", PROXY, gateway, &port.to_string()]).arg(log_arg);
        c
    });
    let ctx = run_build(
        "proxy",
        &["python3 -c \"import urllib.request; print(urllib.request.urlopen('http://upstream.invalid/hello').read().decode().strip())\" > /home/aiges/proxied.txt"],
    );
    // Both proxy names lead to the one proxy; the builds differ only in
    // which one the build arg names.
    let through = |host: &str| {
        let arg = format!("HTTP_PROXY=http://{host}:{}", proxy.port);
        let hosts = ["--add-host", "proxy.test:host-gateway", "--add-host", "proxy2.test:host-gateway"];
        let r = ctx.build_envd(&[&hosts[..], &["--build-arg", &arg]].concat());
        assert!(r.ok, "{}", r.stderr);
        r
    };
    through("proxy.test");
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/home/aiges/proxied.txt"]), "via proxy\n");
    assert!(std::fs::read_to_string(&log).unwrap().contains("http://upstream.invalid/hello"));
    for what in [docker_ok(&["inspect", &ctx.tag]), docker_ok(&["history", "--no-trunc", &ctx.tag])] {
        assert!(!what.contains("proxy.test"), "the proxy stays out of the image: {what}");
    }
    let r = through("proxy2.test");
    let run = steps(&r.stderr).into_iter().find(|(name, _)| name.contains("run python3")).expect("the run step");
    assert!(run.1, "another proxy does not re-run the step: {:?}", steps(&r.stderr));
}

#[test]
fn cache_mount_namespaces_do_not_share_the_pip_cache() {
    let _engine = ensure_env();
    let ctx = Context::new("cache-ns");
    // Each build asks for six and one package of its own, so that the pip
    // step runs again without --no-cache (which starts cache mounts empty);
    // uv prepares (downloads) only what its cache lacks.
    let build = |extra: &str, ns: &str| {
        ctx.write(
            "build.envd",
            &format!(
                "def build():\n    base(image=\"{}\")\n    install.python_packages(name=[\"six==1.16.0\", \"{extra}\"])\n",
                cpu_base()
            ),
        );
        let arg = format!("BUILDKIT_CACHE_MOUNT_NS=envd-e2e-{ns}-{}", std::process::id());
        // one step, so that one uv run prepares both packages or one
        let r = ctx.build_envd(&["--build-arg", &arg, "--build-arg", "ENVD_PYTHON_LAYERS=single"]);
        assert!(r.ok, "{}", r.stderr);
        r.stderr.contains("Prepared 1 package in")
    };
    assert!(!build("packaging==24.1", "a"), "a new namespace starts empty");
    assert!(!build("idna==3.7", "b"), "another namespace does not see the first's");
    assert!(build("toml==0.10.2", "a"), "the first namespace kept its cache");
}

#[test]
fn shm_size_and_ulimit_reach_every_step() {
    let _engine = ensure_env();
    let ctx = run_build(
        "limits",
        &[
            "df -k /dev/shm | tail -n 1 | tr -s ' ' | cut -d ' ' -f 2 > /home/aiges/shm",
            "sh -c 'ulimit -n; ulimit -Hn' > /home/aiges/nofile",
        ],
    );
    let r = ctx.build_envd(&["--shm-size", "96m", "--ulimit", "nofile=1024:2048"]);
    assert!(r.ok, "{}", r.stderr);
    let read = |f: &str| docker_ok(&["run", "--rm", &ctx.tag, "cat", f]);
    assert_eq!(read("/home/aiges/shm"), "98304\n", "96 MiB of /dev/shm, in KiB");
    assert_eq!(read("/home/aiges/nofile"), "1024\n2048\n");
}

#[test]
fn options_that_would_be_dropped_are_refused_by_name() {
    let _engine = ensure_env();
    let ctx = run_build("refused", &["true"]);
    for (flags, sentence) in [
        (
            vec!["--no-cache-filter", "build"],
            "frontend option no-cache: --no-cache-filter build names Dockerfile stages, and build.envd has none; use --no-cache",
        ),
        (
            vec!["--sbom=mode=all"],
            "frontend option attest:sbom: mode=all is a scanner's parameter, and the frontend writes the SBOM itself; name the scanner with generator=IMAGE, or drop it",
        ),
        (
            vec!["--build-arg", "BUILDKIT_CACHE_MOUNTNS=team"],
            "frontend option build-arg:BUILDKIT_CACHE_MOUNTNS: BUILDKIT_CACHE_MOUNTNS is not a BuildKit switch this frontend or BuildKit knows; check its spelling",
        ),
        (
            vec!["--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=svc"],
            "frontend option build-arg:BUILDKIT_SANDBOX_HOSTNAME: a step hostname is not applied to build.envd steps; build without it",
        ),
    ] {
        let r = ctx.build_envd(&flags);
        assert!(!r.ok, "{flags:?}");
        assert!(r.stderr.contains(sentence), "{flags:?}: {}", r.stderr);
    }
}

#[test]
fn the_image_is_dated_by_its_build_or_by_source_date_epoch() {
    // It prunes the builder, which would pull the cache from under a build
    // running beside it.
    let _alone = engine_alone();
    let ctx = Context::new("dates");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    runtime.environ(env={{\"SERVICE\": \"dated\"}})\n",
            cpu_base()
        ),
    );
    let created = |tag: &str| docker_ok(&["image", "inspect", "-f", "{{.Created}}", tag]).trim().to_owned();
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let base = created(&cpu_base());
    let built = created(&ctx.tag);
    assert!(built > base, "the build's date ({built}), not the base's ({base})");

    // The provenance attestation buildx adds records when the build ran,
    // for a Dockerfile too: compare the images without it.
    // ENVD_CHECK=error=true, as the README advises for CI: a build arg the
    // frontend reads itself is no UnusedBuildArg
    let epoch =
        ["--build-arg", "SOURCE_DATE_EPOCH=1700000000", "--provenance=false", "--build-arg", "ENVD_CHECK=error=true"];
    let r = ctx.build_envd(&epoch);
    assert!(r.ok, "{}", r.stderr);
    assert!(created(&ctx.tag).starts_with("2023-11-14T22:13:20"), "{}", created(&ctx.tag));
    let id = |tag: &str| docker_ok(&["image", "inspect", "-f", "{{.Id}}", tag]).trim().to_owned();
    let first = id(&ctx.tag);
    docker_ok(&["image", "rm", "-f", &ctx.tag]);
    envd_e2e::prune_builder();
    let r = ctx.build_envd(&epoch);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(id(&ctx.tag), first, "the same input and epoch give the same image");
}
