/**
 * Keeps glibc's malloc from handing freed memory back to the kernel after every collection.
 *
 * Each byte wsdump decodes passes through memory outside V8's heap: the 256 KiB chunks the
 * capture is read into, payload copies, unmasked payloads (Buffers and typed arrays, allocated
 * with malloc). V8 frees them in bursts, when a collection finds them dead. glibc gives the top
 * of its heap back to the kernel (brk) as soon as more than twice its mmap threshold lies free
 * there, and that threshold starts at 128 KiB, so every burst was returned and the next reads
 * faulted each page in again, zero-filled: on the bench's bulk capture the heap grew by 103 MB
 * and shrank by 87 MB over one run of the table, ~43,000 page faults, 14% of the samples of
 * `perf record` (page faults cost ~8 µs each on this machine).
 *
 * mallopt(3): the threshold is dynamic; freeing a block that malloc had mapped on its own
 * (above the threshold, at most 32 MiB) raises the threshold to that block's size, and the trim
 * threshold to twice that. So one block of HINT_BYTES, never written (no page of it is ever
 * touched, it costs no memory), is allocated at start and dropped: when V8 frees it, at the
 * first collection, the heap keeps up to 8 MiB of free memory for the next allocations instead
 * of returning it. Blocks below 4 MiB also come from the heap from then on, not from a mapping
 * of their own. On other allocators this is one unused allocation, nothing more.
 */
const HINT_BYTES = 4 * 1024 * 1024;

/**
 * `bytes`: the block (the heap then keeps up to twice that free); at most 31 MiB, since glibc
 * adjusts its thresholds only for blocks up to 32 MiB.
 */
export function keepFreedMemory(bytes = HINT_BYTES): void {
  // allocUnsafeSlow: not zero-filled, not from Node's pool; the reference is dropped at once.
  Buffer.allocUnsafeSlow(bytes);
}
