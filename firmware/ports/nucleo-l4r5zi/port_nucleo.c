/*
 * port_nucleo.c — port.h on the NUCLEO-L4R5ZI board (STM32L4R5ZI, Cortex-M4F), written against
 * the registers: reference manual RM0432 (sections named, register offsets as its register
 * maps give them), board manual UM2179. No HAL, no CMSIS. Vector table, reset, fault report:
 * ports/cortex-m/.
 *
 * Clock: MSI 4 MHz (the reset clock) -> main PLL (M 1, N 60, R 2: VCO 240 MHz) -> SYSCLK
 * 120 MHz; AHB, APB1, APB2 undivided. Above 80 MHz the regulator must be in Range 1 boost mode
 * and the flash needs 5 wait states; RM0432 "Dynamic voltage scaling management" gives the
 * order: HCLK halved, PWR_CR5.R1MODE cleared, wait states raised, PLL selected, >= 1 us, HCLK
 * undivided.
 * UART: LPUART1 on PG7 (TX) / PG8 (RX), alternate function 8, is the ST-LINK virtual COM port
 * (UM2179, "Virtual COM port"); port G is supplied by VDDIO2, usable once PWR_CR2.IOSV is set.
 * Its kernel clock is HSI16: 115200 and 9600 baud are exact to 0.01 % whatever SYSCLK is.
 * Received bytes go from the RX interrupt into a ring buffer, so none is lost while an
 * inference runs; the core sleeps (WFI) while the buffer is empty. TX polls TXE.
 * Timer: TIM2 (32-bit) counts microseconds (prescaler 120 on its 120 MHz clock); its overflow
 * interrupt extends it to 64 bits.
 * Energy mode (HARNESS_ENERGY_MODE): the timestamp pin is PF13 = Arduino D7 on the Zio
 * connector CN10 (UM2179, "ST Zio connectors"); push-pull, idle high; a timestamp drives it low
 * for 1-2 us (two timer ticks).
 */
#include "port.h"

#include <stdint.h>

#include "cortex_m.h"

#ifndef PORT_NAME
#define PORT_NAME "tinysweep-nucleo-l4r5zi"
#endif
#ifndef PORT_BAUD
#ifdef HARNESS_ENERGY_MODE
#define PORT_BAUD 9600u /* EEMBC energy mode: the IO manager's rate */
#else
#define PORT_BAUD 115200u
#endif
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))

#define SYSCLK_HZ 120000000u
#define HSI16_HZ 16000000u
#define FLASH_ORIGIN 0x08000000u /* memory.ld; the vector table is there */

/* RCC (RM0432 "RCC registers") */
#define RCC_BASE 0x40021000u
#define RCC_CR REG(RCC_BASE + 0x00u)
#define RCC_CFGR REG(RCC_BASE + 0x08u)
#define RCC_PLLCFGR REG(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR REG(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 REG(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 REG(RCC_BASE + 0x5Cu)
#define RCC_CCIPR REG(RCC_BASE + 0x88u)
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 3u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (8u << 4)
/* PLLSRC = MSI (01), PLLM = 1 (field 0), PLLN = 60, PLLR = 2 (field 0), PLLREN (R output on) */
#define RCC_PLLCFGR_120MHZ_FROM_MSI4 (1u | (0u << 4) | (60u << 8) | (1u << 24) | (0u << 25))
#define RCC_AHB2ENR_GPIOFEN (1u << 5)
#define RCC_AHB2ENR_GPIOGEN (1u << 6)
#define RCC_APB1ENR1_TIM2EN (1u << 0)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR_LPUART1SEL_MASK (3u << 10)
#define RCC_CCIPR_LPUART1SEL_HSI16 (2u << 10)

/* PWR (RM0432 "PWR registers") */
#define PWR_BASE 0x40007000u
#define PWR_CR2 REG(PWR_BASE + 0x04u)
#define PWR_SR2 REG(PWR_BASE + 0x14u)
#define PWR_CR5 REG(PWR_BASE + 0x80u)
#define PWR_CR2_IOSV (1u << 9)     /* VDDIO2 valid: port G[15:2] usable */
#define PWR_SR2_VOSF (1u << 10)    /* regulator still changing */
#define PWR_CR5_R1MODE (1u << 8)   /* 1 = Range 1 normal, 0 = Range 1 boost */

/* FLASH_ACR (RM0432 "Read access latency": Range 1 boost, 5 wait states up to 120 MHz) */
#define FLASH_ACR REG(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_WAIT_STATES 5u
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

/* GPIO (RM0432 "GPIO registers") */
#define GPIOF_BASE 0x48001400u
#define GPIOG_BASE 0x48001800u
#define GPIO_MODER(base) REG((base) + 0x00u)
#define GPIO_BSRR(base) REG((base) + 0x18u)
#define GPIO_AFRL(base) REG((base) + 0x20u)
#define GPIO_AFRH(base) REG((base) + 0x24u)
#define GPIO_MODE_OUTPUT 1u
#define GPIO_MODE_AF 2u
#define VCP_TX_PIN 7u  /* PG7 */
#define VCP_RX_PIN 8u  /* PG8 */
#define VCP_AF 8u
#define TIMESTAMP_PIN 13u /* PF13 = D7 */

/* LPUART1 (RM0432 "LPUART registers") */
#define LPUART1_BASE 0x40008000u
#define LPUART1_CR1 REG(LPUART1_BASE + 0x00u)
#define LPUART1_BRR REG(LPUART1_BASE + 0x0Cu)
#define LPUART1_ISR REG(LPUART1_BASE + 0x1Cu)
#define LPUART1_ICR REG(LPUART1_BASE + 0x20u)
#define LPUART1_RDR REG(LPUART1_BASE + 0x24u)
#define LPUART1_TDR REG(LPUART1_BASE + 0x28u)
#define LPUART_CR1_UE (1u << 0)
#define LPUART_CR1_RE (1u << 2)
#define LPUART_CR1_TE (1u << 3)
#define LPUART_CR1_RXNEIE (1u << 5)
#define LPUART_ISR_RXNE (1u << 5)
#define LPUART_ISR_TXE (1u << 7)
#define LPUART_ICR_ERRORS ((1u << 1) | (1u << 2) | (1u << 3)) /* framing, noise, overrun */
/* LPUART: BRR = 256 * f_ck / baud, 0x300..0xFFFFF (RM0432 "LPUART baud rate generation") */
#define LPUART_BRR_VALUE ((256ull * HSI16_HZ + PORT_BAUD / 2u) / PORT_BAUD)
#if LPUART_BRR_VALUE < 0x300 || LPUART_BRR_VALUE > 0xFFFFF
#error "PORT_BAUD out of LPUART1's range with a 16 MHz kernel clock"
#endif

/* TIM2 (RM0432 "TIM2/TIM3/TIM4/TIM5 registers") */
#define TIM2_BASE 0x40000000u
#define TIM2_CR1 REG(TIM2_BASE + 0x00u)
#define TIM2_DIER REG(TIM2_BASE + 0x0Cu)
#define TIM2_SR REG(TIM2_BASE + 0x10u)
#define TIM2_EGR REG(TIM2_BASE + 0x14u)
#define TIM2_CNT REG(TIM2_BASE + 0x24u)
#define TIM2_PSC REG(TIM2_BASE + 0x28u)
#define TIM2_ARR REG(TIM2_BASE + 0x2Cu)
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR1_URS (1u << 2) /* only an overflow sets UIF (not the UG below) */
#define TIM_UIF (1u << 0)     /* SR.UIF, DIER.UIE, EGR.UG: same bit */

/* Interrupt numbers (RM0432 "Vector table" of the STM32L4R/S) */
#define TIM2_IRQ 28u
#define LPUART1_IRQ 70u
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))
#define SCB_VTOR REG(0xE000ED08u)

#define RX_SIZE 256u /* > the longest command (80 + '%'): the runner waits for each answer */

static volatile uint8_t rx_buf[RX_SIZE];
static volatile uint32_t rx_head; /* written by the interrupt handler */
static volatile uint32_t rx_tail; /* written by port_read_char */
static volatile uint32_t timer_wraps;

static void nvic_enable(uint32_t irq)
{
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

static void clock_init(void)
{
    volatile uint32_t spin;
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1; /* a read-back: the peripheral is clocked before the next access */
    /* PWR_CR1.VOS is Range 1 after reset; boost mode with HCLK halved across the change */
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_HPRE_MASK) | RCC_CFGR_HPRE_DIV2;
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    while ((PWR_SR2 & PWR_SR2_VOSF) != 0u) {
    }
    /* wait states before the frequency rises; prefetch and both caches on */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | FLASH_WAIT_STATES | FLASH_ACR_PRFTEN |
                FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != FLASH_WAIT_STATES) {
    }
    RCC_PLLCFGR = RCC_PLLCFGR_120MHZ_FROM_MSI4;
    RCC_CR |= RCC_CR_PLLON;
    while ((RCC_CR & RCC_CR_PLLRDY) == 0u) {
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
    for (spin = 0u; spin < 200u; ++spin) { /* >= 1 us at HCLK 60 MHz (>= 4 cycles a turn) */
    }
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK; /* HCLK = SYSCLK = 120 MHz */
}

static void uart_init(void)
{
    RCC_CR |= RCC_CR_HSION;
    while ((RCC_CR & RCC_CR_HSIRDY) == 0u) {
    }
    RCC_CCIPR = (RCC_CCIPR & ~RCC_CCIPR_LPUART1SEL_MASK) | RCC_CCIPR_LPUART1SEL_HSI16;
    PWR_CR2 |= PWR_CR2_IOSV;
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOGEN;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;
    GPIO_AFRL(GPIOG_BASE) = (GPIO_AFRL(GPIOG_BASE) & ~(0xFu << (4u * VCP_TX_PIN))) |
                            (VCP_AF << (4u * VCP_TX_PIN));
    GPIO_AFRH(GPIOG_BASE) = (GPIO_AFRH(GPIOG_BASE) & ~(0xFu << (4u * (VCP_RX_PIN - 8u)))) |
                            (VCP_AF << (4u * (VCP_RX_PIN - 8u)));
    GPIO_MODER(GPIOG_BASE) = (GPIO_MODER(GPIOG_BASE) &
                              ~((3u << (2u * VCP_TX_PIN)) | (3u << (2u * VCP_RX_PIN)))) |
                             (GPIO_MODE_AF << (2u * VCP_TX_PIN)) | (GPIO_MODE_AF << (2u * VCP_RX_PIN));
    LPUART1_BRR = (uint32_t)LPUART_BRR_VALUE; /* 8 data bits, no parity, 1 stop: CR1/CR2 reset */
    LPUART1_CR1 = LPUART_CR1_UE | LPUART_CR1_RE | LPUART_CR1_TE | LPUART_CR1_RXNEIE;
    nvic_enable(LPUART1_IRQ);
}

static void timer_init(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_TIM2EN;
    (void)RCC_APB1ENR1;
    TIM2_PSC = SYSCLK_HZ / 1000000u - 1u; /* APB1 undivided: the timer clock is 120 MHz */
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_CR1 = TIM_CR1_URS;
    TIM2_EGR = TIM_UIF; /* load the prescaler now */
    TIM2_DIER = TIM_UIF;
    nvic_enable(TIM2_IRQ);
    TIM2_CR1 = TIM_CR1_URS | TIM_CR1_CEN;
}

#ifdef HARNESS_ENERGY_MODE
static void timestamp_pin_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOFEN;
    (void)RCC_AHB2ENR;
    GPIO_BSRR(GPIOF_BASE) = 1u << TIMESTAMP_PIN; /* high before it is driven */
    GPIO_MODER(GPIOF_BASE) = (GPIO_MODER(GPIOF_BASE) & ~(3u << (2u * TIMESTAMP_PIN))) |
                             (GPIO_MODE_OUTPUT << (2u * TIMESTAMP_PIN));
}

void port_timestamp_pulse(void)
{
    uint32_t start;
    GPIO_BSRR(GPIOF_BASE) = 1u << (TIMESTAMP_PIN + 16u); /* low: the falling edge */
    start = TIM2_CNT;
    while (TIM2_CNT - start < 2u) { /* two 1 MHz ticks: at least 1 us */
    }
    GPIO_BSRR(GPIOF_BASE) = 1u << TIMESTAMP_PIN;
}
#endif

void cortex_m_irq_handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    if (ipsr - 16u == LPUART1_IRQ) {
        if ((LPUART1_ISR & LPUART_ISR_RXNE) != 0u) {
            uint8_t byte = (uint8_t)LPUART1_RDR;
            if (rx_head - rx_tail < RX_SIZE) { /* full only if the host ignores the protocol */
                rx_buf[rx_head % RX_SIZE] = byte;
                rx_head++;
            }
        }
        LPUART1_ICR = LPUART_ICR_ERRORS; /* a wrong-baud byte still reaches the harness */
        return;
    }
    if (ipsr - 16u == TIM2_IRQ) {
        TIM2_SR = ~TIM_UIF; /* rc_w0: only UIF is cleared */
        timer_wraps++;
        return;
    }
    cortex_m_fault("e-[Fault: unexpected interrupt]\r\n");
}

void port_init(void)
{
    SCB_VTOR = FLASH_ORIGIN;
    clock_init();
    uart_init();
    timer_init();
#ifdef HARNESS_ENERGY_MODE
    timestamp_pin_init();
#endif
}

int port_read_char(void)
{
    uint8_t byte;
    while (rx_tail == rx_head) {
        /* masked, an interrupt after the check still ends the WFI; unmasking then runs it */
        __asm volatile("cpsid i" ::: "memory");
        if (rx_tail == rx_head) {
            __asm volatile("wfi" ::: "memory");
        }
        __asm volatile("cpsie i" ::: "memory");
    }
    byte = rx_buf[rx_tail % RX_SIZE];
    rx_tail++;
    return byte;
}

void port_write(const char *data, size_t len)
{
    for (; len > 0u; --len) {
        while ((LPUART1_ISR & LPUART_ISR_TXE) == 0u) {
        }
        LPUART1_TDR = (uint8_t)*data++;
    }
}

uint64_t port_timestamp_us(void)
{
    uint32_t wraps, value, pending;
    do { /* an overflow handled between the reads shows as a changed count: read again */
        wraps = timer_wraps;
        value = TIM2_CNT;
        pending = TIM2_SR & TIM_UIF;
    } while (wraps != timer_wraps);
    if (pending != 0u && value < 0x80000000u) {
        wraps++; /* overflowed before the read, its interrupt not yet taken */
    }
    return ((uint64_t)wraps << 32) | value;
}

const char *port_name(void)
{
    return PORT_NAME;
}

/* main() returned or the firmware faulted (the message is out): no host to exit to; wait for
 * the reset button. */
void cortex_m_stop(int status)
{
    (void)status;
    __asm volatile("cpsid i" ::: "memory");
    for (;;) {
        __asm volatile("wfi" ::: "memory");
    }
}
