import ATProto
import LabelStore
import Logging
import Rules
import ServiceLifecycle

/// Forgets the stored threshold hits no loaded rule can count any more, every `interval`.
///
/// The label writer forgets an account's old hits when it stores a new one for the same rule and
/// account; an account hit once and never again would keep its row for good, and a rule removed
/// from the rules would keep all of its rows. Hits are timed by their events, so "old" is
/// measured from the newest event handled (or from now, when that is later than now: one event's
/// clock cannot make every hit look old), with a day of slack: an event handled again after a
/// restart, or one account's events running behind the others', still counts what it counted
/// the first time. A rule removed and added again starts counting afresh.
public struct ThresholdHitPruner: Sendable {
    /// Events' time this far behind the newest still count the hits they counted before.
    public static let slack: Int64 = 24 * 3_600 * 1_000_000

    let store: LabelStore
    let holder: RuleSetHolder
    /// The newest event's time handled, in microseconds (nil before the first).
    let newestEventTime: @Sendable () -> Int64?
    let logger: Logger

    public init(
        store: LabelStore, holder: RuleSetHolder, newestEventTime: @escaping @Sendable () -> Int64?, logger: Logger
    ) {
        self.store = store
        self.holder = holder
        self.newestEventTime = newestEventTime
        self.logger = logger
    }

    /// Forgets what no rule of the current set can count at `now` (microseconds).
    /// - Returns: how many hits were forgotten.
    @discardableResult
    public func prune(now: Int64 = Datetime.now().unixMicros) throws(LabelStore.Error) -> Int {
        var windows: [String: Int64] = [:]
        for rule in holder.current.rules where !rule.kinds.contains(.report) {
            if let threshold = rule.threshold { windows[rule.id] = threshold.within.microseconds }
        }
        // Before any event, only the hits of rules that are gone.
        let reference = newestEventTime().map { min($0, now) - Self.slack } ?? .min
        return try store.pruneThresholdHits(windows: windows, reference: reference)
    }

    /// Prunes every `interval` until cancelled; a failure is logged and tried again next time.
    public func run(every interval: Duration) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                let forgotten = try prune()
                if forgotten > 0 { logger.debug("old threshold hits forgotten", metadata: ["rows": "\(forgotten)"]) }
            } catch {
                logger.warning("forgetting old threshold hits failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The pruner as a service: it stops on graceful shutdown.
public struct ThresholdHitPruneService: Service {
    let pruner: ThresholdHitPruner
    let interval: Duration

    public init(pruner: ThresholdHitPruner, interval: Duration = .seconds(600)) {
        self.pruner = pruner
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await pruner.run(every: interval) }
    }
}
