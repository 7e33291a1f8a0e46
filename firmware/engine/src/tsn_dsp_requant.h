/*
 * tsn_dsp_requant.h — internal: the right-shift requantization of tsn_dsp_rq_right_run (see
 * tsn_dsp.h) with its constants folded once per channel, and four outputs of a channel
 * straight-line (included by tsn_dsp.h only).
 */
#ifndef TSN_DSP_REQUANT_H
#define TSN_DSP_REQUANT_H

/* The folded constants of tsn_dsp_rq_right_run for multiplier m in (2^30, 2^31), shift in
 * [-1 - TSN_DSP_RQ_FOLD_MAX_RS1, -1] and output offset off in [-128, 127]: rs1 = -shift - 1,
 * K = 2^30 + 2^(31 + rs1) ... as (k_lo, k_hi) with off * 2^rs1 added to k_hi. k_hi =
 * 2^(rs1 - 1) + off * 2^rs1 = ((2 * off + 1) * 2^rs1) >> 1 for rs1 >= 1, and off for rs1 = 0
 * (k_lo 0xC0000000 then): the same expression (an arithmetic shift, exact here). */
static inline int tsn_dsp_rq_fold(int32_t m, int32_t shift, int32_t off, int32_t *rs1,
                                  uint32_t *k_lo, uint32_t *k_hi)
{
    if (m <= ((int32_t)1 << 30) || shift > -1 || shift < -1 - TSN_DSP_RQ_FOLD_MAX_RS1) {
        return 0;
    }
    *rs1 = -shift - 1;
    *k_lo = *rs1 == 0 ? 0xC0000000u : 0x40000000u;
    /* >> of a negative int is arithmetic wherever this path builds */
    *k_hi = (uint32_t)((int32_t)((uint32_t)(2 * off + 1) << *rs1) >> 1);
    return 1;
}

/* The right-shift form in asm on operand X (int32: accumulator + bias): result in hi, clamped
 * to int8 (operands lo, hi, klo, khi, m, rs1 as tsn_dsp_rq_right's). */
#define TSN_DSP_RQ_ASM(X)                                                                       \
    "and %[lo], %[" X "], #0x80000000\n\t"                                                      \
    "subs %[lo], %[klo], %[lo]\n\t"                                                             \
    "sbc %[hi], %[khi], #0\n\t"                                                                 \
    "smlal %[lo], %[hi], %[" X "], %[m]\n\t"                                                    \
    "asr %[hi], %[hi], %[rs1]\n\t"                                                              \
    "ssat %[hi], #8, %[hi]\n\t"

/* out[p * stride] = ssat8(high word of ((acc[p] >> ashift) + b) * m + K - sign * 2^31, >> rs1),
 * p < 4: tsn_dsp_rq_right_run's arithmetic with constants of tsn_dsp_rq_fold, ashift 0 or 4.
 * 35 instructions. */
static inline TSN_DSP_INLINE void tsn_dsp_rq4(const int32_t *acc, int ashift, int32_t b,
                                              int32_t m, uint32_t k_lo, uint32_t k_hi,
                                              int32_t rs1, int8_t *out, int32_t stride)
{
#if TSN_DSP_ASM_LOOPS
    uint32_t x0, x1, lo, hi;
#define TSN_DSP_RQ4_ONE(X, STORE) TSN_DSP_RQ_ASM(X) STORE
#define TSN_DSP_RQ4_BODY(ADD0, ADD1, ADD2, ADD3)                                                \
    "ldrd %[x0], %[x1], [%[a]]\n\t" ADD0 TSN_DSP_RQ4_ONE("x0", "strb %[hi], [%[o]]\n\t")        \
    ADD1 TSN_DSP_RQ4_ONE("x1", "strb %[hi], [%[o], %[s]]\n\t")                                  \
    "ldrd %[x0], %[x1], [%[a], #8]\n\t"                                                         \
    "add %[o], %[o], %[s], lsl #1\n\t" ADD2 TSN_DSP_RQ4_ONE("x0", "strb %[hi], [%[o]]\n\t")     \
    ADD3 TSN_DSP_RQ4_ONE("x1", "strb %[hi], [%[o], %[s]]\n\t")
#define TSN_DSP_RQ4_OPERANDS                                                                    \
    : [o] "+r"(out), [x0] "=&r"(x0), [x1] "=&r"(x1), [lo] "=&r"(lo), [hi] "=&r"(hi)           \
    : [a] "r"(acc), [b] "r"(b), [klo] "r"(k_lo), [khi] "r"(k_hi), [m] "r"(m), [rs1] "r"(rs1), \
      [s] "r"(stride)                                                                          \
    : "cc", "memory"
    if (ashift) {
        __asm__ volatile(TSN_DSP_RQ4_BODY("add %[x0], %[b], %[x0], asr #4\n\t",
                                          "add %[x1], %[b], %[x1], asr #4\n\t",
                                          "add %[x0], %[b], %[x0], asr #4\n\t",
                                          "add %[x1], %[b], %[x1], asr #4\n\t")
                             TSN_DSP_RQ4_OPERANDS);
    } else {
        __asm__ volatile(TSN_DSP_RQ4_BODY("add %[x0], %[x0], %[b]\n\t", "add %[x1], %[x1], %[b]\n\t",
                                          "add %[x0], %[x0], %[b]\n\t", "add %[x1], %[x1], %[b]\n\t")
                             TSN_DSP_RQ4_OPERANDS);
    }
#undef TSN_DSP_RQ4_OPERANDS
#undef TSN_DSP_RQ4_BODY
#undef TSN_DSP_RQ4_ONE
#else
    int32_t p;
    for (p = 0; p < 4; ++p) {
        /* >> of a negative int is arithmetic wherever this path builds */
        const int32_t v = tsn_dsp_rq_right((acc[p] >> ashift) + b, m, k_lo, k_hi, rs1);
        out[p * stride] = (int8_t)tsn_clamp(v, -128, 127);
    }
#endif
}

#endif /* TSN_DSP_REQUANT_H */
