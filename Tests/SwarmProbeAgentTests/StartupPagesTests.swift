import Foundation
import Testing
@testable import SwarmProbeAgent

@Suite("Memory handed back: the loader's relocation table, the allocator's free pages")
struct StartupPagesTests {
    /// `readelf -SW`'s address and size of a section, the reference the parser is checked against.
    private func readelf(_ section: String, _ path: String) throws -> (address: UInt, offset: UInt, size: UInt)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
        p.arguments = ["-SW", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "]", maxSplits: 1).last?.split(separator: " ") ?? []
            guard f.count >= 5, f[0] == section else { continue }
            return (UInt(f[2], radix: 16)!, UInt(f[3], radix: 16)!, UInt(f[4], radix: 16)!)
        }
        return nil
    }

    @Test("sections found by name match readelf's, in this test binary")
    func sectionsMatchReadelf() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/readelf"), "binutils' readelf")
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let image = try #require(ELFImage.read(exe))
        for name in [".rela.dyn", ".text", ".dynsym"] {
            let want = try #require(try readelf(name, exe), "\(name) in \(exe)")
            let got = try #require(image.sections[name])
            #expect(got.address == want.address && got.offset == want.offset && got.size == want.size, "\(name): \(got) against readelf's \(want)")
        }
        #expect(image.sections[".rela.dyn"]?.type == ELFImage.relaType && image.sections[".text"]?.type == 1)  // SHT_PROGBITS
        #expect(image.sections[".no-such-section"] == nil)
        // The test binary is position-independent; its table sits in a load segment without write permission,
        // its relocated data (.data.rel.ro, RELRO) in a writable one.
        #expect(image.positionIndependent)
        let table = try #require(image.sections[".rela.dyn"]), relro = try #require(image.sections[".data.rel.ro"])
        #expect(image.loads.contains { $0.contains(table) && !$0.writable })
        #expect(image.loads.contains { $0.contains(relro) && $0.writable })
        // Not an ELF file, or none at all: nothing.
        let notELF = FileManager.default.temporaryDirectory.appendingPathComponent("not-elf-\(UUID().uuidString)").path
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: notELF))
        defer { try? FileManager.default.removeItem(atPath: notELF) }
        #expect(ELFImage.read(notELF) == nil)
        #expect(ELFImage.read(notELF + "-missing") == nil)
    }

    @Test("lines of /proc/self/maps: path, offset, writable; lines without a path are skipped")
    func mappings() throws {
        let m = try #require(StartupPages.Mapping("55ed59f29000-55ed5bd54000 r-xp 00001000 08:01 1234   /opt/my agent/swarmprobe-agent"))
        #expect(m.start == 0x55ed59f29000 && m.end == 0x55ed5bd54000 && m.offset == 0x1000 && !m.writable)
        #expect(m.path == "/opt/my agent/swarmprobe-agent")
        // Anonymous mappings (no path, with or without the trailing blank) are not the executable's.
        #expect(StartupPages.Mapping("7fbd3c000000-7fbd3c04c000 rw-p 00000000 00:00 0 ") == nil)
        #expect(StartupPages.Mapping("7fbd3c000000-7fbd3c04c000 rw-p 00000000 00:00 0") == nil)
        #expect(StartupPages.Mapping("7fbd3c000000-7fbd3c04c000 rw-p 00000000 00:00 0   [heap]")?.writable == true)
        #expect(StartupPages.Mapping("garbage") == nil)
    }

    @Test("the relocation table's pages leave this process's resident set, and it runs on")
    func releasesTheTable() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let table = try #require(ELFImage.read(exe)?.sections[".rela.dyn"])
        let released = StartupPages.releaseRelocationTable()
        // Whole pages inside the table only.
        #expect(released > 0 && released <= Int(table.size) && released % 4096 == 0, "\(released) of \(table.size)")
        // And they have left this process's page table (/proc/self/pagemap: bit 63, present).
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8).split(separator: "\n").compactMap(StartupPages.Mapping.init)
        let base = try #require(maps.first { $0.path == exe && $0.offset == 0 }).start
        let first = (base + table.address + 4095) / 4096, last = (base + table.address + table.size) / 4096
        let pagemap = try #require(FileHandle(forReadingAtPath: "/proc/self/pagemap"))
        defer { try? pagemap.close() }
        try pagemap.seek(toOffset: UInt64(first) * 8)
        let entries = try #require(try pagemap.read(upToCount: Int(last - first) * 8))
        let present = stride(from: 0, to: entries.count, by: 8).filter { entries[entries.startIndex + $0 + 7] & 0x80 != 0 }.count
        #expect(present == 0, "\(present) of \(last - first) pages still mapped")
        // Still alive, with its relocated data intact: metadata and a dynamic cast still work.
        let any: Any = [1, 2, 3]
        #expect((any as? [Int])?.count == 3)
    }

    private func anonymousKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    @Test("with the threshold fixed, freed 256 KiB blocks leave at once, even after a large block raised glibc's own")
    func largeBlocksLeaveAtOnce() throws {
        // A freed 4 MiB mapped block raises glibc's dynamic threshold to 4 MiB: left alone, the 256 KiB blocks
        // below would come from the arena and stay there once freed.
        let big = UnsafeMutableRawPointer.allocate(byteCount: 4 << 20, alignment: 16)
        big.initializeMemory(as: UInt8.self, repeating: 1, count: 4 << 20)
        big.deallocate()
        #expect(Heap.returnLargeBlocksAtOnce())
        // 8 MiB, and one more block that pins the arena's top (without it, the freed blocks would merge into the
        // top and glibc would trim them anyway).
        let blocks = (0..<33).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 256 << 10, alignment: 16) }
        for b in blocks { b.initializeMemory(as: UInt8.self, repeating: 0x5A, count: 256 << 10) }
        defer { blocks.last!.deallocate() }
        let before = try anonymousKiB()
        for b in blocks.dropLast() { b.deallocate() }
        let after = try anonymousKiB()
        #expect(before - after >= 6 * 1024, "RssAnon \(before) -> \(after) KiB")
    }

    @Test("free memory inside the allocator's arena goes back to the system")
    func trimsTheHeap() throws {
        // 64 MiB in 4 KiB blocks (the arena, not mmap), written so they are resident; all freed but the last,
        // which pins the arena's top: free() alone hands nothing back.
        let blocks = (0..<16_384).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16) }
        for b in blocks { b.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 4096) }
        for b in blocks.dropLast() { b.deallocate() }
        defer { blocks.last!.deallocate() }
        let before = try anonymousKiB()
        #expect(Heap.trim())
        let after = try anonymousKiB()
        #expect(before - after >= 32 * 1024, "RssAnon \(before) -> \(after) KiB")
    }
}
