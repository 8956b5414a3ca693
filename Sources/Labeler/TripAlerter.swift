import ATProto
import Foundation
import Identity
import LabelStore
import Logging
import ServiceLifecycle

/// Sends one alert per rule trip to `alerts.webhook_url`: a JSON POST with `text` (what Slack
/// and its look-alikes show) and the trip's fields for anything that reads JSON.
///
/// The trips are read from the database, not handed over in memory, and a trip is marked sent
/// only once the webhook answered 2xx: a webhook that is down gets the alert when it is back,
/// after a restart too. A crash between the answer and the mark sends that one alert again.
public final class TripAlerter: Sendable {
    /// POSTs `body` to the webhook and returns the status.
    public typealias Post = @Sendable (_ body: Data) async throws -> Int

    let store: LabelStore
    let post: Post
    /// How often the store is looked at for new trips.
    let interval: Duration
    /// The base of the waits after failed POSTs: the first is twice this, and each one after
    /// doubles, up to a minute.
    let retryDelay: Duration
    /// Waits between passes (`Task.sleep`, but for tests).
    let sleep: @Sendable (Duration) async throws -> Void
    let logger: Logger
    private let counters = Locked(Totals())
    /// Set while a pass sends alerts: a second pass at the same time would read the same
    /// unsent trips and send them twice.
    private let sending = Locked(false)

    public struct Totals: Sendable, Equatable {
        public var sent = 0
        public var failed = 0
    }

    /// The longest wait between two passes that fail.
    static let maximumRetryDelay = Duration.seconds(60)

    public init(
        store: LabelStore, post: @escaping Post, interval: Duration = .seconds(1), retryDelay: Duration = .seconds(1),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        logger: Logger
    ) {
        self.store = store
        self.post = post
        self.interval = interval
        self.retryDelay = retryDelay
        self.sleep = sleep
        self.logger = logger
    }

    /// An alerter POSTing to `url` with the shared HTTP client.
    public convenience init(store: LabelStore, webhookURL url: String, logger: Logger) {
        let fetcher = HTTPFetcher(timeout: .seconds(10), maximumBody: 64 * 1024)
        self.init(store: store, post: { body in try await fetcher.post(url, json: body).status }, logger: logger)
    }

    public var totals: Totals { counters.withLock { $0 } }

    /// Sends the alerts of trips not yet alerted, until cancelled.
    public func run() async {
        var delay = retryDelay
        while !Task.isCancelled {
            let allSent = await sendPending()
            delay = allSent ? retryDelay : Self.retryDelay(after: delay)
            do { try await sleep(allSent ? interval : delay) } catch { return }
        }
    }

    /// The wait after a failed pass, given the one before it (`retryDelay` after a pass that
    /// sent everything): twice as long, up to ``maximumRetryDelay``.
    static func retryDelay(after delay: Duration) -> Duration { min(delay * 2, maximumRetryDelay) }

    /// Sends every pending alert once; returns whether all went out (false also when another
    /// pass is sending).
    @discardableResult
    public func sendPending() async -> Bool {
        guard
            sending.withLock({ busy in
                defer { busy = true }; return !busy
            })
        else { return false }
        defer { sending.withLock { $0 = false } }
        let pending: [StoredTrip]
        do { pending = try store.unalertedTrips() } catch {
            logger.error("cannot read rule trips for alerts", metadata: ["error": "\(error)"])
            return false
        }
        for stored in pending {
            let trip = stored.trip
            do {
                let status = try await post(Self.body(of: trip))
                guard (200..<300).contains(status) else {
                    throw IdentityError.httpStatus(url: "the alerts webhook", status: status)
                }
                try store.markAlerted(trip, at: .now())
                counters.withLock { $0.sent += 1 }
                logger.info("budget alert sent", metadata: ["rule": "\(trip.ruleID)"])
            } catch {
                counters.withLock { $0.failed += 1 }
                logger.warning(
                    "budget alert not sent; trying again", metadata: ["rule": "\(trip.ruleID)", "error": "\(error)"])
                return false
            }
        }
        return true
    }

    /// The alert's JSON: Slack's `text`, and the trip's fields.
    static func body(of trip: RuleTrip) -> Data {
        let text =
            "Rule \(trip.ruleID) tripped its budget (\(trip.limit) labels per \(trip.window.rawValue)): "
            + "its labels are withheld until `labeler rules reset \(trip.ruleID)`. Label over the limit: \(trip.label)"
        let fields: [(String, String)] = [
            ("text", DataModelJSON.quote(text)), ("rule", DataModelJSON.quote(trip.ruleID)),
            ("window", DataModelJSON.quote(trip.window.rawValue)), ("limit", "\(trip.limit)"),
            ("event_time", DataModelJSON.quote(Datetime.format(unixMicros: trip.eventTime))),
            ("tripped_at", DataModelJSON.quote(trip.trippedAt)), ("label", DataModelJSON.quote(trip.label)),
        ]
        return Data(("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}").utf8)
    }
}

/// The alerter as a service of `labeler run`.
public struct TripAlertService: Service {
    let alerter: TripAlerter

    public init(alerter: TripAlerter) { self.alerter = alerter }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await alerter.run() }
    }
}
