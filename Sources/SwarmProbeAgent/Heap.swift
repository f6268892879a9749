import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The allocator's free memory, handed back to the system.
public enum Heap {
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

    /// Has glibc serve every block of `mmapThreshold` bytes or more with its own mapping, returned to the
    /// system as soon as it is freed. glibc's default threshold starts there too, but rises to the size of
    /// each mapped block freed (up to 32 MiB): after a few checks an agent's logs, plans and replies (hundreds
    /// of KiB each) come from the arenas instead, where what they leave behind fragments them. Left alone
    /// after 20 back-to-back 32-node checks, agents held 0.6-1 MiB less with the threshold fixed, and 1.5 MiB
    /// less between checks (BENCHMARKS.md). Returns whether glibc took the setting.
    @discardableResult
    public static func returnLargeBlocksAtOnce() -> Bool {
        guard let mallopt else { return false }
        return mallopt(-3, CInt(mmapThreshold)) == 1  // M_MMAP_THRESHOLD
    }

    static let mmapThreshold = 128 * 1024

    private typealias MallOpt = @convention(c) (CInt, CInt) -> CInt
    private typealias MallocTrim = @convention(c) (Int) -> CInt

    private static let mallopt = libcFunction("mallopt", as: MallOpt.self)
    private static let mallocTrim = libcFunction("malloc_trim", as: MallocTrim.self)

    /// A C library function the Glibc module does not export (<malloc.h>), looked up at run time.
    private static func libcFunction<F>(_ name: String, as type: F.Type) -> F? {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
        #else
        return nil
        #endif
    }
}

/// The executable's relocation table, let go once the loader has applied it.
///
/// The static agent is a position-independent executable: at start the loader reads its whole table of
/// relative relocations (`.rela.dyn`, 2.4 MB for about 100,000 pointers in Swift metadata) and never reads
/// it again. The pages stay mapped all the same, and count in the agent's resident set for as long as it
/// runs. `madvise(MADV_DONTNEED)` on the table's whole pages drops them from the mapping (they are clean
/// and file-backed: should anything read them again, they come back from the file unchanged). Nothing is
/// released unless every check holds: the section is a RELA table in a load segment the file maps without
/// write permission (never the RELRO data the relocations were applied to, which is read-only once
/// relocated but dirty), and the mapping found in /proc/self/maps holds exactly the section's file bytes
/// at the computed addresses. The compact form of the table (`-z pack-relative-relocs`) would avoid the
/// cost at its source, but needs glibc 2.36 on the node, which Ubuntu 22.04 (2.35) does not have.
public enum StartupPages {
    /// Releases the table's pages; returns how many bytes (0 when there is nothing to release or the
    /// executable cannot be read).
    @discardableResult
    public static func releaseRelocationTable() -> Int {
        #if os(Linux)
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let image = ELFImage.read("/proc/self/exe"), let section = image.sections[".rela.dyn"],
              section.type == ELFImage.relaType,
              image.loads.contains(where: { $0.contains(section) && !$0.writable }),
              let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return 0 }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let mine = maps.split(separator: "\n").compactMap(Mapping.init).filter { $0.path == exe }
        // Where the file was loaded: a position-independent image wherever its mapping at file offset 0
        // begins (less its first segment's address, 0 as linked); any other at the addresses it was linked at.
        let base: UInt
        if image.positionIndependent {
            guard let first = mine.first(where: { $0.offset == 0 })?.start, let lowest = image.loads.map(\.address).min(),
                  first >= lowest / page * page else { return 0 }
            base = first - lowest / page * page
        } else {
            base = 0
        }
        let start = (base + section.address + page - 1) / page * page
        let end = (base + section.address + section.size) / page * page
        guard end > start,
              let m = mine.first(where: { $0.start <= start && end <= $0.end }), !m.writable,
              m.offset + (start - m.start) == section.offset + (start - (base + section.address)),
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

/// What `StartupPages` needs of a 64-bit little-endian ELF file: its type, its load segments and its
/// sections by name.
struct ELFImage {
    struct Section {
        /// Address as linked, size and file offset; `type` is `sh_type`.
        var address: UInt
        var size: UInt
        var offset: UInt
        var type: UInt32
    }
    struct Load {
        var address: UInt
        var memorySize: UInt
        var writable: Bool
        func contains(_ s: Section) -> Bool { address <= s.address && s.address + s.size <= address + memorySize }
    }
    static let relaType: UInt32 = 4  // SHT_RELA

    /// ET_DYN (a position-independent executable), not ET_EXEC.
    var positionIndependent: Bool
    var loads: [Load]
    var sections: [String: Section]

    static func read(_ path: String) -> ELFImage? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        func read(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard count >= 0, (try? file.seek(toOffset: offset)) != nil, let d = try? file.read(upToCount: count), d.count == count else { return nil }
            return [UInt8](d)
        }
        func u(_ b: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        // ELF64 (class 2), little-endian (data 1), an executable or a shared object.
        guard let h = read(0, 64), h[0] == 0x7F, h[1] == 0x45, h[2] == 0x4C, h[3] == 0x46, h[4] == 2, h[5] == 1 else { return nil }
        let type = u(h, 0x10, 2)
        guard type == 2 || type == 3 else { return nil }
        let phoff = u(h, 0x20, 8), phsize = Int(u(h, 0x36, 2)), phcount = Int(u(h, 0x38, 2))
        let shoff = u(h, 0x28, 8), shsize = Int(u(h, 0x3A, 2)), shcount = Int(u(h, 0x3C, 2)), names = Int(u(h, 0x3E, 2))
        guard phsize >= 56, phcount > 0, phcount < 65_280, let ph = read(phoff, phsize * phcount),
              shsize >= 64, shcount > 0, shcount < 65_280, names < shcount, let table = read(shoff, shsize * shcount) else { return nil }
        let loads = (0..<phcount).compactMap { i -> Load? in
            let at = i * phsize
            guard u(ph, at, 4) == 1 else { return nil }  // PT_LOAD
            return Load(address: UInt(u(ph, at + 0x10, 8)), memorySize: UInt(u(ph, at + 0x28, 8)), writable: u(ph, at + 4, 4) & 2 != 0)
        }
        func header(_ i: Int) -> (name: Int, section: Section) {
            let at = i * shsize
            return (Int(u(table, at, 4)), Section(address: UInt(u(table, at + 0x10, 8)), size: UInt(u(table, at + 0x20, 8)),
                                                  offset: UInt(u(table, at + 0x18, 8)), type: UInt32(u(table, at + 4, 4))))
        }
        let strtab = header(names).section
        guard strtab.size < 1 << 20, let strings = read(UInt64(strtab.offset), Int(strtab.size)) else { return nil }
        var sections: [String: Section] = [:]
        for i in 0..<shcount {
            let (name, section) = header(i)
            guard name < strings.count, let nul = strings[name...].firstIndex(of: 0) else { continue }
            sections[String(decoding: strings[name..<nul], as: UTF8.self)] = section
        }
        return ELFImage(positionIndependent: type == 3, loads: loads, sections: sections)
    }
}
