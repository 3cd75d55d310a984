//! The packed matmul alone at Qwen2.5-0.5B's decode shapes (a benchmark, not a test): GFLOP/s and share of this
//! machine's FMA peak, for a whole step's matmuls streaming distinct weights (24 layers + the LM head, as in
//! decode) and for each shape repeated on one matrix (weights hot in L2/L3). The step and each hot shape run once
//! per repetition with each fused kernel this CPU has (AVX2; AVX-512 where present, as the engine runs), so they
//! compare in one process; q, k and v are one matrix, as the engine packs them.
//!
//! Run (from native-server/, so that target-cpu=native applies): cargo run --release --example packed_bench
//! [ROWS...] (default 16 1). REPS=n repetitions (best of; per CPU-second over all), RAYON_NUM_THREADS, SHAPE=out,k
//! for one matrix alone.

// The peak is measured with the FMAs the packed kernels use: x86_64 only (the example still builds elsewhere, so
// that `cargo test` does on a Mac).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::time::Instant;

    use fastllm::bench::cpu_seconds;
    use fastllm::models::packed::{Isa, Packed};
    use fastllm::models::random::Rng;
    use half::bf16;

    /// (name, out, k) of the matmuls of one Qwen2.5-0.5B layer; gate and up are one SwiGLU matrix, "qkv" is q, k
    /// and v as one (a step runs either it or the three).
    const LAYER: [(&str, usize, usize); 6] =
        [("q", 896, 896), ("k", 128, 896), ("v", 128, 896), ("qkv", 1152, 896), ("o", 896, 896), ("down", 896, 4864)];
    const QKV: [&str; 3] = ["q", "k", "v"];
    const INTER: usize = 4864;
    const HIDDEN: usize = 896;
    const VOCAB: usize = 151_936;
    const LAYERS: usize = 24;

    fn random_bf16(n: usize, seed: u64) -> Vec<bf16> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| bf16::from_f32((rng.next_f32() - 0.5) * 0.1)).collect()
    }

    /// GFLOP/s of a loop of independent FMAs from registers on every pool thread: the machine's peak with the
    /// vectors of `isa`.
    fn peak(isa: Isa) -> f64 {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads();
        let iters = 20_000_000u64;
        let t = Instant::now();
        let s: f32 = (0..threads)
            .into_par_iter()
            .map(|i| unsafe {
                match isa {
                    Isa::Avx512 => fma_loop_512(iters, i as f32),
                    _ => fma_loop(iters, i as f32),
                }
            })
            .sum();
        std::hint::black_box(s);
        let lanes = if isa == Isa::Avx512 { 16 } else { 8 };
        (threads as u64 * iters * 12 * lanes * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn fma_loop_512(n: u64, seed: f32) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm512_set1_ps(seed); 12];
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        for _ in 0..n {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma_loop(n: u64, seed: f32) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_set1_ps(seed); 12];
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        for _ in 0..n {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut s = 0.0;
        for v in acc {
            let mut o = [0f32; 8];
            _mm256_storeu_ps(o.as_mut_ptr(), v);
            s += o.iter().sum::<f32>();
        }
        s
    }

    pub fn main() {
        let rows: Vec<usize> = {
            let a: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("rows")).collect();
            if a.is_empty() {
                vec![16, 1]
            } else {
                a
            }
        };
        let reps: usize = std::env::var("REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
        // The fused kernels this CPU runs, the best (the engine's) last, with their FMA peaks.
        let isas: Vec<(Isa, f64)> = [Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.runs_here())
            .map(|i| (i, (0..3).map(|_| peak(i)).fold(0.0, f64::max)))
            .collect();
        let peaks: Vec<String> = isas.iter().map(|(i, pk)| format!("{i:?} {pk:.1}")).collect();
        println!("threads {}, FMA peak GFLOP/s: {}", rayon::current_num_threads(), peaks.join(", "));
        let (best_isa, pk) = *isas.last().expect("AVX2 at least");
        // SHAPE=out,k: that one matrix, repeated (sized to sit in L1, L2 or L3).
        if let Ok(shape) = std::env::var("SHAPE") {
            let v: Vec<usize> = shape.split(',').map(|s| s.parse().expect("SHAPE=out,k")).collect();
            let (out, k) = (v[0], v[1]);
            let p = Packed::new(&random_bf16(out * k, 1), out, k);
            for &r in &rows {
                let mut rng = Rng::new(3);
                let x: Vec<f32> = (0..r * k).map(|_| rng.next_f32() - 0.5).collect();
                let n = (2e9 / (2.0 * (r * out * k) as f64)).ceil() as usize;
                let mut best = f64::MAX;
                for _ in 0..reps {
                    let t = Instant::now();
                    for _ in 0..n {
                        std::hint::black_box(p.matmul(&x, r));
                    }
                    best = best.min(t.elapsed().as_secs_f64() / n as f64);
                }
                let g = 2.0 * (r * out * k) as f64 / best / 1e9;
                println!("rows {r:2} ({out}, {k}), {best_isa:?}: {:.1} us, {g:.1} GFLOP/s, {:.0}% of peak", best * 1e6, 100.0 * g / pk);
            }
            return;
        }

        let t = Instant::now();
        let layers: Vec<(Vec<Packed<bf16>>, Packed<bf16>)> = (0..LAYERS)
            .map(|l| {
                let mut qkv = Vec::new();
                let plain = LAYER
                    .iter()
                    .enumerate()
                    .map(|(i, &(name, out, k))| {
                        let w = match name {
                            "qkv" => std::mem::take(&mut qkv),
                            _ => random_bf16(out * k, (l * 10 + i) as u64),
                        };
                        if QKV.contains(&name) {
                            qkv.extend_from_slice(&w);
                        }
                        Packed::new(&w, out, k)
                    })
                    .collect();
                let g = random_bf16(INTER * HIDDEN, (l * 10 + 7) as u64);
                let u = random_bf16(INTER * HIDDEN, (l * 10 + 8) as u64);
                (plain, Packed::gate_up(&g, &u, INTER, HIDDEN))
            })
            .collect();
        let head = Packed::new(&random_bf16(VOCAB * HIDDEN, 99), VOCAB, HIDDEN);
        eprintln!("packed in {:.1} s", t.elapsed().as_secs_f64());

        for &r in &rows {
            let mut rng = Rng::new(r as u64);
            let x = |k: usize, rng: &mut Rng| (0..r * k).map(|_| rng.next_f32() - 0.5).collect::<Vec<f32>>();
            let (xh, xi) = (x(HIDDEN, &mut rng), x(INTER, &mut rng));
            let flops_layer: usize =
                LAYER.iter().filter(|l| l.0 != "qkv").map(|&(_, o, k)| o * k).sum::<usize>() + 2 * INTER * HIDDEN;
            let flops = 2.0 * r as f64 * (LAYERS * flops_layer + VOCAB * HIDDEN) as f64;
            // Per kernel, alternating: best, every time, CPU seconds. q, k and v as one matrix, as the engine packs
            // them.
            let mut runs = vec![(f64::MAX, Vec::new(), 0.0); isas.len()];
            for _ in 0..reps {
                for (&(isa, _), (best, times, cpu_s)) in isas.iter().zip(runs.iter_mut()) {
                    let skip = |name: &str| QKV.contains(&name);
                    // CPU time: the process clock ticks every 10 ms, a step takes ~100-300.
                    let (t, cpu) = (Instant::now(), cpu_seconds());
                    for (plain, gu) in &layers {
                        for (p, &(_, _, k)) in plain.iter().zip(&LAYER).filter(|(_, l)| !skip(l.0)) {
                            std::hint::black_box(p.matmul_with(isa, if k == HIDDEN { &xh } else { &xi }, r));
                        }
                        std::hint::black_box(gu.matmul_with(isa, &xh, r));
                    }
                    std::hint::black_box(head.matmul_with(isa, &xh, r));
                    let s = t.elapsed().as_secs_f64();
                    *cpu_s += cpu_seconds() - cpu;
                    *best = best.min(s);
                    times.push(format!("{:.1}", s * 1e3));
                }
            }
            for (&(isa, pk), (best, times, cpu_s)) in isas.iter().zip(runs) {
                let per_cpu_s = flops * reps as f64 / cpu_s.max(0.01);
                // Per CPU-second against one core's peak: what the kernel gets from the CPU it is given (on a
                // shared machine the wall clock also counts time the other core spent on other work).
                println!(
                    "rows {r:2} step ({isa:?}): best {:.1} ms ({}), {:.1} GFLOP/s, {:.0}% of its peak; {:.1} GFLOP per CPU-second, {:.0}% of one core's",
                    best * 1e3,
                    times.join(" "),
                    flops / best / 1e9,
                    100.0 * flops / best / 1e9 / pk,
                    per_cpu_s / 1e9,
                    100.0 * per_cpu_s / 1e9 / (pk / rayon::current_num_threads() as f64)
                );
            }
            // Each shape hot: the same matrix repeated (the LM head is 272 MB and stays cold).
            let shapes: Vec<(&str, &Packed<bf16>, &[f32], f64)> = LAYER
                .iter()
                .enumerate()
                .map(|(i, &(n, o, k))| (n, &layers[0].0[i], if k == HIDDEN { &xh[..] } else { &xi[..] }, (o * k) as f64))
                .chain([
                    ("gate_up", &layers[0].1, &xh[..], (2 * INTER * HIDDEN) as f64),
                    ("head", &head, &xh[..], (VOCAB * HIDDEN) as f64),
                ])
                .collect();
            // Each kernel per shape, alternating.
            let mut line = String::new();
            for (name, p, xs, macs) in shapes {
                let n = if name == "head" { 3 } else { 40 };
                let mut best = vec![f64::MAX; isas.len()];
                for _ in 0..reps {
                    for (&(isa, _), best) in isas.iter().zip(best.iter_mut()) {
                        let t = Instant::now();
                        for _ in 0..n {
                            std::hint::black_box(p.matmul_with(isa, xs, r));
                        }
                        *best = best.min(t.elapsed().as_secs_f64() / n as f64);
                    }
                }
                let each: Vec<String> = isas
                    .iter()
                    .zip(&best)
                    .map(|(&(_, pk), b)| format!("{:.0}us ({:.0}%)", b * 1e6, 100.0 * 2.0 * r as f64 * macs / b / 1e9 / pk))
                    .collect();
                line += &format!(" {name} {}", each.join(" -> "));
            }
            let names: Vec<String> = isas.iter().map(|(i, _)| format!("{i:?}")).collect();
            println!("rows {r:2} hot, {}:{line}", names.join(" -> "));
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::main();
    #[cfg(not(target_arch = "x86_64"))]
    eprintln!("packed_bench compares the packed kernels with the FMA peak: x86_64 only");
}
