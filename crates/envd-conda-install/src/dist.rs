//! How conda names an installed package.

/// `name-version-build`, as conda names a package in `conda-meta`.
pub(crate) fn dist_name(p: &rattler_conda_types::PackageRecord) -> String {
    format!("{}-{}-{}", p.name.as_normalized(), p.version, p.build)
}
