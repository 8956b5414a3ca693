import Dispatch
import Foundation
import Logging
import Rules

#if canImport(Glibc)
import Glibc
#endif

/// Reloads the rules on SIGHUP and when a rule, list or label definitions file changes, swapping the new set in
/// atomically between events. A set that fails to load is never used: the running one stays,
/// every problem is logged as `file:line:column: message`, and the failure is counted.
public final class RuleReloader: Sendable {
    public let holder: RuleSetHolder
    public let directory: String
    let pollInterval: Duration
    let logger: Logger
    private let requests: AsyncStream<Void>
    private let requestContinuation: AsyncStream<Void>.Continuation
    private let signalSource = Locked<SignalSource?>(nil)
    /// Taken at creation, so a change made before `run()` starts is still noticed.
    private let initialFiles: RuleFileChangeDetector

    /// - Parameter pollInterval: how often files are checked for changes.
    public init(holder: RuleSetHolder, directory: String, pollInterval: Duration = .seconds(2), logger: Logger) {
        self.holder = holder
        self.directory = directory
        self.pollInterval = pollInterval
        self.logger = logger
        (requests, requestContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        initialFiles = RuleFileChangeDetector(directory: directory, listFiles: holder.current.files)
    }

    /// Starts listening for SIGHUP. Until this is called, SIGHUP keeps its default action
    /// (terminating the process), so call it before announcing that SIGHUP reloads.
    public func listenForSIGHUP() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let continuation = requestContinuation
        source.setEventHandler { continuation.yield() }
        source.resume()
        signalSource.withLock { $0 = SignalSource(source: source) }
    }

    /// Asks for a reload now (as SIGHUP does).
    public func requestReload() { requestContinuation.yield() }

    /// Reloads immediately; returns whether the new set is in use.
    @discardableResult
    public func reload(reason: String) -> Bool {
        switch holder.reload(from: directory) {
        case .success(let set):
            for warning in set.warnings { logger.warning("\(warning)") }
            logger.info("rules reloaded", metadata: ["reason": "\(reason)", "rules": "\(set.summary)"])
            return true
        case .failure(let error):
            for diagnostic in error.diagnostics { logger.error("\(diagnostic)") }
            logger.error(
                "rules reload failed; the previous rules stay in use",
                metadata: ["reason": "\(reason)", "problems": "\(error.diagnostics.count)"])
            return false
        }
    }

    /// Reloads on a thread of its own and waits for it. Compiling a rule set with big lists takes
    /// seconds; done on one of the few cooperative threads (two on a two-core machine), it would
    /// hold up the ingest workers scheduled there for as long.
    @discardableResult
    public func reloadOffThePool(reason: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.reload(reason: reason)) }
            thread.name = "rule-reload"
            thread.start()
        }
    }

    /// Watches for SIGHUP requests and file changes until the task is cancelled.
    public func run() async {
        // Child tasks end with the parent's cancellation: the stream's iteration and the sleep
        // both stop on it.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [requests] in
                for await _ in requests { await self.reloadOffThePool(reason: "SIGHUP") }
            }
            group.addTask {
                var detector = self.initialFiles
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.pollInterval) } catch { return }
                    if detector.poll() {
                        await self.reloadOffThePool(reason: "files changed")
                        detector.watch(listFiles: self.holder.current.files)
                    }
                }
            }
            await group.waitForAll()
        }
        signalSource.withLock { $0?.source.cancel() }
    }
}

/// A dispatch signal source (thread-safe, but not marked Sendable by Dispatch).
struct SignalSource: @unchecked Sendable {
    let source: any DispatchSourceSignal
}
