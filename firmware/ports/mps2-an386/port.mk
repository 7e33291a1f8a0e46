# QEMU machine mps2-an386 (Cortex-M4F, AN386):
# CMSDK UART0 (address, RX interrupt) and the SysTick clock QEMU models; the memory map is in
# memory.ld. Shared Cortex-M code and settings: ports/cortex-m/.
CPPFLAGS += -DCORTEX_M_UART0=0x40004000u -DCORTEX_M_UART0_RX_IRQ=0u \
            -DCORTEX_M_SYSCLK_HZ=25000000u -DPORT_NAME='"tinysweep-mps2-an386"'
include $(FW_DIR)/ports/cortex-m/cortex-m.mk
