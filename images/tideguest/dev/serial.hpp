// The console: an 8250 UART at COM1 (0x3F8), polled in both directions.
// Only 8-bit port accesses are used (PVM loses the data of 32-bit `out`). LSR.THRE is
// polled before each byte, or before each 16 bytes when the UART reports a 16550A FIFO
// (IIR bits 7:6 after enabling it). Single CPU, no locking.
#pragma once

#include <cstddef>

namespace tg::dev {

// Programs 8N1, no UART interrupts, FIFOs on. Safe to call before anything else.
void serial_init();
void serial_putc(char c);
void serial_write(const char* text, size_t length);
// Takes one received byte if the UART has one (LSR.DR); never blocks.
bool serial_try_getc(char* out);

}  // namespace tg::dev
