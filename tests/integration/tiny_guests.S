/* Tiny 64-bit test guests, entered directly in long mode by the tests (identity-mapped
 * first 4 GiB). Position-independent: each is copied to guest RAM from _start to _end.
 * On entry RDI holds the vCPU index. */
        .section .rodata
        .code64

/* Port and MMIO dispatch: 8/16/32-bit outs to 0x600/0x602/0x604, an 8-bit in from 0x606
 * (the test device answers 0x5a), an MMIO write of 0x12345678 to 0xd0000000 and a 4-byte
 * read back, then exits through the debug-exit port with (in_value + mmio_read_low_byte). */
        .globl tiny_io_start, tiny_io_end
tiny_io_start:
        mov $0x600, %dx
        mov $0xab, %al
        out %al, %dx
        mov $0x602, %dx
        mov $0xbeef, %ax
        out %ax, %dx
        mov $0x604, %dx
        mov $0xcafef00d, %eax
        out %eax, %dx
        mov $0x606, %dx
        in %dx, %al
        movzbl %al, %ebx
        mov $0xd0000000, %ecx
        movl $0x12345678, (%rcx)
        movl (%rcx), %eax
        add %eax, %ebx
        mov %bl, %al
        mov $0x501, %dx
        out %al, %dx
1:      jmp 1b
tiny_io_end:

/* Debug exit with status 42. */
        .globl tiny_exit42_start, tiny_exit42_end
tiny_exit42_start:
        mov $0x501, %dx
        mov $42, %al
        out %al, %dx
1:      jmp 1b
tiny_exit42_end:

/* Wait port: sleep with the timeout in microseconds held at 0x3000 (32-bit out to 0x504),
 * then report on port 0x600 and exit 0. */
        .globl tiny_wait_start, tiny_wait_end
tiny_wait_start:
        mov $0x3000, %ecx
        movl (%rcx), %eax
        mov $0x504, %dx
        out %eax, %dx
        mov $0x600, %dx
        mov $1, %al
        out %al, %dx
        mov $0x501, %dx
        xor %al, %al
        out %al, %dx
1:      jmp 1b
tiny_wait_end:

/* Every vCPU reports its index on port 0x600, then spins until the VMM stops the VM. */
        .globl tiny_smp_start, tiny_smp_end
tiny_smp_start:
        mov %edi, %eax
        mov $0x600, %dx
        out %al, %dx
1:      pause
        jmp 1b
tiny_smp_end:

/* A native busy loop of 200 million iterations, then exit 7: a guest that only runs fast
 * if it runs natively. */
        .globl tiny_loop_start, tiny_loop_end
tiny_loop_start:
        mov $200000000, %rcx
1:      dec %rcx
        jnz 1b
        mov $0x501, %dx
        mov $7, %al
        out %al, %dx
2:      jmp 2b
tiny_loop_end:

/* Touch list: at 0x3000 a count N and then N guest-physical addresses. Writes the marker
 * (address ^ 0x5a5a5a5a5a5a5a5a) to each, reports on port 0x600 and waits until the host
 * stores 1 at 0x2ff8; then counts the addresses still holding their marker (out 32-bit to
 * 0x608) and those reading zero (0x60c), and exits 0. */
        .globl tiny_touch_start, tiny_touch_end
tiny_touch_start:
        mov $0x3000, %esi
        mov (%rsi), %rcx
        lea 8(%rsi), %rbx
        movabs $0x5a5a5a5a5a5a5a5a, %r8
1:      test %rcx, %rcx
        jz 2f
        mov (%rbx), %rax
        mov %rax, %rdx
        xor %r8, %rdx
        mov %rdx, (%rax)
        add $8, %rbx
        dec %rcx
        jmp 1b
2:      mov $0x600, %dx
        mov $1, %al
        out %al, %dx
        mov $0x2ff8, %eax
3:      pause
        cmpq $1, (%rax)
        jne 3b
        mov (%rsi), %rcx
        lea 8(%rsi), %rbx
        xor %r9, %r9            /* intact */
        xor %r10, %r10          /* zero */
4:      test %rcx, %rcx
        jz 6f
        mov (%rbx), %rax
        mov (%rax), %rdx
        xor %r8, %rax
        cmp %rax, %rdx
        jne 5f
        inc %r9
5:      test %rdx, %rdx
        jnz 7f
        inc %r10
7:      add $8, %rbx
        dec %rcx
        jmp 4b
6:      mov %r9, %rax
        mov $0x608, %dx
        out %eax, %dx
        mov %r10, %rax
        mov $0x60c, %dx
        out %eax, %dx
        mov $0x501, %dx
        xor %al, %al
        out %al, %dx
8:      jmp 8b
tiny_touch_end:

/* Racer: each vCPU (index in RDI) writes a value to random pages of [16 MiB, 48 MiB) and
 * reads it back; the host releases pages meanwhile, so a read gives the value or zero.
 * Anything else is reported on port 0x610 (32-bit: the low bits of the bad address). */
        .globl tiny_race_start, tiny_race_end
tiny_race_start:
        movabs $0x9e3779b97f4a7c15, %r8     /* xorshift state, per vCPU */
        add %rdi, %r8
1:      mov %r8, %rax                       /* xorshift64 */
        shl $13, %rax
        xor %rax, %r8
        mov %r8, %rax
        shr $7, %rax
        xor %rax, %r8
        mov %r8, %rax
        shl $17, %rax
        xor %rax, %r8
        mov %r8, %rax
        and $0x1fff000, %rax                /* page within 32 MiB */
        add $0x1000000, %rax                /* from 16 MiB */
        mov %r8, %rcx
        or $1, %rcx                         /* never zero */
        mov %rcx, (%rax)
        mov (%rax), %rdx
        cmp %rcx, %rdx
        je 1b
        test %rdx, %rdx
        je 1b
        mov $0x610, %dx
        out %eax, %dx
        jmp 1b
tiny_race_end:

/* Counter: increments the qword at 0x3000 forever (with pause in the loop). */
        .globl tiny_count_start, tiny_count_end
tiny_count_start:
        mov $0x3000, %eax
1:      incq (%rax)
        pause
        jmp 1b
tiny_count_end:

        .section .note.GNU-stack,"",@progbits
