# QEMU machine mps3-an547 (Cortex-M55 with Helium, AN547, secure state):
# CMSDK UART0 (address, RX interrupt) and the SysTick clock QEMU models; the memory map is in
# memory.ld. Shared Cortex-M code and settings: ports/cortex-m/.
CPPFLAGS += -DCORTEX_M_UART0=0x59303000u -DCORTEX_M_UART0_RX_IRQ=33u \
            -DCORTEX_M_SYSCLK_HZ=32000000u -DPORT_NAME='"tinysweep-mps3-an547"'
include $(FW_DIR)/ports/cortex-m/cortex-m.mk
