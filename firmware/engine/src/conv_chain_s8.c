/*
 * tsn_conv_chain_s8 — up to three consecutive ops run row by row, so that the tensors between
 * them never exist whole:
 *   [producer conv] -> consumer conv -> [residual ADD]
 * - with a producer, the consumer reads a window of the producer's output rows (as many as one
 *   consumer output row needs); each producer row is computed once, when first needed, and the
 *   window slides down (rows no longer needed are dropped by a memmove);
 * - with an ADD, each consumer output row goes to a scratch row and is added to the same row of
 *   the ADD's other input (`residual`), which receives the ADD's output in place;
 * - a lone consumer with a window runs in place: its input rows are copied into the window as
 *   needed and its output overwrites its input (any weight width: the in-place convolution of
 *   packed models).
 * A "conv" is CONV_2D (tsn_conv2d_s8/_s4/_s2) or DEPTHWISE_CONV_2D (tsn_depthwise_conv2d_s8/
 * _s4/_s2): int8 activations, weights of 8, 4 or 2 bits. Every row is computed by those kernels,
 * so the values are bit for bit those of the ops run one after the other.
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>
#include <string.h>

static int layer_valid(const tsn_conv_layer *l)
{
    return l != NULL && l->input_dims != NULL && l->output_dims != NULL &&
           l->kernel != NULL &&
           tsn_conv_args_valid(l->params, l->quant, l->input_dims, l->filter_dims, l->filter,
                               l->output_dims) &&
           l->input_dims->n == 1 && l->output_dims->n == 1;
}

/* Output rows [oy, oy + 1) of layer l from the input rows in `rows` (rows_h rows of the
 * layer's input starting at input row rows_first; rows outside are padding or unread). */
static tsn_status layer_row(const tsn_conv_layer *l, const int8_t *rows, int32_t rows_first,
                            int32_t rows_h, int32_t oy, int8_t *out)
{
    const int32_t top = oy * l->params->stride_h - l->params->pad_top; /* first input row */
    const tsn_dims in = {1, rows_h, l->input_dims->w, l->input_dims->c};
    const tsn_dims row = {1, 1, l->output_dims->w, l->output_dims->c};
    tsn_conv_params p = *l->params;
    if (top >= rows_first) {
        /* skip rows above `top`; p.pad_top = 0 */
        const int32_t skip = top - rows_first;
        const tsn_dims rest = {1, rows_h - skip, in.w, in.c};
        if (rest.h <= 0) {
            return TSN_ERROR_ARGUMENT; /* a row of padding only: not SAME or VALID */
        }
        p.pad_top = 0;
        return l->kernel(&p, l->quant, &rest, rows + (size_t)skip * in.w * in.c, l->filter_dims,
                         l->filter, l->bias, &row, out);
    }
    p.pad_top = rows_first - top; /* rows above rows_first are padding */
    return l->kernel(&p, l->quant, &in, rows, l->filter_dims, l->filter, l->bias, &row, out);
}

/**
 * @param producer   NULL, or the op whose output is the consumer's input (never materialized)
 * @param consumer   the consumer op (batch 1)
 * @param add        NULL, or the residual ADD taking the consumer's output
 * @param conv_is_input1  with add: 1 when the consumer output is the ADD's first input
 * @param input      the first op's input tensor
 * @param output     without add: the consumer's output; with add: the ADD's other input on entry
 *                   and its output on return. It must not overlap window or row, nor input,
 *                   except that with add it may be the very input (a residual block's x): then
 *                   row oy is written only when no later row reads input rows <= oy (checked)
 * @param window     with a producer: min(span, producer out_h) rows of producer out_w*out_c
 *                   bytes, span = (consumer kh - 1) * dilation_h + 1. Without a producer and
 *                   without add: NULL, or (in place: output == input allowed) min(span, in_h)
 *                   rows of the input, each copied there before the output overwrites it
 *                   (checked: output row oy only covers input rows already copied).
 * @param row        with add: consumer out_w*out_c bytes; else unused (NULL)
 * @return TSN_OK, TSN_ERROR_ARGUMENT on invalid arguments, or a kernel's error status.
 */
tsn_status tsn_conv_chain_s8(const tsn_conv_layer *producer, const tsn_conv_layer *consumer,
                             const tsn_add_params *add, int32_t conv_is_input1,
                             const int8_t *input, int8_t *output, int8_t *window, int8_t *row)
{
    const tsn_dims *mid; /* the consumer's input */
    size_t mid_row, out_row;
    int32_t span, capacity, first = 0, count = 0, oy;

    if (!layer_valid(consumer) || input == NULL || output == NULL ||
        (producer != NULL && (!layer_valid(producer) || window == NULL)) ||
        (add != NULL && row == NULL) || (producer == NULL && add != NULL && window != NULL)) {
        return TSN_ERROR_ARGUMENT;
    }
    mid = consumer->input_dims;
    if (producer != NULL && (producer->output_dims->h != mid->h ||
                             producer->output_dims->w != mid->w ||
                             producer->output_dims->c != mid->c)) {
        return TSN_ERROR_ARGUMENT;
    }
    mid_row = (size_t)mid->w * mid->c;
    out_row = (size_t)consumer->output_dims->w * consumer->output_dims->c;
    span = (consumer->filter_dims->h - 1) * consumer->params->dilation_h + 1;
    capacity = span < mid->h ? span : mid->h;
    for (oy = 0; oy < consumer->output_dims->h; ++oy) {
        int8_t *dest = add != NULL ? row : output + (size_t)oy * out_row;
        tsn_status status;
        if (producer != NULL || window != NULL) {
            const int32_t top = oy * consumer->params->stride_h - consumer->params->pad_top;
            const int32_t lo = top > 0 ? top : 0;
            const int32_t hi = top + span < mid->h ? top + span : mid->h; /* exclusive */
            if (lo >= first + count) { /* nothing reusable */
                first = lo;
                count = 0;
            } else if (lo > first) { /* drop the rows above lo */
                memmove(window, window + (size_t)(lo - first) * mid_row,
                        (size_t)(first + count - lo) * mid_row);
                count -= lo - first;
                first = lo;
            }
            if (hi - first > capacity) {
                return TSN_ERROR_ARGUMENT;
            }
            for (; first + count < hi; ++count) {
                int8_t *slot = window + (size_t)count * mid_row;
                if (producer == NULL) { /* in place: a copy of the input row */
                    memcpy(slot, input + (size_t)(first + count) * mid_row, mid_row);
                    continue;
                }
                status = layer_row(producer, input, 0, producer->input_dims->h, first + count,
                                   slot);
                if (status != TSN_OK) {
                    return status;
                }
            }
            /* in place: the output row may only cover input rows already copied */
            if (producer == NULL && add == NULL && (void *)output == (const void *)input &&
                (size_t)(oy + 1) * out_row > (size_t)(first + count) * mid_row) {
                return TSN_ERROR_ARGUMENT;
            }
            status = layer_row(consumer, window, first, count, oy, dest);
        } else {
            status = layer_row(consumer, input, 0, mid->h, oy, dest);
        }
        if (status != TSN_OK) {
            return status;
        }
        if (add != NULL) {
            int8_t *res = output + (size_t)oy * out_row;
            if (output == input) { /* the first input row any later computation reads */
                const tsn_conv_layer *first_layer = producer != NULL ? producer : consumer;
                const int32_t next = producer != NULL ? first + count : oy + 1;
                const int32_t next_end = producer != NULL ? mid->h : consumer->output_dims->h;
                if (next < next_end &&
                    next * first_layer->params->stride_h - first_layer->params->pad_top <= oy) {
                    return TSN_ERROR_ARGUMENT;
                }
            }
            status = conv_is_input1 ? tsn_add_s8(add, (int32_t)out_row, row, res, res)
                                    : tsn_add_s8(add, (int32_t)out_row, res, row, res);
            if (status != TSN_OK) {
                return status;
            }
        }
    }
    return TSN_OK;
}
