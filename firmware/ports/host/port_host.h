/*
 * Host (Linux) port: the serial line is a pseudo-terminal owned by the process.
 */
#ifndef TSN_PORT_HOST_H
#define TSN_PORT_HOST_H

#include <signal.h>

/* Set by main.c's SIGTERM/SIGINT handler: port_read_char() then reports end of input. */
extern volatile sig_atomic_t port_host_stop_requested;

/* 1 while port_read_char() waits for input (between commands), 0 while a command runs. */
extern volatile sig_atomic_t port_host_waiting;

/* Closes the pseudo-terminal (both sides). */
void port_host_close(void);

#endif /* TSN_PORT_HOST_H */
