// The batched decode step's attention on CUDA, in bf16 (models/cuda_decode.rs launches these).
//
// One decode step of B sequences, each with its own KV cache buffers (1, kv_heads, capacity, head_dim) in bf16,
// addressed through a table the host uploads once per step: per layer, B triples (K address, V address, buffers'
// capacity); after the layers, B pairs (position written this step, first attended position). Two kernels per layer
// replace the per-sequence candle ops (narrow, copy, matmul, softmax, matmul for each sequence): the kernel count
// of a step no longer grows with B. Two more fuse element-wise ops around the matrix products (residual add with
// RMS norm, silu with the up projection's product), since each launch costs more than the work it does.
//
// bf16 travels as its bits (unsigned short) and is widened to f32 here, so no CUDA header is needed; everything
// is computed in f32 and rounded to bf16 once, on store.

__device__ __forceinline__ float bf16_to_f32(unsigned short h) { return __uint_as_float(((unsigned int)h) << 16); }

// Round to nearest even, as __float2bfloat16 does; NaN stays NaN.
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

// qkv: (B, (heads + 2 kv_heads) * head_dim), the fused projection's output without its bias; bias: the same row
// width, or null. cos, sin: (positions, head_dim / 2). Grid (B, heads + 2 kv_heads), head_dim / 2 threads, each
// thread one (i, i + head_dim/2) pair of a head (the non-interleaved rotation candle_nn::rotary_emb::rope applies).
// Query heads are rotated into q_out (B, heads, head_dim); key heads rotated and value heads as they are go into
// the cache buffers at this step's position.
extern "C" __global__ void fastllm_rope_kv_write(const unsigned short* __restrict__ qkv,
                                                 const unsigned short* __restrict__ bias,
                                                 const unsigned short* __restrict__ cos,
                                                 const unsigned short* __restrict__ sin,
                                                 const long long* __restrict__ kv,
                                                 const long long* __restrict__ meta,
                                                 unsigned short* __restrict__ q_out, int heads, int kv_heads,
                                                 int head_dim) {
    const int b = blockIdx.x, head = blockIdx.y, i = threadIdx.x, half = head_dim / 2;
    const long long width = (long long)(heads + 2 * kv_heads) * head_dim;
    const long long at = b * width + (long long)head * head_dim;
    // The bias is added and rounded to bf16 first, as a bf16 linear layer with bias would.
    float x1 = bf16_to_f32(qkv[at + i]), x2 = bf16_to_f32(qkv[at + i + half]);
    if (bias) {
        x1 = bf16_to_f32(f32_to_bf16(x1 + bf16_to_f32(bias[head * head_dim + i])));
        x2 = bf16_to_f32(f32_to_bf16(x2 + bf16_to_f32(bias[head * head_dim + i + half])));
    }
    const long long pos = meta[2 * b], capacity = kv[3 * b + 2];
    if (head >= heads + kv_heads) {
        unsigned short* v = (unsigned short*)kv[3 * b + 1];
        const long long to = ((long long)(head - heads - kv_heads) * capacity + pos) * head_dim;
        v[to + i] = f32_to_bf16(x1);
        v[to + i + half] = f32_to_bf16(x2);
        return;
    }
    const float c = bf16_to_f32(cos[pos * half + i]), s = bf16_to_f32(sin[pos * half + i]);
    const unsigned short y1 = f32_to_bf16(x1 * c - x2 * s), y2 = f32_to_bf16(x2 * c + x1 * s);
    if (head < heads) {
        const long long to = ((long long)b * heads + head) * head_dim;
        q_out[to + i] = y1;
        q_out[to + i + half] = y2;
    } else {
        unsigned short* k = (unsigned short*)kv[3 * b];
        const long long to = ((long long)(head - heads) * capacity + pos) * head_dim;
        k[to + i] = y1;
        k[to + i + half] = y2;
    }
}

// Attention of one query head of one sequence over its cached positions first..=pos. Grid (B, heads), 4 warps:
// warp w takes positions first + w, first + w + 4, ...; each lane holds head_dim / 32 dimensions of q and of the
// output. A warp keeps a running max, sum and weighted V (online softmax), so no score is stored; the four are
// merged at the end. The query heads sharing a KV head read the same K/V rows (grouped-query attention).
template <int D>
__device__ void decode_attention(const unsigned short* __restrict__ q, const long long* __restrict__ kv,
                                 const long long* __restrict__ meta, unsigned short* __restrict__ out, int heads,
                                 int kv_heads, float scale) {
    constexpr int WARPS = 4, PER = D / 32;
    const int b = blockIdx.x, head = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const long long pos = meta[2 * b], first = meta[2 * b + 1], capacity = kv[3 * b + 2];
    const long long base = (long long)(head / (heads / kv_heads)) * capacity * D;
    const unsigned short* k = (const unsigned short*)kv[3 * b] + base;
    const unsigned short* v = (const unsigned short*)kv[3 * b + 1] + base;

    float qv[PER], acc[PER];
    for (int p = 0; p < PER; p++) {
        qv[p] = bf16_to_f32(q[((long long)b * heads + head) * D + lane + 32 * p]) * scale;
        acc[p] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (long long j = first + warp; j <= pos; j += WARPS) {
        float s = 0.f;
        for (int p = 0; p < PER; p++) s += qv[p] * bf16_to_f32(k[j * D + lane + 32 * p]);
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        const float next = fmaxf(m, s), rescale = __expf(m - next), w = __expf(s - next);
        l = l * rescale + w;
        for (int p = 0; p < PER; p++) acc[p] = acc[p] * rescale + w * bf16_to_f32(v[j * D + lane + 32 * p]);
        m = next;
    }

    __shared__ float warp_max[WARPS], warp_sum[WARPS], warp_acc[WARPS][D];
    if (lane == 0) {
        warp_max[warp] = m;
        warp_sum[warp] = l;
    }
    for (int p = 0; p < PER; p++) warp_acc[warp][lane + 32 * p] = acc[p];
    __syncthreads();
    if (warp != 0) return;
    float top = -INFINITY;
    for (int w = 0; w < WARPS; w++) top = fmaxf(top, warp_max[w]);
    float total = 0.f, weight[WARPS];
    for (int w = 0; w < WARPS; w++) {
        // A warp that had no position (fewer positions than warps) holds max -inf and sum 0: weight 0.
        weight[w] = warp_sum[w] > 0.f ? __expf(warp_max[w] - top) : 0.f;
        total += warp_sum[w] * weight[w];
    }
    for (int p = 0; p < PER; p++) {
        float o = 0.f;
        for (int w = 0; w < WARPS; w++) o += warp_acc[w][lane + 32 * p] * weight[w];
        out[((long long)b * heads + head) * D + lane + 32 * p] = f32_to_bf16(o / total);
    }
}

extern "C" __global__ void fastllm_decode_attention_64(const unsigned short* q, const long long* kv,
                                                       const long long* meta, unsigned short* out, int heads,
                                                       int kv_heads, float scale) {
    decode_attention<64>(q, kv, meta, out, heads, kv_heads, scale);
}

extern "C" __global__ void fastllm_decode_attention_128(const unsigned short* q, const long long* kv,
                                                        const long long* meta, unsigned short* out, int heads,
                                                        int kv_heads, float scale) {
    decode_attention<128>(q, kv, meta, out, heads, kv_heads, scale);
}

// The residual add and the RMS norm that follows it, in one pass: x, y (rows, width) and the norm's weight
// (width) -> out (2, rows, width), out[0] = x + y rounded to bf16 (the new residual, as candle's add gives it),
// out[1] = its RMS norm times the weight (as candle_nn's rms_norm, in f32). One block per row, a multiple of 32
// threads.
extern "C" __global__ void fastllm_add_rms_norm(const unsigned short* __restrict__ x,
                                                const unsigned short* __restrict__ y,
                                                const unsigned short* __restrict__ weight,
                                                unsigned short* __restrict__ out, long long rows, int width,
                                                float eps) {
    const long long at = (long long)blockIdx.x * width;
    unsigned short* sum = out + at;
    unsigned short* norm = out + rows * width + at;
    float squares = 0.f;
    for (int c = threadIdx.x; c < width; c += blockDim.x) {
        const unsigned short s = f32_to_bf16(bf16_to_f32(x[at + c]) + bf16_to_f32(y[at + c]));
        sum[c] = s;
        squares += bf16_to_f32(s) * bf16_to_f32(s);
    }
    __shared__ float per_warp[32];
    for (int o = 16; o > 0; o >>= 1) squares += __shfl_xor_sync(0xffffffffu, squares, o);
    if (threadIdx.x % 32 == 0) per_warp[threadIdx.x / 32] = squares;
    __syncthreads();
    float total = 0.f;
    for (int w = 0; w < (int)blockDim.x / 32; w++) total += per_warp[w];
    const float scale = rsqrtf(total / width + eps);
    // Each thread reads back only the sums it wrote itself.
    for (int c = threadIdx.x; c < width; c += blockDim.x)
        norm[c] = f32_to_bf16(bf16_to_f32(sum[c]) * scale * bf16_to_f32(weight[c]));
}

// SwiGLU's activation on the fused gate/up projection: gu (rows, 2 width) -> out (rows, width) = silu(gate) * up,
// with silu(gate) rounded to bf16 first, as candle's two ops would.
extern "C" __global__ void fastllm_silu_mul(const unsigned short* __restrict__ gu, unsigned short* __restrict__ out,
                                            long long rows, long long width) {
    const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * width) return;
    const long long r = idx / width, c = idx % width;
    const float g = bf16_to_f32(gu[r * 2 * width + c]), u = bf16_to_f32(gu[r * 2 * width + width + c]);
    out[idx] = f32_to_bf16(bf16_to_f32(f32_to_bf16(g / (1.f + __expf(-g)))) * u);
}
