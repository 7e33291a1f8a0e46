# QEMU machine mps2-an505 (Cortex-M33, AN505, secure state):
# CMSDK UART0 (address, RX interrupt) and the SysTick clock QEMU models; the memory map is in
# memory.ld. Shared Cortex-M code and settings: ports/cortex-m/.
CPPFLAGS += -DCORTEX_M_UART0=0x50200000u -DCORTEX_M_UART0_RX_IRQ=32u \
            -DCORTEX_M_SYSCLK_HZ=20000000u -DPORT_NAME='"tinysweep-mps2-an505"'
include $(FW_DIR)/ports/cortex-m/cortex-m.mk
