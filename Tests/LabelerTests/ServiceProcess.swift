import Foundation
import LabelStore

#if canImport(Glibc)
import Glibc
#endif

/// The `labeler` executable built next to this test bundle, run as a child process the way an
/// operator runs it: its own working folder, configuration through `LABELER_*` variables.
struct ServiceProcess {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// `labeler` in the build folder of the running tests (`swift build` builds it with them).
    static func executable() throws -> String {
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var folder = URL(fileURLWithPath: me).deletingLastPathComponent()
        // Test bundles may sit in a `*.xctest` folder on some platforms.
        if folder.lastPathComponent.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        let path = folder.appendingPathComponent("labeler").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(
                description:
                    "\(path) is missing: build the labeler product before the tests (swift build --build-tests)")
        }
        return path
    }

    let process: Process
    let log: String

    /// Starts `labeler arguments…` in `folder` with `environment` added to a clean environment.
    init(_ arguments: [String], in folder: String, environment: [String: String], log: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var env = ["PATH": "/usr/bin:/bin", "LABELER_LOG_LEVEL": "info"]
        for (k, v) in environment { env[k] = v }
        process.environment = env
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        self.log = log
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the process to exit (at most `timeout`), returning its status, or nil on timeout.
    func wait(timeout: Duration) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning {
            if clock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}
