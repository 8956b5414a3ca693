import ATCrypto
import ATProto
import Foundation
import LabelStore
import Logging
import Rules
import TestSupport
import Testing

@testable import Labeler

@Suite struct ThresholdHitPrunerTests {
    static let hour: Int64 = 3_600 * 1_000_000
    static let day = 24 * hour
    /// 2026-01-01T00:00:00Z in microseconds.
    static let t0: Int64 = 1_767_225_600 * 1_000_000

    func rules(window: String) throws -> RuleSetHolder {
        let dir = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        rules:
          - id: bad
            on: [post]
            match: {keywords: [badword]}
            label: spam
          - id: repeat
            on: [post]
            match: {rule: bad}
            threshold: {count: 3, within: \(window)}
            label: spam-account
            subject: account
        """.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        return RuleSetHolder(try RuleSet.load(directory: dir))
    }

    /// A store holding one hit per (rule, account, time).
    func store(_ hits: [(rule: String, did: String, time: Int64)]) throws -> LabelStore {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        _ = try store.commitNow(
            LabelTransaction(
                src: "did:plc:labeler", time: Datetime.now(), keyID: keyID, epoch: 0,
                thresholdHits: hits.map {
                    ThresholdHit(ruleID: $0.rule, did: $0.did, time: $0.time, window: 0, event: nil)
                }
            ))
        return store
    }

    func count(_ store: LabelStore, _ rule: String, _ did: String) throws -> Int {
        try store.thresholdCount(ruleID: rule, did: did, since: .min)
    }

    /// Hits older than the rule's window and a day of slack before the newest event are
    /// forgotten, as are all hits of a rule no longer loaded; the rest stay.
    @Test func forgetsWhatNoRuleCanCount() throws {
        let store = try store([
            ("repeat", "did:plc:old", Self.t0),
            ("repeat", "did:plc:slack", Self.t0 + 12 * Self.hour),
            ("repeat", "did:plc:recent", Self.t0 + 2 * Self.day),
            ("removed", "did:plc:recent", Self.t0 + 2 * Self.day),
        ])
        let newest = Self.t0 + 2 * Self.day + Self.hour
        let pruner = ThresholdHitPruner(
            store: store, holder: try rules(window: "24h"), newestEventTime: { newest },
            logger: Logger(label: "test"))
        #expect(try pruner.prune(now: newest + Self.day) == 2)
        #expect(try count(store, "repeat", "did:plc:old") == 0)
        #expect(try count(store, "repeat", "did:plc:slack") == 1)
        #expect(try count(store, "repeat", "did:plc:recent") == 1)
        #expect(try count(store, "removed", "did:plc:recent") == 0)
        // Nothing more to forget.
        #expect(try pruner.prune(now: newest + Self.day) == 0)
    }

    /// An event stamped in the future does not make today's hits look old: "old" is measured
    /// from now when the newest event claims a later time.
    @Test func anEventFromTheFutureDoesNotAgeTheHits() throws {
        let store = try store([("repeat", "did:plc:a", Self.t0)])
        let pruner = ThresholdHitPruner(
            store: store, holder: try rules(window: "24h"), newestEventTime: { Self.t0 + 30 * Self.day },
            logger: Logger(label: "test"))
        #expect(try pruner.prune(now: Self.t0 + Self.hour) == 0)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
        // Later, by the clock, the hit has left its window.
        #expect(try pruner.prune(now: Self.t0 + 3 * Self.day) == 1)
    }

    /// Before any event is handled, only the hits of rules that are gone are forgotten; a longer
    /// window keeps what a shorter one would forget.
    @Test func beforeTheFirstEventOnlyRemovedRulesAreForgotten() throws {
        let store = try store([("repeat", "did:plc:a", Self.t0), ("removed", "did:plc:a", Self.t0)])
        let none = ThresholdHitPruner(
            store: store, holder: try rules(window: "24h"), newestEventTime: { nil }, logger: Logger(label: "test"))
        #expect(try none.prune(now: Self.t0 + 100 * Self.day) == 1)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
        let week = ThresholdHitPruner(
            store: store, holder: try rules(window: "7d"), newestEventTime: { Self.t0 + 5 * Self.day },
            logger: Logger(label: "test"))
        #expect(try week.prune(now: Self.t0 + 5 * Self.day) == 0)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
    }
}
