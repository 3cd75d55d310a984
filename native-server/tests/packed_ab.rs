//! Throwaway A/B probe: the packed kernel (models/packed.rs) against the few-rows kernel (models/few_rows.rs) on the
//! linear layers of real model shapes, alternating in one process:
//! `cargo test --release --test packed_ab -- --ignored --nocapture` (PROBE_MODEL, PROBE_DTYPE=bf16|f32).

use candle_core::{DType, Device, Tensor};
use fastllm::bench::cpu_seconds;
use fastllm::models::few_rows::few_rows_matmul;
use fastllm::models::llama::LlamaConfig;
use fastllm::models::packed::{pack, PackedWeight};
use std::time::Instant;

#[test]
#[ignore]
fn probe_linear_layers() {
    let dir = std::env::var("PROBE_MODEL").unwrap_or("../bench/native/qwen2.5-0.5b".into());
    let dtype = match std::env::var("PROBE_DTYPE").as_deref() {
        Ok("f32") => DType::F32,
        _ => DType::BF16,
    };
    let cfg: LlamaConfig = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap()).unwrap();
    let (h, i, hd) = (cfg.hidden_size, cfg.intermediate_size, cfg.head_dim());
    let (q, kv) = (cfg.num_attention_heads * hd, cfg.kv_heads() * hd);
    // Enough layers that their weights (~60 MB or more) stream from memory, as in a decode step.
    let per_layer = [(q, h), (kv, h), (kv, h), (h, q), (i, h), (i, h), (h, i)];
    let layer_bytes: usize = per_layer.iter().map(|(o, k)| o * k * dtype.size_in_bytes()).sum();
    let layers = (64usize << 20).div_ceil(layer_bytes).max(2);
    let dev = Device::Cpu;
    let ws: Vec<(Tensor, PackedWeight)> = (0..layers)
        .flat_map(|_| per_layer)
        .map(|(o, k)| {
            let w = Tensor::randn(0f32, 0.02, (o, k), &dev).unwrap().to_dtype(dtype).unwrap();
            let p = pack(&w).unwrap();
            (w, p)
        })
        .collect();
    let params: usize = ws.iter().map(|(w, _)| w.elem_count()).sum();
    println!("{dir} {dtype:?}: {layers} layers, {:.0} MB of weights", (params * dtype.size_in_bytes()) as f64 / 1e6);
    for rows in std::env::var("PROBE_ROWS").unwrap_or("1,8,16".into()).split(',').map(|s| s.parse::<usize>().unwrap()) {
        let xs: Vec<(Tensor, Vec<f32>)> = per_layer
            .iter()
            .map(|&(_, k)| {
                let t = Tensor::randn(0f32, 1.0, (rows, k), &dev).unwrap();
                let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                (t, v)
            })
            .collect();
        let reps = [(1, 100), (8, 30), (16, 20)].iter().find(|r| r.0 == rows).unwrap().1 * 90 / (params / 1_000_000).max(1);
        let mut sums = [(0f64, 0f64); 2];
        for round in 0..4 {
            for (variant, new) in [false, true].into_iter().enumerate() {
                let (t0, c0) = (Instant::now(), cpu_seconds());
                for _ in 0..reps {
                    for (n, (w, p)) in ws.iter().enumerate() {
                        let (xt, xv) = &xs[n % per_layer.len()];
                        if new {
                            std::hint::black_box(p.matmul(xv, rows));
                        } else {
                            std::hint::black_box(few_rows_matmul(xt, w).unwrap());
                        }
                    }
                }
                let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
                let flop = 2.0 * (params * rows * reps) as f64;
                if round > 0 {
                    sums[variant].0 += wall;
                    sums[variant].1 += cpu;
                }
                let name = if new { "packed  " } else { "few_rows" };
                println!("round {round} {name} {rows:2} rows: {:6.1} GFLOP/s wall, {:6.1} GFLOP/CPU-s, {:5.1} GB/s of weights", flop / wall / 1e9, flop / cpu / 1e9, (params * dtype.size_in_bytes() * reps) as f64 / wall / 1e9);
            }
        }
        let ((ow, oc), (nw, nc)) = (sums[0], sums[1]);
        println!("== {rows:2} rows: packed/few_rows speed {:.2}x wall, {:.2}x per CPU-s", ow / nw, oc / nc);
    }
}

/// Kernel throughput with cache-resident operands on one thread (the compute bound of the 16-row step).
#[test]
#[ignore]
fn probe_cached_kernel() {
    let dev = Device::Cpu;
    let env = |n: &str, d: usize| std::env::var(n).map(|s| s.parse().unwrap()).unwrap_or(d);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(env("PROBE_THREADS", 1)).build().unwrap();
    let (out, k) = (env("PROBE_OUT", 256), env("PROBE_K", 512));
    let w = Tensor::randn(0f32, 0.02, (out, k), &dev).unwrap().to_dtype(DType::BF16).unwrap();
    let p = pack(&w).unwrap();
    for rows in std::env::var("PROBE_ROWS").unwrap_or("1,2,3,4,5,6,8,12,16".into()).split(",").map(|s| s.parse::<usize>().unwrap()) {
        let xt = Tensor::randn(0f32, 1.0, (rows, k), &dev).unwrap();
        let xv = xt.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let reps = 40_000 * 256 * 512 / rows / out / k;
        let flop = 2.0 * (out * k * rows * reps) as f64;
        pool.install(|| {
            for new in [false, true, false, true] {
                let t0 = Instant::now();
                for _ in 0..reps {
                    if new {
                        std::hint::black_box(p.matmul(&xv, rows));
                    } else {
                        std::hint::black_box(few_rows_matmul(&xt, &w).unwrap());
                    }
                }
                let name = if new { "packed  " } else { "few_rows" };
                println!("{name} {rows:2} rows, cached, 1 thread: {:5.1} GFLOP/s", flop / t0.elapsed().as_secs_f64() / 1e9);
            }
        });
    }
}
