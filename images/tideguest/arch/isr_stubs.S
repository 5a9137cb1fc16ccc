/* Interrupt and exception entry: 256 stubs, 16 bytes apart (stub v at tg_isr_stubs +
 * 16 * v), that push a uniform frame (error code or 0, then the vector) and call
 * tg_isr_dispatch(InterruptFrame*) with all general registers saved. Also the MSR probes
 * whose #GP the dispatcher turns into a `false` return (see interrupts.cpp fixups). */

        .text
        .balign 16
        .global tg_isr_stubs
tg_isr_stubs:
        .set vector, 0
        .rept 256
        .balign 16
        /* Vectors that push an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
        .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
        .else
        pushq   $0
        .endif
        pushq   $vector
        jmp     isr_common
        .set vector, vector + 1
        .endr

        .balign 16
isr_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        cld
        mov     %rsp, %rdi
        call    tg_isr_dispatch
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp               /* vector and error code */
        iretq

/* bool tg_safe_rdmsr(uint32_t msr, uint64_t* value): false if the rdmsr raised #GP. */
        .global tg_safe_rdmsr, tg_safe_rdmsr_insn, tg_safe_rdmsr_fixup
tg_safe_rdmsr:
        mov     %edi, %ecx
tg_safe_rdmsr_insn:
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, (%rsi)
        mov     $1, %eax
        ret
tg_safe_rdmsr_fixup:
        xor     %eax, %eax
        ret

/* bool tg_safe_wrmsr(uint32_t msr, uint64_t value): false if the wrmsr raised #GP. */
        .global tg_safe_wrmsr, tg_safe_wrmsr_insn, tg_safe_wrmsr_fixup
tg_safe_wrmsr:
        mov     %edi, %ecx
        mov     %esi, %eax
        mov     %rsi, %rdx
        shr     $32, %rdx
tg_safe_wrmsr_insn:
        wrmsr
        mov     $1, %eax
        ret
tg_safe_wrmsr_fixup:
        xor     %eax, %eax
        ret

        .section .note.GNU-stack, "", @progbits
