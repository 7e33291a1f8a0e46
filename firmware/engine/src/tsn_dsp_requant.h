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
static inline void tsn_dsp_rq_folded(int32_t shift, int32_t off, int32_t *rs1, uint32_t *k_lo,
                                     uint32_t *k_hi)
{
    *rs1 = -shift - 1;
    *k_lo = *rs1 == 0 ? 0xC0000000u : 0x40000000u;
    /* >> of a negative int is arithmetic wherever this path builds */
    *k_hi = (uint32_t)((int32_t)((uint32_t)(2 * off + 1) << *rs1) >> 1);
}

/* Whether (m, shift) has folded constants (above): then they are set. */
static inline int tsn_dsp_rq_fold(int32_t m, int32_t shift, int32_t off, int32_t *rs1,
                                  uint32_t *k_lo, uint32_t *k_hi)
{
    if (m <= ((int32_t)1 << 30) || shift > -1 || shift < -1 - TSN_DSP_RQ_FOLD_MAX_RS1) {
        return 0;
    }
    tsn_dsp_rq_folded(shift, off, rs1, k_lo, k_hi);
    return 1;
}

/* The right-shift form in asm on operand X (int32: accumulator + bias): result in HI, clamped
 * to int8 (operands LO, HI, KLO, KHI, M, RS1 as tsn_dsp_rq_right's lo, hi, k_lo, k_hi, m, rs1). */
#define TSN_DSP_RQ_ASM_IN(X, LO, HI, KLO, KHI, M, RS1)                                          \
    TSN_DSP_RQ_ASM_TEXT("%[" X "]", "%[" LO "]", "%[" HI "]", "%[" KLO "]", "%[" KHI "]",       \
                        "%[" M "]", "%[" RS1 "]")
/* The same on registers named as written (asm without operands). */
#define TSN_DSP_RQ_ASM_TEXT(X, LO, HI, KLO, KHI, M, RS1)                                        \
    "and " LO ", " X ", #0x80000000\n\t"                                                        \
    "subs " LO ", " KLO ", " LO "\n\t"                                                          \
    "sbc " HI ", " KHI ", #0\n\t"                                                               \
    "smlal " LO ", " HI ", " X ", " M "\n\t"                                                    \
    "asr " HI ", " HI ", " RS1 "\n\t"                                                           \
    "ssat " HI ", #8, " HI "\n\t"
#define TSN_DSP_RQ_ASM(X) TSN_DSP_RQ_ASM_IN(X, "lo", "hi", "klo", "khi", "m", "rs1")

/* Four accumulators of one channel, one per output pixel, in registers. */
typedef struct {
    int32_t a0, a1, a2, a3;
} tsn_dsp_acc4;

static inline TSN_DSP_INLINE tsn_dsp_acc4 tsn_dsp_acc4_load(const int32_t *acc)
{
    tsn_dsp_acc4 a;
    a.a0 = acc[0];
    a.a1 = acc[1];
    a.a2 = acc[2];
    a.a3 = acc[3];
    return a;
}

static inline TSN_DSP_INLINE void tsn_dsp_acc4_store(tsn_dsp_acc4 a, int32_t *acc)
{
    acc[0] = a.a0;
    acc[1] = a.a1;
    acc[2] = a.a2;
    acc[3] = a.a3;
}

/* out[p * stride] = ssat8(high word of (x_p * m + K - sign * 2^31), >> rs1), p < 4, x_p =
 * (a_p >> ashift) + b, or a_p itself when `biased` (the bias already in: ashift 0):
 * tsn_dsp_rq_right_run's arithmetic with constants of tsn_dsp_rq_fold, ashift 0 or 4.
 * 31 instructions (35 with the bias, added in C: the asm has no register left for it). */
static inline TSN_DSP_INLINE void tsn_dsp_rq4_regs(tsn_dsp_acc4 a, int ashift, int biased,
                                                   int32_t b, int32_t m, uint32_t k_lo,
                                                   uint32_t k_hi, int32_t rs1, int8_t *out,
                                                   int32_t stride)
{
    if (!biased) { /* int32 addition wraps (as the asm's ADD); >> of a negative int is
                    * arithmetic wherever this path builds */
        a.a0 = tsn_dsp_i32((uint32_t)(a.a0 >> ashift) + (uint32_t)b);
        a.a1 = tsn_dsp_i32((uint32_t)(a.a1 >> ashift) + (uint32_t)b);
        a.a2 = tsn_dsp_i32((uint32_t)(a.a2 >> ashift) + (uint32_t)b);
        a.a3 = tsn_dsp_i32((uint32_t)(a.a3 >> ashift) + (uint32_t)b);
    }
#if TSN_DSP_ASM_LOOPS
    {
        uint32_t lo, hi;
        __asm__ volatile(TSN_DSP_RQ_ASM("x0") "strb %[hi], [%[o]]\n\t"
                         TSN_DSP_RQ_ASM("x1") "strb %[hi], [%[o], %[s]]\n\t"
                         "add %[o], %[o], %[s], lsl #1\n\t"
                         TSN_DSP_RQ_ASM("x2") "strb %[hi], [%[o]]\n\t"
                         TSN_DSP_RQ_ASM("x3") "strb %[hi], [%[o], %[s]]\n\t"
                         : [o] "+r"(out), [x0] "+r"(a.a0), [x1] "+r"(a.a1), [x2] "+r"(a.a2),
                           [x3] "+r"(a.a3), [lo] "=&r"(lo), [hi] "=&r"(hi)
                         : [klo] "r"(k_lo), [khi] "r"(k_hi), [m] "r"(m), [rs1] "r"(rs1),
                           [s] "r"(stride)
                         : "cc", "memory");
    }
#else
    out[0] = (int8_t)tsn_clamp(tsn_dsp_rq_right(a.a0, m, k_lo, k_hi, rs1), -128, 127);
    out[stride] = (int8_t)tsn_clamp(tsn_dsp_rq_right(a.a1, m, k_lo, k_hi, rs1), -128, 127);
    out[2 * stride] = (int8_t)tsn_clamp(tsn_dsp_rq_right(a.a2, m, k_lo, k_hi, rs1), -128, 127);
    out[3 * stride] = (int8_t)tsn_clamp(tsn_dsp_rq_right(a.a3, m, k_lo, k_hi, rs1), -128, 127);
#endif
}

/* tsn_dsp_rq4_regs of acc[0 .. 4) (+ b). */
static inline TSN_DSP_INLINE void tsn_dsp_rq4(const int32_t *acc, int ashift, int32_t b,
                                              int32_t m, uint32_t k_lo, uint32_t k_hi,
                                              int32_t rs1, int8_t *out, int32_t stride)
{
    tsn_dsp_rq4_regs(tsn_dsp_acc4_load(acc), ashift, 0, b, m, k_lo, k_hi, rs1, out, stride);
}

#endif /* TSN_DSP_REQUANT_H */
