//! The second stage: an envd [`Plan`](envd_lang::Plan) plus fetched
//! [`Inputs`] becomes LLB and an OCI image config.
//!
//! Lowering is pure: it never talks to BuildKit and never sees a Starlark
//! value. Before it runs, the frontend asks [`needs`] what the plan needs
//! (the base reference, context files, the installer image), fetches all
//! of it, and hands [`lower`] plain data: a [`LowerConfig`] parsed from
//! the options and the fetched [`Inputs`]. [`schedule`] decides the order
//! of the steps, with no LLB in sight; each kind of step then has its own
//! module. [`LlbCaps`] carries what the daemon supports, checked once by
//! the frontend. Every error is an [`envd_lang::Diagnostic`] at the
//! build.envd call at fault.
//!
//! The image config starts from the base's, so Env (PATH included),
//! WorkingDir, User, Entrypoint, Cmd, Labels and ExposedPorts survive:
//! AIGES images depend on them, and upstream envd loses them.

mod apt;
mod base;
mod conda;
mod conda_layers;
mod config;
mod context;
mod copy;
mod ctx;
mod frontend_image;
mod image_config;
mod inputs;
pub mod layered;
pub mod layers;
pub mod lock;
mod lower;
mod needs;
mod pip;
mod requirements;
mod run;
mod schedule;
pub mod secrets;
mod shell;
mod torch;
mod uv;
pub mod well_known;

pub use base::{BaseChoice, BaseOverrides, Device, AIGES_CPU_IMAGE_ARG, AIGES_DEVICE_ARG, AIGES_GPU_IMAGE_ARG};
pub use conda::{DEFAULT_PREFIX as DEFAULT_CONDA_PREFIX, INSTALLER_PATH};
pub use config::{
    flag_from_build_arg, http_timeout_from_build_arg, max_layers_from_build_arg, torch_index_from_build_arg, LlbCaps,
    LowerConfig, PackageLayers, PythonInstaller, CONDA_LAYERS_ARG, HTTP_TIMEOUT_ARG, MAX_LAYERS_ARG,
    PYTHON_INSTALLER_ARG, PYTHON_LAYERS_ARG, TORCH_BACKEND_ARG, TORCH_INDEX_ARG,
};
pub use image_config::ImageConfig;
pub use inputs::{BaseSource, ContextSource, Inputs, ResolvedBase, LOCAL_INSTALLER_IMAGE};
pub use lock::{PythonLockText, Resolve};
pub use lower::{lower, Lowered};
pub use needs::{needs, Needs};
pub use pip::BREAK_SYSTEM_PACKAGES_ARG;
pub use schedule::{schedule, Numbered, Python, Stage};
pub use shell::ScriptStep;
