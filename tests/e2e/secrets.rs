//! Private indexes through buildx's `--secret`: a PEP 503 index and a conda
//! channel behind HTTP basic auth, served from the host and reached with
//! `--add-host`. Each build that gets in is also searched for the password
//! everywhere a build leaves text: every layer and the config of the
//! image, its history and inspect output, buildx's metadata file, the
//! progress output, and `envd-frontend check --llb`.

use std::path::Path;

use envd_e2e::{cpu_base, docker_ok, ensure_env, image_leaks, repo, Context, HostServer, Run, Scratch};

const USER: &str = "envd-ci";

/// A password no build output would hold by chance.
fn password() -> String {
    format!("pw-{}-Zq7xK", std::process::id())
}

/// A directory for secret files, outside every build context, removed
/// with the value.
fn secret_dir(name: &str) -> Scratch {
    Scratch::new(&format!("secrets-{name}"))
}

/// A PEP 503 index in `dir`: `demo-secret` 1.0, a pure-python wheel.
fn write_index(dir: &Path) {
    let script = r#"
import hashlib, os, sys, zipfile
root = sys.argv[1]
os.makedirs(f"{root}/files", exist_ok=True)
os.makedirs(f"{root}/simple/demo-secret", exist_ok=True)
wheel = "demo_secret-1.0-py3-none-any.whl"
with zipfile.ZipFile(f"{root}/files/{wheel}", "w") as z:
    z.writestr("demo_secret/__init__.py", "VALUE = 'private'\n")
    z.writestr("demo_secret-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo-secret\nVersion: 1.0\n")
    z.writestr("demo_secret-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: envd-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("demo_secret-1.0.dist-info/RECORD", "")
digest = hashlib.sha256(open(f"{root}/files/{wheel}", "rb").read()).hexdigest()
with open(f"{root}/simple/demo-secret/index.html", "w") as f:
    f.write(f'<html><body><a href="../../files/{wheel}#sha256={digest}">{wheel}</a></body></html>\n')
"#;
    let ok = std::process::Command::new("python3").args(["-c", script]).arg(dir).status().unwrap().success();
    assert!(ok, "could not write the index fixture");
}

/// Fails if `needle` is anywhere the build of `ctx` left text: the image
/// (layers, config, history, inspect), buildx's metadata file, the
/// progress output `r`, and `check --llb` of its build.envd.
fn assert_no_leak(ctx: &Context, r: &Run, metadata: &Path, needle: &str) {
    let found = image_leaks(&ctx.tag, needle);
    assert!(found.is_empty(), "the image holds the secret in {found:?}");
    assert!(!r.stderr.contains(needle) && !r.stdout.contains(needle), "the progress output holds the secret");
    let meta = std::fs::read_to_string(metadata).expect("buildx wrote the metadata file");
    assert!(!meta.contains(needle), "the metadata file holds the secret:\n{meta}");
    let binary = repo().join("target/x86_64-unknown-linux-gnu/release/envd-frontend");
    let out = std::process::Command::new(binary)
        .args(["check", &ctx.dir().join("build.envd").to_string_lossy(), "--llb"])
        .output()
        .expect("the frontend binary runs");
    let llb = String::from_utf8_lossy(&out.stderr);
    assert!(llb.contains("exec"), "check --llb printed the LLB: {llb}");
    assert!(!llb.contains(needle), "the LLB holds the secret");
}

fn sh(tag: &str, script: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script])
}

#[test]
fn a_private_index_installs_with_each_secret_and_fails_without_one() {
    let _engine = ensure_env();
    let pw = password();
    let ctx = Context::new("private-pypi");
    let served = secret_dir("pypi-served");
    write_index(&served);
    let server = HostServer::basic_auth(&served, USER, &pw, served.join("requests.log"));
    let index = format!("http://pypi.test:{}/simple", server.port);
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    config.pip_index(url=\"{index}\", trust=True)\n    install.python_packages(name=[\"demo-secret==1.0\"])\n    run(commands=[\"python3 -c 'import demo_secret; print(demo_secret.VALUE)' > /home/aiges/demo.txt\"])\n",
            cpu_base()
        ),
    );
    let secrets = secret_dir("pypi");
    let netrc = secrets.join("netrc");
    std::fs::write(&netrc, format!("machine pypi.test login {USER} password {pw}\n")).unwrap();
    let pip_conf = secrets.join("pip.conf");
    std::fs::write(&pip_conf, format!("[global]\nindex-url = http://{USER}:{pw}@pypi.test:{}/simple\n", server.port))
        .unwrap();
    let metadata = secrets.join("metadata.json");
    let meta = metadata.to_string_lossy().into_owned();
    let index_with_password = format!("http://{USER}:{pw}@pypi.test:{}/simple", server.port);

    let netrc_secret = format!("id=netrc,src={}", netrc.display());
    let conf_secret = format!("id=pip.conf,src={}", pip_conf.display());
    /// A way to give the credentials: its name, buildx flags, environment.
    type Way<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let ways: [Way; 3] = [
        ("netrc", vec!["--secret", &netrc_secret], vec![]),
        ("pip.conf", vec!["--secret", &conf_secret], vec![]),
        (
            "PIP_INDEX_URL",
            vec!["--secret", "id=PIP_INDEX_URL,env=ENVD_E2E_INDEX"],
            vec![("ENVD_E2E_INDEX", index_with_password.as_str())],
        ),
    ];
    for (way, secret, env) in ways {
        let before = server.requests().matches("200 /simple/demo-secret/").count();
        // A secret is not part of the cache key: without --no-cache the
        // second way would reuse the first one's step.
        let mut args = vec!["--add-host", "pypi.test:host-gateway", "--no-cache", "--metadata-file", &meta];
        args.extend(secret);
        let r = ctx.build_envd_with_env(&args, &env);
        assert!(r.ok, "{way}: {}", r.stderr);
        assert_eq!(sh(&ctx.tag, "cat /home/aiges/demo.txt"), "private\n", "{way}");
        let after = server.requests().matches("200 /simple/demo-secret/").count();
        assert!(after > before, "{way}: the index was read with credentials:\n{}", server.requests());
        assert_no_leak(&ctx, &r, &metadata, &pw);
        assert!(!sh(&ctx.tag, "cat /etc/pip.conf").contains(USER), "{way}");
    }

    let r = ctx.build_envd(&["--call", "outline"]);
    assert!(r.ok, "{}", r.stderr);
    let listed: Vec<&str> = r.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    for id in ["SECRET", "netrc", "pip.conf", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "SSH", "default"] {
        assert!(listed.contains(&id), "--call outline lists {id}: {}", r.stdout);
    }

    let r = ctx.build_envd(&["--add-host", "pypi.test:host-gateway", "--no-cache"]);
    assert!(!r.ok, "no secret, no package");
    assert!(server.requests().contains("401 /simple/demo-secret/"), "{}", server.requests());
    let sentence = format!("the package index {index} answered 401 Unauthorized; give pip credentials with docker buildx build --secret id=netrc");
    assert!(r.stderr.contains(&sentence), "{}", r.stderr);
    assert!(r.stderr.contains("build.envd:4"), "at the install.python_packages line: {}", r.stderr);
}

/// The conda channel of `dir/channel`, with a package of its own and a
/// real python (whose pip the inline-credentials test uses).
fn write_channel(dir: &Path) -> String {
    let name = format!("private-{}", std::process::id());
    let mut packages = envd_conda_fixture::with_python().expect("package this machine's python");
    packages.push(
        envd_conda_fixture::Package::new(&name, "1.0", "h0_0")
            .file("share/private.txt", envd_conda_fixture::Content::File("private\n".into())),
    );
    envd_conda_fixture::write_channel(&dir.join("channel"), &packages).expect("write the channel");
    name
}

#[test]
fn a_private_conda_channel_installs_with_netrc_or_conda_auth() {
    let _engine = ensure_env();
    let pw = password();
    let served = secret_dir("conda-served");
    let name = write_channel(&served);
    let server = HostServer::basic_auth(&served, USER, &pw, served.join("requests.log"));
    let ctx = Context::new("private-conda");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [http://conda.test:{}/channel]\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"{name}\"])\n",
            server.port,
            cpu_base()
        ),
    );
    let secrets = secret_dir("conda");
    let netrc = secrets.join("netrc");
    std::fs::write(&netrc, format!("machine conda.test login {USER} password {pw}\n")).unwrap();
    let auth = secrets.join("conda-auth.json");
    std::fs::write(
        &auth,
        format!("{{\"conda.test\": {{\"BasicHTTP\": {{\"username\": \"{USER}\", \"password\": \"{pw}\"}}}}}}"),
    )
    .unwrap();
    let metadata = secrets.join("metadata.json");
    let meta = metadata.to_string_lossy().into_owned();
    for secret in [format!("id=netrc,src={}", netrc.display()), format!("id=conda-auth,src={}", auth.display())] {
        let r = ctx.build_envd(&[
            "--add-host",
            "conda.test:host-gateway",
            "--no-cache",
            "--metadata-file",
            &meta,
            "--secret",
            &secret,
        ]);
        assert!(r.ok, "{secret}: {}", r.stderr);
        assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/private.txt"), "private\n");
        assert_no_leak(&ctx, &r, &metadata, &pw);
    }
    assert!(server.requests().contains("200 /channel/linux-64/repodata.json"), "{}", server.requests());
    let r = ctx.build_envd(&["--add-host", "conda.test:host-gateway", "--no-cache"]);
    assert!(!r.ok, "no secret, no channel");
    assert!(r.stderr.contains("401"), "{}", r.stderr);
}

#[test]
fn credentials_written_in_build_envd_work_warn_and_stay_out_of_the_image() {
    let _engine = ensure_env();
    let pw = password();
    let served = secret_dir("inline-served");
    write_index(&served.join("pypi"));
    let name = write_channel(&served);
    let server = HostServer::basic_auth(&served, USER, &pw, served.join("requests.log"));
    let port = server.port;
    assert!(
        std::fs::read_to_string(served.join("channel/linux-64/repodata.json")).unwrap().contains("\"python\""),
        "the channel has a python for pip"
    );
    let ctx = Context::new("inline-credentials");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [http://{USER}:{pw}@conda.test:{port}/channel]\")\n    base(image=\"{}\", language=\"python3.11\")\n    config.pip_index(url=\"http://{USER}:{pw}@pypi.test:{port}/pypi/simple\", trust=True)\n    install.conda_packages(name=[\"{name}\"])\n    install.python_packages(name=[\"demo-secret==1.0\"])\n",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--add-host", "conda.test:host-gateway", "--add-host", "pypi.test:host-gateway"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("CredentialsInUrl: config.pip_index(url=) has credentials in http://***@pypi.test"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("CredentialsInUrl: config.conda_channel(channel=) has credentials in http://***@conda.test"),
        "{}",
        r.stderr
    );
    assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/private.txt"), "private\n");
    assert_eq!(sh(&ctx.tag, "python -c 'import demo_secret; print(demo_secret.VALUE)'"), "private\n");
    let found = image_leaks(&ctx.tag, &pw);
    assert!(found.is_empty(), "the image holds the password in {found:?}");
    // What stays in the image names the servers, without the credentials.
    assert!(sh(&ctx.tag, "cat /etc/pip.conf").contains(&format!("index-url = http://pypi.test:{port}/pypi/simple")));
    let meta = sh(&ctx.tag, &format!("cat /opt/conda/conda-meta/{name}-1.0-h0_0.json"));
    assert!(meta.contains(&format!("http://conda.test:{port}/channel")), "{meta}");
    assert!(sh(&ctx.tag, "cat /opt/conda/.condarc").contains(&format!("http://conda.test:{port}/channel")));
}

/// A flat apt repository in `dir/repo` with one package,
/// `envd-secret-demo`, signed with a new key; returns the public key
/// (binary keyring) for `signed-by`.
fn write_apt_repo(dir: &Path) -> Vec<u8> {
    let script = r#"
set -eu
root=$1 work=$(mktemp -d)
mkdir -p "$work/pkg/DEBIAN" "$work/pkg/usr/share/envd-secret-demo" "$root/repo"
printf 'Package: envd-secret-demo\nVersion: 1.0\nArchitecture: all\nMaintainer: envd e2e <e2e@envd.test>\nDescription: a package of a private apt repository\n' > "$work/pkg/DEBIAN/control"
echo private > "$work/pkg/usr/share/envd-secret-demo/private.txt"
deb=envd-secret-demo_1.0_all.deb
dpkg-deb --root-owner-group --build "$work/pkg" "$root/repo/$deb" >/dev/null
cd "$root/repo"
{ dpkg-deb -f "$deb"; echo "Filename: ./$deb"; echo "Size: $(stat -c %s "$deb")"; echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"; echo; } > Packages
{ echo "Origin: envd-e2e"; echo "Label: envd-e2e"; echo "Date: $(date -Ru)"; echo "SHA256:"; echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"; } > Release
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key 'envd e2e <e2e@envd.test>' ed25519 sign never 2>/dev/null
gpg -q --batch --yes --pinentry-mode loopback --passphrase '' --clearsign -o InRelease Release
gpg -q --export > "$root/key.gpg"
rm -rf "$work"
"#;
    let ok = std::process::Command::new("bash").args(["-c", script, "repo"]).arg(dir).status().unwrap().success();
    assert!(ok, "could not write the apt repository");
    std::fs::read(dir.join("key.gpg")).unwrap()
}

#[test]
fn a_private_apt_repository_installs_with_the_netrc_secret() {
    let _engine = ensure_env();
    let pw = password();
    let served = secret_dir("apt-served");
    let key = write_apt_repo(&served);
    let server = HostServer::basic_auth(&served, USER, &pw, served.join("requests.log"));
    let ctx = Context::new("private-apt");
    std::fs::write(ctx.dir().join("envd-e2e.gpg"), key).unwrap();
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    io.copy(src=\"envd-e2e.gpg\", dest=\"/etc/apt/keyrings/envd-e2e.gpg\")\n    run(commands=[\"echo 'deb [signed-by=/etc/apt/keyrings/envd-e2e.gpg] http://apt.test:{}/repo ./' > /etc/apt/sources.list.d/envd-e2e.list\"])\n    install.system_packages(name=[\"envd-secret-demo\"])\n",
            cpu_base(),
            server.port
        ),
    );
    // apt sends credentials over plain http only to entries that name the
    // protocol; pip and conda read the same file and skip such entries.
    let secrets = secret_dir("apt");
    let netrc = secrets.join("netrc");
    std::fs::write(&netrc, format!("machine http://apt.test:{} login {USER} password {pw}\n", server.port)).unwrap();
    let metadata = secrets.join("metadata.json");
    let meta = metadata.to_string_lossy().into_owned();
    let secret = format!("id=netrc,src={}", netrc.display());
    let r = ctx.build_envd(&["--add-host", "apt.test:host-gateway", "--metadata-file", &meta, "--secret", &secret]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /usr/share/envd-secret-demo/private.txt"), "private\n");
    assert!(server.requests().contains("200 /repo/./InRelease"), "{}", server.requests());
    assert_no_leak(&ctx, &r, &metadata, &pw);
    assert_eq!(sh(&ctx.tag, "ls /etc/apt/auth.conf.d/ 2>/dev/null | wc -l"), "0\n", "the netrc was never in a layer");

    let r = ctx.build_envd(&["--add-host", "apt.test:host-gateway", "--no-cache"]);
    assert!(!r.ok, "no secret, no package");
    assert!(r.stderr.contains("401"), "{}", r.stderr);
}

/// Runs `sshd` on the bridge's gateway address for one user key, and an
/// agent that holds that key; the repository `repo.git` holds a
/// pip-installable package, `demo-ssh`.
struct SshGit {
    server: HostServer,
    agent: std::process::Child,
    dir: Scratch,
}

impl SshGit {
    fn start() -> Self {
        let dir = secret_dir("ssh");
        let run = |script: &str| {
            let ok =
                std::process::Command::new("bash").args(["-c", script, "ssh"]).arg(&*dir).status().unwrap().success();
            assert!(ok, "{script}");
        };
        run(r#"set -eu; d=$1; rm -rf "$d"/*
ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$d/client_key"
cp "$d/client_key.pub" "$d/authorized_keys"
mkdir -p "$d/src/demo_ssh" /run/sshd
printf '"""A package from a private git server."""\n__version__ = "2.0"\n' > "$d/src/demo_ssh/__init__.py"
printf '[build-system]\nrequires = ["flit_core>=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n\n[project]\nname = "demo-ssh"\ndynamic = ["version", "description"]\n' > "$d/src/pyproject.toml"
git -C "$d/src" init -q && git -C "$d/src" add -A && git -C "$d/src" -c user.email=e2e@envd.test -c user.name=e2e commit -qm demo
git clone -q --bare "$d/src" "$d/repo.git""#);
        let sshd_dir = dir.to_path_buf();
        let server = HostServer::start(dir.join("sshd.log"), move |gateway, port| {
            let config = format!(
                "Port {port}\nListenAddress {gateway}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n",
                d = sshd_dir.display()
            );
            std::fs::write(sshd_dir.join("sshd_config"), config).unwrap();
            let mut c = std::process::Command::new("/usr/sbin/sshd");
            c.args(["-D", "-e", "-f"]).arg(sshd_dir.join("sshd_config"));
            c.stderr(std::fs::File::create(sshd_dir.join("sshd.log")).unwrap());
            c
        });
        let agent = std::process::Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(dir.join("agent.sock"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        for _ in 0..100 {
            if dir.join("agent.sock").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let added = std::process::Command::new("ssh-add")
            .arg(dir.join("client_key"))
            .env("SSH_AUTH_SOCK", dir.join("agent.sock"))
            .output()
            .unwrap();
        assert!(added.status.success(), "ssh-add: {}", String::from_utf8_lossy(&added.stderr));
        Self { server, agent, dir }
    }

    /// The known_hosts line of the server, as `git.test`.
    fn known_hosts(&self) -> String {
        let key = std::fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        format!("[git.test]:{} {}\n", self.server.port, key.join(" "))
    }
}

impl Drop for SshGit {
    fn drop(&mut self) {
        let _ = self.agent.kill();
        let _ = self.agent.wait();
    }
}

#[test]
fn a_git_ssh_requirement_installs_through_the_forwarded_agent() {
    let _engine = ensure_env();
    let git = SshGit::start();
    let ctx = Context::new("ssh-git");
    ctx.write("known_hosts", &git.known_hosts());
    let url = format!("git+ssh://root@git.test:{}{}/repo.git", git.server.port, git.dir.display());
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    io.copy(src=\"known_hosts\", dest=\"/root/.ssh/known_hosts\")\n    install.system_packages(name=[\"git\", \"openssh-client\"])\n    install.python_packages(name=[\"demo-ssh @ {url}\"])\n    run(commands=[\"git ls-remote {} > /home/aiges/ls-remote.txt\"])\n",
            cpu_base(),
            url.trim_start_matches("git+"),
        ),
    );
    let agent = format!("default={}", git.dir.join("agent.sock").display());
    let r = ctx.build_envd(&["--add-host", "git.test:host-gateway", "--ssh", &agent]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "python3 -c 'import demo_ssh; print(demo_ssh.__version__)'"), "2.0\n");
    assert!(
        sh(&ctx.tag, "cat /home/aiges/ls-remote.txt").contains("HEAD"),
        "run() reached the server through the agent too"
    );
    let private = std::fs::read_to_string(git.dir.join("client_key")).unwrap();
    let line = private.lines().nth(1).unwrap();
    assert!(image_leaks(&ctx.tag, line).is_empty(), "the key never enters the image");
}
