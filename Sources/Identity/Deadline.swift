/// Runs `body`, or throws ``DeadlinePassed`` once `timeout` has passed: a host that accepts a
/// connection and never answers must not hang a lookup or a check. `body` is cancelled then.
public func withDeadline<T: Sendable>(
    _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlinePassed(timeout: timeout) }
        return value
    }
}

/// ``withDeadline(_:_:)`` gave up.
public struct DeadlinePassed: Error, CustomStringConvertible, Sendable {
    public let timeout: Duration
    public var description: String { "no answer within \(timeout)" }
}
