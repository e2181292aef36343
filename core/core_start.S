/* core_start.S: CPL0 entry and the exception stubs.
 *
 * The host starts the vCPU here in 64-bit mode at CPL0 with RSP at
 * ABI_KSTACK_TOP.  CPL0 code is emulated instruction by instruction on
 * kvm_pvm hosts (platform.md), so this file does the minimum: one iretq to
 * core_main() at CPL3.  Only the exception stubs below run at CPL0 again;
 * they use general-purpose registers only.
 */
#include "abi_vm.h"

    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    pushq $ABI_SEL_UDATA            /* SS */
    pushq $(ABI_USTACK_TOP - 8)     /* RSP: as after a call, for the ABI */
    pushq $0x202                    /* RFLAGS: IF (forced on at CPL3 anyway) */
    pushq $ABI_SEL_UCODE            /* CS */
    movq $core_main, %rax
    pushq %rax                      /* RIP */
    iretq
    .size _start, . - _start

/*
 * Exception stubs.  Every stub leaves the same frame on the TSS.rsp0 stack:
 * [rsp] error code (0 when the CPU pushes none), then RIP, CS, RFLAGS, RSP,
 * SS as the CPU pushed them.  The common tail rings the fault doorbell with
 * the vector; the host reads the frame and CR2 itself and ends the run.
 */
    .macro isr_noerr vec
    .globl core_isr\vec
core_isr\vec:
    pushq $0
    movl $\vec, %eax
    jmp core_isr_common
    .endm

    .macro isr_err vec
    .globl core_isr\vec
core_isr\vec:
    movl $\vec, %eax
    jmp core_isr_common
    .endm

    .section .text.isr, "ax"
    .p2align 4
core_isr_common:
    movabsq $(ABI_DOORBELL_BASE + ABI_DB_FAULT), %rdx
    movq %rax, (%rdx)
1:  hlt                             /* not reached: the host ends the run */
    jmp 1b

    isr_noerr 0
    isr_noerr 1
    isr_noerr 2
    isr_noerr 3
    isr_noerr 4
    isr_noerr 5
    isr_noerr 6
    isr_noerr 7
    isr_err 8
    isr_noerr 9
    isr_err 10
    isr_err 11
    isr_err 12
    isr_err 13
    isr_err 14
    isr_noerr 15
    isr_noerr 16
    isr_err 17
    isr_noerr 18
    isr_noerr 19
    isr_noerr 20
    isr_err 21
    isr_noerr 22
    isr_noerr 23
    isr_noerr 24
    isr_noerr 25
    isr_noerr 26
    isr_noerr 27
    isr_noerr 28
    isr_err 29
    isr_err 30
    isr_noerr 31

/* Table of stub addresses, read by core_idt_init(). */
    .section .rodata.isr, "a"
    .p2align 3
    .globl core_isr_table
core_isr_table:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad core_isr\vec
    .endr

    .section .note.GNU-stack, "", @progbits
