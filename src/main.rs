//! The `tacos` binary: everything lives in the library.

/// mimalloc instead of the system allocator: loading a tree allocates and frees millions of
/// small strings and maps, which glibc's malloc spent a quarter of `tacos lint`'s time on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tacos::main()
}
