//! Turning a state into a `pb::Definition`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::constraints::SourceMap;
use crate::error::Result;
use crate::state::State;
use crate::vertex::{Output, Vertex};
use crate::{caps, pb};

/// `sha256:<hex>` of `bytes`: how BuildKit names an op.
pub fn digest_of(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in sum {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The bytes of `op` exactly as BuildKit's Go code would write them.
///
/// BuildKit does not trust the client's digests: it decodes every op and
/// re-encodes it with protobuf-go's deterministic marshaller, and the
/// digests of those bytes name the vertices (and so the failing step in an
/// error). protobuf-go writes a message's plain fields in field-number order
/// and its oneof last, where prost would put the `op` oneof (fields 2–7)
/// before `platform` (10) and `constraints` (11). Any difference renames the
/// vertex and loses the `Source.locations` entry keyed by our digest, so
/// `Op` is written here in protobuf-go's order.
pub fn encode_op(op: &pb::Op) -> Vec<u8> {
    use prost::encoding::message;
    let mut buf = Vec::with_capacity(op.encoded_len());
    for input in &op.inputs {
        message::encode(1, input, &mut buf);
    }
    if let Some(p) = &op.platform {
        message::encode(10, p, &mut buf);
    }
    if let Some(c) = &op.constraints {
        message::encode(11, c, &mut buf);
    }
    if let Some(kind) = &op.op {
        kind.encode(&mut buf);
    }
    buf
}

/// A marshalled definition and the digest of the op its result comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Marshalled {
    /// What `Solve` takes.
    pub definition: pb::Definition,
    /// The digest of the op whose output is the result (not the terminal).
    pub root: Option<String>,
}

#[derive(Default)]
struct Marshaller {
    /// Digest of every vertex already marshalled, by address.
    done: HashMap<*const (), String>,
    def: Vec<Vec<u8>>,
    seen: std::collections::HashSet<String>,
    metadata: BTreeMap<String, pb::OpMetadata>,
    maps: Vec<Arc<SourceMap>>,
    locations: BTreeMap<String, pb::Locations>,
}

fn key(v: &Arc<dyn Vertex>) -> *const () {
    Arc::as_ptr(v) as *const ()
}

impl Marshaller {
    /// Marshals `root` and everything it reads, children first. Iterative,
    /// so a long chain of steps cannot overflow the stack.
    fn visit(&mut self, root: &Arc<dyn Vertex>) -> Result<String> {
        let mut stack: Vec<(Arc<dyn Vertex>, bool)> = vec![(Arc::clone(root), false)];
        while let Some((v, expanded)) = stack.pop() {
            if self.done.contains_key(&key(&v)) {
                continue;
            }
            let inputs = v.inputs();
            if !expanded {
                stack.push((Arc::clone(&v), true));
                for i in inputs.iter().rev() {
                    if !self.done.contains_key(&key(&i.vertex)) {
                        stack.push((Arc::clone(&i.vertex), false));
                    }
                }
                continue;
            }
            let resolved: Vec<pb::Input> = inputs
                .iter()
                .map(|o: &Output| pb::Input { digest: self.done[&key(&o.vertex)].clone(), index: o.index })
                .collect();
            v.validate()?;
            let (op, op_caps) = v.marshal(&resolved)?;
            let bytes = encode_op(&op);
            let digest = digest_of(&bytes);
            if self.seen.insert(digest.clone()) {
                self.def.push(bytes);
                let c = v.constraints();
                self.metadata.insert(digest.clone(), c.metadata(&op_caps));
                for loc in &c.locations {
                    let index = self.map_index(&loc.map);
                    let range = pb::Range {
                        start: Some(pb::Position { line: loc.start_line as i32, character: 0 }),
                        end: Some(pb::Position { line: loc.end_line as i32, character: 0 }),
                    };
                    self.locations
                        .entry(digest.clone())
                        .or_default()
                        .locations
                        .push(pb::Location { source_index: index, ranges: vec![range] });
                }
            }
            self.done.insert(key(&v), digest);
        }
        Ok(self.done[&key(root)].clone())
    }

    fn map_index(&mut self, map: &Arc<SourceMap>) -> i32 {
        match self.maps.iter().position(|m| Arc::ptr_eq(m, map) || **m == **map) {
            Some(i) => i as i32,
            None => {
                self.maps.push(Arc::clone(map));
                (self.maps.len() - 1) as i32
            }
        }
    }
}

impl State {
    /// The definition BuildKit solves for this state: every op it depends
    /// on, inputs first and each once, then the terminal op.
    pub fn marshal(&self) -> Result<Marshalled> {
        let Some(out) = self.output() else {
            return Ok(Marshalled { definition: pb::Definition::default(), root: None });
        };
        let mut m = Marshaller::default();
        let root = m.visit(&out.vertex)?;

        let terminal =
            pb::Op { inputs: vec![pb::Input { digest: root.clone(), index: out.index }], ..Default::default() };
        let bytes = encode_op(&terminal);
        let digest = digest_of(&bytes);
        m.def.push(bytes);
        let terminal_caps = [caps::CONSTRAINTS, caps::PLATFORM].iter().map(|c| ((*c).to_owned(), true)).collect();
        m.metadata.insert(digest, pb::OpMetadata { caps: terminal_caps, ..Default::default() });

        let source = (!m.maps.is_empty())
            .then(|| pb::Source { locations: m.locations, infos: m.maps.iter().map(|s| s.to_pb()).collect() });
        Ok(Marshalled { definition: pb::Definition { def: m.def, metadata: m.metadata, source }, root: Some(root) })
    }
}
