import ATProto
import Dispatch
import LabelStore
import Logging
import Rules
import ServiceLifecycle
import Synchronization

/// Forgets the stored threshold hits no loaded rule can count any more, every `interval`.
///
/// The label writer forgets an account's old hits when it stores a new one for the same rule and
/// account; an account hit once and never again would keep its row for good, and a rule removed
/// from the rules would keep all of its rows. Hits are timed by their events, so age is measured
/// from the oldest time carried by the events handled since the last pruning (never from later
/// than now): while the labeler catches up after an outage, the events it handles are old and so
/// is the line. A week of slack covers an event handled again after a restart, and accounts whose
/// servers' clocks run behind the others'. A rule's hits go once it has been missing from the
/// rules at two prunings in a row, so a rules folder caught half-deployed costs nothing; a
/// running labeler still counts from what it holds in memory until it restarts.
public final class ThresholdHitPruner: Sendable {
    /// Hits this much older than the oldest event handled lately (beyond their window) go.
    public static let slack: Int64 = 7 * 24 * 3_600 * 1_000_000
    /// Most hits forgotten in one transaction.
    public static let batch = 5_000

    let store: LabelStore
    let holder: RuleSetHolder
    /// The oldest time carried by the events handled since the last call, in microseconds (nil:
    /// none), starting over (`EventLabeler.takeOldestEventTime`).
    let oldestEventTime: @Sendable () -> Int64?
    let logger: Logger
    /// The threshold rules loaded at the last pruning.
    private let previousRules = Mutex<Set<String>?>(nil)
    private let forgottenSoFar = Atomic<Int>(0)

    /// Hits forgotten since the start.
    public var forgottenTotal: Int { forgottenSoFar.load(ordering: .relaxed) }

    public init(
        store: LabelStore, holder: RuleSetHolder, oldestEventTime: @escaping @Sendable () -> Int64?, logger: Logger
    ) {
        self.store = store
        self.holder = holder
        self.oldestEventTime = oldestEventTime
        self.logger = logger
    }

    /// Forgets what no rule of the current set, or of the set at the last pruning, can count at
    /// `now` (microseconds), a batch per transaction.
    /// - Returns: how many hits were forgotten.
    @discardableResult
    public func prune(now: Int64 = Datetime.now().unixMicros) throws(LabelStore.Error) -> Int {
        var rules = holder.current.thresholdWindows(onReports: false).mapValues { Int64?($0) }
        let current = Set(rules.keys)
        // Rules missing only since the last pruning keep every hit one more round; at the first
        // pruning no missing rule's hits go.
        let previous = previousRules.withLock { previous in
            defer { previous = current }
            return previous
        }
        for id in previous ?? [] where rules[id] == nil { rules[id] = .some(nil) }
        let reference = oldestEventTime().map { min($0, now) - Self.slack }
        var forgotten = 0
        while true {
            let step = try store.pruneThresholdHits(
                rules: rules, forgetUnlisted: previous != nil, reference: reference, limit: Self.batch)
            forgotten += step
            forgottenSoFar.wrappingAdd(step, ordering: .relaxed)
            if step < Self.batch { return forgotten }
        }
    }

    /// Prunes every `interval` until cancelled, on a thread of its own (a large first pruning
    /// must not hold a thread the pipeline's tasks run on); a failure is logged and tried again
    /// next time.
    public func run(every interval: Duration) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            let outcome: Result<Int, LabelStore.Error> = await withCheckedContinuation { done in
                DispatchQueue.global(qos: .utility).async {
                    done.resume(returning: Result { () throws(LabelStore.Error) in try self.prune() })
                }
            }
            switch outcome {
            case .success(let forgotten) where forgotten > 0:
                logger.debug("old threshold hits forgotten", metadata: ["rows": "\(forgotten)"])
            case .success: break
            case .failure(let error):
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
