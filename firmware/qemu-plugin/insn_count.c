/*
 * insn_count.c — a QEMU TCG plugin that counts the guest instructions of every model
 * invocation exactly, for tinysweep's emulated boards.
 *
 *   qemu-system-arm ... -plugin insn_count.so,begin=0x<addr>,end=0x<addr>,out=<file>
 *                              [,skip=0x<addr>:<bytes>]...
 *
 * begin/end: addresses of the firmware's marker functions tsn_marker_invoke_begin/_end
 * (ports/cortex-m/model_wrap.c). Every executed translation block adds its instruction count
 * to a counter (inline, no callback); a callback on the first instruction of each marker
 * reads it, less the instructions of its block not yet run. At each `end` the plugin appends
 * one line to `out`: the instructions executed from the entry of `begin` (included) to the
 * entry of `end` (excluded): the model invocation plus 3 marker instructions (begin's `bx lr`,
 * the `bl` to the model and the `bl` to `end`). Counting a block when it starts is exact because a block only
 * stops early on a fault, and a fault ends the run. Deterministic: the same firmware and inputs give the same
 * counts on every run.
 *
 * skip: code not counted (an interrupt handler, e.g. the timer's: it interrupts inferences at
 * points that depend on how long the host took to send the input, so counting it would make
 * the same inference differ by a few instructions from run to run). Exception entry and return
 * are not instructions and are never counted.
 *
 * Debian's QEMU ships no qemu-plugin.h, so the v1 API used here is declared below (QEMU 7.2,
 * include/qemu/qemu-plugin.h). Build: gcc -shared -fPIC -O2 -o insn_count.so insn_count.c
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the subset of QEMU's plugin API (version 1) this plugin uses ------------------------ */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* opaque here: not read */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- the plugin ---------------------------------------------------------------------------- */
static uint64_t executed;     /* instructions of all executed blocks (one vCPU) */
static uint64_t begin_count;
static int in_inference;
static uint64_t begin_addr, end_addr;
static FILE *out;
#define MAX_SKIP 8
static uint64_t skip_start[MAX_SKIP], skip_end[MAX_SKIP];
static int n_skip;

static int skipped(uint64_t addr)
{
    for (int i = 0; i < n_skip; ++i) {
        if (addr >= skip_start[i] && addr < skip_end[i]) {
            return 1;
        }
    }
    return 0;
}

static void on_begin(unsigned int vcpu, void *udata)
{
    uint64_t not_yet = (uint64_t)(uintptr_t)udata;
    (void)vcpu;
    begin_count = executed - not_yet;
    in_inference = 1;
}

static void on_end(unsigned int vcpu, void *udata)
{
    /* the block of `end` was added when it started: its instructions from `end` on have not
     * run yet */
    uint64_t not_yet = (uint64_t)(uintptr_t)udata;
    (void)vcpu;
    if (in_inference) {
        fprintf(out, "%" PRIu64 "\n", executed - not_yet - begin_count);
        fflush(out); /* the runner reads the file while QEMU runs */
        in_inference = 0;
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    if (n == 0 || skipped(qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, 0)))) {
        return;
    }
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t addr = qemu_plugin_insn_vaddr(insn);
        if (addr == begin_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(n - i));
        } else if (addr == end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(n - i));
        }
    }
}

static void on_exit_(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    if (out != NULL) {
        fclose(out);
        out = NULL;
    }
}

static int parse_addr(const char *arg, const char *key, uint64_t *value)
{
    size_t k = strlen(key);
    char *end;
    if (strncmp(arg, key, k) != 0 || arg[k] != '=') {
        return 0;
    }
    *value = strtoull(arg + k + 1, &end, 0) & ~(uint64_t)1; /* Thumb bit off */
    return *end == '\0';
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *path = NULL;
    int have_begin = 0, have_end = 0;
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (parse_addr(argv[i], "begin", &begin_addr)) {
            have_begin = 1;
        } else if (parse_addr(argv[i], "end", &end_addr)) {
            have_end = 1;
        } else if (strncmp(argv[i], "skip=", 5) == 0) {
            char *end;
            uint64_t start = strtoull(argv[i] + 5, &end, 0) & ~(uint64_t)1;
            uint64_t bytes = *end == ':' ? strtoull(end + 1, &end, 0) : 0;
            if (*end != '\0' || bytes == 0 || n_skip == MAX_SKIP) {
                fprintf(stderr, "insn_count: bad '%s' (skip=<addr>:<bytes>, at most %d)\n",
                        argv[i], MAX_SKIP);
                return -1;
            }
            skip_start[n_skip] = start;
            skip_end[n_skip++] = start + bytes;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s' (expected begin=, end=, out=, skip=)\n",
                    argv[i]);
            return -1;
        }
    }
    if (!have_begin || !have_end || path == NULL) {
        fprintf(stderr, "insn_count: needs begin=<addr>,end=<addr>,out=<file>\n");
        return -1;
    }
    out = fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "insn_count: cannot write %s\n", path);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
