# Shared settings of the Cortex-M ports, included by each ports/<name>/port.mk: QEMU mps2/mps3
# machines (after defining the machine's UART address and SysTick clock) and real boards
# (CORTEX_M_QEMU := 0: the board's folder brings its own port.h code; the build also writes
# firmware.bin and firmware.hex, the images a flasher takes).
#
# Required from the command line (stages/build_firmware.py passes the device's params.yaml
# values): EXTRA_CFLAGS with -mcpu=... (and -mfpu/-mfloat-abi as the core has),
# FLASH_BYTES and RAM_BYTES = the REPRESENTED board's memory (the linker enforces them: QEMU's
# machines have more memory than real boards and would silently run an oversize model).
# STACK_BYTES: the stack reserved at the top of RAM (counted in the RAM figure).

CORTEX_M_DIR := $(FW_DIR)/ports/cortex-m

ifeq ($(shell command -v arm-none-eabi-gcc),)
$(error arm-none-eabi-gcc not found: install the Debian package gcc-arm-none-eabi (apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi))
endif
ifeq ($(shell arm-none-eabi-gcc -print-file-name=nano.specs),nano.specs)
$(error newlib-nano for arm-none-eabi not found: install the Debian package libnewlib-arm-none-eabi)
endif
ifeq ($(filter -mcpu=%,$(EXTRA_CFLAGS) $(CFLAGS)),)
$(error PORT=$(PORT) needs the core in EXTRA_CFLAGS, e.g. EXTRA_CFLAGS="-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard" (params.yaml devices.<id>.cflags))
endif

CC := arm-none-eabi-gcc
SIZE := arm-none-eabi-size
FLASH_BYTES ?= $(error PORT=$(PORT) needs FLASH_BYTES=<the represented board's flash bytes> (params.yaml devices.<id>.board.flash_bytes))
RAM_BYTES ?= $(error PORT=$(PORT) needs RAM_BYTES=<the represented board's RAM bytes> (params.yaml devices.<id>.board.ram_bytes))
STACK_BYTES ?= 8192

CORTEX_M_QEMU ?= 1
# startup.c and model_wrap.c serve every Cortex-M port; port_cortex_m.c (CMSDK UART, SysTick,
# semihosting) only the QEMU machines.
PORT_SHARED_SRCS := $(CORTEX_M_DIR)/startup.c $(CORTEX_M_DIR)/model_wrap.c
ifeq ($(CORTEX_M_QEMU),1)
PORT_SHARED_SRCS += $(CORTEX_M_DIR)/port_cortex_m.c
endif
CPPFLAGS += -I$(CORTEX_M_DIR)
CFLAGS += -mthumb -ffunction-sections -fdata-sections
LDFLAGS += -T$(PORT_DIR)/memory.ld -L$(CORTEX_M_DIR) \
           -Wl,--defsym=__tsn_flash_bytes=$(FLASH_BYTES) -Wl,--defsym=__tsn_ram_bytes=$(RAM_BYTES) \
           -Wl,--defsym=__tsn_stack_bytes=$(STACK_BYTES) \
           --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -Wl,--no-warn-rwx-segments \
           -Wl,--wrap=tsn_model_invoke -Wl,--print-memory-usage

ifeq ($(CORTEX_M_QEMU),1)
# The QEMU plugin that counts the instructions of each inference (a host shared library).
HOST_CC ?= gcc
PORT_EXTRA_TARGETS := $(BUILD_DIR)/insn_count.so
$(BUILD_DIR)/insn_count.so: $(FW_DIR)/qemu-plugin/insn_count.c
	@mkdir -p $(dir $@)
	$(HOST_CC) -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $<
else
# A real board: the raw image (from the flash origin) and Intel HEX, for st-flash, STM32CubeProgrammer
# or the board's USB drive.
OBJCOPY := arm-none-eabi-objcopy
PORT_EXTRA_TARGETS := $(BUILD_DIR)/firmware.bin $(BUILD_DIR)/firmware.hex
$(BUILD_DIR)/firmware.bin: $(BUILD_DIR)/firmware
	$(OBJCOPY) -O binary $< $@
$(BUILD_DIR)/firmware.hex: $(BUILD_DIR)/firmware
	$(OBJCOPY) -O ihex $< $@
endif
