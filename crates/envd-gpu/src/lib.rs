//! GPU packages as plain data: which CUDA a base has, which CUDA a python
//! or conda requirement was built for, and which of PyTorch's CUDA
//! variants a base can run.
//!
//! Lowering ([`choose`]: the PyTorch index a step adds) and the linter
//! (the `TorchCudaMismatch`, `CudaVariantMismatch` and
//! `GpuPackageOnCpuBase` rules) both stand on it, so that the variant a
//! build installs and the one the linter expects come from one table.
//! No network and no I/O: the table is [`VARIANTS`], written down from
//! PyTorch's "previous versions" page.

mod requirement;
mod variant;

pub use requirement::{conda_cuda, index_variant, python_cuda, Built, Requirement};
pub use variant::{
    choose, nearest, Backend, Choice, Cuda, Variant, Why, DEFAULT_TORCH_INDEX, TORCH_BACKEND_ARG, TORCH_FAMILY,
    VARIANTS,
};

/// What is known of a base's CUDA before its image is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseCuda {
    /// A base with no CUDA (`aiges_cpu`, or a config without `CUDA_VERSION`).
    None,
    /// The base's CUDA version.
    Version(Cuda),
    /// Not known: an image named by reference, before its config is read.
    Unknown,
}
