import ATCrypto
import ATProto
import Foundation
import LabelStore
import Logging
import Rules
import Synchronization
import TestSupport
import Testing

@testable import Labeler

@Suite struct ThresholdHitPrunerTests {
    static let hour: Int64 = 3_600 * 1_000_000
    static let day = 24 * hour
    /// 2026-01-01T00:00:00Z in microseconds.
    static let t0: Int64 = 1_767_225_600 * 1_000_000

    static func rules(window: String?) throws -> RuleSet {
        let dir = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let threshold =
            window.map {
                """

                  - id: repeat
                    on: [post]
                    match: {rule: bad}
                    threshold: {count: 3, within: \($0)}
                    label: spam-account
                    subject: account
                """
            } ?? ""
        try """
        rules:
          - id: bad
            on: [post]
            match: {keywords: [badword]}
            label: spam\(threshold)
        """.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        return try RuleSet.load(directory: dir)
    }

    /// A store holding one hit per (rule, account, time).
    static func store(_ hits: [(rule: String, did: String, time: Int64)]) throws -> LabelStore {
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

    static func pruner(_ store: LabelStore, _ holder: RuleSetHolder, oldest: Int64?) -> ThresholdHitPruner {
        ThresholdHitPruner(store: store, holder: holder, oldestEventTime: { oldest }, logger: quietLogger())
    }

    func count(_ store: LabelStore, _ rule: String, _ did: String) throws -> Int {
        try store.thresholdCount(ruleID: rule, did: did, since: .min)
    }

    /// Hits older than their window and a week before the oldest event handled lately go; those
    /// within the slack stay.
    @Test func forgetsHitsOlderThanTheirWindowAndTheSlack() throws {
        let store = try Self.store([
            ("repeat", "did:plc:old", Self.t0),
            ("repeat", "did:plc:slack", Self.t0 + 5 * Self.day),
            ("repeat", "did:plc:recent", Self.t0 + 9 * Self.day),
        ])
        let pruner = Self.pruner(store, RuleSetHolder(try Self.rules(window: "24h")), oldest: Self.t0 + 10 * Self.day)
        #expect(try pruner.prune(now: Self.t0 + 10 * Self.day) == 1)
        #expect(try count(store, "repeat", "did:plc:old") == 0)
        #expect(try count(store, "repeat", "did:plc:slack") == 1)
        #expect(try count(store, "repeat", "did:plc:recent") == 1)
        #expect(try pruner.prune(now: Self.t0 + 10 * Self.day) == 0)
    }

    /// Catching up after an outage: the events handled now are a month old, so the hits they
    /// count are kept although, by the clock, they left their window long ago.
    @Test func whileCatchingUpTheLineIsTheEventsTime() throws {
        let store = try Self.store([("repeat", "did:plc:a", Self.t0)])
        let pruner = Self.pruner(store, RuleSetHolder(try Self.rules(window: "24h")), oldest: Self.t0 + Self.day)
        #expect(try pruner.prune(now: Self.t0 + 30 * Self.day) == 0)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
    }

    /// An event stamped in the future does not make today's hits look old; without any event
    /// handled lately, nothing goes by age.
    @Test func neverLaterThanNowAndNothingWithoutEvents() throws {
        let store = try Self.store([("repeat", "did:plc:a", Self.t0)])
        let holder = RuleSetHolder(try Self.rules(window: "24h"))
        #expect(try Self.pruner(store, holder, oldest: Self.t0 + 300 * Self.day).prune(now: Self.t0 + Self.day) == 0)
        #expect(try Self.pruner(store, holder, oldest: nil).prune(now: Self.t0 + 300 * Self.day) == 0)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
        #expect(try Self.pruner(store, holder, oldest: Self.t0 + 9 * Self.day).prune(now: Self.t0 + 9 * Self.day) == 1)
    }

    /// A rule's hits go once it is missing at two prunings in a row: not at the first pruning
    /// of a process, not when it is missing once (a half-deployed rules folder).
    @Test func aRuleMissingTwiceInARowLosesItsHits() throws {
        let store = try Self.store([("repeat", "did:plc:a", Self.t0), ("gone", "did:plc:a", Self.t0)])
        let holder = RuleSetHolder(try Self.rules(window: "24h"))
        let pruner = Self.pruner(store, holder, oldest: nil)
        #expect(try pruner.prune() == 0)
        #expect(try count(store, "gone", "did:plc:a") == 1)
        #expect(try pruner.prune() == 1)
        #expect(try count(store, "gone", "did:plc:a") == 0)
        // `repeat` goes missing once, then comes back: its hit stays.
        holder.swap(to: try Self.rules(window: nil))
        #expect(try pruner.prune() == 0)
        holder.swap(to: try Self.rules(window: "24h"))
        #expect(try pruner.prune() == 0)
        #expect(try count(store, "repeat", "did:plc:a") == 1)
        // Missing twice in a row: gone.
        holder.swap(to: try Self.rules(window: nil))
        #expect(try pruner.prune() == 0)
        #expect(try pruner.prune() == 1)
        #expect(try count(store, "repeat", "did:plc:a") == 0)
    }

    /// More hits than one transaction takes all go, a batch at a time.
    @Test func aLargeTableGoesInBatches() throws {
        let hits = (0..<(2 * ThresholdHitPruner.batch + 123)).map { ("repeat", "did:plc:a\($0)", Self.t0) }
        let store = try Self.store(hits + [("repeat", "did:plc:recent", Self.t0 + 9 * Self.day)])
        let pruner = Self.pruner(store, RuleSetHolder(try Self.rules(window: "24h")), oldest: Self.t0 + 10 * Self.day)
        #expect(try pruner.prune(now: Self.t0 + 10 * Self.day) == hits.count)
        #expect(try store.thresholdCount(ruleID: "repeat", did: "did:plc:recent", since: .min) == 1)
        #expect(pruner.forgottenTotal == hits.count)
    }

    /// As a service it prunes on its interval until cancelled.
    @Test func itPrunesOnItsInterval() async throws {
        let store = try Self.store([("repeat", "did:plc:old", Self.t0)])
        let pruner = Self.pruner(store, RuleSetHolder(try Self.rules(window: "24h")), oldest: Self.t0 + 10 * Self.day)
        let running = Task { await pruner.run(every: .milliseconds(10)) }
        try await waitUntil("the old hit forgotten") { pruner.forgottenTotal == 1 }
        #expect(try count(store, "repeat", "did:plc:old") == 0)
        running.cancel()
        await running.value
    }

    /// The labeler samples the time events carry (every 64th event) and hands out the oldest
    /// since the last time it was asked.
    @Test func theLabelerReportsTheOldestEventTimeSinceItWasLastAsked() async throws {
        let labeler = EventLabeler(
            evaluator: RuleEvaluator(holder: RuleSetHolder(try Self.rules(window: nil))), writer: nil,
            logger: quietLogger())
        #expect(labeler.takeOldestEventTime() == nil)
        // Sampled: the 1st (day 20) and the 65th (day 5); the others are older but not sampled.
        for n in 1...128 {
            let day = n == 1 ? 20 : n == 65 ? 5 : 1
            let event = try RuleEvaluatorTests().post(
                n, "hi", time: String(format: "2026-01-%02dT00:00:00.000Z", day))
            try await labeler.handle(seq: Int64(n), event: event)
        }
        #expect(labeler.takeOldestEventTime() == Self.t0 + 4 * Self.day)
        #expect(labeler.takeOldestEventTime() == nil)
    }
}
