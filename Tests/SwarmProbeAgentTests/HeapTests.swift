import Foundation
import Testing
@testable import SwarmProbeAgent

@Suite("The allocator hands freed memory back")
struct HeapTests {
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
