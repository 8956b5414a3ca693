import ATProto
import LabelStore
import Logging
import Rules
import Synchronization

/// The pipeline's handler, shared by `labeler run` and `labeler replay`: runs the rules over one
/// event and queues the label changes they ask for with the writer before the event counts as
/// finished, which is what keeps the stored cursor behind every label not yet stored (see
/// `LabelWriter`).
public final class EventLabeler: Sendable {
    /// What the rules asked for so far. Negations are counted apart: rules with
    /// `on_no_match: negate` ask to negate on every delete in their scope, and only those of
    /// applied labels change anything.
    public struct Tally: Sendable, Equatable {
        public var events = 0
        public var labels = 0
        public var negations = 0
        public var dryRun = 0
        public var ruleErrors = 0
        /// Labels and dry-run hits per rule id.
        public var byRule: [String: Int] = [:]
        /// Failures (match limit, bad data) per rule id.
        public var errorsByRule: [String: Int] = [:]
        /// Labels asked for per value.
        public var byValue: [String: Int] = [:]
        /// The time of the newest event handled, in microseconds, for the lag behind the relay.
        public var lastEventTime: Int64?
        /// Events handled per type (`commit`, `identity`, `account`, `sync`, …).
        public var byType: [String: Int] = [:]
    }

    public let evaluator: RuleEvaluator
    let writer: LabelWriter?
    let logger: Logger
    private let tally = Mutex(Tally())

    public init(evaluator: RuleEvaluator, writer: LabelWriter?, logger: Logger) {
        self.evaluator = evaluator
        self.writer = writer
        self.logger = logger
    }

    public var totals: Tally { tally.withLock { $0 } }

    /// Handles one event (the pipeline's handler).
    public func handle(seq: Int64, event: RepoEvent) async throws {
        let time = Self.eventTime(event)
        let results = evaluator.evaluate(event, time: time)
        if !results.isEmpty, let writer {
            var changes = results.flatMap(\.labelChanges)
            for i in changes.indices { changes[i].eventSeq = seq }
            if !changes.isEmpty { try await writer.enqueue(changes) }
        }
        tally.withLock { t in
            t.events += 1
            t.byType[Self.typeName(event), default: 0] += 1
            if t.lastEventTime ?? .min < time { t.lastEventTime = time }
            for effects in results {
                t.labels += effects.labels.count
                t.negations += effects.negations.count
                t.dryRun += effects.dryRun.count
                t.ruleErrors += effects.failures.count
                for effect in effects.labels + effects.dryRun { t.byRule[effect.ruleID, default: 0] += 1 }
                for effect in effects.labels { t.byValue[effect.value, default: 0] += 1 }
                for failure in effects.failures { t.errorsByRule[failure.ruleID, default: 0] += 1 }
            }
        }
        for effects in results {
            for failure in effects.failures {
                logger.warning("rule failed", metadata: ["seq": "\(seq)", "error": "\(failure)"])
            }
        }
    }

    static func typeName(_ event: RepoEvent) -> String {
        switch event {
        case .commit: "commit"
        case .identity: "identity"
        case .account: "account"
        case .sync: "sync"
        case .info: "info"
        case .error: "error"
        case .unknown(let type): type == "rejected" ? "rejected" : "unknown"
        }
    }

    /// The event's own time in microseconds (so replays are deterministic), or now.
    public static func eventTime(_ event: RepoEvent) -> Int64 {
        let text: String? =
            switch event {
            case .commit(let c): c.time
            case .identity(let i): i.time
            case .account(let a): a.time
            default: nil
            }
        if let text, let parsed = try? Datetime(text) { return parsed.unixMicros }
        return Datetime.now().unixMicros
    }
}
