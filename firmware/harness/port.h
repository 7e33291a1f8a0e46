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

#endif /* TSN_PORT_H */
