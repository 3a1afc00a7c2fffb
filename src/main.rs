//! The `tacos` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    tacos::main()
}
