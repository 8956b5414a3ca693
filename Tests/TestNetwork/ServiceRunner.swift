import Logging
import ServiceLifecycle

/// Runs services in a group of their own until ``stop(grace:)``, which shuts them down
/// gracefully and cancels them only if that has not finished within the grace period.
///
/// Servers built on NIO's async channels must not be stopped by cancelling their task: a
/// connection accepted in that instant is dropped before anything closes it, and NIO traps
/// ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2637). A graceful
/// shutdown closes the listening socket first and serves every connection already accepted.
public struct ServiceRunner: Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>

    public init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Shuts the services down gracefully and waits for them; cancels them after `grace`.
    public func stop(grace: Duration = .seconds(30)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let watchdog = Task {
            try await Task.sleep(for: grace)
            task.cancel()
        }
        _ = try? await task.value
        watchdog.cancel()
    }
}
