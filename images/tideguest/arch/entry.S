/* PVH entry: the Xen PHYS32_ENTRY note, the 32-bit entry point and the switch to long
 * mode. Everything here runs emulated on PVM (about 1.6 M instructions/s), so it is kept
 * to a few dozen instructions: the boot GDT and the page tables mapping the first 1 GiB
 * (2 MiB pages, U/S=1 at every level as PVM requires) are static data, not built here.
 * Contract: entered in 32-bit protected mode, paging off, EBX = hvm_start_info. */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PTE_P  0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PS 0x80
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define SEL_KERNEL_CS 0x10
#define SEL_KERNEL_DS 0x18
#define BOOT_STACK_BYTES 16384

        .section .note.Xen, "a", @note
        .balign 4
        .long 4                         /* namesz: "Xen\0" */
        .long 4                         /* descsz: 32-bit physical entry */
        .long XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .long pvh_entry
        /* An empty note (no name, no descriptor, type 0) so that the word after the
         * 4-byte descriptor is zero: QEMU reads this descriptor as 64 bits. */
        .long 0, 0, 0

        .section .text.entry, "ax", @progbits
        .code32
        .global pvh_entry
pvh_entry:
        cli
        mov     %ebx, %edi              /* hvm_start_info, first argument of kernel_main */
        rdtsc
        mov     %eax, boot_entry_tsc
        mov     %edx, boot_entry_tsc + 4
        lgdt    boot_gdt_ptr
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        or      $(CR0_PG | CR0_PE), %eax
        mov     %eax, %cr0
        ljmp    $SEL_KERNEL_CS, $long_entry

        .code64
long_entry:
        mov     $SEL_KERNEL_DS, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $boot_stack_top, %esp
        xor     %ebp, %ebp
        call    tg_kernel_main
1:      pause
        jmp     1b

/* Boot GDT in the Linux layout (PVM expects its selectors: see MSR_STAR). The TSS
 * descriptor at 0x40 is filled in by arch::init_cpu_tables_early(). */
        .section .data, "aw"
        .balign 16
        .global boot_gdt
boot_gdt:
        .quad 0                         /* 0x00 null */
        .quad 0x00cf9b000000ffff        /* 0x08 kernel 32-bit code */
        .quad 0x00af9b000000ffff        /* 0x10 kernel 64-bit code */
        .quad 0x00cf93000000ffff        /* 0x18 kernel data */
        .quad 0x00cffb000000ffff        /* 0x20 user 32-bit code */
        .quad 0x00cff3000000ffff        /* 0x28 user data */
        .quad 0x00affb000000ffff        /* 0x30 user 64-bit code */
        .quad 0                         /* 0x38 unused */
        .quad 0, 0                      /* 0x40 64-bit TSS (16 bytes) */
boot_gdt_end:
        .balign 8
        .global boot_gdt_ptr
boot_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .quad boot_gdt

        .balign 8
        .global boot_entry_tsc
boot_entry_tsc:
        .quad 0

/* Identity map of the first 1 GiB with 2 MiB pages; arch::paging extends it at run time
 * (natively) to all RAM, the 3-4 GiB MMIO hole and anything else it is asked to map. */
        .section .data.pagetables, "aw"
        .balign 4096
        .global boot_pml4
boot_pml4:
        .quad boot_pdpt + (PTE_P | PTE_RW | PTE_US)
        .fill 511, 8, 0
        .global boot_pdpt
boot_pdpt:
        .quad boot_pd0 + (PTE_P | PTE_RW | PTE_US)
        .fill 511, 8, 0
boot_pd0:
        .set page, 0
        .rept 512
        .quad page + (PTE_P | PTE_RW | PTE_US | PTE_PS)
        .set page, page + 0x200000
        .endr

        .section .bss.pages, "aw", @nobits
        .balign 4096
boot_stack:
        .skip BOOT_STACK_BYTES
        .global boot_stack_top
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
