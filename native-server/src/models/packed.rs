//! y = x·Wᵀ on the CPU for f32 activations against weights packed once at load time (f32 or bf16), for any number
//! of activation rows: decode batches, one decode stream and prefill chunks alike.
//!
//! Layout. W (out, k) is cut into panels of 16 output columns, stored k-major: the 16 weights of one k are
//! contiguous, so one 32-byte load (bf16) feeds 16 columns. Panels come in groups of `GROUP` (one parallel
//! task each) and a group is stored k-block by k-block (`KC` values of k, all its panels), so a task reads its
//! weights as one sequential stream. The last panel is padded with zero columns.
//!
//! Kernel. An outer product per k: a few activation scalars broadcast against the 16 widened weights, into
//! 16-wide accumulators (up to 6 rows x 16 columns with AVX2, 16 rows with AVX-512, or fewer rows over more
//! panels): each weight is widened once per k and used by every row, and there are no horizontal sums. A k-block's
//! activations stay in L1. A batch of decode rows is bound by the FMAs (one row is bound by memory), so AVX-512,
//! where the CPU has it, does twice the multiply-adds per instruction.
//!
//! Exactness. Every output is one chain of fused multiply-adds along k, from 0 to k-1, whatever the number of
//! rows, the row block it falls in, the k-blocking (partial sums go through memory exactly) or the vector width
//! (AVX2 and AVX-512 run the same fused chains), so a sequence's logits do not depend on what it is batched with.

use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use half::bf16;
use rayon::prelude::*;

use super::swiglu::silu_mul;

/// Output columns per panel: two AVX2 registers of f32.
pub const NR: usize = 16;
/// Panels per parallel task (64 columns): enough work to amortise the hand-off to the thread pool, few enough
/// tasks that the small projections (k/v, 128 columns) still use both cores.
const GROUP: usize = 4;
/// Values of k per block: a block's activations (up to `ROW_CHUNK` rows) and weights stay in L1/L2.
const KC: usize = 256;/// Activation rows per pass over a task's weights (long prefill chunks): the pass's activations stay in cache.
const ROW_CHUNK: usize = 48;
/// Most activation rows per register tile of any kernel (AVX-512's; AVX2's is `AVX2_ROWS`).
const MR: usize = 16;
/// AVX2's: 6 x 16 columns = 12 accumulators, plus 2 weight registers and a broadcast, out of its 16 registers.
const AVX2_ROWS: usize = 6;

/// A weight element as packed: f32, or bf16 (the top half of an f32, widened exactly).
pub trait Weight: Copy + Send + Sync + Default + 'static {
    const BF16: bool;
    fn widen(self) -> f32;
}

impl Weight for f32 {
    const BF16: bool = false;
    fn widen(self) -> f32 {
        self
    }
}

impl Weight for bf16 {
    const BF16: bool = true;
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

/// Where column `c` (0..16) of a panel sits among its 16 packed values. bf16 panels interleave the two halves
/// (columns 0..8 in the even slots, 8..16 in the odd ones), so that each 32-bit lane holds one of each: a shift
/// widens the first, a mask the second, with no shuffles. f32 panels are in order.
fn slot<W: Weight>(c: usize) -> usize {
    if W::BF16 {
        (c % 8) * 2 + c / 8
    } else {
        c
    }
}

/// A weight matrix (out, k) in panels, ready for `matmul`.
pub struct Packed<W> {
    /// Packed columns.
    out: usize,
    k: usize,
    data: Vec<W>,
    /// Columns of the result, after `epilogue`.
    width: usize,
    epilogue: Epilogue,
}

/// What a task does with its columns on the way out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Epilogue {
    /// Writes them as they are.
    Plain,
    /// SwiGLU: each group holds `HALF` gate columns then the same columns of up; writes silu(gate) * up, so the
    /// gate and up projections are one matmul and their product needs no pass of its own.
    SiluMul,
}

/// Output columns per group of a SwiGLU matrix.
const HALF: usize = GROUP * NR / 2;

impl<W: Weight> Packed<W> {
    /// Packs row-major (out, k) weights.
    pub fn new(w: &[W], out: usize, k: usize) -> Self {
        assert_eq!(w.len(), out * k, "weights are not (out, k)");
        let panels = out.div_ceil(NR);
        let mut data = vec![W::default(); panels * NR * k];
        data.par_chunks_mut(GROUP * NR * k).enumerate().for_each(|(g, dst)| {
            let np = panels_in(g, panels);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                for j in 0..np {
                    let panel = &mut dst[k0 * np * NR + j * kc * NR..][..kc * NR];
                    for c in 0..NR {
                        let o = (g * GROUP + j) * NR + c;
                        if o < out {
                            for (t, &v) in w[o * k + k0..o * k + k0 + kc].iter().enumerate() {
                                panel[t * NR + slot::<W>(c)] = v;
                            }
                        }
                    }
                }
            }
        });
        Self { out, k, data, width: out, epilogue: Epilogue::Plain }
    }

    /// Packs SwiGLU's gate and up weights (each (inter, k), row-major) as one matrix whose product is
    /// silu(x·gateᵀ) * (x·upᵀ), (rows, inter).
    pub fn gate_up(gate: &[W], up: &[W], inter: usize, k: usize) -> Self {
        assert!(gate.len() == inter * k && up.len() == inter * k, "gate and up are not (inter, k)");
        // Blocks of HALF gate rows then the same up rows, the last block padded with zero rows.
        let blocks = inter.div_ceil(HALF);
        let mut w = vec![W::default(); 2 * blocks * HALF * k];
        for o in 0..inter {
            let (b, j) = (o / HALF, o % HALF);
            w[(2 * b * HALF + j) * k..][..k].copy_from_slice(&gate[o * k..(o + 1) * k]);
            w[((2 * b + 1) * HALF + j) * k..][..k].copy_from_slice(&up[o * k..(o + 1) * k]);
        }
        Self { width: inter, epilogue: Epilogue::SiluMul, ..Self::new(&w, 2 * blocks * HALF, k) }
    }

    /// Output row `o` of the weights, widened: an embedding lookup from a tied LM head.
    pub fn row(&self, o: usize) -> Vec<f32> {
        assert_eq!(self.epilogue, Epilogue::Plain, "rows of a SwiGLU matrix are not its weights'");
        let (panel, c) = (o / NR, o % NR);
        let (g, j) = (panel / GROUP, panel % GROUP);
        let np = panels_in(g, self.out.div_ceil(NR));
        let base = g * GROUP * NR * self.k;
        let mut row = Vec::with_capacity(self.k);
        for k0 in (0..self.k).step_by(KC) {
            let kc = KC.min(self.k - k0);
            let panel = &self.data[base + k0 * np * NR + j * kc * NR..][..kc * NR];
            row.extend((0..kc).map(|t| panel[t * NR + slot::<W>(c)].widen()));
        }
        row
    }

    /// x (rows, k) · Wᵀ -> (rows, width), row-major.
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        self.matmul_with(Isa::detect(), x, rows)
    }

    /// The same with the kernels of `isa` (one this CPU runs): for tests and benchmarks comparing them.
    #[doc(hidden)]
    pub fn matmul_with(&self, isa: Isa, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y: Vec<f32> = Vec::with_capacity(rows * self.width);
        let starts = (0..rows).map(|r| y.as_mut_ptr().wrapping_add(r * self.width)).collect();
        self.run(Kernels::of(isa), x, rows, &OutRows(starts));
        // Safety: `run` wrote every element.
        unsafe { y.set_len(rows * self.width) };
        y
    }

    /// The same as one vector per row: a batch's logits go to their sequences without another copy.
    pub fn matmul_rows(&self, x: &[f32], rows: usize) -> Vec<Vec<f32>> {
        let mut ys: Vec<Vec<f32>> = (0..rows).map(|_| Vec::with_capacity(self.width)).collect();
        self.run(Kernels::of(Isa::detect()), x, rows, &OutRows(ys.iter_mut().map(|y| y.as_mut_ptr()).collect()));
        for y in ys.iter_mut() {
            // Safety: `run` wrote every element.
            unsafe { y.set_len(self.width) };
        }
        ys
    }

    /// Writes every element of the `rows` output rows (each `width` long) that `dst` points to. The outputs are not
    /// zeroed first: each task writes all of its columns. A plain matrix's tasks accumulate straight into the
    /// output (the first k-block starts its sums from zero instead of loading them), so there is no scratch to
    /// zero and copy out (at 16 rows the LM head's partial sums were 9.7 MB each way per call); only SwiGLU's tasks
    /// and a group with padding columns sum into a scratch block and write their columns from it.
    fn run(&self, kernels: Kernels<W>, x: &[f32], rows: usize, dst: &OutRows) {
        let (out, k) = (self.out, self.k);
        assert_eq!(x.len(), rows * k, "activations are not (rows, k)");
        assert_eq!(dst.0.len(), rows, "one output row per activation row");
        let panels = out.div_ceil(NR);
        let max_rows = kernels.rows();
        self.data.par_chunks(GROUP * NR * k).enumerate().for_each(|(g, w)| {
            let np = panels_in(g, panels);
            let (ldc, col) = (np * NR, g * GROUP * NR);
            // Straight into the output when it holds every packed column of the group.
            let direct = self.epilogue == Epilogue::Plain && col + ldc <= self.width;
            let mut c = if direct { Vec::new() } else { vec![0f32; ROW_CHUNK.min(rows) * ldc] };
            let scratch = c.as_mut_ptr();
            for r0 in (0..rows).step_by(ROW_CHUNK) {
                let n = ROW_CHUNK.min(rows - r0);
                for k0 in (0..k).step_by(KC) {
                    let kc = KC.min(k - k0);
                    let block = &w[k0 * np * NR..][..np * kc * NR];
                    for (b0, mr) in row_blocks(n, max_rows) {
                        let step = kernels.panels_per_tile(mr);
                        // The first row block prefetches the next k-block; the others would only ask again for
                        // lines already on their way (at 16 rows that cost ~6-12% of the LM head).
                        let ahead = if b0 == 0 { Some(np * kc * NR) } else { None };
                        for p0 in (0..np).step_by(step) {
                            let tile = Tile { mr, np: step.min(np - p0), kc, ldx: k, first: k0 == 0, ahead };
                            let xs = &x[(r0 + b0) * k + k0..(r0 + b0 + mr - 1) * k + k0 + kc];
                            let ws = &block[p0 * kc * NR..(p0 + tile.np) * kc * NR];
                            let mut at = [std::ptr::null_mut(); MR];
                            for (r, at) in at[..mr].iter_mut().enumerate() {
                                *at = match direct {
                                    // Safety: row r0 + b0 + r < rows, columns col + p0 * NR.. + tile.np * NR
                                    // <= col + ldc <= width; this task alone writes them.
                                    true => unsafe { dst.0[r0 + b0 + r].add(col + p0 * NR) },
                                    // Safety: row b0 + r < n of the scratch block, columns p0 * NR.. < ldc.
                                    false => unsafe { scratch.add((b0 + r) * ldc + p0 * NR) },
                                };
                            }
                            // Safety: each of the first mr pointers holds tile.np * NR writable values.
                            unsafe { kernels.run(tile, xs, ws, &at) };
                        }
                    }
                }
                if direct {
                    continue;
                }
                for (i, row) in c[..n * ldc].chunks(ldc).enumerate() {
                    // Safety (both): in bounds (row r0 + i < rows, columns < width); this task alone writes them.
                    match self.epilogue {
                        Epilogue::Plain => {
                            let cols = ldc.min(out - col);
                            unsafe { dst.columns(r0 + i, col, cols) }.copy_from_slice(&row[..cols]);
                        }
                        Epilogue::SiluMul => {
                            // Every group is whole: HALF gate columns, then HALF up columns.
                            let (col, cols) = (g * HALF, HALF.min(self.width - g * HALF));
                            silu_mul(&row[..cols], &row[HALF..HALF + cols], unsafe { dst.columns(r0 + i, col, cols) });
                        }
                    }
                }
            }
        });
    }
}

/// Panels in group `g` of a matrix of `panels` panels.
fn panels_in(g: usize, panels: usize) -> usize {
    GROUP.min(panels - g * GROUP)
}

/// Splits `n` rows into balanced blocks of at most `max` (16 by 6 -> 6, 5, 5; 8 by 6 -> 4, 4): (first row, rows).
fn row_blocks(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let blocks = n.div_ceil(max);
    let (base, extra) = (n / blocks.max(1), n % blocks.max(1));
    (0..blocks).scan(0, move |start, b| {
        let mr = base + usize::from(b < extra);
        let at = *start;
        *start += mr;
        Some((at, mr))
    })
}

/// One register tile: `mr` activation rows (stride `ldx`) x `np` panels over `kc` values of k, accumulated into
/// the sums each row's output pointer holds (`np * NR` values), or started from zero on the first k-block.
#[derive(Clone, Copy)]
struct Tile {
    mr: usize,
    np: usize,
    kc: usize,
    ldx: usize,
    /// The first k-block: the sums start from zero, not from what the outputs hold.
    first: bool,
    /// Elements from these weights to the ones this task reads next (the same panels in the next k-block), if
    /// this tile prefetches them: the kernel does while it computes, as a decode step computes too long per byte
    /// for the hardware prefetcher alone to keep the memory busy.
    ahead: Option<usize>,
}

/// The start of each output row, so that tasks can write disjoint columns of them.
struct OutRows(Vec<*mut f32>);
unsafe impl Send for OutRows {}
unsafe impl Sync for OutRows {}

impl OutRows {
    /// Columns `col..col + n` of output row `r`.
    /// Safety: they are in bounds and no other thread touches them while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn columns(&self, r: usize, col: usize, n: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0[r].add(col), n)
    }
}

/// The instruction sets the kernels are written for, best first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[doc(hidden)]
pub enum Isa {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    /// The best this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if crate::models::simd::avx2_fma() {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    /// Whether this CPU runs it. AVX2 and AVX-512 give the same sums, bit for bit; the portable kernel rounds
    /// where they fuse.
    pub fn runs_here(self) -> bool {
        match self {
            Isa::Avx512 => Isa::detect() == Isa::Avx512,
            Isa::Avx2 => Isa::detect() != Isa::Portable,
            Isa::Portable => true,
        }
    }
}

/// The kernels of one instruction set.
struct Kernels<W> {
    isa: Isa,
    _w: std::marker::PhantomData<W>,
}

impl<W: Weight> Kernels<W> {
    fn of(isa: Isa) -> Self {
        assert!(isa.runs_here(), "{isa:?} does not run on this CPU");
        Self { isa, _w: std::marker::PhantomData }
    }

    /// Most rows per tile: as many accumulators as the registers hold with the weights and a broadcast.
    fn rows(&self) -> usize {
        match self.isa {
            Isa::Avx512 => MR,
            Isa::Avx2 | Isa::Portable => AVX2_ROWS,
        }
    }

    /// Panels a tile of `mr` rows covers at once: enough independent accumulators (8 or more) to hide the FMA
    /// latency where the rows alone are too few.
    fn panels_per_tile(&self, mr: usize) -> usize {
        match (self.isa, mr) {
            (Isa::Avx512, 1..=5) => 4,
            (Isa::Avx512, 6..=11) => 2,
            (Isa::Avx512, _) => 1,
            (_, 1) => 4,
            (_, 2) => 3,
            (_, 3) => 2,
            _ => 1,
        }
    }

    /// Safety: the first `t.mr` pointers of `c` each hold `t.np * NR` values that nothing else touches meanwhile.
    unsafe fn run(&self, t: Tile, x: &[f32], w: &[W], c: &[*mut f32; MR]) {
        assert!(x.len() >= (t.mr - 1) * t.ldx + t.kc && w.len() >= t.np * t.kc * NR && t.mr <= self.rows());
        assert!(t.np <= self.panels_per_tile(t.mr));
        // Safety (both): the features were detected (or forced to one that was); the slices hold the tile.
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => avx512::tile(t, x, w, c),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2::tile(t, x, w, c),
            _ => portable_tile(t, x, w, c),
        }
    }
}

/// The same chains of multiply-adds in plain Rust (rounded twice where AVX2 fuses them; only one path runs on a
/// given CPU, so rows still do not depend on the batch).
/// Safety: as `Kernels::run`.
unsafe fn portable_tile<W: Weight>(t: Tile, x: &[f32], w: &[W], c: &[*mut f32; MR]) {
    for r in 0..t.mr {
        for p in 0..t.np {
            let acc = std::slice::from_raw_parts_mut(c[r].add(p * NR), NR);
            if t.first {
                acc.fill(0.0);
            }
            let panel = &w[p * t.kc * NR..][..t.kc * NR];
            for kk in 0..t.kc {
                let xv = x[r * t.ldx + kk];
                for (col, a) in acc.iter_mut().enumerate() {
                    *a += panel[kk * NR + slot::<W>(col)].widen() * xv;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Tile, Weight, MR as MAX_ROWS, NR};
    use std::arch::x86_64::*;

    /// Dispatches to a tile of fixed size (at most 6 rows), so its accumulators live in registers.
    pub unsafe fn tile<W: Weight>(t: Tile, x: &[f32], w: &[W], c: &[*mut f32; MAX_ROWS]) {
        let (x, w) = (x.as_ptr(), w.as_ptr());
        match (t.mr, t.np) {
            (1, 1) => fixed::<W, 1, 1>(t, x, w, c),
            (1, 2) => fixed::<W, 1, 2>(t, x, w, c),
            (1, 3) => fixed::<W, 1, 3>(t, x, w, c),
            (1, _) => fixed::<W, 1, 4>(t, x, w, c),
            (2, 1) => fixed::<W, 2, 1>(t, x, w, c),
            (2, 2) => fixed::<W, 2, 2>(t, x, w, c),
            (2, _) => fixed::<W, 2, 3>(t, x, w, c),
            (3, 1) => fixed::<W, 3, 1>(t, x, w, c),
            (3, _) => fixed::<W, 3, 2>(t, x, w, c),
            (4, _) => fixed::<W, 4, 1>(t, x, w, c),
            (5, _) => fixed::<W, 5, 1>(t, x, w, c),
            _ => fixed::<W, 6, 1>(t, x, w, c),
        }
    }

    /// 16 weights of one k, widened: columns 0..8 and 8..16.
    #[inline(always)]
    unsafe fn load<W: Weight>(p: *const W) -> [__m256; 2] {
        if W::BF16 {
            // bf16 -> f32 puts the 16 bits on top: shift up the low half of each lane, mask off the high half's
            // neighbour (see `slot` for the order).
            let v = _mm256_loadu_si256(p as *const __m256i);
            let high = _mm256_and_si256(v, _mm256_set1_epi32(0xffff_0000u32 as i32));
            [_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)), _mm256_castsi256_ps(high)]
        } else {
            let p = p as *const f32;
            [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
        }
    }

    // acc[r][p] pairs activation row r with panel p; index loops say that more plainly than iterators.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fixed<W: Weight, const MR: usize, const NP: usize>(t: Tile, x: *const f32, w: *const W, c: &[*mut f32; MAX_ROWS]) {
        let mut acc = [[[_mm256_setzero_ps(); 2]; NP]; MR];
        if !t.first {
            for r in 0..MR {
                for p in 0..NP {
                    for h in 0..2 {
                        acc[r][p][h] = _mm256_loadu_ps(c[r].add(p * NR + h * 8));
                    }
                }
            }
        }
        for kk in 0..t.kc {
            for p in 0..NP {
                let at = w.add(p * t.kc * NR + kk * NR);
                if let Some(ahead) = t.ahead.filter(|_| kk % (64 / (NR * std::mem::size_of::<W>())).max(1) == 0) {
                    // One prefetch per cache line. Past the end of the weights (last block): harmless.
                    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(ahead) as *const i8);
                }
                let wv = load(at);
                for r in 0..MR {
                    let xv = _mm256_broadcast_ss(&*x.add(r * t.ldx + kk));
                    for h in 0..2 {
                        acc[r][p][h] = _mm256_fmadd_ps(wv[h], xv, acc[r][p][h]);
                    }
                }
            }
        }
        for r in 0..MR {
            for p in 0..NP {
                for h in 0..2 {
                    _mm256_storeu_ps(c[r].add(p * NR + h * 8), acc[r][p][h]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{slot, Tile, Weight, MR as MAX_ROWS, NR};
    use std::arch::x86_64::*;

    /// Dispatches to a tile of fixed size (the shapes `Kernels::panels_per_tile` allows), so its accumulators live
    /// in registers: at most 16 of the 32, with the weights and a broadcast.
    pub unsafe fn tile<W: Weight>(t: Tile, x: &[f32], w: &[W], c: &[*mut f32; MAX_ROWS]) {
        let (x, w) = (x.as_ptr(), w.as_ptr());
        macro_rules! panels {
            ($mr:literal: $($np:literal)+) => {
                match t.np {
                    $($np => fixed::<W, $mr, $np>(t, x, w, c),)+
                    np => unreachable!("{np} panels of {} rows", $mr),
                }
            };
        }
        match t.mr {
            1 => panels!(1: 1 2 3 4),
            2 => panels!(2: 1 2 3 4),
            3 => panels!(3: 1 2 3 4),
            4 => panels!(4: 1 2 3 4),
            5 => panels!(5: 1 2 3 4),
            6 => panels!(6: 1 2),
            7 => panels!(7: 1 2),
            8 => panels!(8: 1 2),
            9 => panels!(9: 1 2),
            10 => panels!(10: 1 2),
            11 => panels!(11: 1 2),
            12 => fixed::<W, 12, 1>(t, x, w, c),
            13 => fixed::<W, 13, 1>(t, x, w, c),
            14 => fixed::<W, 14, 1>(t, x, w, c),
            15 => fixed::<W, 15, 1>(t, x, w, c),
            16 => fixed::<W, 16, 1>(t, x, w, c),
            mr => unreachable!("{mr} rows"),
        }
    }

    /// The 16 weights of one k, widened. A bf16 panel's values come out in their packed order (`slot`), which
    /// `in_columns` and `in_slots` translate to and from the output's.
    #[inline(always)]
    unsafe fn load<W: Weight>(p: *const W) -> __m512 {
        if W::BF16 {
            // bf16 -> f32 puts the 16 bits on top.
            let v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p as *const __m256i));
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v))
        } else {
            _mm512_loadu_ps(p as *const f32)
        }
    }

    /// Lane c of the result is the sum of column c: from a bf16 tile's accumulator (in slot order).
    #[inline(always)]
    unsafe fn in_columns<W: Weight>(acc: __m512) -> __m512 {
        if !W::BF16 {
            return acc;
        }
        let mut idx = [0i32; NR];
        for (c, i) in idx.iter_mut().enumerate() {
            *i = slot::<W>(c) as i32;
        }
        _mm512_permutexvar_ps(_mm512_loadu_si512(idx.as_ptr() as *const _), acc)
    }

    /// The inverse: output columns into a bf16 tile's slot order.
    #[inline(always)]
    unsafe fn in_slots<W: Weight>(sums: __m512) -> __m512 {
        if !W::BF16 {
            return sums;
        }
        let mut idx = [0i32; NR];
        for c in 0..NR {
            idx[slot::<W>(c)] = c as i32;
        }
        _mm512_permutexvar_ps(_mm512_loadu_si512(idx.as_ptr() as *const _), sums)
    }

    // acc[r][p] pairs activation row r with panel p; index loops say that more plainly than iterators.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    unsafe fn fixed<W: Weight, const MR: usize, const NP: usize>(t: Tile, x: *const f32, w: *const W, c: &[*mut f32; MAX_ROWS]) {
        let mut acc = [[_mm512_setzero_ps(); NP]; MR];
        if !t.first {
            for r in 0..MR {
                for p in 0..NP {
                    acc[r][p] = in_slots::<W>(_mm512_loadu_ps(c[r].add(p * NR)));
                }
            }
        }
        for kk in 0..t.kc {
            let mut wv = [_mm512_setzero_ps(); NP];
            for p in 0..NP {
                let at = w.add(p * t.kc * NR + kk * NR);
                if let Some(ahead) = t.ahead.filter(|_| kk % (64 / (NR * std::mem::size_of::<W>())).max(1) == 0) {
                    // One prefetch per cache line. Past the end of the weights (last block): harmless.
                    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(ahead) as *const i8);
                }
                wv[p] = load(at);
            }
            for r in 0..MR {
                let xv = _mm512_set1_ps(*x.add(r * t.ldx + kk));
                for p in 0..NP {
                    acc[r][p] = _mm512_fmadd_ps(wv[p], xv, acc[r][p]);
                }
            }
        }
        for r in 0..MR {
            for p in 0..NP {
                _mm512_storeu_ps(c[r].add(p * NR), in_columns::<W>(acc[r][p]));
            }
        }
    }
}

/// Packs a candle weight (out, k), f32 or bf16, on the CPU.
pub fn pack(w: &Tensor) -> candle_core::Result<PackedWeight> {
    let (out, k) = w.dims2()?;
    let w = w.contiguous()?;
    Ok(match w.dtype() {
        DType::F32 => PackedWeight::F32(Packed::new(&w.flatten_all()?.to_vec1::<f32>()?, out, k)),
        DType::BF16 => PackedWeight::BF16(Packed::new(&w.flatten_all()?.to_vec1::<bf16>()?, out, k)),
        dt => bail!("packed weights must be f32 or bf16, not {dt:?}"),
    })
}

/// Packs SwiGLU's gate and up weights (each (inter, k), the same dtype, f32 or bf16) as one matrix whose product
/// is silu(gate) * up (`Packed::gate_up`).
pub fn pack_gate_up(gate: &Tensor, up: &Tensor) -> candle_core::Result<PackedWeight> {
    let (inter, k) = gate.dims2()?;
    if up.dims2()? != (inter, k) || up.dtype() != gate.dtype() {
        bail!("gate {:?} {:?} and up {:?} {:?} differ", gate.shape(), gate.dtype(), up.shape(), up.dtype());
    }
    let flat = |t: &Tensor| t.contiguous()?.flatten_all();
    Ok(match gate.dtype() {
        DType::F32 => PackedWeight::F32(Packed::gate_up(&flat(gate)?.to_vec1()?, &flat(up)?.to_vec1()?, inter, k)),
        DType::BF16 => PackedWeight::BF16(Packed::gate_up(&flat(gate)?.to_vec1()?, &flat(up)?.to_vec1()?, inter, k)),
        dt => bail!("packed weights must be f32 or bf16, not {dt:?}"),
    })
}

/// A packed weight of either element type.
pub enum PackedWeight {
    F32(Packed<f32>),
    BF16(Packed<bf16>),
}

/// `$body` with `$p` bound to the packed weight, whichever its element type.
macro_rules! each_dtype {
    ($w:expr, $p:ident => $body:expr) => {
        match $w {
            PackedWeight::F32($p) => $body,
            PackedWeight::BF16($p) => $body,
        }
    };
}

impl PackedWeight {
    /// Columns of the product.
    pub fn width(&self) -> usize {
        each_dtype!(self, p => p.width)
    }

    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        each_dtype!(self, p => p.matmul(x, rows))
    }

    pub fn matmul_rows(&self, x: &[f32], rows: usize) -> Vec<Vec<f32>> {
        each_dtype!(self, p => p.matmul_rows(x, rows))
    }

    pub fn row(&self, o: usize) -> Vec<f32> {
        each_dtype!(self, p => p.row(o))
    }
}

/// x (rows, k) -> x·Wᵀ (rows, out) as a candle op on f32 activations, reading them in place.
impl CustomOp1 for PackedWeight {
    fn name(&self) -> &'static str {
        "packed-matmul"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, k) = xl.shape().dims2()?;
        let Some((x0, x1)) = xl.contiguous_offsets() else { bail!("packed-matmul needs contiguous activations") };
        let wk = each_dtype!(self, p => p.k);
        if k != wk {
            bail!("packed-matmul: activations are {:?} but weights have k = {wk}", xl.shape());
        }
        let y = self.matmul(&xs.as_slice::<f32>()?[x0..x1], rows);
        Ok((CpuStorage::F32(y), Shape::from((rows, self.width()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::random::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() - 0.5).collect()
    }

    /// The fused kernels this CPU runs besides the best (which `matmul` uses).
    fn other_fused_kernels() -> impl Iterator<Item = Isa> {
        [Isa::Avx512, Isa::Avx2].into_iter().filter(|&i| i.runs_here() && i != Isa::detect())
    }

    /// Against an f64 reference of the same (widened) weights; each row alone bit-identical to it in the batch, and
    /// every fused kernel bit-identical to the best.
    fn check<W: Weight>(of: fn(f32) -> W) {
        let mut rng = Rng::new(3);
        // Tails everywhere: k not a multiple of 8 or KC, out not a multiple of NR or GROUP * NR, every row count
        // 1..33 (each row block size, each panel step), and rows past ROW_CHUNK.
        let shapes = (1..=33).map(|r| (r, 37 + 11 * r, 5 + 9 * r)).chain([(16, 896, 131), (70, 24, 67), (3, 600, 200), (50, 257, 64)]);
        for (rows, k, out) in shapes {
            let x = random(rows * k, &mut rng);
            let w: Vec<W> = random(out * k, &mut rng).into_iter().map(of).collect();
            let p = Packed::new(&w, out, k);
            let y = p.matmul(&x, rows);
            let by_row = p.matmul_rows(&x, rows);
            for isa in other_fused_kernels() {
                assert_eq!(p.matmul_with(isa, &x, rows), y, "({rows},{k},{out}) {isa:?} against {:?}", Isa::detect());
            }
            for r in 0..rows {
                for o in 0..out {
                    let exact: f64 = (0..k).map(|t| x[r * k + t] as f64 * w[o * k + t].widen() as f64).sum();
                    assert!((y[r * out + o] as f64 - exact).abs() < 2e-4, "({rows},{k},{out}) [{r},{o}]");
                }
                let alone = p.matmul(&x[r * k..(r + 1) * k], 1);
                assert_eq!(by_row[r], y[r * out..(r + 1) * out], "({rows},{k},{out}) row {r} of matmul_rows");
                assert_eq!(alone, y[r * out..(r + 1) * out], "({rows},{k},{out}) row {r} alone must be bit-identical");
            }
            for o in [0, out / 2, out - 1] {
                assert_eq!(p.row(o), w[o * k..(o + 1) * k].iter().map(|v| v.widen()).collect::<Vec<_>>());
            }
        }
    }

    /// SwiGLU: against an f64 reference, bit-identical to the two plain products then `silu_mul`, each row alone
    /// bit-identical to it in the batch, every fused kernel bit-identical to the best.
    fn check_gate_up<W: Weight>(of: fn(f32) -> W) {
        let mut rng = Rng::new(7);
        // inter below, at and past HALF and not a multiple of it; odd k; row counts across the row blocks.
        let shapes = (1..=33).map(|r| (r, 29 + 7 * r, 1 + 5 * r)).chain([(16, 896, 96), (50, 300, 70)]);
        for (rows, k, inter) in shapes {
            let x = random(rows * k, &mut rng);
            let gate: Vec<W> = random(inter * k, &mut rng).into_iter().map(of).collect();
            let up: Vec<W> = random(inter * k, &mut rng).into_iter().map(of).collect();
            let p = Packed::gate_up(&gate, &up, inter, k);
            let y = p.matmul(&x, rows);
            for isa in other_fused_kernels() {
                assert_eq!(p.matmul_with(isa, &x, rows), y, "({rows},{k},{inter}) {isa:?} against {:?}", Isa::detect());
            }
            let (g, u) = (Packed::new(&gate, inter, k).matmul(&x, rows), Packed::new(&up, inter, k).matmul(&x, rows));
            let mut want = vec![0f32; rows * inter];
            silu_mul(&g, &u, &mut want);
            assert_eq!(y, want, "({rows},{k},{inter}) against the plain products");
            for r in 0..rows {
                for o in 0..inter {
                    let dot = |w: &[W]| (0..k).map(|t| x[r * k + t] as f64 * w[o * k + t].widen() as f64).sum::<f64>();
                    let (g, u) = (dot(&gate), dot(&up));
                    let exact = g / (1.0 + (-g).exp()) * u;
                    assert!((y[r * inter + o] as f64 - exact).abs() < 2e-4, "({rows},{k},{inter}) [{r},{o}]");
                }
                assert_eq!(p.matmul(&x[r * k..(r + 1) * k], 1), y[r * inter..(r + 1) * inter], "({rows},{k},{inter}) row {r}");
            }
        }
    }

    #[test]
    fn gate_up_f32_matches_the_plain_products_and_rows_do_not_depend_on_the_batch() {
        check_gate_up::<f32>(|v| v);
    }

    #[test]
    fn gate_up_bf16_matches_the_plain_products_and_rows_do_not_depend_on_the_batch() {
        check_gate_up::<bf16>(bf16::from_f32);
    }

    #[test]
    fn f32_matches_a_reference_and_rows_do_not_depend_on_the_batch() {
        check::<f32>(|v| v);
    }

    #[test]
    fn bf16_matches_a_reference_and_rows_do_not_depend_on_the_batch() {
        check::<bf16>(bf16::from_f32);
    }

    /// Matrices stacked into one (q, k and v) compute what each computes alone, bit for bit, however their
    /// boundaries fall across panels and groups.
    #[test]
    fn stacked_matrices_compute_what_each_computes_alone() {
        let mut rng = Rng::new(11);
        let (k, outs) = (300, [72, 24, 40]);
        let ws: Vec<Vec<bf16>> = outs.iter().map(|&o| random(o * k, &mut rng).into_iter().map(bf16::from_f32).collect()).collect();
        let total: usize = outs.iter().sum();
        let stacked = Packed::new(&ws.concat(), total, k);
        for rows in [1, 2, 16] {
            let x = random(rows * k, &mut rng);
            let all = stacked.matmul(&x, rows);
            let mut at = 0;
            for (w, &o) in ws.iter().zip(&outs) {
                let y = Packed::new(w, o, k).matmul(&x, rows);
                for r in 0..rows {
                    assert_eq!(y[r * o..(r + 1) * o], all[r * total + at..][..o], "{rows} rows: row {r}, columns {at}..");
                }
                at += o;
            }
        }
    }

    #[test]
    fn bf16_computes_what_f32_computes_on_the_rounded_weights() {
        let mut rng = Rng::new(5);
        let (rows, k, out) = (7, 603, 50);
        let x = random(rows * k, &mut rng);
        let w: Vec<bf16> = random(out * k, &mut rng).into_iter().map(bf16::from_f32).collect();
        let wide: Vec<f32> = w.iter().map(|v| v.to_f32()).collect();
        assert_eq!(Packed::new(&w, out, k).matmul(&x, rows), Packed::new(&wide, out, k).matmul(&x, rows));
    }

    #[test]
    fn packs_candle_tensors() {
        let dev = candle_core::Device::Cpu;
        let x = Tensor::new(&[[1f32, 2., 3.], [4., 5., 6.]], &dev).unwrap();
        let w = Tensor::new(&[[1f32, 0., 0.], [0., 1., 1.], [1., 1., 1.], [2., 0., -1.]], &dev).unwrap();
        let want: Vec<f32> = x.matmul(&w.t().unwrap()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(pack(&w).unwrap().matmul(&xs, 2), want);
        // These weights are exact in bf16.
        let wb = w.to_dtype(DType::BF16).unwrap();
        assert_eq!(pack(&wb).unwrap().matmul(&xs, 2), want);
        assert_eq!(pack(&wb).unwrap().row(3), vec![2., 0., -1.]);
    }
}
