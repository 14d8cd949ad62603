//! CI pipelines share the build cache through a registry. This test prunes
//! the builder's cache, which would pull the rug from under builds running
//! beside it, so it runs alone.

use envd_e2e::{bases_env, cpu_base, docker_ok, engine_alone, steps, Context};

#[test]
fn a_registry_cache_makes_a_pruned_builder_rebuild_nothing() {
    let _alone = engine_alone();
    let ctx = Context::new("regcache");
    let marker = format!("{}", std::process::id());
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.python_packages(requirements=\"requirements.txt\")\n    io.copy(src=\"app\", dest=\"/app\")\n    run(commands=[\"echo {marker} > /marker\"])\n",
            cpu_base()
        ),
    )
    .write("requirements.txt", "six==1.16.0\n")
    .write("app/main.py", "print('hi')\n");
    let cache = format!("{}/envd-e2e/cache:{marker}", bases_env("REGISTRY"));
    let to = format!("type=registry,ref={cache},mode=max");
    let from = format!("type=registry,ref={cache}");

    let first = ctx.build_envd(&["--cache-to", &to]);
    assert!(first.ok, "{}", first.stderr);
    envd_e2e::prune_builder();
    let second = ctx.build_envd(&["--cache-from", &from]);
    assert!(second.ok, "{}", second.stderr);
    let s = steps(&second.stderr);
    assert_eq!(s.len(), 4, "{s:?}");
    assert!(s[1..].iter().all(|(_, cached)| *cached), "steps re-ran after prune:\n{}", second.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/marker"]), format!("{marker}\n"));
}
