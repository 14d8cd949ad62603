//! The client against an in-process LLB bridge over an in-memory pipe.
//!
//! This proves the client's half of the protocol (what it sends, how it
//! reads answers and errors); real builds are proven by the end-to-end tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    self as fe,
    llb_bridge_server::{LlbBridge, LlbBridgeServer},
};
use bollard_buildkit_proto::pb;
use envd_gateway::{transport, CacheImport, Client, Located, SourceError, SourceRange, Warning};
use tonic::{Request, Response, Status};

type Res<T> = Result<Response<T>, Status>;

/// A bridge that answers from fixed data and records what it was sent.
#[derive(Default)]
struct FakeBridge {
    frontend_caps: Vec<&'static str>,
    files: HashMap<String, Vec<u8>>,
    calls: Arc<Mutex<Vec<String>>>,
    returned: Arc<Mutex<Option<fe::ReturnRequest>>>,
    solved: Arc<Mutex<Option<fe::SolveRequest>>>,
    warned: Arc<Mutex<Vec<fe::WarnRequest>>>,
}

impl FakeBridge {
    fn log(&self, s: &str) {
        self.calls.lock().unwrap().push(s.to_owned());
    }
}

fn unimplemented<T>() -> Res<T> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl LlbBridge for FakeBridge {
    async fn resolve_image_config(
        &self,
        r: Request<fe::ResolveImageConfigRequest>,
    ) -> Res<fe::ResolveImageConfigResponse> {
        self.log(&format!("ResolveImageConfig {}", r.get_ref().r#ref));
        Ok(Response::new(fe::ResolveImageConfigResponse {
            digest: "sha256:old".into(),
            config: br#"{"config":{"WorkingDir":"/old"}}"#.to_vec(),
            r#ref: String::new(),
        }))
    }
    async fn resolve_source_meta(
        &self,
        r: Request<fe::ResolveSourceMetaRequest>,
    ) -> Res<fe::ResolveSourceMetaResponse> {
        let r = r.into_inner();
        self.log(&format!("ResolveSourceMeta {} {}", r.source.as_ref().unwrap().identifier, r.log_name));
        Ok(Response::new(fe::ResolveSourceMetaResponse {
            source: r.source,
            image: Some(fe::ResolveSourceImageResponse {
                digest: "sha256:new".into(),
                config: br#"{"config":{"WorkingDir":"/new"}}"#.to_vec(),
                attestation_chain: None,
            }),
            ..Default::default()
        }))
    }
    async fn solve(&self, r: Request<fe::SolveRequest>) -> Res<fe::SolveResponse> {
        self.log("Solve");
        *self.solved.lock().unwrap() = Some(r.into_inner());
        Ok(Response::new(fe::SolveResponse {
            r#ref: String::new(),
            result: Some(fe::Result {
                result: Some(fe::result::Result::Ref(fe::Ref { id: "ref-1".into(), def: None })),
                ..Default::default()
            }),
        }))
    }
    async fn read_file(&self, r: Request<fe::ReadFileRequest>) -> Res<fe::ReadFileResponse> {
        let r = r.into_inner();
        self.log(&format!("ReadFile {} {}", r.r#ref, r.file_path));
        match self.files.get(&r.file_path) {
            Some(d) => Ok(Response::new(fe::ReadFileResponse { data: d.clone() })),
            None => Err(Status::not_found(format!("open {}: no such file or directory", r.file_path))),
        }
    }
    async fn read_dir(&self, _r: Request<fe::ReadDirRequest>) -> Res<fe::ReadDirResponse> {
        Ok(Response::new(fe::ReadDirResponse {
            entries: vec![bollard_buildkit_proto::fsutil::types::Stat {
                path: "pkg".into(),
                mode: 0o040755,
                ..Default::default()
            }],
        }))
    }
    async fn stat_file(&self, _r: Request<fe::StatFileRequest>) -> Res<fe::StatFileResponse> {
        unimplemented()
    }
    async fn evaluate(&self, _r: Request<fe::EvaluateRequest>) -> Res<fe::EvaluateResponse> {
        unimplemented()
    }
    async fn ping(&self, _r: Request<fe::PingRequest>) -> Res<fe::PongResponse> {
        self.log("Ping");
        let cap = |id: &str| ApiCap { id: id.into(), enabled: true, ..Default::default() };
        Ok(Response::new(fe::PongResponse {
            frontend_api_caps: self.frontend_caps.iter().map(|c| cap(c)).collect(),
            llb_caps: vec![cap("mergeop"), ApiCap { id: "diffop".into(), enabled: false, ..Default::default() }],
            workers: Vec::new(),
        }))
    }
    async fn r#return(&self, r: Request<fe::ReturnRequest>) -> Res<fe::ReturnResponse> {
        self.log("Return");
        *self.returned.lock().unwrap() = Some(r.into_inner());
        Ok(Response::new(fe::ReturnResponse {}))
    }
    async fn inputs(&self, _r: Request<fe::InputsRequest>) -> Res<fe::InputsResponse> {
        unimplemented()
    }
    async fn new_container(&self, _r: Request<fe::NewContainerRequest>) -> Res<fe::NewContainerResponse> {
        unimplemented()
    }
    async fn release_container(&self, _r: Request<fe::ReleaseContainerRequest>) -> Res<fe::ReleaseContainerResponse> {
        unimplemented()
    }
    type ExecProcessStream = tokio_stream::Empty<Result<fe::ExecMessage, Status>>;
    async fn exec_process(&self, _r: Request<tonic::Streaming<fe::ExecMessage>>) -> Res<Self::ExecProcessStream> {
        unimplemented()
    }
    async fn read_file_container(&self, _r: Request<fe::ReadFileRequest>) -> Res<fe::ReadFileResponse> {
        unimplemented()
    }
    async fn read_dir_container(&self, _r: Request<fe::ReadDirRequest>) -> Res<fe::ReadDirResponse> {
        unimplemented()
    }
    async fn stat_file_container(&self, _r: Request<fe::StatFileRequest>) -> Res<fe::StatFileResponse> {
        unimplemented()
    }
    async fn warn(&self, r: Request<fe::WarnRequest>) -> Res<fe::WarnResponse> {
        self.warned.lock().unwrap().push(r.into_inner());
        Ok(Response::new(fe::WarnResponse {}))
    }
}

/// Serves `bridge` on one end of an in-memory pipe and connects a client
/// to the other, the way BuildKit and the frontend share stdio.
async fn connect(bridge: FakeBridge) -> Client {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let svc = LlbBridgeServer::new(bridge).max_decoding_message_size(16 << 20).max_encoding_message_size(16 << 20);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::once(Ok::<_, std::io::Error>(server_io)))
            .await
    });
    let channel = transport::connect(client_io).await.expect("channel");
    Client::connect(channel).await.expect("ping")
}

fn all_caps() -> Vec<&'static str> {
    vec!["source.metaresolver", "gateway.warnings", "return", "readfile"]
}

#[tokio::test]
async fn ping_keeps_enabled_caps_only() {
    let client = connect(FakeBridge { frontend_caps: all_caps(), ..Default::default() }).await;
    assert!(client.caps().frontend("source.metaresolver"));
    assert!(client.caps().llb("mergeop"));
    assert!(!client.caps().llb("diffop"), "a disabled cap is not a cap");
}

#[tokio::test]
async fn resolves_through_source_meta_when_the_daemon_has_it() {
    let bridge = FakeBridge { frontend_caps: all_caps(), ..Default::default() };
    let calls = bridge.calls.clone();
    let mut client = connect(bridge).await;
    let img = client
        .resolve_image("docker.io/library/alpine:latest", None, "default", "[internal] load metadata")
        .await
        .unwrap();
    assert_eq!(img.digest, "sha256:new");
    assert_eq!(img.reference, "docker.io/library/alpine:latest");
    assert!(calls.lock().unwrap().contains(
        &"ResolveSourceMeta docker-image://docker.io/library/alpine:latest [internal] load metadata".to_owned()
    ));
}

#[tokio::test]
async fn falls_back_to_resolve_image_config_on_older_daemons() {
    let bridge = FakeBridge { frontend_caps: vec!["return"], ..Default::default() };
    let calls = bridge.calls.clone();
    let mut client = connect(bridge).await;
    let img = client.resolve_image("docker.io/library/alpine:latest", None, "default", "x").await.unwrap();
    assert_eq!(img.digest, "sha256:old");
    assert_eq!(img.config, br#"{"config":{"WorkingDir":"/old"}}"#);
    assert!(calls.lock().unwrap().iter().any(|c| c == "ResolveImageConfig docker.io/library/alpine:latest"));
}

#[tokio::test]
async fn reads_files_larger_than_grpc_default_limit() {
    let big = vec![7u8; 10 << 20];
    let bridge = FakeBridge { files: HashMap::from([("build.envd".to_owned(), big.clone())]), ..Default::default() };
    let mut client = connect(bridge).await;
    assert_eq!(client.read_file("r", "build.envd").await.unwrap().len(), big.len());
}

#[tokio::test]
async fn rpc_errors_name_the_call() {
    let mut client = connect(FakeBridge::default()).await;
    let err = client.read_file("r", "missing.envd").await.unwrap_err();
    assert_eq!(err.to_string(), "ReadFile: open missing.envd: no such file or directory");
    assert_eq!(err.code(), Some(tonic::Code::NotFound));
}

#[tokio::test]
async fn solve_passes_cache_imports_and_returns_the_ref() {
    let bridge = FakeBridge::default();
    let solved = bridge.solved.clone();
    let mut client = connect(bridge).await;
    let imports =
        [CacheImport { kind: "registry".into(), attrs: [("ref".to_owned(), "127.0.0.1:5000/c".to_owned())].into() }];
    let id = client.solve(pb::Definition::default(), &imports).await.unwrap();
    assert_eq!(id, "ref-1");
    let req = solved.lock().unwrap().clone().unwrap();
    assert_eq!(req.cache_imports.len(), 1);
    assert_eq!(req.cache_imports[0].r#type, "registry");
    assert_eq!(req.cache_imports[0].attrs["ref"], "127.0.0.1:5000/c");
    assert!(req.allow_result_return);
}

#[tokio::test]
async fn finish_returns_ref_definition_and_metadata() {
    let bridge = FakeBridge::default();
    let returned = bridge.returned.clone();
    let client = connect(bridge).await;
    let def = pb::Definition { def: vec![b"op".to_vec()], ..Default::default() };
    let md = HashMap::from([("containerimage.config".to_owned(), b"{}".to_vec())]);
    let sbom = envd_gateway::InToto {
        platform: "linux/amd64".into(),
        ref_id: "ref-2".into(),
        definition: def.clone(),
        path: "/sbom.spdx.json".into(),
        predicate_type: "https://spdx.dev/Document".into(),
        metadata: HashMap::from([("reason".to_owned(), b"sbom".to_vec())]),
    };
    client.finish("ref-1".into(), def.clone(), md, vec![sbom]).await.unwrap();
    let ret = returned.lock().unwrap().clone().unwrap();
    assert!(ret.error.is_none());
    let result = ret.result.unwrap();
    assert_eq!(result.metadata["containerimage.config"], b"{}");
    // the SBOM under its platform, as an in-toto predicate in its own ref
    let a = &result.attestations["linux/amd64"].attestation[0];
    assert_eq!((a.kind, a.path.as_str()), (fe::AttestationKind::InToto as i32, "/sbom.spdx.json"));
    assert_eq!(a.in_toto_predicate_type, "https://spdx.dev/Document");
    assert_eq!(a.r#ref.as_ref().map(|r| r.id.as_str()), Some("ref-2"));
    assert_eq!(a.metadata["reason"], b"sbom");
    match result.result {
        Some(fe::result::Result::Ref(r)) => {
            assert_eq!(r.id, "ref-1");
            assert_eq!(r.def, Some(def));
        }
        other => panic!("expected a ref, got {other:?}"),
    }
}

/// Line `line` of a small build.envd.
fn located(line: u32) -> Located {
    Located {
        filename: "build.envd".into(),
        data: b"def build():\n  base(\n  run()\n".to_vec(),
        language: "starlark".into(),
        ranges: vec![SourceRange { start: line, end: line }],
    }
}

#[tokio::test]
async fn source_errors_carry_buildkits_json_source_detail() {
    let bridge = FakeBridge::default();
    let returned = bridge.returned.clone();
    let client = connect(bridge).await;
    let err = SourceError { message: "build.envd:2: unexpected token".into(), at: located(2) };
    client.fail_at(&err).await.unwrap();
    let status = returned.lock().unwrap().clone().unwrap().error.unwrap();
    assert_eq!(status.code, 2);
    assert_eq!(status.message, "build.envd:2: unexpected token");
    assert_eq!(status.details.len(), 1);
    assert_eq!(status.details[0].type_url, "github.com/moby/buildkit/errdefs.Source+json");
    let v: serde_json::Value = serde_json::from_slice(&status.details[0].value).unwrap();
    assert_eq!(v["info"]["filename"], "build.envd");
    let data = base64::engine::general_purpose::STANDARD.decode(v["info"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, err.at.data);
    assert_eq!(v["info"]["language"], "starlark");
    assert_eq!(v["ranges"][0]["start"]["line"], 2);
    assert_eq!(v["ranges"][0]["end"]["line"], 2);
}

#[tokio::test]
async fn warnings_go_out_only_where_the_daemon_takes_them() {
    let w = || Warning {
        digest: "sha256:x".into(),
        short: "deprecated".into(),
        detail: vec!["what the rule checks".into()],
        url: "https://example.test/rules#deprecated".into(),
        at: Some(located(3)),
    };
    let bridge = FakeBridge { frontend_caps: all_caps(), ..Default::default() };
    let warned = bridge.warned.clone();
    let mut client = connect(bridge).await;
    assert!(client.warn(w()).await.unwrap());
    let got = warned.lock().unwrap().clone();
    assert_eq!(got[0].short, b"deprecated");
    assert_eq!(got[0].detail, [b"what the rule checks".to_vec()]);
    assert_eq!(got[0].url, "https://example.test/rules#deprecated");
    assert_eq!(got[0].ranges[0].start.unwrap().line, 3);
    assert_eq!(got[0].ranges[0].end.unwrap().line, 3);
    let info = got[0].info.as_ref().unwrap();
    assert_eq!((info.filename.as_str(), info.language.as_str()), ("build.envd", "starlark"));
    assert_eq!(info.data, located(3).data, "the same source shape as an error's");

    let mut old = connect(FakeBridge::default()).await;
    assert!(!old.warn(w()).await.unwrap());
}

#[tokio::test]
async fn a_subrequest_answer_is_metadata_without_a_ref() {
    let bridge = FakeBridge::default();
    let returned = bridge.returned.clone();
    let client = connect(bridge).await;
    let metadata = std::collections::HashMap::from([("result.json".to_owned(), b"{}".to_vec())]);
    client.finish_metadata(metadata).await.unwrap();
    let result = returned.lock().unwrap().clone().unwrap().result.unwrap();
    assert!(result.result.is_none(), "no ref");
    assert_eq!(result.metadata["result.json"], b"{}");
}

#[test]
fn an_unknown_subrequest_is_buildkits_typed_error() {
    let status = envd_gateway::unsupported_subrequest_status("frontend.convertllb");
    assert_eq!(status.message, "unsupported request frontend.convertllb");
    assert_eq!(status.details[0].type_url, "github.com/moby/buildkit/errdefs.Subrequest+json");
    let v: serde_json::Value = serde_json::from_slice(&status.details[0].value).unwrap();
    assert_eq!(v["name"], "frontend.convertllb");
}
