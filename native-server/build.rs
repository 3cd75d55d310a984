//! With the `cuda` feature: compiles src/models/cuda_decode.cu to PTX (models/cuda_decode.rs embeds it). PTX for
//! compute capability 7.5, the oldest CUDA 13 builds for, which the driver compiles for whatever GPU runs it.
//! nvcc comes from $NVCC, else $CUDA_HOME/bin, else PATH (scripts/cuda-check.sh sets CUDA_HOME and PATH).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/models/cuda_decode.cu");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let nvcc = std::env::var_os("NVCC").map(PathBuf::from).unwrap_or_else(|| match std::env::var_os("CUDA_HOME") {
        Some(home) => PathBuf::from(home).join("bin/nvcc"),
        None => PathBuf::from("nvcc"),
    });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("cuda_decode.ptx");
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", "-arch=compute_75", "src/models/cuda_decode.cu", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", nvcc.display()));
    assert!(status.success(), "{} failed to compile src/models/cuda_decode.cu", nvcc.display());
}
