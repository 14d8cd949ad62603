//! A readable text dump of a definition, for golden tests and debugging.
//!
//! Ops are numbered in definition order and refer to their inputs by
//! number, so a dump reads top to bottom like the build it describes.

use std::collections::HashMap;
use std::fmt::Write;

use prost::Message;

use crate::{digest_of, pb};

fn sharing(v: i32) -> &'static str {
    match pb::CacheSharingOpt::try_from(v) {
        Ok(pb::CacheSharingOpt::Shared) => "SHARED",
        Ok(pb::CacheSharingOpt::Private) => "PRIVATE",
        Ok(pb::CacheSharingOpt::Locked) => "LOCKED",
        Err(_) => "?",
    }
}

/// The definition as text. Panics on bytes that are not ops: it is for
/// definitions this crate made.
pub fn dump(def: &pb::Definition) -> String {
    let digests: Vec<String> = def.def.iter().map(|b| digest_of(b)).collect();
    let index: HashMap<&str, usize> = digests.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let mut out = String::new();
    for (i, bytes) in def.def.iter().enumerate() {
        let op = pb::Op::decode(bytes.as_slice()).expect("definition ops decode");
        let refs: Vec<String> =
            op.inputs.iter().map(|inp| format!("#{}.{}", index[inp.digest.as_str()], inp.index)).collect();
        let input = |n: i64| if n < 0 { "scratch".to_owned() } else { refs[n as usize].clone() };
        let _ = write!(out, "#{i} ");
        match &op.op {
            None => {
                let _ = writeln!(out, "result {}", refs.join(" "));
                continue;
            }
            Some(pb::op::Op::Source(s)) => {
                let _ = writeln!(out, "source {}", s.identifier);
                for (k, v) in &s.attrs {
                    let _ = writeln!(out, "   attr {k}={v}");
                }
            }
            Some(pb::op::Op::Exec(e)) => {
                let m = e.meta.as_ref().expect("exec has meta");
                let _ = writeln!(out, "exec {:?}", m.args);
                let _ = writeln!(out, "   cwd {} user {:?}", m.cwd, m.user);
                for env in &m.env {
                    let _ = writeln!(out, "   env {env}");
                }
                for h in &m.extra_hosts {
                    let _ = writeln!(out, "   host {} {}", h.host, h.ip);
                }
                for s in &e.secretenv {
                    let optional = if s.optional { " optional" } else { "" };
                    let _ = writeln!(out, "   secret-env {}=<secret {}>{optional}", s.name, s.id);
                }
                for mount in &e.mounts {
                    let _ = write!(out, "   mount {} ", mount.dest);
                    match pb::MountType::try_from(mount.mount_type) {
                        Ok(pb::MountType::Cache) => {
                            let c = mount.cache_opt.as_ref().expect("cache mount has options");
                            let _ = write!(out, "cache id={} sharing={}", c.id, sharing(c.sharing));
                        }
                        Ok(pb::MountType::Tmpfs) => {
                            let _ = write!(out, "tmpfs");
                        }
                        Ok(pb::MountType::Secret) => {
                            let o = mount.secret_opt.clone().unwrap_or_default();
                            let optional = if o.optional { " optional" } else { "" };
                            let _ = write!(out, "secret id={} mode={:o}{optional}", o.id, o.mode);
                        }
                        Ok(pb::MountType::Ssh) => {
                            let o = mount.ssh_opt.clone().unwrap_or_default();
                            let optional = if o.optional { " optional" } else { "" };
                            let _ = write!(out, "ssh id={}{optional}", o.id);
                        }
                        _ => {
                            let _ = write!(out, "<- {}", input(mount.input));
                            if !mount.selector.is_empty() {
                                let _ = write!(out, ":{}", mount.selector);
                            }
                            let _ = write!(out, "{}", if mount.readonly { " ro" } else { " rw" });
                            if mount.output >= 0 {
                                let _ = write!(out, " output={}", mount.output);
                            }
                        }
                    }
                    out.push('\n');
                }
            }
            Some(pb::op::Op::File(f)) => {
                let _ = writeln!(out, "file");
                let n = refs.len() as i64;
                for a in &f.actions {
                    let on = if a.input >= n { format!("action{}", a.input - n) } else { input(a.input) };
                    let _ = write!(out, "   on {on}: ");
                    match &a.action {
                        Some(pb::file_action::Action::Copy(c)) => {
                            let _ = write!(out, "copy {}:{} -> {}", input(a.secondary_input), c.src, c.dest);
                            if c.create_dest_path {
                                let _ = write!(out, " create-dest-path");
                            }
                        }
                        Some(pb::file_action::Action::Mkfile(m)) => {
                            let _ = write!(
                                out,
                                "mkfile {} mode={:o} {:?}",
                                m.path,
                                m.mode,
                                String::from_utf8_lossy(&m.data)
                            );
                        }
                        Some(pb::file_action::Action::Mkdir(m)) => {
                            let _ = write!(out, "mkdir {} mode={:o}", m.path, m.mode);
                        }
                        other => {
                            let _ = write!(out, "{other:?}");
                        }
                    }
                    out.push('\n');
                }
            }
            Some(pb::op::Op::Merge(_)) => {
                let _ = writeln!(out, "merge {}", refs.join(" "));
            }
            Some(pb::op::Op::Diff(d)) => {
                let lower = d.lower.map_or("scratch".into(), |l| input(l.input));
                let upper = d.upper.map_or("scratch".into(), |u| input(u.input));
                let _ = writeln!(out, "diff {lower} -> {upper}");
            }
            Some(other) => {
                let _ = writeln!(out, "{other:?}");
            }
        }
        if let Some(p) = &op.platform {
            let _ = writeln!(out, "   platform {}/{}", p.os, p.architecture);
        }
        if let Some(md) = def.metadata.get(&digests[i]) {
            if let Some(name) = md.description.get(crate::constraints::CUSTOM_NAME) {
                let _ = writeln!(out, "   name {name:?}");
            }
            if md.ignore_cache {
                let _ = writeln!(out, "   ignore-cache");
            }
        }
        if let Some(src) = &def.source {
            if let Some(locs) = src.locations.get(&digests[i]) {
                for l in &locs.locations {
                    let file = &src.infos[l.source_index as usize].filename;
                    for r in &l.ranges {
                        let (s, e) = (r.start.map_or(0, |p| p.line), r.end.map_or(0, |p| p.line));
                        let _ = writeln!(out, "   at {file}:{s}-{e}");
                    }
                }
            }
        }
    }
    out
}
