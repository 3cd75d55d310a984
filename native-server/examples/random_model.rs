//! Writes `model.safetensors` of seeded random weights for the config.json (and tokenizer) already in a folder, so
//! that `fastllm serve` can run a model of real shapes without downloading one (benchmarks, not tests).
//!
//! Run: cargo run --release --example random_model -- <folder> [seed]

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: random_model <folder with config.json and tokenizer.json> [seed]");
        std::process::exit(2);
    };
    let seed = args.next().map_or(42, |s| s.parse().expect("seed: an unsigned integer"));
    if let Err(e) = fastllm::models::random::write_random_weights(std::path::Path::new(&dir), seed) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
