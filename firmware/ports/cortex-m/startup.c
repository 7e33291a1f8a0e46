/*
 * startup.c — reset and fault handlers and the vector table of every Cortex-M port.
 * The linker script (ports/<machine>/memory.ld) provides the stack top and the .data/.bss
 * bounds; the vector table goes first in FLASH (section .vectors), where the core boots.
 */
#include <stddef.h>
#include <stdint.h>

#include "cortex_m.h"
#include "harness.h"
#include "port.h"

extern uint32_t __stack_bottom, __stack_top;
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
/* A port that uses no SysTick leaves it unexpected: a fault. */
void SysTick_Handler(void) __attribute__((weak, alias("Fault_Handler")));

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

/* Every word of the reserved stack below the reset handler's frame holds this until the stack
 * grows over it: port_stack_peak reads the high-water mark. */
#define STACK_PAINT 0x5AC4C0DEu

/* The init loops must not become memcpy/memset calls before .data exists (-O2 would). */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    const uint32_t *src;
    uint32_t *dst;
    /* FPU (and MVE on M55) on first, with barriers: the compiler may otherwise schedule
     * floating-point instructions before the enable, which faults. Harmless without FPU. */
    CPACR |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
    for (src = &__data_load, dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0u;
    }
    { /* paint up to 64 bytes below this frame's stack pointer */
        uint32_t *sp;
        __asm volatile("mov %0, sp" : "=r"(sp));
        for (dst = &__stack_bottom; dst < sp - 16;) {
            *dst++ = STACK_PAINT;
        }
    }
    cortex_m_stop(main());
}

long port_stack_peak(long *reserved)
{
    const uint32_t *w = &__stack_bottom;
    while (w < &__stack_top && *w == STACK_PAINT) {
        ++w;
    }
    *reserved = (long)((&__stack_top - &__stack_bottom) * 4);
    return (long)((&__stack_top - w) * 4); /* all of it: overflowed, or at least reached */
}

/* HardFault, MemManage, BusFault, UsageFault, SecureFault, unexpected exceptions: say so on
 * the UART (the runner shows the device's last line) and stop (QEMU: a failure status).
 * External interrupts go to cortex_m_irq_handler (the port's: port_cortex_m.c on QEMU). */
void Fault_Handler(void)
{
    cortex_m_fault("e-[Fault: the firmware stopped]\r\n");
}

void cortex_m_fault(const char *message)
{
    const char *end = message;
    while (*end != '\0') {
        ++end;
    }
    port_write(message, (size_t)(end - message));
    cortex_m_stop(1);
}

int main(void)
{
    return harness_main();
}

typedef void (*vector)(void);

__attribute__((section(".vectors"), used))
const vector cortex_m_vectors[16 + CORTEX_M_IRQS] = {
    (vector)(uintptr_t)&__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
    [16 ... 16 + CORTEX_M_IRQS - 1] = cortex_m_irq_handler,
};
