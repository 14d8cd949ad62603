//! The layer planner: which locked python packages share a layer.
//!
//! A layer is cached, pushed and pulled whole, so what goes into one
//! decides what an edit costs. The rules, in order:
//!
//! 1. A package that cannot be pinned by version and hash (a VCS, URL or
//!    directory requirement), or that has no wheel and is built from its
//!    sdist where it is installed, goes into the step's last layer, which
//!    is installed on everything before it.
//! 2. While the pinned packages fit in [`Budget::layers`], each gets a layer
//!    of its own: adding one package on a fresh CI runner then fetches and
//!    pushes that package alone.
//! 3. When they do not, the biggest (by their largest wheel: torch,
//!    `nvidia-*`, scipy, pyarrow) keep a layer each while the budget lasts,
//!    and every other package goes into one of [`Budget::buckets`] groups,
//!    chosen by a hash of its name that never changes (FNV-1a): adding or
//!    removing one package changes one group, and the others keep their
//!    layers and their cache. A 300-package environment does not become
//!    300 layers.
//!
//! The same lock and budget always give the same plan, in the same order.

use crate::lock::{LockedPackage, PythonLock};

/// How many layers python packages may take, and how they are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// How many groups the packages without a layer of their own are
    /// spread over, when not every package can have one.
    pub buckets: usize,
    /// The most layers the packages may take, groups included.
    pub layers: usize,
}

impl Budget {
    /// The most groups of small packages.
    pub const BUCKETS: usize = 8;

    /// The budget of each step whose packages go in layers: the image's
    /// limit, less the base's layers and a layer for each plan step and
    /// for one last layer, shared evenly by the `sharing` steps (python
    /// steps, and the conda environment) so that together they keep
    /// within the limit.
    pub fn share(max_layers: usize, base_layers: usize, plan_steps: usize, sharing: usize) -> Self {
        let left = max_layers.saturating_sub(base_layers + plan_steps + 1);
        Self::within(left / sharing.max(1))
    }

    /// The budget for `layers` layers at most (at least one).
    pub fn within(layers: usize) -> Self {
        let layers = layers.max(1);
        // Groups take at most half the layers, so that the biggest
        // packages keep layers of their own even under a tight limit.
        Self { buckets: Self::BUCKETS.min(layers.div_ceil(2)).max(1), layers }
    }
}

/// One layer of packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// How progress names it: the package, or `group 3/8`.
    pub name: String,
    /// Its packages, sorted by name.
    pub packages: Vec<LockedPackage>,
}

/// The plan of one step's packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerPlan {
    /// The layers of pinned packages: big ones by name, then the groups.
    pub groups: Vec<Group>,
    /// What goes into the last layer (rule 1), sorted by name.
    pub last: Vec<LockedPackage>,
}

/// FNV-1a, 64 bits: a hash of a name that is the same on every machine
/// and in every version of this program.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Plans the layers of `lock` within `budget`.
pub fn plan(lock: &PythonLock, budget: &Budget) -> LayerPlan {
    let (last, pinned): (Vec<&LockedPackage>, Vec<&LockedPackage>) =
        lock.packages.iter().partition(|p| p.direct || p.sdist_only);
    let mut big: Vec<&LockedPackage> = pinned.clone();
    if pinned.len() > budget.layers {
        big.sort_by(|a, b| b.wheel_size.cmp(&a.wheel_size).then_with(|| a.name.cmp(&b.name)));
        big.truncate(budget.layers.saturating_sub(budget.buckets));
    }
    let mut groups: Vec<Group> =
        big.iter().map(|p| Group { name: p.name.clone(), packages: vec![(*p).clone()] }).collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let buckets = budget.buckets.max(1);
    let mut small: Vec<Vec<LockedPackage>> = vec![Vec::new(); buckets];
    for p in pinned.iter().filter(|p| !big.iter().any(|b| b.name == p.name)) {
        small[(fnv1a(&p.name) % buckets as u64) as usize].push((*p).clone());
    }
    for (i, packages) in small.into_iter().enumerate().filter(|(_, ps)| !ps.is_empty()) {
        groups.push(Group { name: format!("group {}/{buckets}", i + 1), packages });
    }
    LayerPlan { groups, last: last.into_iter().cloned().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, mib: u64) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1.0".into(),
            hashes: vec![format!("{name}-hash")],
            wheel_size: mib << 20,
            sdist_only: false,
            direct: false,
            wheels: Vec::new(),
        }
    }

    fn lock(packages: Vec<LockedPackage>) -> PythonLock {
        let mut packages = packages;
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        PythonLock { packages }
    }

    fn names(plan: &LayerPlan) -> Vec<(String, Vec<String>)> {
        plan.groups.iter().map(|g| (g.name.clone(), g.packages.iter().map(|p| p.name.clone()).collect())).collect()
    }

    #[test]
    fn every_package_gets_a_layer_while_they_fit() {
        let l = lock(vec![package("numpy", 16), package("scipy", 35), package("six", 0), package("attrs", 0)]);
        let p = plan(&l, &Budget::within(100));
        let n: Vec<String> = names(&p).into_iter().map(|(name, _)| name).collect();
        assert_eq!(n, ["attrs", "numpy", "scipy", "six"]);
        assert!(p.groups.iter().all(|g| g.packages.len() == 1 && g.packages[0].name == g.name));
        assert!(p.last.is_empty());
    }

    #[test]
    fn over_the_budget_the_biggest_keep_layers_and_adding_a_small_package_changes_one_group() {
        let mut packages: Vec<LockedPackage> = (0..40).map(|i| package(&format!("pkg{i:02}"), 0)).collect();
        packages.extend([package("numpy", 16), package("scipy", 35)]);
        let budget = Budget::within(20);
        let before = plan(&lock(packages.clone()), &budget);
        assert!(before.groups.len() <= 20);
        let own: Vec<&str> =
            before.groups.iter().filter(|g| !g.name.starts_with("group ")).map(|g| g.name.as_str()).collect();
        assert_eq!(own.len(), 12, "twenty layers, eight of them groups: {own:?}");
        assert!(own.contains(&"numpy") && own.contains(&"scipy"), "the biggest first: {own:?}");
        packages.push(package("zzz-attrs", 0));
        let after = plan(&lock(packages), &budget);
        let changed: Vec<&Group> = after.groups.iter().filter(|g| !before.groups.contains(g)).collect();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert!(changed[0].name.starts_with("group ") && changed[0].packages.iter().any(|p| p.name == "zzz-attrs"));
    }

    #[test]
    fn the_layer_limit_holds_and_unpinnable_packages_go_last() {
        let mut packages: Vec<LockedPackage> = (0..300).map(|i| package(&format!("big{i:03}"), 20)).collect();
        packages.push(LockedPackage { direct: true, version: String::new(), ..package("demo", 0) });
        packages.push(LockedPackage { sdist_only: true, ..package("legacy", 0) });
        let p = plan(&lock(packages), &Budget::within(10));
        assert_eq!(p.groups.len(), 10);
        let total: usize = p.groups.iter().map(|g| g.packages.len()).sum();
        assert_eq!(total, 300, "every pinned package has a layer");
        let last: Vec<&str> = p.last.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(last, ["demo", "legacy"]);
        assert_eq!(Budget::within(10).buckets, 5);
        assert_eq!(Budget::within(0).layers, 1);
        // 100 layers, 5 of the base, 6 steps and a last one: 88 for one
        // step in layers, 44 each for two.
        assert_eq!(Budget::share(100, 5, 6, 1).layers, 88);
        assert_eq!(Budget::share(100, 5, 6, 2).layers, 44);
        assert_eq!(Budget::share(10, 9, 6, 2).layers, 1);
    }

    #[test]
    fn the_same_lock_gives_the_same_plan() {
        let l = lock((0..50).map(|i| package(&format!("p{i}"), i % 12)).collect());
        assert_eq!(plan(&l, &Budget::within(30)), plan(&l, &Budget::within(30)));
        // FNV-1a's published test vectors: the groups never move.
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }
}
