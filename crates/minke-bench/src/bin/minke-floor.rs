//! minke-floor: the benchmark's floor, a minimal runtime with runc's command line that does only
//! the unavoidable work for the benchmark's bundle. See `minke_bench::floor`.
#![deny(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(minke_bench::floor::main(&args));
}
