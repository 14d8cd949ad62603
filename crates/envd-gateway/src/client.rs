//! The LLB bridge client.

use std::collections::{BTreeMap, HashMap};

use bollard_buildkit_proto::google::rpc::Status;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    self as fe, llb_bridge_client::LlbBridgeClient, result::Result as ResultKind,
};
use bollard_buildkit_proto::pb;
use tonic::transport::Channel;

use crate::caps::Caps;
use crate::env::CacheImport;
use crate::error::{plain_status, Error, Located, SourceError};

/// BuildKit's limit for one message in either direction; tonic's default
/// of 4 MiB is too small for large definitions and file reads.
const MAX_MESSAGE: usize = 16 << 20;

/// Frontend-API caps this client looks at.
const CAP_SOURCE_META_RESOLVER: &str = "source.metaresolver";
const CAP_WARNINGS: &str = "gateway.warnings";

/// An image's resolved digest and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference as resolved (a source policy may rewrite it).
    pub reference: String,
    /// The manifest digest, `sha256:...`.
    pub digest: String,
    /// The image config JSON.
    pub config: Vec<u8>,
}

/// An in-toto attestation of one platform's image: a predicate in a file
/// of a solved ref, which BuildKit's exporter wraps in a statement whose
/// subject is the image.
#[derive(Debug, Clone)]
pub struct InToto {
    /// The platform id the result's refs and `refs.platforms` use.
    pub platform: String,
    /// The ref holding the predicate, and its definition.
    pub ref_id: String,
    /// Its definition.
    pub definition: pb::Definition,
    /// The predicate's path in it.
    pub path: String,
    /// The predicate type, such as `https://spdx.dev/Document`.
    pub predicate_type: String,
    /// What BuildKit reads of it: `reason` (`sbom`), `sbom-core`.
    pub metadata: HashMap<String, Vec<u8>>,
}

impl InToto {
    fn by_platform(all: Vec<InToto>) -> HashMap<String, fe::Attestations> {
        let mut out: HashMap<String, fe::Attestations> = HashMap::new();
        for a in all {
            out.entry(a.platform).or_default().attestation.push(fe::Attestation {
                kind: fe::AttestationKind::InToto as i32,
                metadata: a.metadata,
                r#ref: Some(fe::Ref { id: a.ref_id, def: Some(a.definition) }),
                path: a.path,
                in_toto_predicate_type: a.predicate_type,
                in_toto_subjects: Vec::new(),
            });
        }
        out
    }
}

/// What `StatFile`/`ReadDir` tell about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// The path, relative to the directory read.
    pub path: String,
    /// Unix mode bits, including the file type.
    pub mode: u32,
    /// Size in bytes.
    pub size: i64,
}

impl FileStat {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }
}

/// A non-fatal message for the user, shown by buildx with its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The op the warning belongs to (the build file's load op).
    pub digest: String,
    /// One line.
    pub short: String,
    /// More lines, shown by `docker buildx --debug` (a lint rule's
    /// description).
    pub detail: Vec<String>,
    /// A page that explains it (a lint rule's).
    pub url: String,
    /// Where it applies, if anywhere.
    pub at: Option<Located>,
}

/// A connected LLB bridge client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: LlbBridgeClient<Channel>,
    caps: Caps,
}

impl Client {
    /// Pings the daemon over `channel` and keeps its caps.
    pub async fn connect(channel: Channel) -> Result<Self, Error> {
        let mut inner =
            LlbBridgeClient::new(channel).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE);
        let pong = inner.ping(fe::PingRequest {}).await.map_err(Error::rpc("Ping"))?.into_inner();
        let caps = Caps::from_pong(&pong.frontend_api_caps, &pong.llb_caps);
        Ok(Self { inner, caps })
    }

    /// What the daemon can do.
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// Solves `definition` and returns the result's ref id. The solve is
    /// evaluated here, not lazily after `Return`: a failing step then
    /// fails this call, so the frontend sees the error and can say which
    /// build.envd call it was before handing it back.
    pub async fn solve(&mut self, definition: pb::Definition, cache_imports: &[CacheImport]) -> Result<String, Error> {
        let req = fe::SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            evaluate: true,
            cache_imports: cache_imports
                .iter()
                .map(|c| fe::CacheOptionsEntry {
                    r#type: c.kind.clone(),
                    attrs: c.attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.inner.solve(req).await.map_err(Error::rpc("Solve"))?.into_inner();
        match resp.result.and_then(|r| r.result) {
            Some(ResultKind::Ref(r)) => Ok(r.id),
            Some(ResultKind::RefDeprecated(id)) => Ok(id),
            None if !resp.r#ref.is_empty() => Ok(resp.r#ref),
            other => Err(Error::Protocol(format!("Solve returned no single ref: {other:?}"))),
        }
    }

    /// Reads a whole file from a solved ref.
    pub async fn read_file(&mut self, reference: &str, path: &str) -> Result<Vec<u8>, Error> {
        let req = fe::ReadFileRequest { r#ref: reference.to_owned(), file_path: path.to_owned(), ..Default::default() };
        Ok(self.inner.read_file(req).await.map_err(Error::rpc("ReadFile"))?.into_inner().data)
    }

    /// Lists a directory of a solved ref, optionally filtered by a pattern.
    pub async fn read_dir(&mut self, reference: &str, dir: &str, pattern: &str) -> Result<Vec<FileStat>, Error> {
        let req = fe::ReadDirRequest {
            r#ref: reference.to_owned(),
            dir_path: dir.to_owned(),
            include_pattern: pattern.to_owned(),
            ..Default::default()
        };
        let resp = self.inner.read_dir(req).await.map_err(Error::rpc("ReadDir"))?.into_inner();
        Ok(resp.entries.into_iter().map(|s| FileStat { path: s.path, mode: s.mode, size: s.size }).collect())
    }

    /// Stats a path of a solved ref.
    pub async fn stat_file(&mut self, reference: &str, path: &str) -> Result<FileStat, Error> {
        let req = fe::StatFileRequest { r#ref: reference.to_owned(), path: path.to_owned(), ..Default::default() };
        let resp = self.inner.stat_file(req).await.map_err(Error::rpc("StatFile"))?.into_inner();
        let s = resp.stat.ok_or_else(|| Error::Protocol(format!("StatFile {path}: no stat in the answer")))?;
        Ok(FileStat { path: s.path, mode: s.mode, size: s.size })
    }

    /// Resolves an image's digest and config, through `ResolveSourceMeta`
    /// where the daemon has it and `ResolveImageConfig` where it does not.
    /// `log_name` is the progress line buildx shows.
    pub async fn resolve_image(
        &mut self,
        reference: &str,
        platform: Option<pb::Platform>,
        resolve_mode: &str,
        log_name: &str,
    ) -> Result<ResolvedImage, Error> {
        self.resolve(reference, None, platform, resolve_mode, log_name).await
    }

    /// Resolves the image `reference` (which must carry its digest) of the
    /// OCI layout that the client serves as content store `store` in
    /// session `session`.
    pub async fn resolve_oci_layout(
        &mut self,
        reference: &str,
        session: &str,
        store: &str,
        platform: Option<pb::Platform>,
        log_name: &str,
    ) -> Result<ResolvedImage, Error> {
        self.resolve(reference, Some((session, store)), platform, "", log_name).await
    }

    async fn resolve(
        &mut self,
        reference: &str,
        oci_store: Option<(&str, &str)>,
        platform: Option<pb::Platform>,
        resolve_mode: &str,
        log_name: &str,
    ) -> Result<ResolvedImage, Error> {
        let scheme = if oci_store.is_some() { "oci-layout://" } else { "docker-image://" };
        if self.caps.frontend(CAP_SOURCE_META_RESOLVER) {
            let attrs = match oci_store {
                Some((session, store)) => BTreeMap::from([
                    ("oci.session".to_owned(), session.to_owned()),
                    ("oci.store".to_owned(), store.to_owned()),
                ]),
                None => BTreeMap::new(),
            };
            let req = fe::ResolveSourceMetaRequest {
                source: Some(pb::SourceOp { identifier: format!("{scheme}{reference}"), attrs }),
                platform,
                log_name: log_name.to_owned(),
                resolve_mode: resolve_mode.to_owned(),
                ..Default::default()
            };
            let resp = self.inner.resolve_source_meta(req).await.map_err(Error::rpc("ResolveSourceMeta"))?.into_inner();
            let image =
                resp.image.ok_or_else(|| Error::Protocol(format!("{reference} did not resolve to an image")))?;
            let resolved = resp
                .source
                .and_then(|s| s.identifier.strip_prefix(scheme).map(str::to_owned))
                .unwrap_or_else(|| reference.to_owned());
            return Ok(ResolvedImage { reference: resolved, digest: image.digest, config: image.config });
        }
        let (resolver_type, session_id, store_id) = match oci_store {
            Some((session, store)) => (1, session.to_owned(), store.to_owned()),
            None => (0, String::new(), String::new()),
        };
        let req = fe::ResolveImageConfigRequest {
            r#ref: reference.to_owned(),
            platform,
            resolve_mode: resolve_mode.to_owned(),
            log_name: log_name.to_owned(),
            resolver_type,
            session_id,
            store_id,
            ..Default::default()
        };
        let resp = self.inner.resolve_image_config(req).await.map_err(Error::rpc("ResolveImageConfig"))?.into_inner();
        let resolved = if resp.r#ref.is_empty() { reference.to_owned() } else { resp.r#ref };
        Ok(ResolvedImage { reference: resolved, digest: resp.digest, config: resp.config })
    }

    /// Sends a warning, if the daemon takes warnings. Returns whether it was
    /// sent.
    pub async fn warn(&mut self, w: Warning) -> Result<bool, Error> {
        if !self.caps.frontend(CAP_WARNINGS) {
            return Ok(false);
        }
        let (info, ranges) = match &w.at {
            Some(at) => (Some(at.info()), at.pb_ranges()),
            None => (None, Vec::new()),
        };
        let req = fe::WarnRequest {
            digest: w.digest,
            level: 1,
            short: w.short.into_bytes(),
            detail: w.detail.into_iter().map(String::into_bytes).collect(),
            url: w.url,
            info,
            ranges,
        };
        self.inner.warn(req).await.map_err(Error::rpc("Warn"))?;
        Ok(true)
    }

    /// Ends the build with a result: the solved ref, its definition and
    /// result metadata such as `containerimage.config`. Consumes the client:
    /// BuildKit accepts one `Return`.
    pub async fn finish(
        mut self,
        ref_id: String,
        definition: pb::Definition,
        metadata: HashMap<String, Vec<u8>>,
        attestations: Vec<InToto>,
    ) -> Result<(), Error> {
        let result = fe::Result {
            metadata,
            result: Some(ResultKind::Ref(fe::Ref { id: ref_id, def: Some(definition) })),
            attestations: InToto::by_platform(attestations),
        };
        let req = fe::ReturnRequest { result: Some(result), error: None };
        self.inner.r#return(req).await.map_err(Error::rpc("Return"))?;
        Ok(())
    }

    /// Ends a build with one result per platform (`refs`): each entry is
    /// (platform id, ref id, definition). `metadata` must map the ids to
    /// platforms (`refs.platforms`) for the exporter to make an index.
    pub async fn finish_refs(
        mut self,
        refs: Vec<(String, String, pb::Definition)>,
        metadata: HashMap<String, Vec<u8>>,
        attestations: Vec<InToto>,
    ) -> Result<(), Error> {
        let refs = refs.into_iter().map(|(platform, id, def)| (platform, fe::Ref { id, def: Some(def) })).collect();
        let result = fe::Result {
            metadata,
            result: Some(ResultKind::Refs(fe::RefMap { refs })),
            attestations: InToto::by_platform(attestations),
        };
        let req = fe::ReturnRequest { result: Some(result), error: None };
        self.inner.r#return(req).await.map_err(Error::rpc("Return"))?;
        Ok(())
    }

    /// Ends a subrequest (`--call`) with its answer: metadata only, no
    /// ref (`result.json`, `result.txt`, `version`, ...).
    pub async fn finish_metadata(mut self, metadata: HashMap<String, Vec<u8>>) -> Result<(), Error> {
        let result = fe::Result { metadata, result: None, ..Default::default() };
        let req = fe::ReturnRequest { result: Some(result), error: None };
        self.inner.r#return(req).await.map_err(Error::rpc("Return"))?;
        Ok(())
    }

    /// Ends the build with an error that points at lines of the build file.
    pub async fn fail_at(self, err: &SourceError) -> Result<(), Error> {
        self.fail_with(err.to_status()).await
    }

    /// Ends the build with an error that has no location.
    pub async fn fail(self, message: &str) -> Result<(), Error> {
        self.fail_with(plain_status(message)).await
    }

    /// Ends the build with `status` as is, e.g. BuildKit's own error from
    /// a failed `Solve` (see [`Error::upstream_status`]).
    pub async fn fail_with(mut self, status: Status) -> Result<(), Error> {
        let req = fe::ReturnRequest { result: None, error: Some(status) };
        self.inner.r#return(req).await.map_err(Error::rpc("Return"))?;
        Ok(())
    }
}
