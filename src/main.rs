//! The `kuayu` command: parses the command line and hands over to the library.
#![forbid(unsafe_code)]

/// mimalloc rather than the system allocator: a request allocates and frees many small
/// buffers on two threads or more, where glibc's malloc spent a sixth of the CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kuayu::cli::main()
}
