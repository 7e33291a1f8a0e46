/*
 * harness.c — MLPerf Tiny protocol over port.h, for the generated model: performance mode, or
 * energy mode when built with HARNESS_ENERGY_MODE (timestamps are GPIO edges, not lines).
 * See harness.h. No printf: numbers are formatted here (newlib-nano has neither %llu nor %f).
 */
#include "harness.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "port.h"
#include "tsn.h"

#define MAX_TOKENS 8

static char cmd_buf[HARNESS_CMD_SIZE + 1];
static size_t cmd_len;
static int cmd_overflow;

static size_t db_size; /* bytes announced by the last 'db load N' */
static size_t db_pos;  /* bytes received since */

#ifdef TSN_MODEL_PROFILE_AD01
/* ad01: `db` bytes are one window of little-endian float32 features, kept for the MSE. */
static float ad_window[TSN_MODEL_INPUT_BYTES];
#define DB_CAPACITY (sizeof ad_window)
static uint8_t *db_buffer(void)
{
    return (uint8_t *)ad_window;
}
#else
/* Classifiers: `db` bytes go straight into the model's int8 input (ic01/vww01: uint8 pixels,
 * turned into pixel - 128 in place when the transfer is complete). */
#define DB_CAPACITY ((size_t)TSN_MODEL_INPUT_BYTES)
static uint8_t *db_buffer(void)
{
    return (uint8_t *)tsn_model_input();
}
#endif

#ifdef TSN_MODEL_UINT8_PIXELS
static int db_converted; /* the loaded pixels are stored as pixel - 128 */
#endif

/* The byte as it was received: `db print` shows what was sent (ic01/vww01 store pixel - 128
 * once the transfer is complete). */
static uint8_t db_byte_received(uint8_t stored)
{
#ifdef TSN_MODEL_UINT8_PIXELS
    return db_converted ? stored ^ 0x80u : stored;
#else
    return stored;
#endif
}

/* ---- output ------------------------------------------------------------------------------ */

static void put(const char *s)
{
    port_write(s, strlen(s));
}

static void put_line(const char *s)
{
    put(s);
    put("\r\n");
}

static void put_u64(uint64_t v)
{
    char b[21];
    size_t i = sizeof b - 1;
    b[i] = '\0';
    do {
        b[--i] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    put(&b[i]);
}

static void put_i64(int64_t v)
{
    if (v < 0) {
        put("-");
        put_u64((uint64_t)(-(v + 1)) + 1u);
    } else {
        put_u64((uint64_t)v);
    }
}

static void put_hex2(uint8_t v)
{
    static const char digits[] = "0123456789abcdef";
    char b[3];
    b[0] = digits[v >> 4];
    b[1] = digits[v & 15u];
    b[2] = '\0';
    put(b);
}

/* Printable ASCII only: anything else in echoed input becomes '?'. */
static void put_sanitized(const char *s)
{
    char b[2] = {0, 0};
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        b[0] = (c >= 0x20u && c < 0x7fu) ? (char)c : '?';
        put(b);
    }
}

#ifdef HARNESS_ENERGY_MODE
/* Energy mode (EEMBC EnergyRunner): a timestamp is a falling edge on the port's timestamp pin
 * (seen by the energy monitor), not a line. */
#define HARNESS_MODE_LINE "m-timestamp-mode-energy"
static void timestamp_now(void)
{
    port_timestamp_pulse();
}
#else
#define HARNESS_MODE_LINE "m-timestamp-mode-performance"
static void put_timestamp(uint64_t us)
{
    put("m-lap-us-");
    put_u64(us);
    put("\r\n");
}

static void timestamp_now(void)
{
    put_timestamp(port_timestamp_us());
}
#endif

/* `x` with 3 decimals, as printf("%0.3f") (ties to even), without floating-point printf. */
static void put_fixed3(float x)
{
    const float limit = 9.0e15f;
    float milli = x * 1000.0f;
    int negative = milli < 0.0f;
    float a = negative ? -milli : milli;
    int64_t whole;
    float frac;
    if (a > limit) {
        a = limit;
    }
    whole = (int64_t)a;
    frac = a - (float)whole;
    if (frac > 0.5f || (frac == 0.5f && (whole & 1) != 0)) {
        whole += 1;
    }
    if (negative) { /* like printf: -0.0004 prints as -0.000 */
        put("-");
    }
    put_u64((uint64_t)(whole / 1000));
    put(".");
    put(whole % 1000 < 100 ? (whole % 1000 < 10 ? "00" : "0") : "");
    put_u64((uint64_t)(whole % 1000));
}

/* ---- parsing ----------------------------------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Split `s` in place at whitespace; returns the number of tokens (at most `max`). */
static int tokenize(char *s, char **tokens, int max)
{
    int n = 0;
    while (*s != '\0' && n < max) {
        while (is_space(*s)) {
            *s++ = '\0';
        }
        if (*s == '\0') {
            break;
        }
        tokens[n++] = s;
        while (*s != '\0' && !is_space(*s)) {
            ++s;
        }
    }
    return n;
}

/* A decimal integer in [-999999999, 999999999]; returns 0 on success, -1 otherwise. */
static int parse_int(const char *s, long *out)
{
    long v = 0;
    int negative = 0;
    int digits = 0;
    if (*s == '-' || *s == '+') {
        negative = *s == '-';
        ++s;
    }
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9' || ++digits > 9) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    if (digits == 0) {
        return -1;
    }
    *out = negative ? -v : v;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* ---- commands ---------------------------------------------------------------------------- */

static void cmd_help(void)
{
    put_line(HARNESS_FW_VERSION);
    put_line("");
    put_line("help         : Print this information");
    put_line("name         : Print the name of the device");
    put_line("timestamp    : Print a timestamp (m-lap-us-N)");
    put_line("profile      : Print the firmware version and the model");
    put_line("db SUBCMD    : Manipulate the input buffer");
    put("  load N     : Expect N bytes, 1..");
    put_u64((uint64_t)TSN_MODEL_INPUT_BYTES);
    put("\r\n");
    put_line("  HH[HH]*    : Load 8-bit hex bytes until N bytes");
    put_line("  print      : Print the loaded bytes as hex, 8 a line");
    put_line("  crc        : Print the count and CRC-32 of the bytes received since 'db load'");
    put_line("infer N [W=10]: Run N inferences after W warmup inferences");
    put_line("stack        : Print the most stack used since boot and the bytes reserved");
    put_line("results      : Print the last results (dequantized, 3 decimals)");
    put_line("outputs      : Print the last raw int8 outputs");
}

static void db_load(int argc, char **argv)
{
    long n;
    if (argc < 3) {
        put_line("e-[Command 'db load' requires the # of bytes]");
        return;
    }
    if (parse_int(argv[2], &n) != 0) {
        put("e-[Invalid number '");
        put_sanitized(argv[2]);
        put_line("']");
        return;
    }
    if (n < 1) {
        put_line("e-[Command 'db load' must be >0 bytes]");
        return;
    }
    if (n > (long)DB_CAPACITY) {
        put("e-[Command 'db load' exceeds the input size of ");
        put_u64((uint64_t)DB_CAPACITY);
        put_line(" bytes]");
        return;
    }
    db_size = (size_t)n;
    db_pos = 0;
#ifdef TSN_MODEL_UINT8_PIXELS
    db_converted = 0;
#endif
    put("m-[Expecting ");
    put_u64((uint64_t)db_size);
    put_line(" bytes]");
}

static void db_print(void)
{
    const uint8_t *buf = db_buffer();
    size_t i;
    for (i = 0; i < db_size; ++i) {
        put(i % 8u == 0u ? "m-buffer-" : "-");
        put_hex2(db_byte_received(buf[i]));
        if (i % 8u == 7u || i + 1u == db_size) {
            put("\r\n");
        }
    }
}

/* `db crc`: m-db-crc32-[COUNT,CRC] of the bytes received since `db load` (CRC-32 of zlib,
 * lowercase hex), so the runner checks a transfer with one short line instead of `db print`.
 * After a reset it reads 0 bytes: a lost input is noticed before its results are taken. */
static void db_crc(void)
{
    const uint8_t *buf = db_buffer();
    uint32_t crc = 0xffffffffu;
    size_t i;
    int bit;
    for (i = 0; i < db_pos; ++i) {
        crc ^= db_byte_received(buf[i]);
        for (bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    crc = ~crc;
    put("m-db-crc32-[");
    put_u64((uint64_t)db_pos);
    put(",");
    for (bit = 24; bit >= 0; bit -= 8) {
        put_hex2((uint8_t)(crc >> bit));
    }
    put_line("]");
}

/* A complete `db` transfer: ad01 quantizes its float window into the model input, exactly as
 * TFLM's QUANTIZE (the model's own, when the .tflite takes float input). Returns 0, or -1 after
 * printing an error. */
static int load_done(void)
{
#ifdef TSN_MODEL_UINT8_PIXELS
    uint8_t *buf = db_buffer();
    size_t i;
    for (i = 0; i < db_size; ++i) {
        buf[i] ^= 0x80u; /* int8 (pixel - 128) has the bit pattern of pixel ^ 0x80 */
    }
    db_converted = 1;
#endif
#ifdef TSN_MODEL_PROFILE_AD01
#ifdef TSN_MODEL_FLOAT_INPUT
    tsn_status status = tsn_model_quantize_input(ad_window);
#else
    static const tsn_affine_params input_quant = {TSN_MODEL_INPUT_SCALE, TSN_MODEL_INPUT_ZERO_POINT};
    tsn_status status = tsn_quantize_f32_s8(&input_quant, TSN_MODEL_INPUT_BYTES, ad_window,
                                            tsn_model_input());
#endif
    if (status != TSN_OK) {
        put("e-[Input quantization failed with status ");
        put_i64(status);
        put_line("]");
        return -1;
    }
#endif
    return 0;
}

/* One token of hex digits; checked entirely before any byte is stored. Returns 0, or -1 after
 * printing an error. */
static int db_hex(const char *hex)
{
    uint8_t *buf = db_buffer();
    size_t len = strlen(hex);
    size_t i;
    if (len % 2u != 0u) {
        put_line("e-[Insufficent number of hex digits]");
        return -1;
    }
    for (i = 0; i < len; i += 2u) {
        if (hex_value(hex[i]) < 0 || hex_value(hex[i + 1u]) < 0) {
            char pair[3];
            pair[0] = hex[i];
            pair[1] = hex[i + 1u];
            pair[2] = '\0';
            put("e-[Invalid hex digit '");
            put_sanitized(pair);
            put_line("']");
            return -1;
        }
    }
    if (db_pos >= db_size) {
        put_line(db_size == 0u ? "e-[Command 'db' requires 'db load N' first]"
                               : "e-[All bytes already loaded: 'db load N' to start again]");
        return -1;
    }
    for (i = 0; i < len && db_pos < db_size; i += 2u) {
        buf[db_pos++] = (uint8_t)((hex_value(hex[i]) << 4) | hex_value(hex[i + 1u]));
    }
    if (db_pos == db_size) {
        if (load_done() != 0) {
            return -1;
        }
        put_line("m-load-done"); /* the remaining digits, if any, are disregarded */
        return -1;
    }
    return 0;
}

static void cmd_db(int argc, char **argv)
{
    int i;
    if (argc < 2) {
        put_line("e-[Command 'db' requires a subcommand]");
    } else if (strcmp(argv[1], "load") == 0) {
        db_load(argc, argv);
    } else if (strcmp(argv[1], "print") == 0) {
        db_print();
    } else if (strcmp(argv[1], "crc") == 0) {
        db_crc();
    } else {
        for (i = 1; i < argc && db_hex(argv[i]) == 0; ++i) {
        }
    }
}

#ifdef TSN_MODEL_PROFILE_AD01
#if TSN_MODEL_OUTPUT_COUNT != TSN_MODEL_INPUT_BYTES
#error "ad01: the autoencoder's output must have as many values as its input"
#endif
/* ad01: one score, the mean squared error between the dequantized output and the window. */
static void print_results(void)
{
    const int8_t *out = tsn_model_output();
    float sum = 0.0f;
    int i;
    for (i = 0; i < TSN_MODEL_OUTPUT_COUNT; ++i) {
        const float diff = (float)((int32_t)out[i] - (int32_t)TSN_MODEL_OUTPUT_ZERO_POINT) *
                           TSN_MODEL_OUTPUT_SCALE - ad_window[i];
        sum += diff * diff;
    }
    put("m-results-[");
    put_fixed3(sum / (float)TSN_MODEL_OUTPUT_COUNT);
    put_line("]");
}
#else
static void print_results(void)
{
    const int8_t *out = tsn_model_output();
    int i;
    put("m-results-[");
    for (i = 0; i < TSN_MODEL_OUTPUT_COUNT; ++i) {
        if (i > 0) {
            put(",");
        }
        put_fixed3((float)((int32_t)out[i] - (int32_t)TSN_MODEL_OUTPUT_ZERO_POINT) *
                   TSN_MODEL_OUTPUT_SCALE);
    }
    put_line("]");
}
#endif

static void print_outputs(void)
{
    const int8_t *out = tsn_model_output();
    int i;
    put("m-outputs-[");
    for (i = 0; i < TSN_MODEL_OUTPUT_COUNT; ++i) {
        if (i > 0) {
            put(",");
        }
        put_i64(out[i]);
    }
    put_line("]");
}

static int run(long n)
{
    tsn_status status = TSN_OK;
    for (; n > 0 && status == TSN_OK; --n) {
        status = tsn_model_invoke();
    }
    if (status != TSN_OK) {
        put("e-[Inference failed with status ");
        put_i64(status);
        put_line("]");
        return -1;
    }
    return 0;
}

static void cmd_infer(int argc, char **argv)
{
    long n = 1;
    long w = 10;
    uint64_t t1, t2;
    if (argc >= 2 && (parse_int(argv[1], &n) != 0 || n < 1)) {
        put_line("e-[Inference iterations must be >0]");
        return;
    }
    if (argc >= 3 && (parse_int(argv[2], &w) != 0 || w < 0)) {
        put_line("e-[Inference warmup must be >=0]");
        return;
    }
    put("m-warmup-start-");
    put_u64((uint64_t)w);
    put("\r\n");
    if (run(w) != 0) {
        return;
    }
    put_line("m-warmup-done");
    put("m-infer-start-");
    put_u64((uint64_t)n);
    put("\r\n");
    /* Both timestamps are taken around the inferences only and printed afterwards, so the
     * time to send the first m-lap-us line is not counted (the runner sees the same lines). */
#ifdef HARNESS_ENERGY_MODE
    (void)t1;
    (void)t2;
    timestamp_now();
    if (run(n) != 0) {
        return;
    }
    timestamp_now();
#else
    t1 = port_timestamp_us();
    if (run(n) != 0) {
        return;
    }
    t2 = port_timestamp_us();
    put_timestamp(t1);
    put_timestamp(t2);
#endif
    put_line("m-infer-done");
    print_results();
}

/* `stack`: m-stack-[USED,RESERVED] bytes (the port's painted high-water mark: USED equal to
 * RESERVED means the stack reached its end, or overflowed), or m-stack-[unknown]. */
static void cmd_stack(void)
{
    long reserved;
    const long used = port_stack_peak(&reserved);
    if (used < 0) {
        put_line("m-stack-[unknown]");
        return;
    }
    put("m-stack-[");
    put_u64((uint64_t)used);
    put(",");
    put_u64((uint64_t)reserved);
    put_line("]");
}

static void execute(char *line)
{
    char *argv[MAX_TOKENS];
    int argc = tokenize(line, argv, MAX_TOKENS);
    if (argc == 0) {
        /* an empty command: only m-ready */
    } else if (strcmp(argv[0], "name") == 0) {
        put("m-name-dut-[");
        put_sanitized(port_name());
        put_line("]");
    } else if (strcmp(argv[0], "timestamp") == 0) {
        timestamp_now();
    } else if (strcmp(argv[0], "profile") == 0) {
        put_line("m-profile-[" HARNESS_FW_VERSION "]");
        put_line("m-model-[" TSN_MODEL_PROFILE "]");
    } else if (strcmp(argv[0], "help") == 0) {
        cmd_help();
    } else if (strcmp(argv[0], "db") == 0) {
        cmd_db(argc, argv);
    } else if (strcmp(argv[0], "infer") == 0) {
        cmd_infer(argc, argv);
    } else if (strcmp(argv[0], "results") == 0) {
        print_results();
    } else if (strcmp(argv[0], "outputs") == 0) {
        print_outputs();
    } else if (strcmp(argv[0], "stack") == 0) {
        cmd_stack();
    } else {
        put("e-[Unknown command: ");
        put_sanitized(argv[0]);
        put_line("]");
    }
    put_line("m-ready");
}

/* ---- entry points ------------------------------------------------------------------------ */

void harness_boot(void)
{
    cmd_len = 0;
    cmd_overflow = 0;
    put_line(HARNESS_MODE_LINE);
    timestamp_now();
    put_line("m-init-done");
    put_line("m-ready");
}

void harness_receive(int c)
{
    if (c == HARNESS_TERMINATOR) {
        cmd_buf[cmd_len] = '\0';
        if (cmd_overflow) {
            put("e-[Command too long: more than ");
            put_u64((uint64_t)HARNESS_CMD_SIZE);
            put_line(" characters before '%']");
            put_line("m-ready");
        } else {
            execute(cmd_buf);
        }
        cmd_len = 0;
        cmd_overflow = 0;
    } else if (cmd_len < HARNESS_CMD_SIZE) {
        cmd_buf[cmd_len++] = c == 0 ? '?' : (char)c; /* a NUL would cut the command short */
    } else {
        cmd_overflow = 1;
    }
}

int harness_main(void)
{
    int c;
    port_init();
    harness_boot();
    while ((c = port_read_char()) >= 0) {
        harness_receive(c);
    }
    return 0;
}
