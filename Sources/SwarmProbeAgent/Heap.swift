import Foundation
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

/// The executable's relocation table, let go once the loader has applied it.
///
/// The static agent is a position-independent executable: at start the loader reads its whole table of
/// relative relocations (`.rela.dyn`, 2.4 MB for about 100,000 pointers in Swift metadata) and never reads
/// it again. The pages stay mapped all the same, and count in the agent's resident set for as long as it
/// runs. `madvise(MADV_DONTNEED)` on the table's whole pages drops them from the mapping (they are clean
/// and file-backed: should anything read them again, they come back from the file unchanged). Only pages
/// inside a read-only mapping of the executable are touched, never the writable data the relocations
/// were applied to. The compact form of the table (`-z pack-relative-relocs`) would avoid the cost at its
/// source, but needs glibc 2.36 on the node, which Ubuntu 22.04 (2.35) does not have.
public enum StartupPages {
    /// Releases the table's pages; returns how many bytes (0 when there is nothing to release or the
    /// executable cannot be read).
    @discardableResult
    public static func releaseRelocationTable() -> Int {
        #if os(Linux)
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let section = ELFSection.find(".rela.dyn", inFile: "/proc/self/exe"),
              let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return 0 }
        // The executable's mappings: its load base is the start of the one at file offset 0.
        let mine = maps.split(separator: "\n").compactMap(Mapping.init).filter { $0.path == exe }
        guard let base = mine.first(where: { $0.offset == 0 })?.start else { return 0 }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let start = (base + section.address + page - 1) / page * page
        let end = (base + section.address + section.size) / page * page
        guard end > start,
              mine.contains(where: { $0.start <= start && end <= $0.end && !$0.writable }),
              madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), MADV_DONTNEED) == 0 else { return 0 }
        return Int(end - start)
        #else
        return 0
        #endif
    }

    struct Mapping {
        var start: UInt
        var end: UInt
        var writable: Bool
        var offset: UInt
        var path: String

        /// One line of /proc/self/maps: `start-end perms offset dev inode path`.
        init?(_ line: Substring) {
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count == 6, let dash = f[0].firstIndex(of: "-"),
                  let s = UInt(f[0][..<dash], radix: 16), let e = UInt(f[0][f[0].index(after: dash)...], radix: 16),
                  let o = UInt(f[2], radix: 16) else { return nil }
            start = s
            end = e
            writable = f[1].contains("w")
            offset = o
            path = f[5].trimmingCharacters(in: .whitespaces)
        }
    }
}

/// A section of a 64-bit little-endian ELF file, by name (its address as linked, and its size).
struct ELFSection {
    var address: UInt
    var size: UInt

    static func find(_ name: String, inFile path: String) -> ELFSection? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        func read(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard (try? file.seek(toOffset: offset)) != nil, let d = try? file.read(upToCount: count), d.count == count else { return nil }
            return [UInt8](d)
        }
        func u(_ b: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        // ELF64 (class 2), little-endian (data 1).
        guard let h = read(0, 64), h[0] == 0x7F, h[1] == 0x45, h[2] == 0x4C, h[3] == 0x46, h[4] == 2, h[5] == 1 else { return nil }
        let shoff = u(h, 0x28, 8), entsize = Int(u(h, 0x3A, 2)), count = Int(u(h, 0x3C, 2)), names = Int(u(h, 0x3E, 2))
        guard entsize >= 64, count > 0, count < 65_280, names < count, let table = read(shoff, entsize * count) else { return nil }
        func header(_ i: Int) -> (name: Int, address: UInt64, offset: UInt64, size: UInt64) {
            let at = i * entsize
            return (Int(u(table, at, 4)), u(table, at + 0x10, 8), u(table, at + 0x18, 8), u(table, at + 0x20, 8))
        }
        let strtab = header(names)
        guard strtab.size < 1 << 20, let strings = read(strtab.offset, Int(strtab.size)) else { return nil }
        let wanted = Array(name.utf8) + [0]
        for i in 0..<count {
            let s = header(i)
            guard s.name + wanted.count <= strings.count, Array(strings[s.name..<(s.name + wanted.count)]) == wanted else { continue }
            return ELFSection(address: UInt(s.address), size: UInt(s.size))
        }
        return nil
    }
}
