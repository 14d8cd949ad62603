//! Files as Windows writes them, through real buildx: a build.envd saved
//! "UTF-8 with BOM", an env.yaml and a requirements.txt from Windows
//! PowerShell 5.1's `>` (UTF-16LE with a BOM, CRLF), and a Latin-1 file,
//! which fails with one sentence at the call that names it.

use envd_e2e::{cpu_base, docker_ok, ensure_env, Context};

/// UTF-16LE with a BOM and CRLF line ends, as PowerShell 5.1's `>` writes.
fn powershell(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.replace('\n', "\r\n").encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn write_bytes(ctx: &Context, path: &str, bytes: &[u8]) {
    std::fs::write(ctx.dir().join(path), bytes).unwrap();
}

#[test]
fn a_build_envd_with_a_bom_builds() {
    let _engine = ensure_env();
    let ctx = Context::new("bom");
    let mut file = b"\xEF\xBB\xBF# \xE6\x9C\x8D\xE5\x8A\xA1\r\n".to_vec();
    file.extend(
        format!(
            "def build():\r\n    base(image=\"{}\")\r\n    run(commands=[\"echo bom > /home/aiges/bom\"])\r\n",
            cpu_base()
        )
        .as_bytes(),
    );
    write_bytes(&ctx, "build.envd", &file);
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/home/aiges/bom"]), "bom\n");
}

#[test]
fn a_powershell_conda_env_export_and_requirements_file_install() {
    let _engine = ensure_env();
    let ctx = Context::new("utf16");
    ctx.channel("channel", vec![]).write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"\"\"\n    channels:\n      - defaults\n    default_channels:\n      - ./channel\n    \"\"\")\n    base(image=\"{}\")\n    install.conda_packages(env_file=\"env.yaml\")\n    install.python_packages(requirements=\"requirements.txt\")\n",
            cpu_base()
        ),
    );
    let export = "name: 服务\nchannels:\n  - defaults\ndependencies:\n  - tool=1.0=h0_0\nprefix: C:\\Users\\me\\miniconda3\\envs\\服务\n";
    write_bytes(&ctx, "env.yaml", &powershell(export));
    write_bytes(&ctx, "requirements.txt", &powershell("# 服务的依赖\nsix==1.16.0\n"));
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let sh = |script: &str| docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", &ctx.tag, "-c", script]);
    assert_eq!(sh("/opt/conda/bin/tool"), "tool 1.0 h0_0 in /opt/conda\n");
    assert_eq!(sh("python3 -c 'import six; print(six.__version__)'"), "1.16.0\n");
}

#[test]
fn a_latin1_requirements_file_fails_at_its_call_with_the_offset() {
    let _engine = ensure_env();
    let ctx = Context::new("latin1");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.python_packages(requirements=\"requirements.txt\")\n",
            cpu_base()
        ),
    );
    write_bytes(&ctx, "requirements.txt", b"# d\xE9pendances\nsix==1.16.0\n");
    let r = ctx.build_envd(&[]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "requirements.txt is not UTF-8 text: the byte 0xE9 at offset 3 does not belong there (Latin-1 or a Windows code page?); save the file as UTF-8"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("build.envd:3"), "at the install.python_packages line: {}", r.stderr);
}
