//! minke-bench: runs minke, runc, crun and the floor side by side and prints the table of
//! `docs/performance.md`. See `minke-bench --help`.
#![deny(unsafe_code)]

mod harness;

fn main() {
    let code = match harness::main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("minke-bench: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
