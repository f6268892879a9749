import CGlibc

/// The allocator's free memory, handed back to the system (glibc's controls from <malloc.h>).
public enum Heap {
    /// Returns the free pages of every malloc arena to the kernel (`malloc_trim(0)`): glibc otherwise keeps
    /// what a check freed for the next allocation, so an agent left running only grows towards the most it
    /// ever held at once. Returns whether any memory went back.
    @discardableResult
    static func trim() -> Bool { malloc_trim(0) != 0 }

    /// Serves every block of `mmapThreshold` bytes or more from its own mapping, returned as soon as it is
    /// freed. glibc's threshold starts there but rises with each large block freed, after which an agent's
    /// logs and replies (hundreds of KiB) come from the arenas and fragment them. Returns whether glibc
    /// took the setting.
    @discardableResult
    public static func returnLargeBlocksAtOnce() -> Bool { mallopt(M_MMAP_THRESHOLD, Int32(mmapThreshold)) == 1 }

    static let mmapThreshold = 128 * 1024
}
