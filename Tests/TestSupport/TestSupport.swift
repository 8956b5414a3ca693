import Foundation
import Logging
import Testing

// Helpers shared by the test targets. Each target keeps its own fixtures and harnesses; what is
// here is what more than one of them needs.

/// A logger that prints only critical messages, so that test output stays readable.
public func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// A path named `name` in a new, empty temporary directory.
public func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// `waitUntil` gave up.
public struct TimedOutWaiting: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "gave up waiting for \(what)" }
}

/// Polls `condition` until it holds. The deadline is generous (60 s) so that a busy machine only
/// makes a test slower; a bug still shows as a failure, never as a hang.
/// - Throws: `TimedOutWaiting` (after recording an issue) when `timeout` passes first, or what
///   `condition` throws.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("gave up waiting for \(what)", sourceLocation: sourceLocation)
            throw TimedOutWaiting(what: what)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held. For
/// waits whose outcome the test checks itself.
public func eventually(timeout: Duration, _ condition: () throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}
