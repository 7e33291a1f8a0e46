/*
 * harness — the device side of the MLPerf Tiny serial protocol, performance mode
 * (mlcommons/tiny benchmark/api; shared notes mlperf-tiny.md), written against port.h and the
 * generated model.h. Built with HARNESS_ENERGY_MODE: energy mode (banner
 * m-timestamp-mode-energy; timestamps are port_timestamp_pulse() edges, not m-lap-us lines).
 *
 * Commands end with '%'; tokens are separated by spaces; every command is answered and the
 * answer ends with "m-ready"; lines end with CR LF. Commands: name, profile, help, timestamp,
 * db load N, db HEX..., db print, infer [N [W]], results, and the extension `outputs`
 * (m-outputs-[q0,q1,...]: the raw int8 outputs, for bit-exact comparison with an oracle).
 *
 * `db` bytes go straight into the model's input tensor (tsn_model_input(), never modified by an
 * inference), so no second input-sized buffer is needed. ad01 models (TSN_MODEL_PROFILE_AD01)
 * follow the anomaly-detection runner instead: `db` carries a float32 window, quantized into the
 * input when complete, and `results` prints the reconstruction MSE `m-results-[x.xxx]`.
 */
#ifndef TSN_HARNESS_H
#define TSN_HARNESS_H

#define HARNESS_CMD_SIZE 80     /* longest accepted command, without the '%' */
#define HARNESS_TERMINATOR '%'
#define HARNESS_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"

/* port_init(), the boot banner, then commands until port_read_char() returns -1. Returns 0. */
int harness_main(void);

/* The two halves of harness_main(), for ports that receive bytes in an interrupt handler:
 * harness_boot() prints the banner; harness_receive() takes one received byte (0..255) and runs
 * the command when the byte is the terminator. */
void harness_boot(void);
void harness_receive(int c);

#endif /* TSN_HARNESS_H */
