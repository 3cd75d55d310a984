//! Throwaway A/B probe of whole decode steps and prefill: packed weights (models/packed.rs) against the few-rows
//! kernel on row-major weights, two copies of the same random model in one process, alternating:
//! `cargo test --release --test packed_forward_ab -- --ignored --nocapture` (PROBE_MODEL, PROBE_DTYPE=bf16|f32).

use fastllm::bench::{cpu_seconds, random_model};
use fastllm::models::llama::use_few_rows_baseline;
use fastllm::models::{DeviceChoice, DtypeChoice, KvCache, LlamaModel};
use std::time::Instant;

#[test]
#[ignore]
fn probe_decode_steps_and_prefill() {
    let dir = std::env::var("PROBE_MODEL").unwrap_or("../bench/native/qwen2.5-0.5b".into());
    let dtype = match std::env::var("PROBE_DTYPE").as_deref() {
        Ok("f32") => DtypeChoice::F32,
        _ => DtypeChoice::Bf16,
    };
    let (prompt, rounds, per) = (128, 4, 3);
    let ctx = prompt + 3 * rounds * per + 2;
    let load = |baseline: bool| {
        use_few_rows_baseline(baseline);
        let t0 = Instant::now();
        let m = random_model(&dir, DeviceChoice::Cpu, dtype, ctx).unwrap().model;
        println!("loaded {} in {:.1} s", if baseline { "few_rows" } else { "packed" }, t0.elapsed().as_secs_f64());
        m
    };
    let models: [LlamaModel; 2] = [load(true), load(false)];
    use_few_rows_baseline(false);
    let vocab = models[0].cfg.vocab_size as u32;
    let names = ["few_rows", "packed  "];
    let prompts: Vec<Vec<u32>> = (0..16).map(|i| (0..prompt as u32).map(|j| (j * 7919 + i * 31) % vocab).collect()).collect();
    // Prefill: one 128-token prompt, alternating.
    let mut caches: [Vec<KvCache>; 2] = [vec![], vec![]];
    let mut pre = [(0f64, 0f64); 2];
    for (i, p) in prompts.iter().enumerate() {
        for (v, m) in models.iter().enumerate() {
            let mut c = m.new_cache(ctx);
            let (t0, c0) = (Instant::now(), cpu_seconds());
            m.forward(p, &mut c).unwrap();
            if i > 0 && i <= 4 {
                pre[v].0 += t0.elapsed().as_secs_f64();
                pre[v].1 += cpu_seconds() - c0;
            }
            caches[v].push(c);
        }
    }
    for v in 0..2 {
        println!("prefill {} of {prompt} tokens: {:.0} tok/s, {:.1} tok/CPU-s", names[v], 4.0 * prompt as f64 / pre[v].0, 4.0 * prompt as f64 / pre[v].1);
    }
    println!("prefill packed/few_rows: {:.2}x wall, {:.2}x per CPU-s", pre[0].0 / pre[1].0, pre[0].1 / pre[1].1);
    let mut per_cpu = [[0f64; 2]; 3];
    for (ri, rows) in [1usize, 8, 16].into_iter().enumerate() {
        let toks: Vec<u32> = (0..rows as u32).collect();
        let mut sums = [(0f64, 0f64); 2];
        for round in 0..rounds {
            for v in 0..2 {
                let (t0, c0) = (Instant::now(), cpu_seconds());
                for _ in 0..per {
                    let mut refs: Vec<&mut KvCache> = caches[v][..rows].iter_mut().collect();
                    models[v].forward_batch(&toks, &mut refs).unwrap();
                }
                let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
                if round > 0 {
                    sums[v].0 += wall;
                    sums[v].1 += cpu;
                }
                let n = (rows * per) as f64;
                println!("round {round} {} {rows:2} rows: {:6.2} tok/s, {:6.2} tok/CPU-s", names[v], n / wall, n / cpu);
            }
        }
        let n = (rows * per * (rounds - 1)) as f64;
        for v in 0..2 {
            per_cpu[ri][v] = n / sums[v].1;
        }
        println!(
            "== {rows:2} rows: few_rows {:.2} tok/CPU-s, packed {:.2} tok/CPU-s: packed/few_rows {:.2}x wall, {:.2}x per CPU-s",
            per_cpu[ri][0],
            per_cpu[ri][1],
            sums[0].0 / sums[1].0,
            sums[0].1 / sums[1].1
        );
    }
    for (ri, rows) in [(1, 8), (2, 16)] {
        println!(
            "== {rows} rows / 1 row, per CPU-s: few_rows {:.2}x, packed {:.2}x",
            per_cpu[ri][0] / per_cpu[0][0],
            per_cpu[ri][1] / per_cpu[0][1]
        );
    }
}
