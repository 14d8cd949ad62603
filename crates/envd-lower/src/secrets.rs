//! Credentials for private indexes, from buildx's `--secret` and `--ssh`.
//!
//! build.envd has no mount syntax, and v0 files must keep working as they
//! are, so the frontend mounts well-known secret ids into the steps that
//! can use them, all optional: a build without them is a build without
//! credentials. A secret's value is never part of the definition, the
//! cache key or any layer; BuildKit hands it to the step at run time.
//!
//! | id | kind | steps |
//! | --- | --- | --- |
//! | `netrc` | file | pip, conda, apt (as an `auth.conf.d` entry) |
//! | `pip.conf` | file | pip, laid over `/etc/pip.conf` (`PIP_CONFIG_FILE`) |
//! | `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL` | env | pip |
//! | `conda-auth` | file | conda: rattler's auth file (`RATTLER_AUTH_FILE`) |
//! | ssh `default` | agent | pip and `run()` (`SSH_AUTH_SOCK`) |
//!
//! `run()` steps get no secret but the SSH agent: what a step does with a
//! file it can read, it can also write into the image.

use envd_lang::Plan;
use envd_llb::{Exec, Mount};

/// The `netrc` secret: per-host credentials.
pub const NETRC: &str = "netrc";
/// The `pip.conf` secret: a pip configuration.
pub const PIP_CONF: &str = "pip.conf";
/// The secret env of pip's index URL.
pub const PIP_INDEX_URL: &str = "PIP_INDEX_URL";
/// The secret env of pip's extra index URL.
pub const PIP_EXTRA_INDEX_URL: &str = "PIP_EXTRA_INDEX_URL";
/// The `conda-auth` secret: a rattler authentication file (JSON, host to
/// `{"BasicHTTP": ...}`, `{"BearerToken": ...}` or `{"CondaToken": ...}`).
pub const CONDA_AUTH: &str = "conda-auth";
/// The SSH agent buildx forwards with `--ssh default`.
pub const SSH: &str = "default";

/// Where steps see the secret files.
const DIR: &str = "/run/secrets/envd";
/// Where steps see the SSH agent's socket (BuildKit's own default).
const SSH_SOCKET: &str = "/run/buildkit/ssh_agent.0";
/// The netrc as apt reads credentials.
const APT_AUTH: &str = "/etc/apt/auth.conf.d/envd-netrc.conf";

/// A secret, for `--call outline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretUse {
    /// The id to pass with `--secret id=...` (or `--ssh`).
    pub id: &'static str,
    /// Whether it is an SSH agent rather than a secret.
    pub ssh: bool,
}

fn file(id: &str, dest: String) -> Mount {
    Mount::Secret { dest, id: id.to_owned(), uid: 0, gid: 0, mode: 0o400, optional: true }
}

fn netrc(exec: Exec) -> Exec {
    exec.mount(file(NETRC, format!("{DIR}/{NETRC}"))).env("NETRC", format!("{DIR}/{NETRC}"))
}

fn ssh(exec: Exec) -> Exec {
    exec.mount(Mount::Ssh { dest: SSH_SOCKET.into(), id: SSH.into(), optional: true }).env("SSH_AUTH_SOCK", SSH_SOCKET)
}

/// A pip step: netrc, pip.conf, the index URLs and the SSH agent. Index
/// URLs written with credentials in build.envd (`config.pip_index`) go in
/// as plain variables, since `/etc/pip.conf` holds them stripped; the
/// secret envs of the same name are then not asked for.
pub(crate) fn pip(exec: Exec, plan: &Plan) -> Exec {
    pip_without_netrc(netrc(exec), plan)
}

/// [`pip`] for a step that has the netrc already (conda's, for an env
/// file's `pip:` section).
pub(crate) fn pip_without_netrc(exec: Exec, plan: &Plan) -> Exec {
    let mut exec = ssh(exec)
        .mount(file(PIP_CONF, format!("{DIR}/{PIP_CONF}")))
        .env("PIP_CONFIG_FILE", format!("{DIR}/{PIP_CONF}"));
    let written = plan.pip_index.as_ref();
    let urls = [
        (PIP_INDEX_URL, written.map(|p| p.url.clone())),
        (PIP_EXTRA_INDEX_URL, written.and_then(|p| p.extra_url.clone())),
    ];
    for (name, url) in urls {
        exec = match url.filter(|u| envd_conda::credentials::has_credentials(u)) {
            Some(u) => exec.env(name, u),
            None => exec.secret_env(name, name, true),
        };
    }
    exec
}

/// An apt step: the netrc as an `auth.conf.d` entry, which apt reads in
/// netrc's format.
pub(crate) fn apt(exec: Exec) -> Exec {
    exec.mount(Mount::Secret {
        dest: APT_AUTH.into(),
        id: NETRC.into(),
        uid: 0,
        gid: 0,
        // apt's download methods run as `_apt` and read it then.
        mode: 0o444,
        optional: true,
    })
}

/// A conda step: netrc and rattler's auth file for the installer.
pub(crate) fn conda(exec: Exec) -> Exec {
    netrc(exec)
        .mount(file(CONDA_AUTH, format!("{DIR}/{CONDA_AUTH}")))
        .env("RATTLER_AUTH_FILE", format!("{DIR}/{CONDA_AUTH}"))
}

/// A `run()` step: only the SSH agent.
pub(crate) fn run(exec: Exec) -> Exec {
    ssh(exec)
}

/// The secrets and agents `plan`'s steps would use.
pub fn used_by(plan: &Plan) -> Vec<SecretUse> {
    use envd_lang::StepKind::*;
    let mut out: Vec<SecretUse> = Vec::new();
    let mut add = |ids: &[&'static str], ssh: bool| {
        for id in ids {
            if !out.iter().any(|s| s.id == *id) {
                out.push(SecretUse { id, ssh });
            }
        }
    };
    for step in &plan.steps {
        match step.kind {
            SystemPackages { .. } => add(&[NETRC], false),
            PythonPackages { .. } => {
                add(&[NETRC, PIP_CONF, PIP_INDEX_URL, PIP_EXTRA_INDEX_URL], false);
                add(&[SSH], true);
            }
            CondaPackages { .. } => add(&[NETRC, CONDA_AUTH], false),
            Run { .. } => add(&[SSH], true),
            Copy { .. } => {}
        }
    }
    out
}
