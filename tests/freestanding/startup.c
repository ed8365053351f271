/*
 * startup.c — the Cortex-M4 vector table for tests/freestanding.sh: the initial stack
 * pointer and the reset handler, which turns the FPU on (the predictor is hard-float)
 * and jumps to newlib's semihosting start-up (_start: .bss, the stack and heap QEMU
 * names, main, exit through semihosting).
 */
#include <stdint.h>

extern char __stack[];
void _start(void);
void reset_handler(void);

__attribute__((naked, noreturn)) void reset_handler(void) {
    /* CPACR (0xE000ED88): full access to coprocessors 10 and 11, the FPU */
    __asm__ volatile("ldr r0, =0xE000ED88\n"
                     "ldr r1, [r0]\n"
                     "orr r1, r1, #(0xF << 20)\n"
                     "str r1, [r0]\n"
                     "dsb\n"
                     "isb\n"
                     "b _start\n");
}

__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))(uintptr_t)__stack,
    reset_handler,
};
