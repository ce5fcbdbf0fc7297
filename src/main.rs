//! The `kuayu` command: parses the command line and hands over to the library.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    kuayu::cli::main()
}
