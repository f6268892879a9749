import CGlibc
import Foundation
import Testing

@testable import SwarmProbeAgent

@Suite("The allocator hands freed memory back", .serialized)
struct HeapTests {
    private func anonymousKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    @Test("with the threshold fixed, 256 KiB blocks get mappings of their own, even after a large block raised glibc's own")
    func largeBlocksAreMapped() throws {
        // A freed 4 MiB mapped block raises glibc's dynamic threshold to 4 MiB: left alone, the 256 KiB blocks
        // below would come from an arena and stay there once freed.
        let big = UnsafeMutableRawPointer.allocate(byteCount: 4 << 20, alignment: 16)
        big.initializeMemory(as: UInt8.self, repeating: 1, count: 4 << 20)
        big.deallocate()
        #expect(Heap.returnLargeBlocksAtOnce())
        // The allocator's own counts (not this process's RSS, which other tests move). glibc serves a block from an
        // arena's free space when it fits there, and maps one of its own only when the arena would have to grow.
        let before = mallinfo2()
        let blocks = (0..<32).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 256 << 10, alignment: 16) }
        let mapped = mallinfo2().hblks - before.hblks
        for b in blocks { b.deallocate() }
        let left = mallinfo2().hblks - before.hblks
        #expect(mapped > 0, "no block was mapped")
        #expect((32 - mapped) * (256 << 10) <= before.fordblks, "\(32 - mapped) blocks grew an arena (free there: \(before.fordblks) bytes)")
        #expect(left <= 0, "\(left) freed blocks still mapped")
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
