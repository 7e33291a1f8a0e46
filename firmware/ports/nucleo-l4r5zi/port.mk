# NUCLEO-L4R5ZI (STM32L4R5ZI, Cortex-M4F), a real board: register-level port in this folder
# (120 MHz clock, LPUART1 = the ST-LINK virtual COM port, TIM2 microsecond timer, D7 = PF13
# timestamp pin in energy mode); vector table, reset and linker sections from ports/cortex-m/.
# BAUD (default 115200; the EEMBC energy mode uses 9600) is the LPUART1 rate.
CORTEX_M_QEMU := 0
PORT_ENERGY_MODE := 1
CPPFLAGS += -DPORT_NAME='"tinysweep-nucleo-l4r5zi"'
include $(FW_DIR)/ports/cortex-m/cortex-m.mk
