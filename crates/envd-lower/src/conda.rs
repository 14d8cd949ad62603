//! `install.conda_packages`: one solve per segment, carried out in the
//! build by the frontend's own binary (`envd-frontend conda-install`).
//!
//! The frontend does the reading and the checking: env files (which it
//! was handed, read from the context), match specs and channels become one
//! [`InstallRequest`] per segment, and every mistake is an error at its
//! build.envd line before anything runs. The step itself mounts:
//!
//! - the installer, read-only from the frontend's image (the reference
//!   BuildKit started the frontend from, pinned by digest);
//! - the request, a file of its own, so the step's cache key is exactly
//!   what it will install;
//! - `./dir` channels of the context, read-only, as `file://` channels;
//! - the package and repodata caches, LOCKED cache mounts that never
//!   reach the image;
//! - for the env files' `pip:` sections, which the same step installs with
//!   the environment's own pip: pip's cache mount and `/etc/pip.conf`.
//!
//! The prefix is the base's conda when its config names one (`CONDA_DIR`,
//! then `CONDA_PREFIX`), else `/opt/conda`; the installer keeps whatever
//! that prefix already has.

use std::collections::BTreeMap;
use std::path::Path;

use envd_conda::{
    check_spec, credentials, python_spec, resolve_channels, ChannelConfig, ChannelSource, EnvFile, EnvFileKind,
    InstallRequest, LockedPackage, ResolvedLock, Stage,
};
use envd_lang::{Diagnostic, Plan, Span, Step, StepKind};
use envd_llb::{Exec, FileAction, Mount, State};

use crate::config::{PackageLayers, PythonInstaller};
use crate::ctx::Ctx;
use crate::lock::Resolve;
use crate::pip;
use crate::schedule::Numbered;
use crate::secrets;
use crate::shell;
use crate::well_known::{CONDA_PKGS, CONDA_REPODATA, CONDA_REQUEST, CONTEXT_MOUNT, INSTALLER_DIR, PIP_SOURCES};

/// The binary in the frontend image.
pub const INSTALLER_PATH: &str = "/bin/envd-frontend";
/// Where the last step mounts the resolve of the env file's `pip:`
/// section, beside the environment's at [`crate::layered::LOCK_DIR`].
const PIP_LOCK_DIR: &str = "/run/envd/lock-pip";

/// The prefix when the base has no conda of its own.
pub const DEFAULT_PREFIX: &str = "/opt/conda";

/// What one conda call contributes, checked.
struct Call {
    specs: Vec<String>,
    channels: Vec<ChannelSource>,
    env_channels: Vec<ChannelSource>,
    pip: Vec<String>,
    /// Context directories the `pip:` section installs from.
    pip_sources: Vec<String>,
    title: String,
    /// A lock file's archives: installed as they are, with no solve.
    locked: Vec<LockedPackage>,
}

/// The conda side of a plan, read and checked before lowering starts.
pub(crate) struct Conda {
    prefix: String,
    installer: Option<String>,
    calls: BTreeMap<usize, Call>,
    /// `config.conda_channel`'s channels, or `defaults`.
    rc_channels: Vec<ChannelSource>,
    /// The solve's `__cuda` (see [`cuda_version`]).
    cuda: Option<String>,
    /// The base names a conda of its own (`CONDA_DIR`, `CONDA_PREFIX`),
    /// which layers could not take packages out of.
    prefix_in_base: bool,
}

/// The CUDA version the solve sees as `__cuda`, since a build has no GPU
/// to ask: the first of the `CONDA_OVERRIDE_CUDA` build arg (conda's own
/// convention), `install.cuda(version=)`, the CUDA version of the AIGES
/// GPU base, and the base config's `CUDA_VERSION` (the nvidia/cuda images'
/// convention, `11.6.2` read as `11.6`). `None` on a base with none.
pub(crate) fn cuda_version(plan: &Plan, override_arg: Option<&str>, base: &crate::ResolvedBase) -> Option<String> {
    let from_config = || {
        let v = crate::base::config_cuda(base)?;
        Some(v.split('.').take(2).collect::<Vec<_>>().join("."))
    };
    override_arg
        .map(|v| v.trim().to_owned())
        .or_else(|| plan.cuda.as_ref().map(|c| c.version.clone()))
        .or_else(|| base.aiges_cuda.clone())
        .or_else(from_config)
}

fn at(span: &Span, message: String) -> Diagnostic {
    Diagnostic::at(span.clone(), message)
}

/// What one segment's conda step installs.
struct SegmentRequest {
    /// The request the installer carries out.
    request: InstallRequest,
    /// The env files' `pip:` requirements, installed in the same step.
    pip: Vec<String>,
    /// The context directories they install from.
    pip_sources: Vec<String>,
    /// The progress name after `install.conda_packages`.
    title: String,
}

impl Conda {
    /// Reads every conda call of `plan`; `None` when there are none.
    pub(crate) fn prepare(
        plan: &Plan,
        env: &[(String, String)],
        env_files: &BTreeMap<String, String>,
        installer: Option<&str>,
        cuda: Option<String>,
        arch: &str,
    ) -> Result<Option<Self>, Diagnostic> {
        let rc = plan.conda_channel.as_ref();
        let config = rc.map_or_else(ChannelConfig::default, |c| c.condarc.channel_config.clone());
        let mut calls = BTreeMap::new();
        for (i, step) in plan.steps.iter().enumerate() {
            if let StepKind::CondaPackages { .. } = &step.kind {
                calls.insert(i, Self::call(step, &config, env_files, subdir(arch))?);
            }
        }
        if calls.is_empty() {
            return Ok(None);
        }
        if calls.len() > 1 {
            if let Some((i, _)) = calls.iter().find(|(_, c)| !c.locked.is_empty()) {
                return Err(at(
                    &plan.steps[*i].span,
                    "install.conda_packages: a lock file installs an environment exactly, so it must be the only \
                     install.conda_packages call; move the other packages into the lock file"
                        .into(),
                ));
            }
        }
        let rc_names: Vec<&str> = match rc {
            Some(c) if !c.condarc.channels.is_empty() => c.condarc.channels.iter().map(String::as_str).collect(),
            _ => vec!["defaults"],
        };
        let rc_channels = resolve_channels(rc_names, &config).map_err(|e| {
            let span = rc.map_or_else(|| plan.base.span.clone(), |c| c.span.clone());
            at(&span, format!("config.conda_channel: {e}"))
        })?;
        let var = |k: &str| env.iter().find(|(key, v)| key == k && v.starts_with('/')).map(|(_, v)| v.clone());
        let base_prefix = var("CONDA_DIR").or_else(|| var("CONDA_PREFIX"));
        let prefix_in_base = base_prefix.is_some();
        let prefix = base_prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        Ok(Some(Self { prefix, installer: installer.map(str::to_owned), calls, rc_channels, cuda, prefix_in_base }))
    }

    fn call(
        step: &Step,
        config: &ChannelConfig,
        env_files: &BTreeMap<String, String>,
        subdir: &str,
    ) -> Result<Call, Diagnostic> {
        let StepKind::CondaPackages { names, channels, env_file } = &step.kind else {
            unreachable!("only conda steps are prepared")
        };
        let span = &step.span;
        for n in names {
            check_spec(n).map_err(|e| at(span, format!("install.conda_packages: {e}")))?;
        }
        let channel_sources = resolve_channels(channels.iter().map(String::as_str), config)
            .map_err(|e| at(span, format!("install.conda_packages: {e}")))?;
        let mut call = Call {
            specs: names.clone(),
            channels: channel_sources,
            env_channels: Vec::new(),
            pip: Vec::new(),
            pip_sources: Vec::new(),
            title: String::new(),
            locked: Vec::new(),
        };
        let mut title: Vec<String> = names.clone();
        if let Some(path) = env_file {
            let text = env_files.get(path.as_str()).ok_or_else(|| {
                at(span, format!("install.conda_packages: env_file \"{path}\" was not found in the build context"))
            })?;
            let lock = match EnvFileKind::of(text) {
                EnvFileKind::Environment => None,
                EnvFileKind::Explicit => Some(envd_conda::parse_explicit(text, subdir)),
                EnvFileKind::CondaLock => Some(envd_conda::parse_conda_lock(text, subdir)),
            };
            if let Some(lock) = lock {
                let lock = lock.map_err(|e| at(span, format!("install.conda_packages: env_file \"{path}\" {e}")))?;
                if !names.is_empty() || !channels.is_empty() {
                    return Err(at(
                        span,
                        format!(
                            "install.conda_packages: env_file \"{path}\" is a lock file, which installs exactly its \
                             packages; name= and channel= cannot be added to it"
                        ),
                    ));
                }
                call.locked = lock.conda;
                call.pip = lock.pip;
                call.title = format!("-f {path} (locked)");
                return Ok(call);
            }
            let file = EnvFile::parse(text)
                .map_err(|e| at(span, format!("install.conda_packages: env_file \"{path}\" {e}")))?;
            for d in &file.dependencies {
                check_spec(d).map_err(|e| at(span, format!("install.conda_packages: env_file \"{path}\": {e}")))?;
            }
            call.env_channels = resolve_channels(file.channels.iter().map(String::as_str), config)
                .map_err(|e| at(span, format!("install.conda_packages: env_file \"{path}\": {e}")))?;
            call.specs.extend(file.dependencies);
            let env_dir = Path::new(path.as_str()).parent().map(|d| d.display().to_string()).unwrap_or_default();
            for requirement in &file.pip {
                let (requirement, source) = pip_requirement(requirement, &env_dir)
                    .map_err(|e| at(span, format!("install.conda_packages: env_file \"{path}\": {e}")))?;
                call.pip.push(requirement);
                call.pip_sources.extend(source);
            }
            title.push(format!("-f {path}"));
        }
        title.extend(channels.iter().map(|c| format!("-c {c}")));
        call.title = title.join(" ");
        Ok(call)
    }

    /// The environment's prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The context directories used as channels.
    pub(crate) fn context_dirs(&self) -> Vec<String> {
        let all = self.calls.values().flat_map(|c| c.channels.iter().chain(&c.env_channels)).chain(&self.rc_channels);
        let mut dirs: Vec<String> = all
            .filter_map(|c| match c {
                ChannelSource::Context(p) => Some(p.clone()),
                ChannelSource::Url(_) => None,
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// The context directories the env files' `pip:` sections install
    /// from (`.` for the whole context).
    pub(crate) fn pip_source_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = self.calls.values().flat_map(|c| c.pip_sources.iter().cloned()).collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Every spec of every call, for the image's labels.
    pub(crate) fn all_specs(&self) -> Vec<String> {
        self.calls.values().flat_map(|c| c.specs.iter().map(|s| credentials::strip(s))).collect()
    }

    /// The request of one segment's conda calls: `python` from `base()`
    /// and every call's specs in one solve, with the calls' channels, then
    /// the env files', then the condarc's, by priority.
    fn request(&self, plan: &Plan, arch: &str, calls: &[&Call]) -> SegmentRequest {
        let locked: Vec<LockedPackage> = calls.iter().flat_map(|c| c.locked.iter().cloned()).collect();
        // A lock file decides python too: base(language=) adds no spec.
        let mut specs: Vec<String> =
            if locked.is_empty() { plan.base.python.iter().map(|v| python_spec(v)).collect() } else { Vec::new() };
        specs.extend(calls.iter().flat_map(|c| c.specs.iter().cloned()));
        let sources = calls
            .iter()
            .flat_map(|c| &c.channels)
            .chain(calls.iter().flat_map(|c| &c.env_channels))
            .chain(&self.rc_channels);
        let mut channels: Vec<String> = Vec::new();
        for s in sources {
            let url = match s {
                ChannelSource::Url(u) => u.clone(),
                ChannelSource::Context(p) => format!("file://{CONTEXT_MOUNT}/{p}"),
            };
            if !channels.contains(&url) {
                channels.push(url);
            }
        }
        let request = InstallRequest {
            version: envd_conda::REQUEST_VERSION,
            prefix: self.prefix.clone(),
            subdir: subdir(arch).to_owned(),
            channels: if locked.is_empty() { channels } else { Vec::new() },
            specs,
            locked,
            cuda: self.cuda.clone(),
            add_pip_as_python_dependency: plan
                .conda_channel
                .as_ref()
                .and_then(|c| c.condarc.add_pip_as_python_dependency)
                .unwrap_or(true),
            // The installer writes it into the image.
            condarc: plan.conda_channel.as_ref().map(|c| credentials::strip(&c.yaml)),
            pkgs_dir: CONDA_PKGS.target.into(),
            repodata_dir: CONDA_REPODATA.target.into(),
            stage: Stage::Whole,
        };
        let title: Vec<&str> = calls.iter().map(|c| c.title.as_str()).collect();
        SegmentRequest {
            request,
            pip: calls.iter().flat_map(|c| c.pip.iter().cloned()).collect(),
            pip_sources: calls.iter().flat_map(|c| c.pip_sources.iter().cloned()).collect(),
            title: title.join(" "),
        }
    }

    /// What the conda step mounts: the installer from the frontend's
    /// image, the request, the caches, the context's channel directories,
    /// and for a `pip:` section pip's cache and `/etc/pip.conf`.
    fn mounts(
        &self,
        ctx: &Ctx,
        mut exec: Exec,
        plan: &Plan,
        installer: &str,
        seg: &SegmentRequest,
        context: Option<&State>,
    ) -> Exec {
        let request_file = State::scratch().file(
            vec![FileAction::mkfile("/request.json", seg.request.to_json(), 0o644)],
            ctx.internal("conda request"),
        );
        exec = exec
            .mount(crate::frontend_image::bin_mount(ctx, installer, "conda installer"))
            .mount(Mount::Bind {
                dest: CONDA_REQUEST.into(),
                source: request_file,
                selector: "/request.json".into(),
                readonly: true,
            })
            .mount(CONDA_PKGS.mount())
            .mount(CONDA_REPODATA.mount());
        exec = ctx.network_timeouts(secrets::conda(exec));
        if !seg.pip.is_empty() {
            exec = pip_section_mounts(ctx, secrets::pip_without_netrc(pip::cache_env(exec), plan), plan, seg, context);
        }
        if let Some(context) = context {
            for dir in self.context_dirs() {
                exec = exec.mount(Mount::Bind {
                    dest: format!("{CONTEXT_MOUNT}/{dir}"),
                    source: context.clone(),
                    selector: format!("/{dir}"),
                    readonly: true,
                });
            }
        }
        exec
    }

    /// How the segment that starts with `first` installs: in layers (see
    /// [`crate::conda_layers`]) when this is the environment's first
    /// segment on a base with no conda of its own, `ENVD_CONDA_LAYERS`
    /// does not say `single`, and no channel URL carries a credential.
    fn layering(&self, ctx: &Ctx, first: Numbered, request: &InstallRequest) -> Layering {
        let first_segment = self.calls.keys().next() == Some(&first.index);
        if ctx.config.conda_layers == PackageLayers::Single
            || !first_segment
            || self.prefix_in_base
            || !crate::conda_layers::can_layer(request)
        {
            Layering::Single
        } else if !ctx.config.caps.merge_diff {
            Layering::NoMergeDiff
        } else {
            Layering::Packages
        }
    }

    /// The conda step of one segment, whose conda calls are `steps`.
    pub(crate) fn lower(
        &self,
        ctx: &Ctx,
        plan: &Plan,
        state: &State,
        context: Option<&State>,
        steps: &[Numbered],
    ) -> Result<State, Diagnostic> {
        let first = steps[0];
        let installer = self.installer.as_deref().ok_or_else(|| {
            at(
                &first.step.span,
                "install.conda_packages needs the frontend's own image to run its installer, and BuildKit did not \
                 say which it is (no /run/config/buildkit/metadata/frontend.bin); run envd-frontend as a BuildKit \
                 gateway frontend image"
                    .into(),
            )
        })?;
        let calls: Vec<&Call> = steps.iter().map(|s| &self.calls[&s.index]).collect();
        let mut seg = self.request(plan, &ctx.config.platform.architecture, &calls);
        let mut script = String::new();
        let mut on = state.clone();
        let mut lock_mount = None;
        let mut pip_lock_mount = None;
        let mut quiet_python = false;
        match self.layering(ctx, first, &seg.request) {
            Layering::Single => {}
            Layering::NoMergeDiff => {
                let why = shell::quote("envd: conda packages in one layer: this image store has no MergeOp/DiffOp");
                script.push_str(&format!("echo {why}\n"));
            }
            Layering::Packages => {
                let lock = if seg.request.locked.is_empty() {
                    let resolve = self.resolve(ctx, plan, state, context, steps, installer, &seg);
                    match ctx.inputs.locks.get(&resolve.key()) {
                        Some(text) => {
                            let lock = ResolvedLock::from_json(text)
                                .map_err(|e| at(&first.step.span, format!("install.conda_packages: {e}")))?;
                            // The last step mounts the resolve: it is then
                            // part of the build, and a registry cache
                            // exported with mode=max carries it.
                            lock_mount = Some(crate::layered::lock_mount(&resolve));
                            Some(lock.packages)
                        }
                        None => {
                            ctx.resolves.borrow_mut().push(resolve);
                            None
                        }
                    }
                } else {
                    Some(seg.request.locked.clone())
                };
                if let Some(lock) = lock {
                    let env = crate::conda_layers::Environment {
                        step: first,
                        state,
                        installer,
                        request: &seg.request,
                        context,
                    };
                    let installed = crate::conda_layers::install_groups(ctx, &env, &lock, &ctx.layer_budget(plan));
                    on = installed.merged;
                    seg.request.stage = Stage::Finish;
                    seg.request.locked = lock.into_iter().map(|p| LockedPackage { size: None, ..p }).collect();
                    seg.request.specs.clear();
                    seg.request.channels.clear();
                    // Its layer is the small last one: no .pyc files of
                    // the standard library that its runs of python write.
                    quiet_python = true;
                    if let Some(pip) = self.pip_layers(ctx, plan, &installed.python, first, &seg, context)? {
                        on = crate::layered::merge_layers(ctx, &on, pip.layers);
                        pip_lock_mount = pip.lock;
                    }
                }
            }
        }
        script.push_str(&format!("{INSTALLER_DIR}/envd-frontend conda-install {CONDA_REQUEST}\n"));
        let mut uv = false;
        if !seg.pip.is_empty() {
            let args: Vec<String> = seg.pip.iter().map(|r| shell::quote(r)).collect();
            // The pip: entries read as the lines of a requirements file.
            let lines = seg.pip.join("\n");
            let torch = crate::torch::index(ctx, plan, &seg.pip);
            if let Some(t) = &torch {
                script.push_str(&t.echo());
            }
            let install = pip::Install {
                args: torch.as_ref().map_or_else(|| args.join(" "), |t| t.extend(&args.join(" "))),
                direct: seg.pip.iter().any(|r| pip::is_direct(r)),
                pip_only: crate::requirements::pip_only("the env file's pip: section", &lines),
                hashes: crate::requirements::has_hashes(&lines),
            };
            let (pip_script, uv_image) =
                pip::install_script(ctx, pip::python_prelude(&format!("{}/bin/python", self.prefix)), &install);
            script.push_str(&pip_script);
            // uv is in the installer's directory, mounted already.
            uv = uv_image.is_some();
        }
        let name = credentials::strip(&format!("install.conda_packages {}", seg.title));
        let reasons = if seg.pip.is_empty() { Vec::new() } else { vec![pip::unauthorized(plan)] };
        let exec = ctx.script_with_reasons(&on, steps, &name, &script, reasons).user("root").env("HOME", "/root");
        let mut exec = self.mounts(ctx, exec, plan, installer, &seg, context);
        if quiet_python {
            exec = exec.env("PYTHONDONTWRITEBYTECODE", "1");
        }
        for m in lock_mount.into_iter().chain(pip_lock_mount) {
            exec = exec.mount(m);
        }
        Ok(if uv { crate::uv::env(ctx, exec) } else { exec }.root())
    }

    /// The env file's `pip:` section in layers of its own, as
    /// [`crate::layered`] does for `install.python_packages`: resolved by
    /// uv against the environment's python, then a layer per package or
    /// group. Both run on `on`, the state and the python's layer alone, so
    /// that a conda edit leaves them cached. A package the conda lock has
    /// too (by name) is left to the last step, whose own install finds the
    /// others there and installs that and what could not be pinned, as pip
    /// does after conda.
    ///
    /// The layers, and the resolve's output for the last step to mount;
    /// `None` when the section stays in the last step: no section, pip as
    /// the installer, a section uv would read otherwise than pip or in
    /// hash-checking mode, or `ENVD_PYTHON_LAYERS=single`.
    fn pip_layers(
        &self,
        ctx: &Ctx,
        plan: &Plan,
        on: &State,
        first: Numbered,
        seg: &SegmentRequest,
        context: Option<&State>,
    ) -> Result<Option<PipLayers>, Diagnostic> {
        let lines = seg.pip.join("\n");
        let image = match (ctx.config.python_installer, ctx.inputs.installer_image.as_deref()) {
            (PythonInstaller::Uv, Some(image)) => image,
            _ => return Ok(None),
        };
        if seg.pip.is_empty()
            || ctx.config.python_layers != PackageLayers::Packages
            || crate::requirements::pip_only("the env file's pip: section", &lines).is_some()
            || crate::requirements::has_hashes(&lines)
        {
            return Ok(None);
        }
        let python = format!("{}/bin/python", self.prefix);
        let py = crate::layered::PythonStep {
            step: first,
            state: on,
            prelude: pip::python_prelude(&python),
            call: "install.conda_packages: pip",
            reasons: Vec::new(),
        };
        let args: Vec<String> = seg.pip.iter().map(|r| shell::quote(r)).collect();
        // The python of a conda environment may come without the .pyc
        // files of its standard library, which every run of it would
        // write, dated now, into the layer.
        let uv = |exec: Exec| {
            let exec = exec.user("root").env("PYTHONDONTWRITEBYTECODE", "1");
            secrets::pip(pip::install_env(ctx, exec, Some(image)), plan)
        };
        let prepare = |exec: Exec| pip_section_mounts(ctx, uv(exec), plan, seg, context);
        let what = credentials::strip(&seg.pip.join(" "));
        let torch = crate::torch::index(ctx, plan, &seg.pip);
        let log = torch.as_ref().map(|t| t.echo()).unwrap_or_default();
        let args = torch.as_ref().map_or_else(|| args.join(" "), |t| t.extend(&args.join(" ")));
        let resolve = crate::layered::resolve(ctx, &py, &args, &what, &log, vec![pip::unauthorized(plan)], prepare);
        let Some(text) = ctx.inputs.locks.get(&resolve.key()) else {
            // Resolved against the environment, so a round after it.
            ctx.resolves.borrow_mut().push(resolve);
            return Ok(Some(PipLayers { layers: Vec::new(), lock: None }));
        };
        let mut lock = crate::lock::PythonLockText::parse(text).map_err(|e| {
            at(&first.step.span, format!("install.conda_packages: the env file's pip: section: the resolved lock: {e}"))
        })?;
        let conda: Vec<String> =
            seg.request.locked.iter().filter_map(|p| p.dist()).map(|(name, ..)| crate::lock::normalize(name)).collect();
        lock.lock.packages.retain(|p| !conda.contains(&p.name));
        let locked = crate::layered::Locked::Resolved(&lock);
        let layers = crate::layered::layers(ctx, &py, locked, &ctx.layer_budget(plan), uv);
        Ok(Some(PipLayers { layers, lock: Some(crate::layered::lock_mount_at(&resolve, PIP_LOCK_DIR)) }))
    }

    /// The resolve step of a segment: the installer's solve alone, written
    /// as a [`ResolvedLock`] to an output the frontend reads.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        ctx: &Ctx,
        plan: &Plan,
        state: &State,
        context: Option<&State>,
        steps: &[Numbered],
        installer: &str,
        seg: &SegmentRequest,
    ) -> Resolve {
        let lock = format!("{}/{}", crate::layered::LOCK_DIR, ResolvedLock::FILE);
        let request = InstallRequest { stage: Stage::Resolve(lock), ..seg.request.clone() };
        // The pip: section is the last step's: the resolve solves conda.
        let resolve = SegmentRequest { request, pip: Vec::new(), pip_sources: Vec::new(), title: seg.title.clone() };
        let name = credentials::strip(&format!("install.conda_packages: resolve {}", seg.title));
        let script = format!("{INSTALLER_DIR}/envd-frontend conda-install {CONDA_REQUEST}\n");
        let exec = ctx.script(state, steps, &name, &script).user("root").env("HOME", "/root");
        let exec = self.mounts(ctx, exec, plan, installer, &resolve, context);
        crate::layered::resolve_output(exec, steps[0], ResolvedLock::FILE)
    }
}

/// What a step that installs an env file's `pip:` section mounts, beside
/// pip's or uv's own: `/etc/pip.conf` of `config.pip_index`, and the
/// context directories its local paths name (writable, the writes thrown
/// away: build backends write `build/` and `*.egg-info` there).
fn pip_section_mounts(ctx: &Ctx, mut exec: Exec, plan: &Plan, seg: &SegmentRequest, context: Option<&State>) -> Exec {
    if let Some(conf) = &plan.pip_index {
        let file = State::scratch()
            .file(vec![FileAction::mkfile("/pip.conf", pip::pip_conf(conf), 0o644)], ctx.internal("pip.conf"));
        exec = exec.mount(Mount::Bind {
            dest: "/etc/pip.conf".into(),
            source: file,
            selector: "/pip.conf".into(),
            readonly: true,
        });
    }
    if let Some(context) = context {
        for dir in &seg.pip_sources {
            exec = exec.mount(Mount::Bind {
                dest: pip_source_mount(dir),
                source: context.clone(),
                selector: if dir == "." { "/".into() } else { format!("/{dir}") },
                readonly: false,
            });
        }
    }
    exec
}

/// The layers of an env file's `pip:` section ([`Conda::pip_layers`]).
struct PipLayers {
    /// A layer per package or group; none until its resolve is read.
    layers: Vec<State>,
    /// Its resolve's output, for the last step to mount.
    lock: Option<Mount>,
}

/// How a conda segment installs.
enum Layering {
    /// In one step, as one layer.
    Single,
    /// In one step, because the daemon cannot merge layers; the step says so.
    NoMergeDiff,
    /// Resolved, then a layer per package or group (see [`crate::conda_layers`]).
    Packages,
}

/// An env file's pip requirement as the conda step installs it, and the
/// context directory it installs from.
///
/// `conda env export` writes a project the developer installed with
/// `pip install -e` as `-e .` or `-e git+URL#egg=name`. An editable
/// install would leave a link into the build context, which the image does
/// not keep, so `-e` is dropped and the project is installed as a package
/// (the linter says so at the line). A local path (`.`, `./pkg`, `../x`)
/// is relative to the env file, as pip reads it when the env file is
/// created; it becomes a path under [`PIP_SOURCES`].
fn pip_requirement(requirement: &str, env_dir: &str) -> Result<(String, Option<String>), String> {
    let trimmed = requirement.trim();
    let plain = trimmed
        .strip_prefix("--editable")
        .or_else(|| trimmed.strip_prefix("-e"))
        .filter(|rest| rest.starts_with([' ', '=']) || rest.is_empty())
        .map(|rest| rest.trim_start_matches('=').trim())
        .unwrap_or(trimmed);
    if !(plain == "." || plain == ".." || plain.starts_with("./") || plain.starts_with("../")) {
        return Ok((plain.to_owned(), None));
    }
    // `.[dev]`: the extras stay on the path.
    let (path, extras) = match plain.find('[') {
        Some(i) => plain.split_at(i),
        None => (plain, ""),
    };
    let joined = if env_dir.is_empty() { path.to_owned() } else { format!("{env_dir}/{path}") };
    let dir = envd_lang::ContextPath::parse(&joined)
        .map_err(|_| format!("the pip requirement `{trimmed}` points outside the build context"))?
        .as_str()
        .to_owned();
    Ok((format!("{}{extras}", pip_source_mount(&dir)), Some(dir)))
}

/// Where a context directory of [`pip_requirement`] is mounted.
fn pip_source_mount(dir: &str) -> String {
    if dir == "." {
        PIP_SOURCES.to_owned()
    } else {
        format!("{PIP_SOURCES}/{dir}")
    }
}

/// The conda subdir of a platform architecture.
fn subdir(arch: &str) -> &'static str {
    match arch {
        "arm64" => "linux-aarch64",
        "ppc64le" => "linux-ppc64le",
        "s390x" => "linux-s390x",
        _ => "linux-64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    #[test]
    fn env_file_pip_entries_lose_their_e_and_paths_are_relative_to_the_file() {
        let ok = |r: &str, dir: &str| pip_requirement(r, dir).unwrap();
        assert_eq!(ok("six==1.16.0", ""), ("six==1.16.0".into(), None));
        assert_eq!(ok("-e .", ""), ("/run/envd/pip-src".into(), Some(".".into())));
        assert_eq!(ok("-e .", "svc"), ("/run/envd/pip-src/svc".into(), Some("svc".into())));
        assert_eq!(
            ok("--editable=./pkg[dev]", "svc"),
            ("/run/envd/pip-src/svc/pkg[dev]".into(), Some("svc/pkg".into()))
        );
        assert_eq!(ok("../shared", "svc/env"), ("/run/envd/pip-src/svc/shared".into(), Some("svc/shared".into())));
        assert_eq!(
            ok("-e git+https://example.com/x.git@v1#egg=x", ""),
            ("git+https://example.com/x.git@v1#egg=x".into(), None)
        );
        assert_eq!(ok("-editable-pkg", ""), ("-editable-pkg".into(), None), "only -e itself is dropped");
        assert_eq!(
            pip_requirement("-e ../..", "svc").unwrap_err(),
            "the pip requirement `-e ../..` points outside the build context"
        );
    }

    fn base(env: &[&str], aiges_cuda: Option<&str>) -> crate::ResolvedBase {
        let config = serde_json::json!({ "config": { "Env": env } }).to_string();
        crate::ResolvedBase {
            config: crate::ImageConfig::parse(config.as_bytes()).unwrap(),
            aiges_cuda: aiges_cuda.map(str::to_owned),
            ..crate::ResolvedBase::stand_in("x")
        }
    }

    #[test]
    fn cuda_comes_from_the_override_then_install_cuda_then_the_aiges_base_then_the_config() {
        let plain =
            evaluate("build.envd", "def build():\n    base(image=\"x\")\n", &EvalOptions::default()).unwrap().plan;
        let with_cuda = evaluate(
            "build.envd",
            "def build():\n    base(image=\"aiges_gpu\")\n    install.cuda(version=\"11.2\")\n",
            &EvalOptions::default(),
        )
        .unwrap()
        .plan;
        let nvidia = base(&["CUDA_VERSION=11.8.0"], None);
        let aiges = base(&["CUDA_VERSION=11.8.0"], Some("11.6"));
        assert_eq!(cuda_version(&plain, Some("12.1"), &aiges).as_deref(), Some("12.1"));
        assert_eq!(cuda_version(&with_cuda, None, &aiges).as_deref(), Some("11.2"));
        assert_eq!(cuda_version(&plain, None, &aiges).as_deref(), Some("11.6"));
        assert_eq!(cuda_version(&plain, None, &nvidia).as_deref(), Some("11.8"));
        assert_eq!(cuda_version(&plain, None, &base(&["PATH=/bin"], None)), None, "a CPU base has none");
    }

    const SHA: &str = "aa00000000000000000000000000000000000000000000000000000000000000";

    fn prepared(src: &str, file: &str) -> Result<Option<Conda>, Diagnostic> {
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        let files = BTreeMap::from([("lock.txt".to_owned(), file.to_owned())]);
        Conda::prepare(&plan, &[], &files, Some("i"), None, "amd64")
    }

    #[test]
    fn a_lock_file_env_file_is_installed_as_listed_and_takes_nothing_else() {
        let file = format!("@EXPLICIT\nhttps://c.test/linux-64/a-1-h0_0.conda#sha256:{SHA}\n");
        let src = "def build():\n    base(image=\"x\", language=\"python3.9\")\n    install.conda_packages(env_file=\"lock.txt\")\n";
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        let conda = prepared(src, &file).unwrap().unwrap();
        let calls: Vec<&Call> = conda.calls.values().collect();
        let seg = conda.request(&plan, "amd64", &calls);
        assert_eq!(seg.request.locked.len(), 1);
        assert_eq!(seg.request.locked[0].url, "https://c.test/linux-64/a-1-h0_0.conda");
        assert!(seg.request.specs.is_empty() && seg.request.channels.is_empty(), "{:?}", seg.request);
        assert_eq!(seg.title, "-f lock.txt (locked)");

        let with_names =
            "def build():\n    base(image=\"x\")\n    install.conda_packages(name=[\"b\"], env_file=\"lock.txt\")\n";
        let e = prepared(with_names, &file).err().unwrap();
        assert!(
            e.message
                .contains("is a lock file, which installs exactly its packages; name= and channel= cannot be added"),
            "{e}"
        );
        let two = "def build():\n    base(image=\"x\")\n    install.conda_packages(env_file=\"lock.txt\")\n    install.conda_packages(name=[\"b\"])\n";
        let e = prepared(two, &file).err().unwrap();
        assert!(e.message.contains("must be the only install.conda_packages call"), "{e}");
        assert_eq!(e.span.as_ref().map(|s| s.line), Some(3));
        let arm = format!("# platform: linux-aarch64\n{file}");
        let e = prepared(src, &arm).err().unwrap();
        assert!(e.message.contains("is a lock file for linux-aarch64, and this build is for linux-64"), "{e}");
    }
}
