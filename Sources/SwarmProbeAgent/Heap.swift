#if canImport(Glibc)
import Glibc
#endif

/// The allocator's free memory, handed back to the system.
enum Heap {
    /// Returns the whole free pages of every malloc arena to the kernel (glibc's `malloc_trim(0)`, which
    /// since glibc 2.8 also releases free pages inside an arena, not only at its top). glibc otherwise
    /// keeps what a check freed for the next allocation, so a long-running agent's resident set only grows
    /// towards the most it ever held at once. Costs a walk over the free chunks: well under a millisecond
    /// for an agent's few MiB of heap. Looked up at run time (it is in <malloc.h>, which the Glibc module
    /// does not export); elsewhere (musl) the allocator returns memory on its own.
    @discardableResult
    static func trim() -> Bool {
        guard let mallocTrim else { return false }
        return mallocTrim(0) != 0
    }

    private typealias MallocTrim = @convention(c) (Int) -> CInt

    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()
}
