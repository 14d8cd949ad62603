//! The `envd-frontend` binary; see the library for what it does.

use std::process::ExitCode;

use envd_frontend::{check, isolate, serve};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(isolate::CHILD_ARG) => return isolate::child_main(),
        Some(check::CHECK_ARG) => {
            // check FILE [TARGET] [--llb]
            let llb = args.iter().any(|a| a == "--llb");
            let rest: Vec<&String> = args[2..].iter().filter(|a| *a != "--llb").collect();
            let Some(file) = rest.first() else {
                eprintln!("usage: envd-frontend check FILE [TARGET] [--llb]");
                return ExitCode::from(2);
            };
            return check::check_main(std::path::Path::new(file), rest.get(1).map(|t| t.to_string()), llb);
        }
        Some("conda-install") => {
            // The in-build conda installer: see envd_conda_install.
            let Some(request) = args.get(2) else {
                eprintln!("usage: envd-frontend conda-install REQUEST.json");
                return ExitCode::from(1);
            };
            return match envd_conda_install::run_file(std::path::Path::new(request)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("envd: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("envd-frontend: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve());
    // tokio reads stdin on a blocking thread that stays parked in read(2)
    // until BuildKit closes the pipe, and BuildKit waits for this process
    // to exit: do not wait for that thread.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envd-frontend: {e}");
            ExitCode::FAILURE
        }
    }
}
