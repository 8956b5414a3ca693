import Foundation
import Synchronization
import Testing

@testable import Firehose

/// How far through its files a capture reader is, for progress lines: bytes of the files as they
/// are on disk (compressed or not), so the percentage is against the files' sizes.
@Suite struct CaptureProgressTests {
    /// A plain capture and its gzip copy, and the two files' sizes.
    func captures(_ dir: TemporaryDirectory) throws -> (plain: String, gzip: String, sizes: [Int]) {
        _ = try CaptureTests().writeCapture(dir.file("c.bin"), count: 1_500, seed: 4)
        try shell("gzip -c \(dir.file("c.bin")) > \(dir.file("c.bin.gz"))")
        let sizes = try [dir.file("c.bin"), dir.file("c.bin.gz")].map {
            try #require(FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int)
        }
        return (dir.file("c.bin"), dir.file("c.bin.gz"), sizes)
    }

    @Test func aReaderHasReadTheWholeFileAtTheEndCompressedOrNot() throws {
        let dir = try TemporaryDirectory()
        let (plain, gzip, sizes) = try captures(dir)
        for (path, size) in zip([plain, gzip], sizes) {
            let reader = try CaptureReader(path: path)
            #expect(reader.fileBytesRead == 0)
            _ = try reader.readMessage()
            #expect(reader.fileBytesRead > 0 && reader.fileBytesRead <= size)
            while try reader.readMessage() != nil {}
            #expect(reader.fileBytesRead == size, "\(path)")
        }
        #expect(sizes[1] < sizes[0], "the gzip copy is smaller: progress counts the bytes on disk")
    }

    /// The positions a source showed while it delivered.
    final class Positions: Sendable {
        private let seen = Mutex<[Int]>([])
        func append(_ position: Int) { seen.withLock { $0.append(position) } }
        var all: [Int] { seen.withLock { $0 } }
    }

    @Test func aSourceCountsEveryFileItRead() async throws {
        let dir = try TemporaryDirectory()
        let (plain, gzip, sizes) = try captures(dir)
        for sealed in [false, true] {
            // The gzip copy repeats the plain file's seqs: its events are read (and counted) but
            // not delivered again.
            let source = CaptureSource(paths: [plain, gzip])
            let positions = Positions()
            if sealed {
                try await source.runSealed(resumeAfter: { nil }) { _ in positions.append(source.fileBytesRead) }
            } else {
                try await source.run(resumeAfter: { nil }) { _ in positions.append(source.fileBytesRead) }
            }
            #expect(positions.all.first.map { $0 > 0 } == true)
            #expect(positions.all == positions.all.sorted(), "the position only moves forward")
            #expect(source.fileBytesRead > sizes[0] && source.fileBytesRead <= sizes[0] + sizes[1], "sealed: \(sealed)")
        }
    }

    @Test func statsReportProgressEvery256MessagesUpToTheFilesSizes() throws {
        let dir = try TemporaryDirectory()
        let (plain, gzip, sizes) = try captures(dir)
        var reports: [(messages: Int, bytes: Int)] = []
        let stats = try CaptureStats.collect(paths: [plain, gzip]) { reports.append(($0, $1)) }
        #expect(stats.messages == 3_000)
        #expect(reports.map(\.messages) == Array(stride(from: 256, through: 3_000, by: 256)))
        #expect(reports.map(\.bytes) == reports.map(\.bytes).sorted())
        #expect(reports.last.map { $0.bytes > sizes[0] && $0.bytes <= sizes[0] + sizes[1] } == true)
    }
}
