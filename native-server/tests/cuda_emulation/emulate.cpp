// Runs the decode kernels of src/models/cuda_decode.cu on the CPU, one std::thread per CUDA thread (barriers for
// __syncthreads and for a warp's shuffles), against plain reference loops: their indexing, rotation, online
// softmax and warp merge are checked where there is no GPU. CI builds and runs it (scripts/cuda-check.sh); on a
// GPU the same kernels are checked against candle's ops (tests/cuda_decode.rs).
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

struct Dim3 { unsigned x = 0, y = 0, z = 0; };
static thread_local Dim3 blockIdx, threadIdx;
static Dim3 blockDim;
static std::barrier<>* block_barrier;
static std::barrier<>* warp_barriers[32];
static float shuffle_slots[1024];

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
#define __expf emulated_expf  // glibc declares its own __expf
static inline float emulated_expf(float x) { return std::exp(x); }
static inline void __syncthreads() { block_barrier->arrive_and_wait(); }
static inline float __shfl_xor_sync(unsigned, float v, int offset) {
    const unsigned t = threadIdx.x, warp = t / 32;
    shuffle_slots[t] = v;
    warp_barriers[warp]->arrive_and_wait();
    const float other = shuffle_slots[warp * 32 + ((t % 32) ^ offset)];
    warp_barriers[warp]->arrive_and_wait();
    return other;
}

static inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }

#include "../../src/models/cuda_decode.cu"

// Launches `kernel` over a grid, one block at a time, each with `threads` std::threads.
static void launch(unsigned gx, unsigned gy, unsigned threads, const std::function<void()>& kernel) {
    blockDim = {threads, 1, 1};
    for (unsigned x = 0; x < gx; x++)
        for (unsigned y = 0; y < gy; y++) {
            std::barrier<> block(threads);
            std::vector<std::barrier<>*> warps;
            for (unsigned w = 0; w < (threads + 31) / 32; w++) warp_barriers[w] = new std::barrier<>(std::min(32u, threads - 32 * w));
            block_barrier = &block;
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; t++)
                pool.emplace_back([&, t] { blockIdx = {x, y, 0}; threadIdx = {t, 0, 0}; kernel(); });
            for (auto& th : pool) th.join();
            for (unsigned w = 0; w < (threads + 31) / 32; w++) delete warp_barriers[w];
        }
}

using bf16 = unsigned short;
static float widen(bf16 h) { return __uint_as_float(unsigned(h) << 16); }
static bf16 round_bf16(float f) { return f32_to_bf16(f); }
static int failures = 0;
static void expect_close(const char* what, float got, float want, float tol) {
    if (std::fabs(got - want) > tol * (1.f + std::fabs(want))) {
        if (failures++ < 10) std::printf("FAIL %s: got %g, want %g\n", what, got, want);
    }
}

int main() {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    auto random_bf16 = [&](size_t n) { std::vector<bf16> v(n); for (auto& x : v) x = round_bf16(u(rng)); return v; };

    // f32 -> bf16 rounding: nearest even, NaN kept.
    expect_close("round 1.00390625 (tie, to even)", widen(round_bf16(1.00390625f)), 1.0f, 0);
    expect_close("round 1.01171875 (tie, to even)", widen(round_bf16(1.01171875f)), 1.015625f, 0);
    if (!std::isnan(widen(round_bf16(NAN)))) { failures++; std::printf("FAIL NaN not kept\n"); }

    for (int D : {64, 128}) {
        const int B = 3, H = 4, KV = 2, positions = 40;
        const int width = (H + 2 * KV) * D, half = D / 2;
        std::vector<long long> pos = {0, 17, 39}, cap = {8, 32, 48}, first = {0, 0, 30};  // the last: a window of 10
        auto qkv = random_bf16(size_t(B) * width), bias = random_bf16(width);
        auto cos = random_bf16(size_t(positions) * half), sin = random_bf16(size_t(positions) * half);
        std::vector<std::vector<bf16>> K(B), V(B);
        std::vector<long long> kv(3 * B), meta(2 * B);
        for (int b = 0; b < B; b++) {
            K[b] = random_bf16(size_t(KV) * cap[b] * D);
            V[b] = random_bf16(size_t(KV) * cap[b] * D);
            kv[3 * b] = (long long)K[b].data();
            kv[3 * b + 1] = (long long)V[b].data();
            kv[3 * b + 2] = cap[b];
            meta[2 * b] = pos[b];
            meta[2 * b + 1] = first[b];
        }
        std::vector<bf16> q(size_t(B) * H * D);
        launch(B, H + 2 * KV, half, [&] { fastllm_rope_kv_write(qkv.data(), bias.data(), cos.data(), sin.data(), kv.data(), meta.data(), q.data(), H, KV, D); });

        // Reference rotation and writes.
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H + 2 * KV; h++)
                for (int i = 0; i < half; i++) {
                    auto at = size_t(b) * width + size_t(h) * D;
                    float x1 = widen(round_bf16(widen(qkv[at + i]) + widen(bias[h * D + i])));
                    float x2 = widen(round_bf16(widen(qkv[at + i + half]) + widen(bias[h * D + i + half])));
                    float c = widen(cos[pos[b] * half + i]), s = widen(sin[pos[b] * half + i]);
                    float y1 = x1 * c - x2 * s, y2 = x2 * c + x1 * s;
                    if (h < H) {
                        expect_close("q rotated", widen(q[(size_t(b) * H + h) * D + i]), y1, 1e-2f);
                        expect_close("q rotated", widen(q[(size_t(b) * H + h) * D + i + half]), y2, 1e-2f);
                    } else if (h < H + KV) {
                        auto to = (size_t(h - H) * cap[b] + pos[b]) * D;
                        expect_close("k rotated", widen(K[b][to + i]), y1, 1e-2f);
                        expect_close("k rotated", widen(K[b][to + i + half]), y2, 1e-2f);
                    } else {
                        auto to = (size_t(h - H - KV) * cap[b] + pos[b]) * D;
                        expect_close("v copied", widen(V[b][to + i]), x1, 0);
                        expect_close("v copied", widen(V[b][to + i + half]), x2, 0);
                    }
                }

        // Attention over positions first..=pos, against a two-pass softmax.
        std::vector<bf16> out(size_t(B) * H * D);
        const float scale = 1.f / std::sqrt(float(D));
        launch(B, H, 128, [&] {
            if (D == 64) fastllm_decode_attention_64(q.data(), kv.data(), meta.data(), out.data(), H, KV, scale);
            else fastllm_decode_attention_128(q.data(), kv.data(), meta.data(), out.data(), H, KV, scale);
        });
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const int kh = h / (H / KV);
                std::vector<double> score;
                double top = -INFINITY;
                for (long long j = first[b]; j <= pos[b]; j++) {
                    double s = 0;
                    for (int d = 0; d < D; d++) s += widen(q[(size_t(b) * H + h) * D + d]) * scale * widen(K[b][(size_t(kh) * cap[b] + j) * D + d]);
                    score.push_back(s);
                    top = std::max(top, s);
                }
                double total = 0;
                for (auto& s : score) total += (s = std::exp(s - top));
                for (int d = 0; d < D; d++) {
                    double o = 0;
                    for (size_t n = 0; n < score.size(); n++) o += score[n] / total * widen(V[b][(size_t(kh) * cap[b] + first[b] + n) * D + d]);
                    expect_close("attention", widen(out[(size_t(b) * H + h) * D + d]), float(o), 1e-2f);
                }
            }
    }

    // silu(gate) * up on a fused (rows, 2 width) projection.
    const long long rows = 3, width = 300;
    auto gu = random_bf16(size_t(rows * 2 * width));
    std::vector<bf16> act(size_t(rows * width));
    const unsigned threads = 128, blocks = unsigned((rows * width + threads - 1) / threads);
    launch(blocks, 1, threads, [&] { fastllm_silu_mul(gu.data(), act.data(), rows, width); });
    for (long long r = 0; r < rows; r++)
        for (long long c = 0; c < width; c++) {
            float g = widen(gu[r * 2 * width + c]), up = widen(gu[r * 2 * width + width + c]);
            expect_close("silu_mul", widen(act[r * width + c]), g / (1 + std::exp(-g)) * up, 1e-2f);
        }

    // Residual add then RMS norm, on rows wider than the block.
    const int hidden = 600, threads_rms = 256;
    auto x = random_bf16(size_t(rows * hidden)), y = random_bf16(size_t(rows * hidden)), weight = random_bf16(hidden);
    std::vector<bf16> both(size_t(2 * rows * hidden));
    launch(unsigned(rows), 1, threads_rms, [&] { fastllm_add_rms_norm(x.data(), y.data(), weight.data(), both.data(), rows, hidden, 1e-6f); });
    for (long long r = 0; r < rows; r++) {
        double squares = 0;
        for (int c = 0; c < hidden; c++) {
            float s = widen(round_bf16(widen(x[r * hidden + c]) + widen(y[r * hidden + c])));
            expect_close("residual sum", widen(both[r * hidden + c]), s, 0);
            squares += double(s) * s;
        }
        const double scale = 1 / std::sqrt(squares / hidden + 1e-6);
        for (int c = 0; c < hidden; c++) {
            float s = widen(both[r * hidden + c]);
            expect_close("rms norm", widen(both[(rows + r) * hidden + c]), float(s * scale * widen(weight[c])), 1e-2f);
        }
    }

    std::printf("cuda kernel emulation: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
