//! The builder's output, decoded back into protobuf ops and checked against
//! what BuildKit expects. Nothing here compares strings the builder made.

use envd_llb::pb::{self, op::Op as Kind};
use envd_llb::*;
use prost::Message;

/// The decoded ops of a definition, with their digests.
fn ops(m: &Marshalled) -> Vec<(String, pb::Op)> {
    m.definition.def.iter().map(|b| (digest_of(b), pb::Op::decode(b.as_slice()).expect("op decodes"))).collect()
}

fn exec_of(op: &pb::Op) -> &pb::ExecOp {
    match &op.op {
        Some(Kind::Exec(e)) => e,
        other => panic!("expected exec, got {other:?}"),
    }
}

fn sample() -> State {
    let base = Image::new("alpine:3.20").constraints(Constraints::named("base")).into_state();
    let ctx = Local::new("context").session_id("s1").shared_key_hint("context").into_state();
    base.add_env("A", "1")
        .dir("/work")
        .run(["sh", "-c", "echo hi"])
        .mount(Mount::cache("/var/cache/apt", "apt-cache", CacheSharing::Locked))
        .mount(Mount::Bind { dest: "/src".into(), source: ctx, selector: "sub".into(), readonly: true })
        .constraints(Constraints::named("[1/1] run"))
        .root()
}

#[test]
fn same_graph_gives_byte_identical_definitions() {
    let a = sample().marshal().unwrap();
    let b = sample().marshal().unwrap();
    assert_eq!(a.definition.encode_to_vec(), b.definition.encode_to_vec());
    assert_eq!(a.root, b.root);
}

#[test]
fn ops_come_inputs_first_and_end_with_an_input_only_terminal() {
    let m = sample().marshal().unwrap();
    let ops = ops(&m);
    assert_eq!(ops.len(), 4, "image, local, exec, terminal");
    for (i, (_, op)) in ops.iter().enumerate() {
        for input in &op.inputs {
            let pos = ops.iter().position(|(d, _)| *d == input.digest).expect("input is in the definition");
            assert!(pos < i, "input {} of op {i} comes after it", input.digest);
        }
    }
    let (_, terminal) = ops.last().unwrap();
    assert!(terminal.op.is_none());
    assert_eq!(terminal.inputs.len(), 1);
    assert_eq!(Some(&terminal.inputs[0].digest), m.root.as_ref());
    assert_eq!(m.definition.metadata.len(), ops.len(), "every op has metadata keyed by its digest");
    for (d, _) in &ops {
        assert!(m.definition.metadata.contains_key(d));
    }
}

#[test]
fn exec_carries_meta_and_mounts() {
    let m = sample().marshal().unwrap();
    let ops = ops(&m);
    let (digest, op) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).unwrap();
    let e = exec_of(op);
    let meta = e.meta.as_ref().unwrap();
    assert_eq!(meta.args, ["sh", "-c", "echo hi"]);
    assert_eq!(meta.env, ["A=1"]);
    assert_eq!(meta.cwd, "/work");
    assert_eq!(e.mounts.len(), 3);
    let root = &e.mounts[0];
    assert_eq!((root.dest.as_str(), root.input, root.output), ("/", 0, 0));
    let cache = &e.mounts[1];
    assert_eq!(cache.mount_type, pb::MountType::Cache as i32);
    assert_eq!((cache.input, cache.output), (-1, -1));
    let opt = cache.cache_opt.as_ref().unwrap();
    assert_eq!(opt.id, "apt-cache");
    assert_eq!(opt.sharing, pb::CacheSharingOpt::Locked as i32);
    let bind = &e.mounts[2];
    assert_eq!((bind.input, bind.output, bind.readonly), (1, -1, true));
    assert_eq!(bind.selector, "sub");
    let md = &m.definition.metadata[digest];
    assert_eq!(md.description["llb.customname"], "[1/1] run");
    for cap in
        ["exec.meta.base", "exec.mount.cache", "exec.mount.cache.sharing", "exec.mount.bind", "exec.mount.selector"]
    {
        assert!(md.caps.get(cap).copied().unwrap_or(false), "cap {cap} recorded");
    }
}

#[test]
fn sources_carry_identifier_and_attrs() {
    let m = sample().marshal().unwrap();
    let sources: Vec<pb::SourceOp> = ops(&m)
        .into_iter()
        .filter_map(|(_, o)| match o.op {
            Some(Kind::Source(s)) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(sources[0].identifier, "docker-image://docker.io/library/alpine:3.20");
    assert_eq!(sources[1].identifier, "local://context");
    assert_eq!(sources[1].attrs["local.session"], "s1");
    assert_eq!(sources[1].attrs["local.sharedkeyhint"], "context");

    let local = Local::new("context")
        .include_patterns(vec!["a".into(), "b/**".into()])
        .exclude_patterns(vec!["*.pyc".into()])
        .follow_paths(vec!["a".into()])
        .into_state()
        .marshal()
        .unwrap();
    let Some(Kind::Source(s)) = &ops(&local)[0].1.op else { panic!("source") };
    assert_eq!(s.attrs["local.includepattern"], r#"["a","b/**"]"#);
    assert_eq!(s.attrs["local.excludepatterns"], r#"["*.pyc"]"#);
    assert_eq!(s.attrs["local.followpaths"], r#"["a"]"#);
}

#[test]
fn a_state_read_twice_is_one_op_and_one_input() {
    let base = Image::new("alpine").into_state();
    let st = base.run(["true"]).mount(Mount::readonly("/again", base.clone())).root();
    let m = st.marshal().unwrap();
    let ops = ops(&m);
    assert_eq!(ops.iter().filter(|(_, o)| matches!(o.op, Some(Kind::Source(_)))).count(), 1);
    let (_, exec) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).unwrap();
    assert_eq!(exec.inputs.len(), 1);
    assert_eq!(exec_of(exec).mounts[1].input, 0);
}

#[test]
fn writable_binds_tmpfs_and_secrets() {
    let base = Image::new("alpine").into_state();
    let (root, outs) = base
        .run(["true"])
        .mount(Mount::Bind { dest: "/out".into(), source: State::scratch(), selector: String::new(), readonly: false })
        .mount(Mount::Tmpfs { dest: "/tmp".into(), size: 0 })
        .mount(Mount::Secret { dest: "/run/s".into(), id: "tok".into(), uid: 0, gid: 0, mode: 0o400, optional: true })
        .outputs();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].0, "/out");
    let m = envd_llb::merge(&[root, outs[0].1.clone()], Constraints::default()).marshal().unwrap();
    let ops = ops(&m);
    let (exec_digest, exec) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).unwrap();
    let mounts = &exec_of(exec).mounts;
    assert_eq!((mounts[1].input, mounts[1].output, mounts[1].readonly), (-1, 1, false));
    assert_eq!(mounts[2].mount_type, pb::MountType::Tmpfs as i32);
    assert_eq!(mounts[3].mount_type, pb::MountType::Secret as i32);
    assert_eq!(mounts[3].secret_opt.as_ref().unwrap().id, "tok");
    let (_, merge) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::Merge(_)))).unwrap();
    assert_eq!(merge.inputs.len(), 2);
    assert!(merge.inputs.iter().all(|i| i.digest == *exec_digest));
    assert_eq!(merge.inputs.iter().map(|i| i.index).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn an_ssh_agent_and_secret_envs_are_named_by_id_only() {
    let st = Image::new("alpine")
        .into_state()
        .run(["true"])
        .mount(Mount::Ssh { dest: "/run/buildkit/ssh_agent.0".into(), id: "default".into(), optional: true })
        .secret_env("PIP_INDEX_URL", "PIP_INDEX_URL", true)
        .root();
    let m = st.marshal().unwrap();
    let ops = ops(&m);
    let (digest, exec) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).unwrap();
    let e = exec_of(exec);
    let ssh = e.mounts[1].ssh_opt.as_ref().unwrap();
    assert_eq!(
        (e.mounts[1].mount_type, ssh.id.as_str(), ssh.optional, ssh.mode),
        (pb::MountType::Ssh as i32, "default", true, 0o600)
    );
    assert_eq!(
        e.secretenv,
        [pb::SecretEnv { id: "PIP_INDEX_URL".into(), name: "PIP_INDEX_URL".into(), optional: true }]
    );
    let caps = &m.definition.metadata[digest].caps;
    assert!(caps.contains_key("exec.mount.ssh") && caps.contains_key("exec.secretenv"), "{caps:?}");
}

#[test]
fn limits_reach_every_exec_of_the_state() {
    let limits = Limits {
        shm_size: Some(128 << 20),
        ulimits: vec![Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }],
        cgroup_parent: "ci.slice".into(),
    };
    let st = Image::new("alpine").into_state().limits(limits);
    let m = st.run(["true"]).root().run(["true"]).root().marshal().unwrap();
    let execs: Vec<(String, pb::Op)> =
        ops(&m).into_iter().filter(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).collect();
    assert_eq!(execs.len(), 2);
    for (digest, op) in &execs {
        let e = exec_of(op);
        let meta = e.meta.as_ref().unwrap();
        assert_eq!(meta.ulimit, [pb::Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }]);
        assert_eq!(meta.cgroup_parent, "ci.slice");
        let shm = e.mounts.iter().find(|m| m.dest == "/dev/shm").expect("a /dev/shm tmpfs");
        assert_eq!((shm.mount_type, shm.tmpfs_opt.as_ref().unwrap().size), (pb::MountType::Tmpfs as i32, 128 << 20));
        let caps = &m.definition.metadata[digest].caps;
        for cap in ["exec.meta.ulimit", "exec.meta.cgroup.parent", "exec.mount.tmpfs.size"] {
            assert!(caps.contains_key(cap), "{cap} in {caps:?}");
        }
    }
    let plain = Image::new("alpine").into_state().run(["true"]).root().marshal().unwrap();
    let (_, op) = ops(&plain).into_iter().find(|(_, o)| matches!(o.op, Some(Kind::Exec(_)))).unwrap();
    assert!(exec_of(&op).mounts.iter().all(|m| m.dest != "/dev/shm"), "no --shm-size, no tmpfs");
}

#[test]
fn file_actions_chain_through_relative_inputs() {
    let base = Image::new("alpine").into_state();
    let ctx = Local::new("context").into_state();
    let st = base.file(
        vec![
            FileAction::mkdir("/app"),
            FileAction::copy(
                &ctx,
                "/pkg",
                "/app/pkg",
                CopyOptions { create_dest_path: true, allow_wildcard: true, ..Default::default() },
            ),
            FileAction::mkfile("/app/VERSION", "1\n", 0o600),
        ],
        Constraints::named("files"),
    );
    let m = st.marshal().unwrap();
    let ops = ops(&m);
    let (_, file) = ops.iter().find(|(_, o)| matches!(o.op, Some(Kind::File(_)))).unwrap();
    let Some(Kind::File(f)) = &file.op else { unreachable!() };
    assert_eq!(file.inputs.len(), 2);
    let idx: Vec<(i64, i64, i64)> = f.actions.iter().map(|a| (a.input, a.secondary_input, a.output)).collect();
    assert_eq!(idx, [(0, -1, -1), (2, 1, -1), (3, -1, 0)]);
    let Some(pb::file_action::Action::Copy(c)) = &f.actions[1].action else { panic!("copy") };
    assert_eq!((c.mode, c.timestamp, c.create_dest_path, c.allow_wildcard), (-1, -1, true, true));
    let Some(pb::file_action::Action::Mkfile(mk)) = &f.actions[2].action else { panic!("mkfile") };
    assert_eq!((mk.mode, mk.data.as_slice()), (0o600, b"1\n".as_slice()));
}

#[test]
fn diff_of_scratch_lower() {
    let base = Image::new("alpine").into_state();
    let m = envd_llb::diff(&State::scratch(), &base, Constraints::default()).marshal().unwrap();
    let (_, d) = ops(&m).into_iter().find(|(_, o)| matches!(o.op, Some(Kind::Diff(_)))).unwrap();
    let Some(Kind::Diff(d)) = d.op else { unreachable!() };
    assert_eq!((d.lower.unwrap().input, d.upper.unwrap().input), (-1, 0));
}

#[test]
fn locations_point_at_the_source_file() {
    let map = SourceMap::new("build.envd", "def build():\n    run()\n", "starlark");
    let st = Image::new("alpine")
        .into_state()
        .run(["false"])
        .constraints(Constraints::named("run").with_location(map.location(2, 2)).with_ignore_cache(true))
        .root();
    let m = st.marshal().unwrap();
    let src = m.definition.source.as_ref().expect("source info");
    assert_eq!(src.infos.len(), 1);
    assert_eq!(src.infos[0].filename, "build.envd");
    assert_eq!(src.infos[0].data, b"def build():\n    run()\n");
    let root = m.root.unwrap();
    let loc = &src.locations[&root].locations[0];
    assert_eq!(loc.source_index, 0);
    assert_eq!(loc.ranges[0].start.unwrap().line, 2);
    let md = &m.definition.metadata[&root];
    assert!(md.ignore_cache);
    assert!(md.caps["meta.ignorecache"]);
}

#[test]
fn invalid_ops_are_refused_before_sending() {
    let st =
        Image::new("alpine").into_state().run(["true"]).mount(Mount::cache("rel", "id", CacheSharing::Shared)).root();
    let err = st.marshal().unwrap_err();
    assert_eq!(err.to_string(), "invalid exec: mount point \"rel\" is not absolute");
    let empty: Vec<String> = Vec::new();
    let err = Image::new("alpine").into_state().run(empty).root().marshal().unwrap_err();
    assert_eq!(err.to_string(), "invalid exec: no arguments");
}

#[test]
fn long_chains_marshal_without_recursion() {
    let mut st = Image::new("alpine").into_state();
    for i in 0..5_000 {
        st = st.run(["sh", "-c", &format!("echo {i}")]).root();
    }
    let m = st.marshal().unwrap();
    assert_eq!(m.definition.def.len(), 5_002);
}

#[test]
fn platform_is_set_on_ops() {
    let p = Platform::parse("linux/arm64/v8").unwrap();
    let st = Image::new("alpine").platform(p.clone()).into_state().run(["true"]).root();
    let m = st.marshal().unwrap();
    for (_, op) in ops(&m).iter().filter(|(_, o)| o.op.is_some()) {
        assert_eq!(op.platform.as_ref().unwrap().architecture, "arm64");
        assert_eq!(op.platform.as_ref().unwrap().variant, "v8");
    }
    assert_eq!(p.to_string(), "linux/arm64/v8");
    assert!(Platform::parse("linux").is_none());
}

/// Regression: BuildKit re-encodes every op with protobuf-go and names the
/// vertex by the digest of those bytes. prost wrote the `op` oneof before
/// `platform`, so BuildKit's digest differed from ours, and a failing step
/// lost its build.envd lines. The expected digest is the one BuildKit
/// (dockerd 28.5.2) reported for this very op.
#[test]
fn op_digests_match_buildkits_re_encoding() {
    let reference = "127.0.0.1:5000/aiges/base-cpu:bookworm@sha256:b0506b4fd5ccc06873528a7d7d1cfc633ae79daed7626fee777c59a4da7dda68";
    let m = Image::new(reference).platform(Platform::parse("linux/amd64").unwrap()).into_state().marshal().unwrap();
    assert_eq!(m.root.as_deref(), Some("sha256:f6977b85108405fb2fcd61bbaafa59c5a41c2b63b50d8fa58c7cc61b4feb0bb8"));
    // The bytes still decode to the same op.
    let op = pb::Op::decode(m.definition.def[0].as_slice()).unwrap();
    assert_eq!(encode_op(&op), m.definition.def[0]);
}
