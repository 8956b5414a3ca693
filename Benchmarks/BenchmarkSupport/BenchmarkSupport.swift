import ATCrypto
import Foundation
import LabelServer
import LabelStore
import Logging
import TestNetwork

/// What a benchmark's `main` runs in: `body` gets a scratch directory, removed once it returns
/// or throws, and a logger that only lets critical messages through (stopping the in-process
/// server under open connections is logged as an error, which is expected here).
public func withBenchmarkRun(
    _ name: String, isolation: isolated (any Actor)? = #isolation,
    _ body: (_ directory: URL, _ logger: Logger) async throws -> Void
) async throws {
    var logger = Logger(label: name)
    logger.logLevel = .critical
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try await body(directory, logger)
}

/// Runs a label server in this process for a benchmark's clients: calls `body` with the server
/// and its port once it listens, then shuts it down gracefully. It answers health as version `bench`, with
/// metrics of its own; by default it listens on 127.0.0.1 at a free port, submits nothing and
/// hears of no commits.
public func withLabelServer<Result>(
    configuration: LabelServer.Configuration = .init(host: "127.0.0.1", port: 0), store: LabelStore,
    signingKey: SigningKey, keyID: Int64, submit: @escaping LabelServer.Submit = { _ in [] },
    commits: some AsyncSequence<Int64, Never> & Sendable = AsyncStream.makeStream(of: Int64.self).stream,
    reports: ReportIntake? = nil, logger: Logger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (_ server: LabelServer, _ port: Int) async throws -> Result
) async throws -> Result {
    let server = try LabelServer(
        configuration: configuration, store: store, signingKey: signingKey, keyID: keyID, submit: submit,
        commits: commits, health: HealthProvider(version: "bench"), metrics: MetricsRegistry(), reports: reports,
        logger: logger)
    // Stopped gracefully, never by cancellation (see `ServiceRunner`).
    let running = ServiceRunner([server], logger: logger)
    do {
        let result = try await body(server, try await server.port())
        await running.stop()
        return result
    } catch {
        await running.stop()
        throw error
    }
}
