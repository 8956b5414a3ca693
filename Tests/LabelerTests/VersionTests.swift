import Foundation
import Testing

@testable import Labeler

@Suite struct VersionTests {
    /// Sources/Labeler/VERSION, read from the checkout the tests were built from.
    static let versionFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Labeler/VERSION").standardized.path

    @Test func theCompiledVersionIsTheVersionFile() throws {
        let text = try String(contentsOfFile: Self.versionFile, encoding: .utf8)
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        #expect(!line.isEmpty)
        #expect(LabelerVersion.current == line.trimmingCharacters(in: .whitespaces))
    }

    @Test(arguments: [
        ("0.1.0\n", "0.1.0"), ("  1.2.3-rc.1 \r\nignored\n", "1.2.3-rc.1"), ("", "unknown"), ("\n\n", "unknown"),
        ("   \n", "unknown"),
    ])
    func theFirstLineTrimmedIsTheVersion(text: String, expected: String) {
        #expect(LabelerVersion.parse(Array(text.utf8)) == expected)
    }

    @Test func versionFlagPrintsItAndExitsZero() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServiceProcess.executable())
        process.arguments = ["--version"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: data, as: UTF8.self) == LabelerVersion.current + "\n")
    }
}
