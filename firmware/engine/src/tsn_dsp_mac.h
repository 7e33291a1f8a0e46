/*
 * tsn_dsp_mac.h — the DSP path (tsn_dsp.h) of one-group int8 convolutions whose input channels
 * are not a multiple of 4 (the stems: 1 or 3 input channels), four output pixels at a time.
 *
 * Each pixel's window (filter order: fy, fx, ic) is gathered to bytes on the stack, positions
 * outside the image as -input_offset (so x + offset = 0 there: they add what the portable
 * kernel's skipped positions add, nothing), padded the same way to a multiple of 4, then widened
 * in tsn_dsp_mac_4x1's layout (tsn_dsp_mac_1x4's for a last lone pixel). Each filter's weights
 * run over the padded window: its last group reads the next filter's first weights, times 0;
 * the last filter of all reads no weight past its own (its last f_size % 4 weights in C).
 * Internal (included by the convolution sources).
 */
#ifndef TSN_DSP_MAC_H
#define TSN_DSP_MAC_H

#include "tsn_dsp.h"

#if TSN_DSP

/* Window elements (f_h * f_w * in_c) at most: q holds 4 windows of 2 words per 4 elements. */
#define TSN_DSP_GATHER_MAX 64

/* Whether tsn_dsp_conv_row_gather handles a one-group int8 convolution (any strides,
 * dilations, padding). */
static inline int tsn_dsp_gather_ok(int32_t f_h, int32_t f_w, int32_t in_c)
{
    return f_h * f_w * in_c <= TSN_DSP_GATHER_MAX;
}

/* Whether a one-group convolution is 1x1, stride 1, unpadded, output as large as the input: then
 * all its pixels form one row (of batches * h * w pixels), which tsn_dsp_conv_row4 runs four
 * at a time across the image rows. */
static inline int tsn_dsp_flat_1x1(const tsn_conv_params *params, const tsn_dims *input_dims,
                                   const tsn_dims *filter_dims, const tsn_dims *output_dims)
{
    return filter_dims->h == 1 && filter_dims->w == 1 && params->stride_h == 1 &&
           params->stride_w == 1 && params->pad_top == 0 && params->pad_left == 0 &&
           output_dims->h == input_dims->h && output_dims->w == input_dims->w;
}

/* d[0 .. n) = s[0 .. n): a word at a time (any alignment), inline: the stems' rows of a window
 * are a few bytes, which a call of memcpy costs several times over. */
static inline void tsn_dsp_copy_short(int8_t *d, const int8_t *s, int32_t n)
{
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        uint32_t v = tsn_ld4(s + i);
        __asm__("" : "+r"(v)); /* keeps GCC from seeing the loop as a memcpy (a call) */
        memcpy(d + i, &v, 4);
    }
    for (; i < n; ++i) {
        d[i] = s[i];
    }
}

/* win[0 .. f_size rounded up to 4) = the window at x origin x0 (tsn_dsp_conv_row4's rows). */
static inline void tsn_dsp_gather(const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                  int32_t f_h, int32_t f_w, int32_t dilation_w, int32_t x0,
                                  int8_t pad, int8_t *win)
{
    const int32_t row_len = f_w * in_c;
    int8_t *d = win;
    int32_t fy, fx, c;
    for (fy = 0; fy < f_h; ++fy, d += row_len) {
        const int8_t *row = rows[fy];
        if (row != NULL && dilation_w == 1 && x0 >= 0 && x0 + f_w <= in_w) {
            tsn_dsp_copy_short(d, row + x0 * in_c, row_len); /* the filter row inside the image */
            continue;
        }
        for (fx = 0; fx < f_w; ++fx) {
            const int32_t in_x = x0 + fx * dilation_w;
            const int inside = row != NULL && in_x >= 0 && in_x < in_w;
            for (c = 0; c < in_c; ++c) {
                d[fx * in_c + c] = inside ? row[in_x * in_c + c] : pad;
            }
        }
    }
    while (((d - win) & 3) != 0) {
        *d++ = pad;
    }
}

/* acc[j] += the last `rem` weights w[0 .. rem) times the inputs x[j][0 .. rem), j < n. */
static inline void tsn_dsp_gather_tail(const int8_t *w, int32_t rem, int32_t (*x)[4],
                                       int32_t n, int32_t *acc)
{
    int32_t j, i;
    for (j = 0; j < n; ++j) {
        for (i = 0; i < rem; ++i) {
            acc[j] += w[i] * x[j][i];
        }
    }
}

/* tsn_dsp_requant_block for the gathered rows, kept from constant-propagating into it (a clone
 * with constant arguments has too few registers for its asm loop at gcc -O3 on Cortex-M55). */
#if defined(__GNUC__) && !defined(__clang__) && TSN_DSP_ASM_LOOPS
__attribute__((noclone))
#endif
TSN_DSP_LOOP void tsn_dsp_gather_requant(const tsn_dsp_io *io, const tsn_requant *quant,
                                         const int32_t *bias, int32_t oc, int32_t n,
                                         const int32_t *acc, int32_t npix, int32_t np,
                                         int8_t *out, int32_t out_stride)
{
    tsn_dsp_requant_block(io, quant, bias, oc, n, acc, npix, np, 0, out, out_stride);
}

/* The input rows of a gathered convolution: row y in [0, in_h) at plane + (y % ring) * in_w * in_c
 * (ring = in_h: the image itself; less: a ring of the last rows), none outside the image. */
typedef struct {
    const int8_t *plane;
    int32_t in_h, ring;
} tsn_dsp_plane;

/* Output pixels first .. first + count of a one-group int8 convolution (tsn_dsp_gather_ok) whose
 * output is out_w pixels wide, pixel i (row-major, across output rows) at out + i * out_stride
 * (out_c channels): 4 pixels a group (the last 3 as a group of 4, the last repeated and written
 * once), the last 1 or 2 one by one, 4 filters a pass. Groups span output rows (each window is
 * gathered on its own): a stem 5 pixels wide runs as groups of 4, not 4 + 1 a row. All windows
 * of a group are read before its outputs are written. */
TSN_DSP_LOOP void tsn_dsp_conv_row_gather(const tsn_conv_params *params,
                                          const tsn_requant *quant, const tsn_dsp_plane *src,
                                          int32_t in_w, int32_t in_c, int32_t f_h, int32_t f_w,
                                          const int8_t *filter, const int32_t *bias,
                                          int32_t out_w, int32_t first, int32_t count,
                                          int32_t out_c, int32_t out_stride, int8_t *out)
{
    const int8_t *rows[TSN_DSP_MAX_SEGS];
    int32_t rows_oy = -1; /* the output row rows[] holds */
    uint32_t q[2 * TSN_DSP_GATHER_MAX];
    int32_t accs[4 * TSN_DSP_CHUNK];
    int8_t win[TSN_DSP_GATHER_MAX];
    int32_t tails[4][4]; /* x + offset of each pixel's last f_size % 4 window elements */
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const uint32_t off2 = tsn_dup16(io.input_offset);
    const int8_t pad = (int8_t)-io.input_offset; /* input_offset in [-127, 128] */
    const int32_t f_size = f_h * f_w * in_c, full = f_size >> 2, rem = f_size & 3;
    const int32_t groups = (f_size + 3) >> 2;
    const int fuse = tsn_dsp_fuse_ok(&io, quant, out_c);
    int32_t table[TSN_DSP_FUSE_WORDS * TSN_DSP_CHUNK + 1]; /* tsn_dsp_fuse_table_for */
    int32_t done, oc, k, p, g, table_oc = -1;
    out += first * out_stride;
    for (done = 0; done < count;) {
        const int32_t left = count - done;
        const int32_t npix = left > 2 ? 4 : 1, np = left < npix ? left : npix;
        for (p = 0; p < npix; ++p) {
            const int32_t at = first + done + (p < np ? p : np - 1), oy = at / out_w;
            const int32_t x0 = (at - oy * out_w) * params->stride_w - params->pad_left;
            uint32_t *d = q + 2 * p;
            if (oy != rows_oy) {
                int32_t fy;
                for (fy = 0; fy < f_h; ++fy) {
                    const int32_t in_y =
                        oy * params->stride_h - params->pad_top + params->dilation_h * fy;
                    rows[fy] = in_y < 0 || in_y >= src->in_h
                                   ? NULL
                                   : src->plane + (in_y % src->ring) * in_w * in_c;
                }
                rows_oy = oy;
            }
            tsn_dsp_gather(rows, in_w, in_c, f_h, f_w, params->dilation_w, x0, pad, win);
            tsn_dsp_widen_run(win, groups, 8, off2, 2 * npix, d);
            for (g = 0; g < rem; ++g) {
                tails[p][g] = win[4 * full + g] + io.input_offset;
            }
        }
        for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
            const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
            /* 4 pixels: the filters but a last of all with a tail requantized as they end */
            const int32_t fused = fuse && np == 4 ? n - (rem != 0 && oc + n == out_c) : 0;
            if (fused > 0) {
                tsn_dsp_conv4_fused(
                    tsn_dsp_fuse_table_for(&io, quant, bias, oc, n, out_c, table,
                                           TSN_DSP_CHUNK, &table_oc),
                    fused, q, groups, filter + oc * f_size, f_size, 8, NULL,
                    out + done * out_stride + oc, out_stride);
            }
            for (k = 4 * fused; k < 4 * n; ++k) {
                accs[k] = 0;
            }
            for (k = fused; k < n; k += npix == 4 ? 1 : 4) {
                /* filters k .. k + span - 1 in this pass; the pass holding the last filter of
                 * all stops at its whole groups */
                const int32_t span = npix == 4 ? 1 : (n - k < 4 ? n - k : 4);
                const int at_end = rem != 0 && oc + k + span == out_c;
                const int32_t reach = at_end ? full : groups;
                const int8_t *f = filter + (oc + k) * f_size;
                if (npix == 4) {
                    tsn_dsp_mac_4x1(q, reach, f, accs + 4 * k);
                } else if (span == 4) {
                    tsn_dsp_mac_1x4(q, reach, f, f_size, accs + k);
                } else { /* 1 to 3 filters left: one at a time, each 4 times */
                    int32_t j;
                    for (j = 0; j < span; ++j) {
                        int32_t rest[4] = {0, 0, 0, 0};
                        tsn_dsp_mac_1x4(q, reach, f + j * f_size, 0, rest);
                        accs[k + j] += rest[0];
                    }
                }
                if (at_end && npix == 4) {
                    tsn_dsp_gather_tail(f + 4 * full, rem, tails, 4, accs + 4 * k);
                } else if (at_end) {
                    for (p = 0; p < span; ++p) {
                        tsn_dsp_gather_tail(f + p * f_size + 4 * full, rem, tails, 1,
                                            accs + k + p);
                    }
                }
            }
            if (fused < n) {
                tsn_dsp_gather_requant(&io, quant, bias, oc + fused, n - fused,
                                       accs + npix * fused, npix, np, out + done * out_stride,
                                       out_stride);
            }
        }
        done += np;
    }
}

#endif /* TSN_DSP */

#endif /* TSN_DSP_MAC_H */
