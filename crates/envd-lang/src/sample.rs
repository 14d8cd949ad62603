//! Generated build files, for benchmarks of the stages after this one.

/// A build.envd with `n` steps of every kind, spread over a helper
/// function: the size at which a slow evaluator or lowering would start to
/// show in a build's start-up.
pub fn generated_build_file(n: usize) -> String {
    let mut s = String::from("def setup():\n    config.pip_index(url=\"https://pypi.org/simple\")\n\ndef build():\n    setup()\n    base(image=\"aiges_cpu\", language=\"python3.9\")\n");
    for i in 0..n {
        let line = match i % 5 {
            0 => format!("    install.python_packages(name=[\"pkg{i}==1.{i}\"])\n"),
            1 => format!("    install.system_packages(name=[\"lib{i}\"])\n"),
            2 => format!("    io.copy(src=\"src/m{i}\", dest=\"/home/aiges/m{i}\")\n"),
            3 => format!("    run(commands=[\"echo {i} > /tmp/{i}\"])\n"),
            _ => format!("    install.conda_packages(name=[\"c{i}\"])\n"),
        };
        s.push_str(&line);
    }
    s
}
