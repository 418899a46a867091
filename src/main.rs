//! The `speclog` command: parses arguments, calls the library, explains errors.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
