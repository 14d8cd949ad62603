//! FileOp: copy, mkdir and mkfile, applied in order as one op.

use std::sync::Arc;

use crate::constraints::Constraints;
use crate::error::{Error, Result};
use crate::state::State;
use crate::vertex::{input_index, Output, Vertex};
use crate::{caps, pb};

/// Ownership of created files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChownOpt {
    /// Numeric uid and gid.
    Id(u32, u32),
    /// A user and group name, looked up in the destination's `/etc/passwd`.
    Name(String, String),
}

impl ChownOpt {
    fn to_pb(&self) -> pb::ChownOpt {
        use pb::user_opt::User;
        let (user, group) = match self {
            Self::Id(u, g) => (User::ById(*u), User::ById(*g)),
            Self::Name(u, g) => (
                User::ByName(pb::NamedUserOpt { name: u.clone(), input: -1 }),
                User::ByName(pb::NamedUserOpt { name: g.clone(), input: -1 }),
            ),
        };
        pb::ChownOpt { user: Some(pb::UserOpt { user: Some(user) }), group: Some(pb::UserOpt { user: Some(group) }) }
    }
}

/// Options of a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// File mode of copied files; `None` keeps the source's.
    pub mode: Option<u32>,
    /// Owner of copied files.
    pub owner: Option<ChownOpt>,
    /// Follow a symlink at `src`.
    pub follow_symlink: bool,
    /// Copy a directory's contents rather than the directory.
    pub dir_copy_contents: bool,
    /// Create missing parents of `dest`.
    pub create_dest_path: bool,
    /// `src` may hold wildcards.
    pub allow_wildcard: bool,
    /// A wildcard that matches nothing is not an error.
    pub allow_empty_wildcard: bool,
    /// Only paths matching these patterns are copied.
    pub include_patterns: Vec<String>,
    /// Paths matching these patterns are not copied.
    pub exclude_patterns: Vec<String>,
    /// Unpack `src` into `dest` if it is a tar archive (plain or
    /// compressed), as a Dockerfile `ADD` does; copy it as is otherwise.
    pub attempt_unpack: bool,
}

/// Options of a mkdir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkdirOptions {
    /// Directory mode.
    pub mode: u32,
    /// Create missing parents.
    pub make_parents: bool,
    /// Owner.
    pub owner: Option<ChownOpt>,
}

impl Default for MkdirOptions {
    fn default() -> Self {
        Self { mode: 0o755, make_parents: true, owner: None }
    }
}

/// Options of a mkfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkfileOptions {
    /// File mode.
    pub mode: u32,
    /// Owner.
    pub owner: Option<ChownOpt>,
}

impl Default for MkfileOptions {
    fn default() -> Self {
        Self { mode: 0o644, owner: None }
    }
}

/// One action of a FileOp.
#[derive(Debug, Clone)]
pub enum FileAction {
    /// Copies `src` of state `from` to `dest`.
    Copy {
        /// The state copied from.
        from: State,
        /// The path in `from`.
        src: String,
        /// The destination path.
        dest: String,
        /// Options.
        opts: CopyOptions,
    },
    /// Creates a directory.
    Mkdir {
        /// The path.
        path: String,
        /// Options.
        opts: MkdirOptions,
    },
    /// Creates a file.
    Mkfile {
        /// The path.
        path: String,
        /// Contents.
        data: Vec<u8>,
        /// Options.
        opts: MkfileOptions,
    },
}

impl FileAction {
    /// A copy with default options plus `create_dest_path`.
    pub fn copy(from: &State, src: impl Into<String>, dest: impl Into<String>, opts: CopyOptions) -> Self {
        Self::Copy { from: from.clone(), src: src.into(), dest: dest.into(), opts }
    }

    /// A mkdir with default options (0755, parents).
    pub fn mkdir(path: impl Into<String>) -> Self {
        Self::Mkdir { path: path.into(), opts: MkdirOptions::default() }
    }

    /// A mkfile with default options (0644).
    pub fn mkfile(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self::Mkfile { path: path.into(), data: data.into(), opts: MkfileOptions { mode, owner: None } }
    }

    fn secondary(&self) -> Option<&Output> {
        match self {
            Self::Copy { from, .. } => from.output(),
            _ => None,
        }
    }

    fn path(&self) -> &str {
        match self {
            Self::Copy { dest, .. } => dest,
            Self::Mkdir { path, .. } | Self::Mkfile { path, .. } => path,
        }
    }
}

/// The op behind [`State::file`].
#[derive(Debug)]
pub(crate) struct FileOp {
    base: Option<Output>,
    actions: Vec<FileAction>,
    platform: Option<pb::Platform>,
    constraints: Constraints,
}

impl FileOp {
    pub(crate) fn apply(base: &State, actions: Vec<FileAction>, constraints: Constraints) -> State {
        let op =
            Self { base: base.output().cloned(), actions, platform: base.platform().map(|p| p.to_pb()), constraints };
        base.with_output(Some(Output::new(Arc::new(op), 0)))
    }
}

fn owner(o: &Option<ChownOpt>) -> Option<pb::ChownOpt> {
    o.as_ref().map(ChownOpt::to_pb)
}

impl Vertex for FileOp {
    fn inputs(&self) -> Vec<Output> {
        self.base.iter().chain(self.actions.iter().filter_map(FileAction::secondary)).cloned().collect()
    }

    fn validate(&self) -> Result<()> {
        if self.actions.is_empty() {
            return Err(Error::Invalid { op: "file", reason: "no actions".into() });
        }
        for a in &self.actions {
            if !a.path().starts_with('/') {
                return Err(Error::Invalid { op: "file", reason: format!("path {:?} is not absolute", a.path()) });
            }
        }
        Ok(())
    }

    fn marshal(&self, inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        // All inputs first: an action that reads the previous action's
        // result names it as `len(inputs) + action index`.
        let mut op_inputs = Vec::new();
        let mut resolved = inputs.iter();
        let base_index = match self.base {
            Some(_) => input_index(&mut op_inputs, resolved.next().expect("base input resolved")),
            None => -1,
        };
        let secondaries: Vec<i64> = self
            .actions
            .iter()
            .map(|a| match a.secondary() {
                Some(_) => input_index(&mut op_inputs, resolved.next().expect("copy input resolved")),
                None => -1,
            })
            .collect();
        let n = op_inputs.len() as i64;
        let last = self.actions.len() - 1;
        let actions = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                use pb::file_action::Action;
                let action = match a {
                    FileAction::Copy { src, dest, opts, .. } => Action::Copy(pb::FileActionCopy {
                        src: src.clone(),
                        dest: dest.clone(),
                        owner: owner(&opts.owner),
                        mode: opts.mode.map_or(-1, |m| m as i32),
                        follow_symlink: opts.follow_symlink,
                        dir_copy_contents: opts.dir_copy_contents,
                        create_dest_path: opts.create_dest_path,
                        allow_wildcard: opts.allow_wildcard,
                        allow_empty_wildcard: opts.allow_empty_wildcard,
                        timestamp: -1,
                        include_patterns: opts.include_patterns.clone(),
                        exclude_patterns: opts.exclude_patterns.clone(),
                        attempt_unpack_docker_compatibility: opts.attempt_unpack,
                        ..Default::default()
                    }),
                    FileAction::Mkdir { path, opts } => Action::Mkdir(pb::FileActionMkDir {
                        path: path.clone(),
                        mode: opts.mode as i32,
                        make_parents: opts.make_parents,
                        owner: owner(&opts.owner),
                        timestamp: -1,
                    }),
                    FileAction::Mkfile { path, data, opts } => Action::Mkfile(pb::FileActionMkFile {
                        path: path.clone(),
                        mode: opts.mode as i32,
                        data: data.clone(),
                        owner: owner(&opts.owner),
                        timestamp: -1,
                    }),
                };
                pb::FileAction {
                    input: if i == 0 { base_index } else { n + i as i64 - 1 },
                    secondary_input: secondaries[i],
                    output: if i == last { 0 } else { -1 },
                    action: Some(action),
                }
            })
            .collect();
        let op = pb::Op {
            inputs: op_inputs,
            op: Some(pb::op::Op::File(pb::FileOp { actions })),
            platform: self.platform.clone(),
            ..Default::default()
        };
        Ok((op, vec![caps::FILE_BASE]))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}
