/*
 * Shared Cortex-M port code: vector table and reset (startup.c), fault report, the inference
 * markers the instruction-counting plugin watches (model_wrap.c).
 * QEMU mps2/mps3 machines use port_cortex_m.c (CMSDK UART, SysTick, semihosting); each machine
 * folder defines in port.mk: CORTEX_M_UART0 (CMSDK UART base address), CORTEX_M_UART0_RX_IRQ
 * (its RX interrupt number) and CORTEX_M_SYSCLK_HZ (the SysTick processor clock QEMU models).
 * A real board's port (e.g. ports/nucleo-l4r5zi) defines port.h, cortex_m_irq_handler and
 * cortex_m_stop itself.
 */
#ifndef TSN_CORTEX_M_H
#define TSN_CORTEX_M_H

#include <stdint.h>

#define CORTEX_M_IRQS 96  /* external interrupt vectors (UART0 RX; any other is a fault) */

/* Semihosting SYS_EXIT: QEMU (with -semihosting) exits with status 0 for 0, 1 otherwise. */
void semihost_exit(int status) __attribute__((noreturn));

/* What happens when main() returns or the firmware faults: QEMU ports exit through
 * semihosting (status 0 -> QEMU exits 0); a board stops there. */
void cortex_m_stop(int status) __attribute__((noreturn));

/* Every external interrupt (the port reads IPSR or its peripherals to tell which). */
void cortex_m_irq_handler(void);

/* Writes `message` to the UART and stops with status 1. */
void cortex_m_fault(const char *message) __attribute__((noreturn));

/* Empty functions called right before and after each model invocation (see model_wrap.c);
 * tools/qemu-plugin/insn_count.c counts the instructions between their entries. */
void tsn_marker_invoke_begin(void);
void tsn_marker_invoke_end(void);

#endif /* TSN_CORTEX_M_H */
