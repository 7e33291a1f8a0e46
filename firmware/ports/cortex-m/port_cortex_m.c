/*
 * port_cortex_m.c — port.h for the QEMU Cortex-M machines: CMSDK APB UART0, SysTick as the
 * microsecond timer, semihosting exit (cortex_m_stop). A real board brings its own port file
 * instead (ports/<board>/, CORTEX_M_QEMU := 0 in its port.mk).
 *
 * UART: bytes are read and written by polling the status register; while no byte is there the
 * core sleeps (WFI) until the UART's RX interrupt, so an idle device does not keep a host core
 * busy. The interrupt handler only acknowledges the interrupt; the byte stays in DATA.
 *
 * Timer: SysTick on the processor clock (CORTEX_M_SYSCLK_HZ, as QEMU models the machine),
 * 24-bit, its wrap interrupt extends it to 64 bits. Under `qemu-system-arm -icount shift=0`
 * QEMU's clocks follow virtual time (1 instruction = 1 ns), so timestamps are repeatable but
 * are NOT the represented board's time: latency on these devices comes from exact instruction
 * counts (see tinysweep/emulator.py).
 */
#include "port.h"

#include <stdint.h>

#include "cortex_m.h"

#ifndef CORTEX_M_UART0
#error "CORTEX_M_UART0 (the CMSDK UART0 base address) must be defined by the port's port.mk"
#endif
#ifndef CORTEX_M_UART0_RX_IRQ
#error "CORTEX_M_UART0_RX_IRQ (UART0's RX interrupt number) must be defined by the port's port.mk"
#endif
#ifndef CORTEX_M_SYSCLK_HZ
#error "CORTEX_M_SYSCLK_HZ (the SysTick processor clock) must be defined by the port's port.mk"
#endif
#ifndef PORT_NAME
#define PORT_NAME "tinysweep-cortex-m"
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART_DATA REG(CORTEX_M_UART0 + 0x00u)
#define UART_STATE REG(CORTEX_M_UART0 + 0x04u)
#define UART_CTRL REG(CORTEX_M_UART0 + 0x08u)
#define UART_INT REG(CORTEX_M_UART0 + 0x0Cu) /* read: INTSTATUS, write: INTCLEAR */
#define UART_BAUDDIV REG(CORTEX_M_UART0 + 0x10u)
#define UART_TX_FULL 1u
#define UART_RX_FULL 2u
#define UART_RX_INT 2u
#define UART_CTRL_TX_RX_RXINT 0xBu /* TX and RX enabled, RX interrupt enabled */
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))

#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SYST_RELOAD 0xFFFFFFu

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

/* Every external interrupt: only UART0's RX interrupt is enabled; anything else is a fault. */
void cortex_m_irq_handler(void)
{
    if ((UART_INT & UART_RX_INT) != 0u) {
        UART_INT = UART_RX_INT;
        return;
    }
    cortex_m_fault("e-[Fault: unexpected interrupt]\r\n");
}

void port_init(void)
{
    UART_BAUDDIV = 16u; /* the minimum; QEMU does not pace the line */
    UART_CTRL = UART_CTRL_TX_RX_RXINT;
    NVIC_ISER(CORTEX_M_UART0_RX_IRQ / 32u) = 1u << (CORTEX_M_UART0_RX_IRQ % 32u);
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = 7u;      /* processor clock, wrap interrupt, enabled */
}

int port_read_char(void)
{
    while ((UART_STATE & UART_RX_FULL) == 0u) {
        /* with interrupts masked, an interrupt arriving after the check still ends the WFI;
         * unmasking then runs its handler (UART acknowledge, SysTick) */
        __asm volatile("cpsid i" ::: "memory");
        if ((UART_STATE & UART_RX_FULL) == 0u) {
            __asm volatile("wfi" ::: "memory");
        }
        __asm volatile("cpsie i" ::: "memory");
    }
    return (int)(UART_DATA & 0xFFu);
}

void port_write(const char *data, size_t len)
{
    for (; len > 0u; --len) {
        while ((UART_STATE & UART_TX_FULL) != 0u) {
        }
        UART_DATA = (uint8_t)*data++;
    }
}

uint64_t port_timestamp_us(void)
{
    uint32_t wraps, value;
    do { /* a wrap between the two reads shows as a changed count: read again */
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    uint64_t ticks = (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - value);
    return ticks * 1000000u / CORTEX_M_SYSCLK_HZ;
}

const char *port_name(void)
{
    return PORT_NAME;
}

void semihost_exit(int status)
{
    /* SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026) or RunTimeErrorUnknown. */
    register uint32_t op __asm("r0") = 0x18u;
    register uint32_t arg __asm("r1") = status == 0 ? 0x20026u : 0x20023u;
    __asm volatile("bkpt 0xAB" : : "r"(op), "r"(arg) : "memory");
    for (;;) {
    }
}

void cortex_m_stop(int status)
{
    semihost_exit(status);
}
