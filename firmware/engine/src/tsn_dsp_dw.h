/*
 * tsn_dsp_dw.h — internal: the 3x3 depthwise path of tsn_dsp_dw_channel (stride_w 1 or 2) and
 * its requantization loop (part of the DSP path, included by tsn_dsp.h only).
 *
 * The channel's padded rows on the stack hold raw input bytes, padding = -input_offset, and
 * input_offset * (sum of the 9 taps) goes into the bias: every tap then adds w * x, and a
 * padding byte adds -input_offset * w, which with its share of the folded term gives 0, as the
 * portable kernel's skipped positions. Stride 1, two outputs (x, x+1) per word of 4 bytes
 * b0..b3: with e = (b0, b2) and o = (b1, b3) (SXTB16 without and with ROR #8),
 * out x = e.(w0, w2) [SMUAD/SMLAD] + b1*w1 [o bottom], out x+1 = o.(w0, w2) + b2*w1 [e top]:
 * 6 MACs in 7 instructions. Stride 2, one word per output: 3 MACs in 5. Same terms as the
 * portable kernel in another order of int32 additions (wrapping): bit-identical.
 */
#ifndef TSN_DSP_DW_H
#define TSN_DSP_DW_H

#if defined(TSN_DSP_EMULATE)

/* acc + lane xat of x * lane yat of y, modulo 2^32 */
static inline int32_t tsn_emu_mla16(uint32_t x, int xat, uint32_t y, int yat, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc + (uint32_t)(tsn_emu_lane(x, xat) * tsn_emu_lane(y, yat)));
}

/* SMLABT: acc + bottom*top, modulo 2^32 */
static inline int32_t tsn_smlabt(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_mla16(x, 0, y, 16, acc);
}

#else

#define TSN_DSP_MLA16(name, insn)                                                               \
    static inline int32_t name(uint32_t x, uint32_t y, int32_t acc)                             \
    {                                                                                           \
        int32_t r;                                                                              \
        __asm__(insn " %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));                   \
        return r;                                                                               \
    }
TSN_DSP_MLA16(tsn_smlabt, "smlabt")
#undef TSN_DSP_MLA16

#endif

/* Outputs gathered before one requantization loop runs over them. */
#define TSN_DSP_DW_ACCS 128

/* Taps of a 3x3 filter t[3 * fy + fx] for tsn_dsp_dw3_pairs: w[0..2] = (w0, w2) of rows 0..2,
 * w[3] = (w1 of row 0, w1 of row 1), w[4] = (w1 of row 2, 0). Returns the sum of the taps. */
static inline int32_t tsn_dsp_dw3_taps(const int32_t t[9], uint32_t w[5])
{
    int32_t fy, sum = 0;
    for (fy = 0; fy < 3; ++fy) {
        w[fy] = tsn_pair16(t[3 * fy], t[3 * fy + 2]);
        sum += t[3 * fy] + t[3 * fy + 1] + t[3 * fy + 2];
    }
    w[3] = tsn_pair16(t[1], t[4]);
    w[4] = tsn_pair16(t[7], 0);
    return sum;
}

/* One row of taps onto accumulator A of the output at the 4 bytes LOAD puts in v: FIRST (SMUAD
 * or SMLAD of bytes 0, 2 by the row's (w0, w2)), then byte 1 by w1 in lane L ("b" or "t") of
 * WM (stride 2). */
#define TSN_DSP_DW3_TAPS(LOAD, FIRST, A, WM, L)                                            \
    LOAD "sxtb16 %[e], %[v]\n\t"                                                                \
    "sxtb16 %[v], %[v], ror #8\n\t" FIRST "smlab" L " %[" A "], %[v], %[" WM "], %[" A "]\n\t"

#if TSN_DSP_ASM_LOOPS
/* tsn_dsp_dw3_rows2's arguments (word offsets fixed: the asm reads them by offset). */
typedef struct {
    const int8_t *r;    /*  0: top row of the first pair of output rows */
    int32_t d;          /*  4: bytes from a filter row to the next = from an output row's rows to
                               the next output row's */
    uint32_t w[5];      /*  8: tsn_dsp_dw3_taps (w[4]'s top half 0) */
    int32_t *acc_a;     /* 28: the pair's first row of accumulators */
    int32_t *acc_b;     /* 32: its second row */
    int32_t r_skip;     /* 36: r after a pair's columns to the next pair of rows */
    int32_t a_skip;     /* 40: bytes from acc_a, acc_b after a pair's columns to the next */
    uint32_t count_top; /* 44: (2^16 - column pairs) << 16 */
    uintptr_t r_end;    /* 48: r after the last pair of rows */
} tsn_dsp_dw3_job;

/* Stride 1, two output rows a pass over the 4 input rows they read (registers: taps r0-r4,
 * accumulators r5-r8, word r9-r10, rows r11, r12 = r11 + 2d, d in lr; the column pairs count
 * in the top half of r4, whose bottom half alone is a tap; the accumulator pointers on the
 * stack): each input word is loaded and widened once for both rows, 36 MACs in 42 instructions
 * (one row at a time: 48). Naked, all asm: it needs 14 registers at every -O level. */
#define TSN_DSP_DW3R2_WORD(LOAD) LOAD "\n\tsxtb16 r10, r9\n\tsxtb16 r9, r9, ror #8\n\t"
#define TSN_DSP_DW3R2_BEGIN                                                                    \
    "push {r4-r11, lr}\n\t"                                                                    \
    "sub sp, sp, #24\n\t"                                                                      \
    "ldr r11, [r0]\n\t"                                                                        \
    "ldr lr, [r0, #4]\n\t"                                                                     \
    "ldrd r5, r6, [r0, #28]\n\t"                                                               \
    "strd r5, r6, [sp]\n\t"                                                                    \
    "ldrd r5, r6, [r0, #36]\n\t"                                                               \
    "strd r5, r6, [sp, #8]\n\t"                                                                \
    "ldrd r5, r6, [r0, #44]\n\t"                                                               \
    "strd r5, r6, [sp, #16]\n\t"                                                               \
    "add r12, r0, #8\n\t"                                                                      \
    "ldm r12, {r0-r4}\n\t"                                                                     \
    "2:\n\t"                                                                                   \
    "add r12, r11, lr, lsl #1\n\t"                                                             \
    "ldr r5, [sp, #16]\n\t"                                                                    \
    "orr r4, r4, r5\n\t"                                                                       \
    "1:\n\t" /* outputs x, x + 1 of rows A (r5, r6) and B (r7, r8) */                        \
    TSN_DSP_DW3R2_WORD("ldr r9, [r11, lr]")                                                    \
    "smuad r5, r10, r1\n\t"                                                                    \
    "smlabt r5, r9, r3, r5\n\t"                                                                \
    "smuad r6, r9, r1\n\t"                                                                     \
    "smlatt r6, r10, r3, r6\n\t"                                                               \
    "smuad r7, r10, r0\n\t"                                                                    \
    "smlabb r7, r9, r3, r7\n\t"                                                                \
    "smuad r8, r9, r0\n\t"                                                                     \
    "smlatb r8, r10, r3, r8\n\t"                                                               \
    TSN_DSP_DW3R2_WORD("ldr r9, [r12, lr]")                                                    \
    "smlad r7, r10, r2, r7\n\t"                                                                \
    "smlabb r7, r9, r4, r7\n\t"                                                                \
    "smlad r8, r9, r2, r8\n\t"                                                                 \
    "smlatb r8, r10, r4, r8\n\t"                                                               \
    TSN_DSP_DW3R2_WORD("ldr r9, [r12], #2")                                                    \
    "smlad r5, r10, r2, r5\n\t"                                                                \
    "smlabb r5, r9, r4, r5\n\t"                                                                \
    "smlad r6, r9, r2, r6\n\t"                                                                 \
    "smlatb r6, r10, r4, r6\n\t"                                                               \
    "smlad r7, r10, r1, r7\n\t"                                                                \
    "smlabt r7, r9, r3, r7\n\t"                                                                \
    "smlad r8, r9, r1, r8\n\t"                                                                 \
    "smlatt r8, r10, r3, r8\n\t"                                                               \
    TSN_DSP_DW3R2_WORD("ldr r9, [r11], #2")                                                    \
    "smlad r5, r10, r0, r5\n\t"                                                                \
    "smlabb r5, r9, r3, r5\n\t"                                                                \
    "smlad r6, r9, r0, r6\n\t"                                                                 \
    "smlatb r6, r10, r3, r6\n\t"                                                               \
    "ldrd r9, r10, [sp]\n\t"                                                                   \
    "strd r5, r6, [r9], #8\n\t"                                                                \
    "strd r7, r8, [r10], #8\n\t"                                                               \
    "strd r9, r10, [sp]\n\t"                                                                   \
    "adds r4, r4, #0x10000\n\t"                                                                \
    "bcc 1b\n\t"
/* an odd row length's last output x of rows A (r5) and B (r7) */
#define TSN_DSP_DW3R2_LAST                                                                     \
    TSN_DSP_DW3R2_WORD("ldr r9, [r11, lr]")                                                    \
    "smuad r5, r10, r1\n\t"                                                                    \
    "smlabt r5, r9, r3, r5\n\t"                                                                \
    "smuad r7, r10, r0\n\t"                                                                    \
    "smlabb r7, r9, r3, r7\n\t"                                                                \
    TSN_DSP_DW3R2_WORD("ldr r9, [r12, lr]")                                                    \
    "smlad r7, r10, r2, r7\n\t"                                                                \
    "smlabb r7, r9, r4, r7\n\t"                                                                \
    TSN_DSP_DW3R2_WORD("ldr r9, [r12]")                                                        \
    "smlad r5, r10, r2, r5\n\t"                                                                \
    "smlabb r5, r9, r4, r5\n\t"                                                                \
    "smlad r7, r10, r1, r7\n\t"                                                                \
    "smlabt r7, r9, r3, r7\n\t"                                                                \
    TSN_DSP_DW3R2_WORD("ldr r9, [r11]")                                                        \
    "smlad r5, r10, r0, r5\n\t"                                                                \
    "smlabb r5, r9, r3, r5\n\t"                                                                \
    "ldrd r9, r10, [sp]\n\t"                                                                   \
    "str r5, [r9]\n\t"                                                                         \
    "str r7, [r10]\n\t"
#define TSN_DSP_DW3R2_END                                                                      \
    "ldr r9, [sp, #8]\n\t"                                                                     \
    "add r11, r11, r9\n\t"                                                                     \
    "ldrd r9, r10, [sp]\n\t"                                                                   \
    "ldr r5, [sp, #12]\n\t"                                                                    \
    "add r9, r9, r5\n\t"                                                                       \
    "add r10, r10, r5\n\t"                                                                     \
    "strd r9, r10, [sp]\n\t"                                                                   \
    "ldr r9, [sp, #20]\n\t"                                                                    \
    "cmp r11, r9\n\t"                                                                          \
    "bne 2b\n\t"                                                                               \
    "add sp, sp, #24\n\t"                                                                      \
    "pop {r4-r11, pc}"
__attribute__((naked, noinline, noclone)) static void
tsn_dsp_dw3_rows2_even(const tsn_dsp_dw3_job *job __attribute__((unused)))
{
    __asm__ volatile(TSN_DSP_DW3R2_BEGIN TSN_DSP_DW3R2_END);
}
__attribute__((naked, noinline, noclone)) static void
tsn_dsp_dw3_rows2_odd(const tsn_dsp_dw3_job *job __attribute__((unused)))
{
    __asm__ volatile(TSN_DSP_DW3R2_BEGIN TSN_DSP_DW3R2_LAST TSN_DSP_DW3R2_END);
}
#undef TSN_DSP_DW3R2_END
#undef TSN_DSP_DW3R2_LAST
#undef TSN_DSP_DW3R2_BEGIN
#undef TSN_DSP_DW3R2_WORD

/* tsn_dsp_dw3_pairs' stride 1 outputs of rows 0 .. 2 * (nrows / 2) when one output row's
 * input rows are the previous one's moved one row on (r_step == d) and n >= 2, nrows >= 2;
 * returns the rows done. */
static inline int32_t tsn_dsp_dw3_rows2(const int8_t *r0, int32_t d, const uint32_t *w,
                                        int32_t n, int32_t nrows, int32_t a_step, int32_t *acc0)
{
    const int32_t pairs = n / 2, twos = nrows / 2;
    tsn_dsp_dw3_job job;
    job.r = r0;
    job.d = d;
    job.w[0] = w[0];
    job.w[1] = w[1];
    job.w[2] = w[2];
    job.w[3] = w[3];
    job.w[4] = w[4];
    job.acc_a = acc0;
    job.acc_b = acc0 + a_step;
    job.r_skip = 2 * d - 2 * pairs;
    job.a_skip = 4 * (2 * a_step - 2 * pairs);
    job.count_top = (uint32_t)(0x10000 - pairs) << 16;
    job.r_end = (uintptr_t)r0 + (uintptr_t)(2 * twos * d);
    if (n & 1) {
        tsn_dsp_dw3_rows2_odd(&job);
    } else {
        tsn_dsp_dw3_rows2_even(&job);
    }
    return 2 * twos;
}
#endif

/* acc[i * a_step + k] = the 3x3 window at column k * stride (stride 1 or 2) of the rows r,
 * r + d, r + 2d with r = r0 + i * r_step (raw bytes, no input offset: the caller adds
 * input_offset * sum of taps, which padding bytes of -input_offset make exact), k < n, i < nrows
 * (rows in increasing order: for an odd n, stride 2 or n = 1, a row's last pair spills onto
 * acc[i * a_step + n], the next row's first accumulator). Reads bytes [0, 2 * stride * pairs +
 * 4 - 2 * stride) of each row, pairs = (n + 1) / 2. Stride 1: both outputs of a pair from one
 * word (24 instructions a pair, an odd n's last output alone: 16), stride 2: one word each (33
 * a pair); rows in the same asm loop (10 instructions a row, its steps in ctx). In asm, stride
 * 1 with r_step == d goes two rows at a time (tsn_dsp_dw3_rows2). */
TSN_DSP_LOOP void tsn_dsp_dw3_pairs(const int8_t *r0, int32_t d, const uint32_t *w,
                                    int32_t stride, int32_t n, int32_t nrows, int32_t r_step,
                                    int32_t a_step, int32_t *acc0)
{
    const uint32_t w0 = w[0], w1 = w[1], w2 = w[2], wm = w[3], wm2 = w[4];
    const int32_t tail = stride == 1 && (n & 1) && n > 1; /* the last output alone */
    const int32_t pairs = tail ? n / 2 : (n + 1) / 2;
#if TSN_DSP_ASM_LOOPS
    /* after a row: r += ctx[0], acc = end + ctx[1], end += ctx[2]; ctx[3] rows left */
    int32_t ctx[4];
    const int8_t *r;
    int32_t *acc, *end;
    uint32_t v, e;
    int32_t a0, a1;
    if (stride == 1 && r_step == d && n >= 2 && nrows >= 2 && n <= 0xffff) {
        const int32_t done = tsn_dsp_dw3_rows2(r0, d, w, n, nrows, a_step, acc0);
        r0 += done * r_step;
        acc0 += done * a_step;
        nrows -= done;
    }
    r = r0;
    acc = acc0;
    end = acc0 + 2 * pairs;
    if (nrows <= 0 || pairs <= 0) {
        return;
    }
    ctx[0] = r_step - 2 * stride * pairs - tail;
    ctx[1] = 4 * (a_step - 2 * pairs);
    ctx[2] = 4 * a_step;
    ctx[3] = nrows;
#define TSN_DSP_DW3_OPERANDS                                                                    \
    : [r] "+r"(r), [acc] "+r"(acc), [end] "+r"(end), [v] "=&r"(v), [e] "=&r"(e),              \
      [a0] "=&r"(a0), [a1] "=&r"(a1)                                                           \
    : [d] "r"(d), [ctx] "r"(ctx), [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [wm] "r"(wm),      \
      [wm2] "r"(wm2)                                                                           \
    : "cc", "memory"
#define TSN_DSP_DW3_PAIRS_END                                                                   \
    "cmp %[acc], %[end]\n\t"                                                                   \
    "bne 1b\n\t"
#define TSN_DSP_DW3_NEXT_ROW                                                                    \
    "ldr %[v], [%[ctx]]\n\t"                                                                   \
    "add %[r], %[r], %[v]\n\t"                                                                 \
    "ldr %[v], [%[ctx], #4]\n\t"                                                               \
    "add %[acc], %[end], %[v]\n\t"                                                             \
    "ldr %[v], [%[ctx], #8]\n\t"                                                               \
    "add %[end], %[end], %[v]\n\t"                                                             \
    "ldr %[v], [%[ctx], #12]\n\t"                                                              \
    "subs %[v], %[v], #1\n\t"                                                                  \
    "str %[v], [%[ctx], #12]\n\t"                                                              \
    "bne 1b"
#define TSN_DSP_DW3_S2_ONE(A)                                                                   \
    TSN_DSP_DW3_TAPS("ldr %[v], [%[r], %[d]]\n\t", "smuad %[" A "], %[e], %[w1]\n\t", A, "wm",   \
                     "t")                                                                 \
    TSN_DSP_DW3_TAPS("ldr %[v], [%[r], %[d], lsl #1]\n\t",                                      \
                     "smlad %[" A "], %[e], %[w2], %[" A "]\n\t", A, "wm2", "b")          \
    TSN_DSP_DW3_TAPS("ldr %[v], [%[r]], #2\n\t", "smlad %[" A "], %[e], %[w0], %[" A "]\n\t", A, \
                     "wm", "b")
/* stride 1: outputs x, x + 1 from the words at x */
#define TSN_DSP_DW3_S1_PAIR                                                                     \
    "1:\n\t"                                                                                   \
    "ldr %[v], [%[r], %[d]]\n\t"                                                               \
    "sxtb16 %[e], %[v]\n\t"                                                                    \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smuad %[a0], %[e], %[w1]\n\t"                                                             \
    "smlabt %[a0], %[v], %[wm], %[a0]\n\t"                                                     \
    "smuad %[a1], %[v], %[w1]\n\t"                                                             \
    "smlatt %[a1], %[e], %[wm], %[a1]\n\t"                                                     \
    "ldr %[v], [%[r], %[d], lsl #1]\n\t"                                                       \
    "sxtb16 %[e], %[v]\n\t"                                                                    \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a0], %[e], %[w2], %[a0]\n\t"                                                      \
    "smlabb %[a0], %[v], %[wm2], %[a0]\n\t"                                                    \
    "smlad %[a1], %[v], %[w2], %[a1]\n\t"                                                      \
    "smlatb %[a1], %[e], %[wm2], %[a1]\n\t"                                                    \
    "ldr %[v], [%[r]], #2\n\t"                                                                 \
    "sxtb16 %[e], %[v]\n\t"                                                                    \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                            \
    "smlad %[a0], %[e], %[w0], %[a0]\n\t"                                                      \
    "smlabb %[a0], %[v], %[wm], %[a0]\n\t"                                                     \
    "smlad %[a1], %[v], %[w0], %[a1]\n\t"                                                      \
    "smlatb %[a1], %[e], %[wm], %[a1]\n\t"                                                     \
    "strd %[a0], %[a1], [%[acc]], #8\n\t" TSN_DSP_DW3_PAIRS_END
    if (stride == 2) {
        __asm__ volatile("1:\n\t" TSN_DSP_DW3_S2_ONE("a0") TSN_DSP_DW3_S2_ONE("a1")
                         "strd %[a0], %[a1], [%[acc]], #8\n\t" TSN_DSP_DW3_PAIRS_END
                             TSN_DSP_DW3_NEXT_ROW TSN_DSP_DW3_OPERANDS);
    } else if (tail) { /* the odd output: a0's half of a pair, r one byte on */
        __asm__ volatile(TSN_DSP_DW3_S1_PAIR
                         "ldr %[v], [%[r], %[d]]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smuad %[a0], %[e], %[w1]\n\t"
                         "smlabt %[a0], %[v], %[wm], %[a0]\n\t"
                         "ldr %[v], [%[r], %[d], lsl #1]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[a0], %[e], %[w2], %[a0]\n\t"
                         "smlabb %[a0], %[v], %[wm2], %[a0]\n\t"
                         "ldr %[v], [%[r]], #1\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[a0], %[e], %[w0], %[a0]\n\t"
                         "smlabb %[a0], %[v], %[wm], %[a0]\n\t"
                         "str %[a0], [%[acc]]\n\t" TSN_DSP_DW3_NEXT_ROW TSN_DSP_DW3_OPERANDS);
    } else {
        __asm__ volatile(TSN_DSP_DW3_S1_PAIR TSN_DSP_DW3_NEXT_ROW TSN_DSP_DW3_OPERANDS);
    }
#undef TSN_DSP_DW3_S1_PAIR
#undef TSN_DSP_DW3_S2_ONE
#undef TSN_DSP_DW3_NEXT_ROW
#undef TSN_DSP_DW3_PAIRS_END
#undef TSN_DSP_DW3_OPERANDS
#else
    int32_t i, k;
    for (i = 0; i < nrows; ++i) {
        const int8_t *r = r0 + i * r_step;
        int32_t *acc = acc0 + i * a_step;
        for (k = 0; k < 2 * pairs + tail; ++k) { /* output k: bytes 0..3 at k * stride */
            uint32_t v = tsn_ld4(r + d);
            int32_t a = tsn_smlabt(tsn_sxtb16_ror8(v), wm, tsn_smlad(tsn_sxtb16(v), w1, 0));
            v = tsn_ld4(r + 2 * d);
            a = tsn_smlabb(tsn_sxtb16_ror8(v), wm2, tsn_smlad(tsn_sxtb16(v), w2, a));
            v = tsn_ld4(r);
            acc[k] = tsn_smlabb(tsn_sxtb16_ror8(v), wm, tsn_smlad(tsn_sxtb16(v), w0, a));
            r += stride;
        }
    }
#endif
}
#undef TSN_DSP_DW3_TAPS

/* Bounds of tsn_dsp_rq_run2 beyond tsn_dsp_rq_run_ok: |bias| (so that 2 * (acc + bias) fits
 * int32 for the |acc| <= 9 * 128 * 128 of 3x3 taps on raw bytes) and rs = rs1 + 1 (so that
 * 2^(rs - 1) + 128 * 2^rs plus the SRDHM stays in int32). */
#define TSN_DSP_RQ2_MAX_BIAS ((int32_t)1 << 29)
#define TSN_DSP_RQ2_MAX_RS1 21

/* out[p * stride] = clamp(requantize(acc[p] + bias) + output_offset), p < count, for 3x3
 * accumulators, full int8 range, right shift rs = rs1 + 1 (tsn_dsp_requant_run2's conditions).
 * SRDHM(x, m) = floor((x * m + 2^30) / 2^31) (tsn_dsp_rq_apply) = SMMULR(2x, m) for |x| < 2^30;
 * RoundingDivideByPOT(r, rs) = floor((r + 2^(rs - 1) - [r < 0]) / 2^rs), and r < 0 iff x < 0
 * (m > 2^30): the output offset times 2^rs joins 2^(rs - 1) as the SMMLAR addend kc, [x < 0] is
 * 2x >> 31. 6 instructions an output and the load: 7.5 an output, four an iteration. */
TSN_DSP_LOOP void tsn_dsp_rq_run2(const tsn_dsp_rq *rq, const tsn_dsp_io *io, int32_t bias,
                                  const int32_t *acc, int32_t count, int8_t *out, int32_t stride)
{
    const int32_t m = rq->multiplier, rs = rq->rs1 + 1, b2 = 2 * bias;
    const int32_t kc = ((int32_t)1 << (rs - 1)) + io->output_offset * ((int32_t)1 << rs);
#if TSN_DSP_ASM_LOOPS
    const int32_t *const end = acc + (count & ~3);
    int32_t x0, x1, r;
#define TSN_DSP_RQ2_ONE(X, STORE)                                                               \
    "add %[" X "], %[b2], %[" X "], lsl #1\n\t"                                                  \
    "smmlar %[r], %[" X "], %[m], %[kc]\n\t"                                                    \
    "add %[r], %[r], %[" X "], asr #31\n\t"                                                     \
    "asr %[r], %[r], %[rs]\n\t"                                                                 \
    "ssat %[r], #8, %[r]\n\t" STORE
#define TSN_DSP_RQ_RUN2_PAIR                                                                    \
    "ldrd %[x0], %[x1], [%[a]], #8\n\t"                                                         \
    TSN_DSP_RQ2_ONE("x0", "strb %[r], [%[o]]\n\t")                                              \
    TSN_DSP_RQ2_ONE("x1", "strb %[r], [%[o], %[s]]\n\t")                                        \
    "add %[o], %[o], %[s], lsl #1\n\t"
#define TSN_DSP_RQ_RUN2_OPERANDS                                                                \
    : [a] "+r"(acc), [o] "+r"(out), [x0] "=&r"(x0), [x1] "=&r"(x1), [r] "=&r"(r)              \
    : [end] "r"(end), [b2] "r"(b2), [kc] "r"(kc), [m] "r"(m), [rs] "r"(rs), [s] "r"(stride)   \
    : "cc", "memory"
    if (count >= 4) {
        __asm__ volatile("1:\n\t" TSN_DSP_RQ_RUN2_PAIR TSN_DSP_RQ_RUN2_PAIR
                         "cmp %[a], %[end]\n\t"
                         "bne 1b" TSN_DSP_RQ_RUN2_OPERANDS);
    }
    if (count & 2) {
        __asm__ volatile(TSN_DSP_RQ_RUN2_PAIR TSN_DSP_RQ_RUN2_OPERANDS);
    }
    if (count & 1) {
        x0 = *acc;
        __asm__(TSN_DSP_RQ2_ONE("x0", "") : [x0] "+r"(x0), [r] "=&r"(r)
                : [b2] "r"(b2), [kc] "r"(kc), [m] "r"(m), [rs] "r"(rs));
        *out = (int8_t)r;
    }
#undef TSN_DSP_RQ_RUN2_OPERANDS
#undef TSN_DSP_RQ_RUN2_PAIR
#undef TSN_DSP_RQ2_ONE
#else
    int32_t p;
    for (p = 0; p < count; ++p) {
        const int32_t x2 = b2 + 2 * acc[p];
        /* >> of negative values is arithmetic wherever this path builds */
        const int32_t r = (int32_t)(((int64_t)x2 * m + ((int64_t)1 << 31)) >> 32) + kc;
        out[p * stride] = (int8_t)tsn_clamp((r + (x2 >> 31)) >> rs, -128, 127);
    }
#endif
}

/* tsn_dsp_requant_run with tsn_dsp_rq_run2 for its fast form. */
static inline void tsn_dsp_requant_run2(const tsn_dsp_io *io, const tsn_dsp_rq *rq, int32_t bias,
                                        const int32_t *acc, int32_t n, int8_t *out,
                                        int32_t stride)
{
    if (tsn_dsp_rq_run_ok(rq, io) && rq->rs1 <= TSN_DSP_RQ2_MAX_RS1 &&
        bias >= -TSN_DSP_RQ2_MAX_BIAS && bias <= TSN_DSP_RQ2_MAX_BIAS) {
        tsn_dsp_rq_run2(rq, io, bias, acc, n, out, stride);
    } else {
        tsn_dsp_requant_run(io, rq, bias, acc, n, out, stride);
    }
}

/* dst[k * width + x] = src[k * row_step + x * in_stride], x < n, k < count (n, count >= 1):
 * the input bytes of padded rows (in asm 2.5 instructions a byte: 4 bytes to a word, 8 a pass;
 * 6 a row). */
TSN_DSP_LOOP void tsn_dsp_dw_gather(int8_t *dst, int32_t width, int32_t count, const int8_t *src,
                                    int32_t in_stride, int32_t row_step, int32_t n)
{
#if TSN_DSP_ASM_LOOPS
    const int32_t d_skip = width - n, s_skip = row_step - n * in_stride;
    const int32_t st2 = 2 * in_stride, st3 = 3 * in_stride;
    int32_t k, t, u;
#define TSN_DSP_GATHER4                                                                         \
    "ldrb %[t], [%[s]]\n\t"                                                                    \
    "ldrb %[u], [%[s], %[st]]\n\t"                                                             \
    "orr %[t], %[t], %[u], lsl #8\n\t"                                                         \
    "ldrb %[u], [%[s], %[st2]]\n\t"                                                            \
    "orr %[t], %[t], %[u], lsl #16\n\t"                                                        \
    "ldrb %[u], [%[s], %[st3]]\n\t"                                                            \
    "orr %[t], %[t], %[u], lsl #24\n\t"                                                        \
    "add %[s], %[s], %[st], lsl #2\n\t"                                                        \
    "str %[t], [%[d]], #4\n\t"
    __asm__ volatile(
        "1:\n\t"
        "subs %[k], %[n], #8\n\t"
        "blt 3f\n\t"
        "2:\n\t" TSN_DSP_GATHER4 TSN_DSP_GATHER4
        "subs %[k], %[k], #8\n\t"
        "bge 2b\n\t"
        "3:\n\t" /* k = bytes left - 8 */
        "adds %[k], %[k], #4\n\t"
        "blt 6f\n\t" TSN_DSP_GATHER4
        "b 7f\n\t"
        "6:\n\t"
        "adds %[k], %[k], #4\n\t"
        "7:\n\t" /* k = bytes left (flags: k == 0) */
        "beq 5f\n\t"
        "4:\n\t"
        "ldrb %[t], [%[s]]\n\t"
        "add %[s], %[s], %[st]\n\t"
        "strb %[t], [%[d]], #1\n\t"
        "subs %[k], %[k], #1\n\t"
        "bne 4b\n\t"
        "5:\n\t"
        "add %[s], %[s], %[sskip]\n\t"
        "add %[d], %[d], %[dskip]\n\t"
        "subs %[rows], %[rows], #1\n\t"
        "bne 1b"
        : [s] "+r"(src), [d] "+r"(dst), [rows] "+r"(count), [k] "=&r"(k), [t] "=&r"(t),
          [u] "=&r"(u)
        : [n] "r"(n), [st] "r"(in_stride), [st2] "r"(st2), [st3] "r"(st3), [sskip] "r"(s_skip),
          [dskip] "r"(d_skip)
        : "cc", "memory");
#undef TSN_DSP_GATHER4
#else
    int32_t k, x;
    for (k = 0; k < count; ++k, dst += width, src += row_step) {
        for (x = 0; x < n; ++x) {
            dst[x] = src[x * in_stride];
        }
    }
#endif
}

/* Where tsn_dsp_dw_fill's input bytes go (tsn_dsp_dw_copy). */
static inline tsn_dsp_dw_copy tsn_dsp_dw_copy_of(int32_t width, int32_t count, int32_t in_stride,
                                                 int32_t in_h, int32_t in_w, int32_t y_first,
                                                 int32_t pad_left)
{
    const int32_t x0 = pad_left < width ? pad_left : width;
    const int32_t n = in_w < width - x0 ? in_w : width - x0;
    const int32_t k0 = y_first < 0 ? (-y_first < count ? -y_first : count) : 0;
    const int32_t k1 = in_h - y_first < count ? (in_h - y_first > k0 ? in_h - y_first : k0)
                                              : count; /* rows k0 .. k1 are in the image */
    tsn_dsp_dw_copy c;
    c.dst = k0 * width + x0;
    c.count = k1 > k0 && n > 0 ? k1 - k0 : 0;
    c.src = (y_first + k0) * in_w * in_stride;
    c.row_step = in_w * in_stride;
    c.n = n;
    return c;
}

/* The input bytes of c into the padded rows. */
static inline void tsn_dsp_dw_copy_in(int8_t *rows, int32_t width, const tsn_dsp_dw_copy *c,
                                      const int8_t *in, int32_t in_stride)
{
    if (c->count > 0) {
        tsn_dsp_dw_gather(rows + c->dst, width, c->count, in + c->src, in_stride, c->row_step,
                          c->n);
    }
}

/* rows[k * width ..] = padded input row y_first + k, k < count: tsn_dsp_dw_pad_row's rows
 * (input bytes from pad_left on, the rest and rows outside the image = pad; `padded`: the pad
 * bytes are there already, from the previous channel's fill of the same rows). */
static inline void tsn_dsp_dw_fill(int8_t *rows, int32_t width, int32_t count, const int8_t *in,
                                   int32_t in_stride, int32_t in_h, int32_t in_w,
                                   int32_t y_first, int32_t pad_left, int8_t pad, int padded)
{
    const tsn_dsp_dw_copy c =
        tsn_dsp_dw_copy_of(width, count, in_stride, in_h, in_w, y_first, pad_left);
    if (!padded) {
        memset(rows, pad, (size_t)(count * width));
    }
    tsn_dsp_dw_copy_in(rows, width, &c, in, in_stride);
}

/* Outputs of nr rows of out_w from the padded rows r (output row i from r + i * step),
 * requantized together (nr * out_w <= TSN_DSP_DW_ACCS, else one row of runs of
 * TSN_DSP_DW_ACCS); returns out past them. */
static inline int8_t *tsn_dsp_dw3_run(const tsn_dsp_io *io, const tsn_dsp_rq *rq, int32_t bias,
                                      const int8_t *r, int32_t d, int32_t step, int32_t sw,
                                      const uint32_t *w, int32_t nr, int8_t *out,
                                      int32_t out_stride, int32_t out_w)
{
    int32_t accs[TSN_DSP_DW_ACCS + 1]; /* + the second of an odd run's last pair */
    int32_t ox;
    if (out_w <= TSN_DSP_DW_ACCS) {
        tsn_dsp_dw3_pairs(r, d, w, sw, out_w, nr, step, out_w, accs);
        tsn_dsp_requant_run2(io, rq, bias, accs, nr * out_w, out, out_stride);
        return out + nr * out_w * out_stride;
    }
    for (ox = 0; ox < out_w; ox += TSN_DSP_DW_ACCS) {
        const int32_t len = out_w - ox < TSN_DSP_DW_ACCS ? out_w - ox : TSN_DSP_DW_ACCS;
        tsn_dsp_dw3_pairs(r + ox * sw, d, w, sw, len, 1, 0, 0, accs);
        tsn_dsp_requant_run2(io, rq, bias, accs, len, out, out_stride);
        out += len * out_stride;
    }
    return out;
}

/* Output rows a tsn_dsp_dw3_run: as many as TSN_DSP_DW_ACCS holds, at most `most`. */
static inline int32_t tsn_dsp_dw3_per_run(int32_t out_w, int32_t most)
{
    const int32_t per_run = out_w <= TSN_DSP_DW_ACCS ? TSN_DSP_DW_ACCS / out_w : 1;
    return per_run < most ? per_run : most;
}

/* A 3x3 depthwise channel of stride_w 1 or 2 (tsn_dsp_dw_channel's arguments) whose padded
 * plane fits in buf, width = (out_w - 1) * stride_w + 4 bytes a row, then 4 pad bytes (the
 * stride-2 pairs read 2 past a row): output row oy reads from row oy * stride_h. The first
 * channel of a layer call pads the plane and notes where the input bytes go and the rows a run
 * (the next ones copy only their input bytes). `bias` includes input_offset * sum of taps. */
static inline void tsn_dsp_dw3_plane(tsn_dsp_dw_rows *buf, const tsn_conv_params *params,
                                     const tsn_dsp_rq *rq, int32_t bias, const int8_t *in,
                                     int32_t in_stride, int32_t in_h, int32_t in_w,
                                     int32_t width, int32_t plane, const uint32_t *w, int8_t *out,
                                     int32_t out_stride, int32_t out_h, int32_t out_w)
{
    const int32_t step = params->stride_h * width, d = params->dilation_h * width;
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    int32_t oy, nr;
    if (!buf->padded) {
        memset(buf->bytes, (int8_t)-params->input_offset, (size_t)(plane * width + 4));
        buf->copy = tsn_dsp_dw_copy_of(width, plane, in_stride, in_h, in_w, -params->pad_top,
                                       params->pad_left);
        buf->per_run = tsn_dsp_dw3_per_run(out_w, out_h);
        buf->padded = 1;
    }
    tsn_dsp_dw_copy_in(buf->bytes, width, &buf->copy, in, in_stride);
    for (oy = 0; oy < out_h; oy += nr) {
        nr = out_h - oy < buf->per_run ? out_h - oy : buf->per_run;
        out = tsn_dsp_dw3_run(&io, rq, bias, buf->bytes + oy * step, d, step, params->stride_w,
                              w, nr, out, out_stride, out_w);
    }
}

/* tsn_dsp_dw3_plane's channel when the plane does not fit: from a window of as many rows as
 * TSN_DSP_DW_STACK_BYTES holds, moved down when the next output rows need rows past it (rows
 * kept are moved up, new input rows copied in increasing order, never before an earlier one:
 * what the in-place callers rely on), and 4 more bytes after the last row. */
static inline void tsn_dsp_dw3_window(const tsn_conv_params *params, const tsn_dsp_rq *rq,
                                      int32_t bias, const int8_t *in, int32_t in_stride,
                                      int32_t in_h, int32_t in_w, int8_t *rows, int32_t width,
                                      const uint32_t *w, int8_t *out, int32_t out_stride,
                                      int32_t out_h, int32_t out_w)
{
    const int32_t sh = params->stride_h, step = sh * width, span = 2 * params->dilation_h + 1;
    const int32_t d = params->dilation_h * width;
    const int8_t pad = (int8_t)-params->input_offset;
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const int32_t cap = (TSN_DSP_DW_STACK_BYTES - 4) / width; /* window rows (>= span) */
    const int32_t per = tsn_dsp_dw3_per_run(out_w, (cap - span) / sh + 1);
    int32_t oy, nr, top = 0, have = 0;
    for (oy = 0; oy < out_h; oy += nr) {
        const int32_t first = oy * sh - params->pad_top; /* the window: rows top .. top + have */
        nr = out_h - oy < per ? out_h - oy : per;
        if (oy == 0 || first + (nr - 1) * sh + span > top + have) {
            const int32_t need = (out_h - 1 - oy) * sh + span; /* rows to the last output */
            const int32_t kept = oy > 0 ? top + have - first : 0; /* rows already there */
            const int32_t keep = kept > 0 ? kept : 0;
            int8_t *tail;
            if (keep > 0) {
                memmove(rows, rows + (first - top) * width, (size_t)(keep * width));
            }
            top = first;
            have = need < cap ? need : cap;
            tsn_dsp_dw_fill(rows + keep * width, width, have - keep, in, in_stride, in_h, in_w,
                            first + keep, params->pad_left, pad, 0);
            tail = rows + have * width;
            tail[0] = tail[1] = tail[2] = tail[3] = pad;
        }
        out = tsn_dsp_dw3_run(&io, rq, bias, rows + (first - top) * width, d, step,
                              params->stride_w, w, nr, out, out_stride, out_w);
    }
}

#endif /* TSN_DSP_DW_H */
