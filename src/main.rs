//! The `speclog` command: parses arguments, calls the library, explains errors.

mod cli;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().take(2).collect();
    if args
        .get(1)
        .is_some_and(|a| a == speclog::app::bench::proc::MEASURE_ARG)
    {
        // `speclog bench` measuring one command (not a user command).
        let all: Vec<std::ffi::OsString> = std::env::args_os().collect();
        std::process::exit(speclog::app::bench::proc::measure_main(&all));
    }
    std::process::exit(cli::main());
}
