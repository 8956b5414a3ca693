import ATProto
import Foundation
import SyntheticFirehose
import Testing

@testable import Firehose

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("firehose-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Runs a shell command, failing the test when it does not exit 0.
@discardableResult
func shell(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ShellFailure(command: command, status: process.terminationStatus, output: output)
    }
    return output
}

struct ShellFailure: Error, CustomStringConvertible {
    let command: String
    let status: Int32
    let output: String
    var description: String { "`\(command)` exited \(status): \(output)" }
}

func readAll(_ path: String, maxMessageSize: Int = 5_000_000) throws -> [[UInt8]] {
    let reader = try CaptureReader(path: path, maxMessageSize: maxMessageSize)
    var out: [[UInt8]] = []
    while let m = try reader.readMessage() { out.append(m) }
    return out
}

@Suite struct CaptureTests {
    func writeCapture(_ path: String, count: Int, seed: UInt64 = 1) throws -> [[UInt8]] {
        var generator = SyntheticFirehose(seed: seed)
        let messages = generator.messages(count)
        let writer = try CaptureWriter(path: path)
        for m in messages { try writer.write(m) }
        try writer.flush()
        return messages
    }

    @Test func plainRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let messages = try writeCapture(dir.file("c.bin"), count: 2000)
        #expect(try readAll(dir.file("c.bin")) == messages)
        // The iterator form reads the same messages.
        let reader = try CaptureReader(path: dir.file("c.bin"))
        #expect(Array(reader) == messages)
        #expect(reader.error == nil)
    }

    @Test func gzipIncludingConcatenatedMembers() throws {
        let dir = try TemporaryDirectory()
        let first = try writeCapture(dir.file("a.bin"), count: 700, seed: 1)
        let second = try writeCapture(dir.file("b.bin"), count: 300, seed: 2)
        try shell(
            "gzip -c \(dir.file("a.bin")) > \(dir.file("c.gz")) && gzip -c \(dir.file("b.bin")) >> \(dir.file("c.gz"))")
        #expect(try readAll(dir.file("c.gz")) == first + second)
    }

    @Test func zstdIsRecognisedByContent() throws {
        let dir = try TemporaryDirectory()
        let messages = try writeCapture(dir.file("c.bin"), count: 1500)
        try shell("zstd -q -c \(dir.file("c.bin")) > \(dir.file("capture.data"))")
        #expect(try readAll(dir.file("capture.data")) == messages)
    }

    @Test func truncatedCompressedStreamsAreErrors() throws {
        let dir = try TemporaryDirectory()
        _ = try writeCapture(dir.file("c.bin"), count: 500)
        try shell("gzip -c \(dir.file("c.bin")) | head -c 20000 > \(dir.file("t.gz"))")
        try shell("zstd -q -c \(dir.file("c.bin")) | head -c 20000 > \(dir.file("t.zst"))")
        for name in ["t.gz", "t.zst"] {
            #expect(throws: CaptureError.self, "\(name)") { try readAll(dir.file(name)) }
        }
    }

    @Test func truncatedRecordIsAnError() throws {
        let dir = try TemporaryDirectory()
        let messages = try writeCapture(dir.file("c.bin"), count: 10)
        let full = try Data(contentsOf: URL(fileURLWithPath: dir.file("c.bin")))
        try full.dropLast(5).write(to: URL(fileURLWithPath: dir.file("t.bin")))
        let reader = try CaptureReader(path: dir.file("t.bin"))
        for expected in messages.dropLast() { #expect(try reader.readMessage() == expected) }
        #expect {
            _ = try reader.readMessage()
        } throws: { error in
            if case .truncated = (error as? CaptureError)?.kind { return true }
            return false
        }
    }

    @Test func oversizedRecordIsRefusedBeforeAllocating() throws {
        let dir = try TemporaryDirectory()
        // A record claiming 2^40 bytes.
        try Data(Varint.encode(1 << 40) + [1, 2, 3]).write(to: URL(fileURLWithPath: dir.file("big.bin")))
        #expect {
            _ = try readAll(dir.file("big.bin"))
        } throws: { error in
            if case .messageTooLarge(_, 0, 1 << 40, 5_000_000) = (error as? CaptureError)?.kind { return true }
            return false
        }
        try Data([0xff, 0xff]).write(to: URL(fileURLWithPath: dir.file("badvarint.bin")))
        #expect(throws: CaptureError.self) { try readAll(dir.file("badvarint.bin")) }
    }

    @Test func messagesLargerThanTheReadBufferStream() throws {
        let dir = try TemporaryDirectory()
        let big = [UInt8](repeating: 0xab, count: 3 << 20)
        let writer = try CaptureWriter(path: dir.file("big.bin"))
        try writer.write([1, 2, 3])
        try writer.write(big)
        try writer.write([UInt8]())
        try writer.write([4])
        try writer.flush()
        #expect(try readAll(dir.file("big.bin")) == [[1, 2, 3], big, [], [4]])
    }

    @Test func missingFileIsAReadableError() {
        #expect {
            _ = try CaptureReader(path: "/nonexistent/capture.bin")
        } throws: { error in
            (error as? CaptureError)?.description == "/nonexistent/capture.bin: cannot open: No such file or directory"
        }
    }
}

@Suite struct CaptureStatsTests {
    @Test func countsAgreeWithAnIndependentTally() throws {
        let dir = try TemporaryDirectory()
        var generator = SyntheticFirehose(seed: 4)
        let messages = generator.messages(3000)
        let writer = try CaptureWriter(path: dir.file("c.bin"))
        for m in messages { try writer.write(m) }
        try writer.flush()

        // Tally by frame type with the frame codec alone, and count ops from the raw bodies.
        var byType: [String: Int] = [:]
        var ops = 0
        for m in messages {
            let (header, body) = try FrameCodec.split(m[...])
            guard case .message(let t) = header else { continue }
            byType[t, default: 0] += 1
            ops += body["ops"]?.arrayValue?.count ?? 0
        }
        let stats = try CaptureStats.collect(paths: [dir.file("c.bin")])
        #expect(stats.messages == 3000)
        #expect(stats.commit == byType["#commit"])
        #expect(stats.identity == byType["#identity"] ?? 0)
        #expect(stats.account == byType["#account"] ?? 0)
        #expect(stats.sync == byType["#sync"] ?? 0)
        #expect(stats.ops == ops)
        #expect(stats.isClean)
        #expect(stats.json.hasPrefix(#"{"messages":3000,"commit":"#))
    }

    @Test func mismatchesAndErrorsAreCounted() throws {
        var generator = SyntheticFirehose(seed: 9)
        var stats = CaptureStats()
        let decoder = RepoEventDecoder()
        var tamperedOne = false
        for m in generator.messages(200) {
            var message = m
            if !tamperedOne, let (header, body) = try? FrameCodec.split(m[...]), header == .message("#commit"),
                let blocks = body["blocks"]?.bytesValue
            {
                message[blocks.endIndex - 2] ^= 0xff
                tamperedOne = true
            }
            stats.add(message, decoder: decoder)
        }
        stats.add([0xff, 0x00], decoder: decoder)
        #expect(stats.cidMismatches == 1)
        #expect(stats.errors == 1)
        #expect(!stats.isClean)
        #expect(stats.firstErrors.count == 2)
    }

    /// Extra coverage when the shared corpus generator is present: its own per-type counts must
    /// equal ours for a fresh capture. Reported as skipped, not passed, when it is absent.
    @Test(.enabled(if: SharedCorpus.generator != nil, "shared/corpus/gen_firehose.py is not beside the project"))
    func sharedCorpusCountsMatchTheGenerator() throws {
        let dir = try TemporaryDirectory()
        let script = try #require(SharedCorpus.generator)
        let report = try shell(
            "python3 \(script) --events 3000 --seed 5 --out \(dir.file("c.bin")) --truth \(dir.file("t.jsonl"))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])
        let counts = try #require(json["counts"] as? [String: Int])
        let stats = try CaptureStats.collect(paths: [dir.file("c.bin")])
        #expect(stats.isClean)
        #expect(stats.messages == 3000)
        #expect(stats.commit == counts["#commit"] ?? 0)
        #expect(stats.identity == counts["#identity"] ?? 0)
        #expect(stats.account == counts["#account"] ?? 0)
        #expect(stats.sync == counts["#sync"] ?? 0)
        #expect(stats.info == counts["#info"] ?? 0)
        let ops = counts.filter {
            $0.key.hasPrefix("create ") || $0.key.hasPrefix("update ") || $0.key.hasPrefix("delete ")
        }
        #expect(stats.ops == ops.values.reduce(0, +))
        let writes = counts.filter { $0.key.hasPrefix("create ") || $0.key.hasPrefix("update ") }
        #expect(stats.records == writes.values.reduce(0, +))
    }
}

enum SharedCorpus {
    /// `../shared/corpus/gen_firehose.py` next to the package, if it is there.
    static let generator: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.deletingLastPathComponent().appendingPathComponent("shared/corpus/gen_firehose.py").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()
}
