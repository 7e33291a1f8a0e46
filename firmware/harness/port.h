/*
 * What a port (host, QEMU board, real board) provides to the protocol harness.
 * One folder per port under firmware/ports/ implements these.
 */
#ifndef TSN_PORT_H
#define TSN_PORT_H

#include <stddef.h>
#include <stdint.h>

void port_init(void);                           /* clocks, UART, timer */
int port_read_char(void);                       /* blocking; returns a byte 0..255, or -1 on end of input */
void port_write(const char *data, size_t len);  /* blocking, all bytes */
uint64_t port_timestamp_us(void);               /* monotonic microseconds since boot */
const char *port_name(void);                    /* the vendor string in m-name-dut-[...] */

/* The most stack ever used since boot, in bytes, and the bytes reserved for it (*reserved), or
 * -1 where the port cannot tell (the host: the OS grows its stack). */
long port_stack_peak(long *reserved);

/* Energy mode only (firmware built with HARNESS_ENERGY_MODE, for EEMBC's EnergyRunner): a
 * falling edge on the board's timestamp pin, held low >= 1 us. Ports without such a pin do not
 * define it and cannot be built in energy mode. */
void port_timestamp_pulse(void);

#endif /* TSN_PORT_H */
