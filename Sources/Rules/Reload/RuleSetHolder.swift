import Synchronization

/// The rule set in force, replaced atomically on reload.
///
/// Workers read ``current`` once per event and use that reference for the whole event, so an
/// event is evaluated by one set from start to end, never by a mix; a reload only affects events
/// that start after it. A failed reload leaves the running set in place.
///
/// ```swift
/// let holder = RuleSetHolder(try RuleSet.load(directory: "rules"))
/// // worker, per event:
/// let effects = holder.current.evaluate(context, counts: store, using: scratch)
/// // on SIGHUP or a file change:
/// if case .failure(let error) = holder.reload(from: "rules") { log(error.description) }
/// ```
public final class RuleSetHolder: Sendable {
    private struct State {
        var set: RuleSet
        var generation = 1
        var failedReloads = 0
        var lastErrors: [RuleDiagnostic] = []
    }

    private let state: Mutex<State>

    public init(_ set: RuleSet) {
        state = Mutex(State(set: set))
    }

    /// The rule set to evaluate the next event with.
    public var current: RuleSet { state.withLock { $0.set } }

    /// Increases by one with every successful swap (the initial set is generation 1).
    public var generation: Int { state.withLock { $0.generation } }

    /// How many reloads failed since this holder was created.
    public var failedReloads: Int { state.withLock { $0.failedReloads } }

    /// The problems of the last failed reload; empty after a successful one.
    public var lastErrors: [RuleDiagnostic] { state.withLock { $0.lastErrors } }

    /// Replaces the rule set. The old one is released after the lock is let go: when this was its
    /// last reference, freeing a big set must not hold up workers asking for ``current``.
    public func swap(to set: RuleSet) {
        let replaced = state.withLock {
            let old = $0.set
            $0.set = set
            $0.generation += 1
            $0.lastErrors = []
            return old
        }
        withExtendedLifetime(replaced) {}
    }

    /// Loads `directory` and, when it is valid, makes it current. On failure the current set stays
    /// and the failure is counted. Loading happens outside the lock; only the swap takes it.
    /// - Returns: the new set, or every problem found.
    @discardableResult
    public func reload(from directory: String) -> Result<RuleSet, RuleLoadError> {
        reload { () throws(RuleLoadError) in try RuleSet.load(directory: directory) }
    }

    /// Like ``reload(from:)`` with any loader (in-memory sources in tests).
    @discardableResult
    public func reload(_ load: () throws(RuleLoadError) -> RuleSet) -> Result<RuleSet, RuleLoadError> {
        do {
            let set = try load()
            swap(to: set)
            return .success(set)
        } catch {
            state.withLock {
                $0.failedReloads += 1
                $0.lastErrors = error.diagnostics
            }
            return .failure(error)
        }
    }
}
