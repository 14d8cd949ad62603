//! A conda environment in layers that follow its packages: resolve, then
//! one cached layer per package or small group, merged, then a small last
//! layer. The conda side of what [`crate::layered`] does for python.
//!
//! 1. **The lock.** A lock file given as the env file (`@EXPLICIT`,
//!    conda-lock) is the lock. Otherwise a resolve step runs the installer
//!    with [`Stage::Resolve`]: the solve alone, written as a
//!    [`ResolvedLock`] to an output of its own, keyed by the request and
//!    the context's channel directories. The frontend solves it, reads the
//!    small file and lowers again with it ([`crate::Inputs::locks`]).
//! 2. **One layer per package or group** ([`crate::layers`]: a layer each
//!    while they fit, the biggest archives first when they do not, the
//!    rest in groups by a hash of the name). Each group is installed by
//!    the installer with [`Stage::Layer`] into the prefix as if it were
//!    empty, on the state the environment starts from, from a request of
//!    just its archives (URL and hash) and the environment's python (which
//!    says where `noarch: python` packages go, and is not installed). Its
//!    cache key is that state, the request and the installer: nothing of
//!    the other packages, the specs or their order. Its files become their
//!    own layer, the DiffOp over that state.
//! 3. **Reproducible bytes.** Every file of the prefix, and the
//!    directories above it, are dated `SOURCE_DATE_EPOCH` (or
//!    [`FIXED_EPOCH`]); `/tmp` is a tmpfs; the package cache is a cache
//!    mount. The same archives on the same base and python give the same
//!    layer.
//! 4. **`.pyc` files in their package's layer.** The python's group is
//!    installed first; every other group is installed on the state and the
//!    python's layer (its DiffOp is over that, so the python is not in it),
//!    and compiles its `noarch: python` packages there, by hash
//!    (`SOURCE_DATE_EPOCH`), as conda compiles at install time.
//! 5. **The env file's `pip:` section** is resolved and installed in
//!    layers of its own on the state and the python's layer
//!    (`Conda::pip_layers` in [`crate::conda`], with [`crate::layered`]).
//! 6. **The last step** runs on the merge of the base and the layers, with
//!    [`Stage::Finish`]: it checks that every package of the lock is there,
//!    compiles what no layer could (an environment whose python came from
//!    nowhere in the lock), writes the condarc, and runs the `pip:`
//!    install, which finds the pinned packages there. Its layer is the
//!    small last one.
//!
//! Only an environment the base does not have already is layered (the
//! first conda segment, on a base that names no conda of its own): a
//! layer cannot take a package out of the base. Channels with credentials
//! in their URL stay in one layer too, since a layer's request, which is
//! in the build's LLB, would need them.

use envd_conda::{credentials, InstallRequest, LockedPackage, Stage};
use envd_llb::{diff, merge, FileAction, Mount, State};

use crate::ctx::Ctx;
use crate::layered::FIXED_EPOCH;
use crate::layers::{Budget, Group};
use crate::schedule::Numbered;
use crate::shell::quote;
use crate::well_known::{CONDA_PKGS, CONDA_REQUEST, CONTEXT_MOUNT, INSTALLER_DIR};

/// What every layer of one environment shares.
pub(crate) struct Environment<'a> {
    /// The first conda call of the segment, which the layers belong to.
    pub(crate) step: Numbered<'a>,
    /// The state the environment is installed on.
    pub(crate) state: &'a State,
    /// The frontend image whose installer runs.
    pub(crate) installer: &'a str,
    /// The segment's request: its prefix, subdir and caches.
    pub(crate) request: &'a InstallRequest,
    /// The build context, for archives of its channel directories.
    pub(crate) context: Option<&'a State>,
}

/// Whether `packages` can go in layers: none of their URLs carries a
/// credential, which a layer's request would put in the LLB.
pub(crate) fn can_layer(request: &InstallRequest) -> bool {
    let urls = request.channels.iter().chain(request.locked.iter().map(|p| &p.url));
    !urls.into_iter().any(|u| credentials::has_credentials(u))
}

/// What [`install_groups`] made.
pub(crate) struct Installed {
    /// The environment's state merged with every layer: what the last
    /// step runs on.
    pub(crate) merged: State,
    /// The environment's state and the python's layer alone: what a
    /// package that needs only the python is installed on.
    pub(crate) python: State,
}

/// The environment's state merged with a layer per group of `lock`'s
/// packages, within `budget`.
pub(crate) fn install_groups(ctx: &Ctx, env: &Environment, lock: &[LockedPackage], budget: &Budget) -> Installed {
    let python = lock.iter().find(|p| p.dist().is_some_and(|(name, ..)| name == "python")).map(|p| p.url.clone());
    let epoch = ctx.config.source_date_epoch.unwrap_or(FIXED_EPOCH);
    let mut groups = plan(lock, budget);
    // The python's group first, on the environment's state; every other
    // group on that and the python's layer, so that its `noarch: python`
    // packages are compiled in their own layer. A layer is the DiffOp over
    // the state it was installed on: its own files alone either way.
    let first = groups.iter().position(|(_, archives)| archives.iter().any(|p| Some(&p.url) == python.as_ref()));
    let mut layers = vec![env.state.clone()];
    let mut on = env.state.clone();
    if let Some(i) = first {
        let (group, packages) = groups.remove(i);
        let installed = group_step(ctx, env, env.state, &group, packages, python.clone(), epoch);
        let layer = diff(env.state, &installed, ctx.internal(&format!("layer of {}", group.name)));
        on = merge(&[env.state.clone(), layer.clone()], ctx.internal("the environment's python"));
        layers.push(layer);
    }
    for (group, packages) in groups {
        let installed = group_step(ctx, env, &on, &group, packages, python.clone(), epoch);
        layers.push(diff(&on, &installed, ctx.internal(&format!("layer of {}", group.name))));
    }
    let merged = match layers.len() {
        1 => env.state.clone(),
        n => merge(&layers, ctx.internal(&format!("{} conda package layers", n - 1))),
    };
    Installed { merged, python: on }
}

/// The planner's groups of `lock`, each with its archives. A package is
/// known by its name (one of each in an environment) and sized by its
/// archive, where the resolve knew it.
fn plan(lock: &[LockedPackage], budget: &Budget) -> Vec<(Group, Vec<LockedPackage>)> {
    let mut packages: Vec<crate::lock::LockedPackage> = lock
        .iter()
        .filter_map(|p| {
            let (name, version, _) = p.dist()?;
            Some(crate::lock::LockedPackage {
                name: name.to_owned(),
                version: version.to_owned(),
                hashes: p.sha256.iter().chain(&p.md5).cloned().collect(),
                wheel_size: p.size.unwrap_or(0),
                sdist_only: false,
                direct: false,
                wheels: Vec::new(),
            })
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let planned = crate::layers::plan(&crate::lock::PythonLock { packages }, budget);
    planned
        .groups
        .into_iter()
        .map(|group| {
            let archives = group
                .packages
                .iter()
                .filter_map(|g| lock.iter().find(|p| p.dist().is_some_and(|(name, ..)| name == g.name)))
                // The size only plans; the layer's key is the archive.
                .map(|p| LockedPackage { size: None, ..p.clone() })
                .collect();
            (group, archives)
        })
        .collect()
}

/// One group's step, on `state`: its archives installed into the prefix
/// as if it were empty (the python's layer aside), its `noarch: python`
/// packages compiled (`.pyc` files checked by hash, as `SOURCE_DATE_EPOCH`
/// makes python write them), then every file dated.
fn group_step(
    ctx: &Ctx,
    env: &Environment,
    state: &State,
    group: &Group,
    packages: Vec<LockedPackage>,
    python: Option<String>,
    epoch: i64,
) -> State {
    let names: Vec<String> = packages.iter().filter_map(|p| p.dist()).map(|(n, v, b)| format!("{n}-{v}-{b}")).collect();
    let archives: Vec<String> = packages.iter().filter_map(|p| context_archive(&p.url)).collect();
    let request = InstallRequest {
        channels: Vec::new(),
        specs: Vec::new(),
        locked: packages,
        cuda: None,
        add_pip_as_python_dependency: true,
        condarc: None,
        stage: Stage::Layer { python },
        ..env.request.clone()
    };
    let file = State::scratch().file(
        vec![FileAction::mkfile("/request.json", request.to_json(), 0o644)],
        ctx.internal(&format!("conda request of {}", group.name)),
    );
    let prefix = quote(&request.prefix);
    // The prefix, and every directory above it: the install may have made
    // them or changed them, within the second the step started (too close
    // for `-nt` to tell), and a layer that holds one must hold it dated.
    let script = format!(
        r#"{INSTALLER_DIR}/envd-frontend conda-install {CONDA_REQUEST}
find {prefix} -exec touch -h -d @{epoch} {{}} +
d={prefix}
while d=$(dirname "$d"); [ "$d" != / ]; do touch -h -d @{epoch} "$d"; done
"#
    );
    let name = match names.as_slice() {
        [one] => format!("install.conda_packages: {one}"),
        all => format!("install.conda_packages: {} ({})", group.name, all.join(" ")),
    };
    let mut exec = ctx
        .script(state, &[env.step], &name, &script)
        .user("root")
        .env("HOME", "/root")
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .mount(crate::frontend_image::bin_mount(ctx, env.installer, "conda installer"))
        .mount(Mount::Bind {
            dest: CONDA_REQUEST.into(),
            source: file,
            selector: "/request.json".into(),
            readonly: true,
        })
        .mount(CONDA_PKGS.mount())
        .mount(Mount::Tmpfs { dest: "/tmp".into(), size: 0 });
    exec = ctx.network_timeouts(crate::secrets::conda(exec));
    if let Some(context) = env.context {
        // Each archive of a channel directory alone, so that the layer's
        // key is its archives and not the whole channel.
        for path in archives {
            exec = exec.mount(Mount::Bind {
                dest: format!("{CONTEXT_MOUNT}/{path}"),
                source: context.clone(),
                selector: format!("/{path}"),
                readonly: true,
            });
        }
    }
    exec.root()
}

/// The context path of an archive in a channel directory of the context
/// (`file:///run/envd/context/<path>`); `None` for any other URL.
fn context_archive(url: &str) -> Option<String> {
    url.strip_prefix("file://")?.strip_prefix(CONTEXT_MOUNT)?.strip_prefix('/').map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(url: &str, size: u64) -> LockedPackage {
        LockedPackage { url: url.into(), md5: None, sha256: Some(format!("{size:064x}")), size: Some(size) }
    }

    #[test]
    fn every_package_gets_a_layer_while_they_fit_and_sizes_do_not_reach_the_layers() {
        let lock = vec![
            archive("https://c.test/linux-64/python-3.11.9-h0_0.conda", 30 << 20),
            archive("https://c.test/noarch/pip-24.0-pyh0_0.conda", 1 << 20),
            archive("https://c.test/linux-64/libzlib-1.3.1-h0_0.conda", 60_000),
        ];
        let groups = plan(&lock, &Budget::within(10));
        let names: Vec<&str> = groups.iter().map(|(g, _)| g.name.as_str()).collect();
        assert_eq!(names, ["libzlib", "pip", "python"]);
        assert!(groups.iter().all(|(_, a)| a.len() == 1 && a[0].size.is_none() && a[0].sha256.is_some()));
    }

    #[test]
    fn over_the_budget_the_biggest_archives_keep_layers() {
        let mut lock: Vec<LockedPackage> =
            (0..30).map(|i| archive(&format!("https://c.test/noarch/p{i:02}-1-0.conda"), 1000 + i)).collect();
        lock.push(archive("https://c.test/linux-64/pytorch-2.1-cuda_0.conda", 2 << 30));
        let groups = plan(&lock, &Budget::within(6));
        assert_eq!(groups.len(), 6);
        assert!(groups.iter().any(|(g, a)| g.name == "pytorch" && a.len() == 1), "{groups:?}");
        let total: usize = groups.iter().map(|(_, a)| a.len()).sum();
        assert_eq!(total, 31, "every archive in some layer");
    }

    #[test]
    fn only_archives_of_the_context_are_mounted_and_credentials_keep_one_layer() {
        assert_eq!(
            context_archive("file:///run/envd/context/channel/noarch/pip-24.0-pyh0_0.conda").as_deref(),
            Some("channel/noarch/pip-24.0-pyh0_0.conda")
        );
        assert_eq!(context_archive("https://c.test/noarch/pip-24.0-pyh0_0.conda"), None);
        assert_eq!(context_archive("file:///srv/channel/noarch/pip-24.0-pyh0_0.conda"), None);
        let request = |url: &str| InstallRequest {
            version: envd_conda::REQUEST_VERSION,
            prefix: "/opt/conda".into(),
            subdir: "linux-64".into(),
            channels: vec![url.into()],
            specs: Vec::new(),
            locked: Vec::new(),
            cuda: None,
            add_pip_as_python_dependency: true,
            condarc: None,
            pkgs_dir: "/p".into(),
            repodata_dir: "/r".into(),
            stage: Stage::Whole,
        };
        assert!(can_layer(&request("https://conda.test/main")));
        assert!(!can_layer(&request("https://conda.test/t/tk-123/main")));
        assert!(!can_layer(&request("https://me:secret@conda.test/main")));
    }
}
