/*
 * Shared Cortex-M port code (QEMU mps2/mps3 machines): semihosting, fault report, the
 * inference markers the instruction-counting plugin watches.
 * Each machine folder defines in port.mk: CORTEX_M_UART0 (CMSDK UART base address),
 * CORTEX_M_UART0_RX_IRQ (its RX interrupt number) and CORTEX_M_SYSCLK_HZ (the SysTick
 * processor clock QEMU models).
 */
#ifndef TSN_CORTEX_M_H
#define TSN_CORTEX_M_H

#include <stdint.h>

#define CORTEX_M_IRQS 96  /* external interrupt vectors (UART0 RX; any other is a fault) */

/* Semihosting SYS_EXIT: QEMU (with -semihosting) exits with status 0 for 0, 1 otherwise. */
void semihost_exit(int status) __attribute__((noreturn));

/* Writes `message` to the UART and exits with status 1. */
void cortex_m_fault(const char *message) __attribute__((noreturn));

/* Empty functions called right before and after each model invocation (see model_wrap.c);
 * tools/qemu-plugin/insn_count.c counts the instructions between their entries. */
void tsn_marker_invoke_begin(void);
void tsn_marker_invoke_end(void);

#endif /* TSN_CORTEX_M_H */
