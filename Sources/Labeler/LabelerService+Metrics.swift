import ATProto
import Firehose
import Identity
import KeyedScheduler
import LabelServer

extension LabelerService {
    /// Registers the ingest side's counters on `registry`; each is read when `/metrics` is
    /// scraped, so the hot paths pay nothing for them. (The server registers its own.)
    func registerMetrics(on registry: MetricsRegistry) {
        let labeler = self.labeler
        let pipeline = self.pipeline
        let writer = self.writer
        let holder = reloader.holder

        registry.counterFamily("labeler_events_total", help: "Stream events handled, by type.", labelNames: ["type"]) {
            labeler.totals.byType.sorted { $0.key < $1.key }.map { .init(labels: [$0.key], value: Double($0.value)) }
        }
        registry.counter("labeler_events_failed_total", help: "Events whose handling failed (logged with their seq).") {
            Double(pipeline.counts.failed)
        }
        registry.counter(
            "labeler_events_rejected_total",
            help:
                "Events rejected by the decoder (a block not matching its CID, a bad record) or by verification (source.verify: enforce)."
        ) {
            Double(pipeline.counts.rejected)
        }
        registry.counter(
            "labeler_events_undecodable_total",
            help: "Events whose message was whole but did not decode when opened (skipped, their seq consumed)."
        ) {
            Double(pipeline.counts.undecodable)
        }
        if let gate = pipeline.configuration.verification { registerVerificationMetrics(gate, on: registry) }
        if let runner = reportRules {
            registry.counter("labeler_report_rules_evaluated_total", help: "Reports evaluated by the rules on reports.")
            {
                Double(runner.totals.evaluated)
            }
            registry.counterFamily(
                "labeler_report_rules_fired_total", help: "Rules on reports that fired, by rule.", labelNames: ["rule"]
            ) {
                runner.totals.fired.sorted { $0.key < $1.key }.map { .init(labels: [$0.key], value: Double($0.value)) }
            }
            registry.counter(
                "labeler_report_rules_escalated_total", help: "Reports escalated by rules (escalate: true)."
            ) {
                Double(runner.totals.escalated)
            }
            registry.counter(
                "labeler_report_rules_failures_total",
                help: "Evaluations of a report by the rules that failed (the report is tried again)."
            ) {
                Double(runner.totals.failures)
            }
        }
        let pruner = thresholdPruner
        registry.counter(
            "labeler_threshold_hits_forgotten_total",
            help: "Stored threshold hits forgotten because no rule can count them any more."
        ) { Double(pruner.forgottenTotal) }
        registry.gauge("labeler_cursor", help: "The low-water mark: every event at or below it is handled.") {
            Double(pipeline.lowWaterMark ?? 0)
        }
        registry.gauge("labeler_relay_lag_seconds", help: "Seconds between now and the newest event handled.") {
            labeler.secondsBehind ?? 0
        }
        if let relay = relayMetrics {
            let source: [(String, String, @Sendable (RelaySourceMetrics.Snapshot) -> Int)] = [
                ("labeler_source_messages_total", "WebSocket messages received from the relay.", { $0.messages }),
                ("labeler_source_bytes_total", "Bytes received from the relay.", { $0.bytes }),
                ("labeler_source_connections_total", "Connections made to the relay.", { $0.connections }),
                (
                    "labeler_source_decode_errors_total",
                    "Frames that could not be decoded (the connection is dropped).", { $0.decodeErrors }
                ),
                ("labeler_source_outdated_cursor_total", "#info OutdatedCursor messages.", { $0.outdatedCursors }),
                (
                    "labeler_source_future_cursor_total",
                    "FutureCursor errors (the stored cursor was ahead of the relay).", { $0.futureCursors }
                ),
            ]
            for (name, help, read) in source {
                registry.counter(name, help: help) { Double(read(relay.snapshot)) }
            }
            Self.registerConnectionMetrics(on: registry) {
                let s = relay.snapshot
                return .init(
                    reconnects: s.reconnects, httpErrors: s.httpErrors, connectTimeouts: s.connectTimeouts,
                    closeCodes: s.closeCodes, reconnectDelay: s.reconnectDelay)
            }
        } else if let jetstream = source as? JetstreamSource {
            registry.counter("labeler_source_messages_total", help: "Messages received from Jetstream.") {
                Double(jetstream.counts.messages)
            }
            registry.counter("labeler_source_connections_total", help: "Connections made to Jetstream.") {
                Double(jetstream.counts.connections)
            }
            registry.counter("labeler_source_decode_errors_total", help: "Jetstream events that could not be read.") {
                Double(jetstream.counts.badEvents)
            }
            Self.registerConnectionMetrics(on: registry) {
                let c = jetstream.counts
                return .init(
                    reconnects: c.reconnects, httpErrors: c.httpErrors, connectTimeouts: c.connectTimeouts,
                    closeCodes: c.closeCodes, reconnectDelay: c.reconnectDelay)
            }
        }
        let scheduler: [(String, String, @Sendable (KeyedSchedulerMetrics) -> Int)] = [
            ("labeler_scheduler_queue_depth", "Events waiting to start, all accounts together.", { $0.queueDepth }),
            ("labeler_scheduler_in_flight", "Events being handled now.", { $0.inFlight }),
            ("labeler_scheduler_largest_key_backlog", "The longest backlog of one account.", { $0.largestKeyBacklog }),
            (
                "labeler_scheduler_waiting_submitters", "Whether the source is held back by full queues.",
                { $0.waitingSubmitters }
            ),
        ]
        for (name, help, read) in scheduler {
            registry.gauge(name, help: help) { Double(read(pipeline.schedulerMetrics)) }
        }
        registry.counterFamily(
            "labeler_rule_hits_total", help: "Labels and dry-run hits, by rule.", labelNames: ["rule"]
        ) {
            labeler.totals.byRule.sorted { $0.key < $1.key }.map { .init(labels: [$0.key], value: Double($0.value)) }
        }
        registry.counterFamily(
            "labeler_rule_dry_run_total",
            help: "Dry-run hits (mode: log, and accounts outside a rule's rollout), by rule; part of the hits.",
            labelNames: ["rule"]
        ) {
            labeler.totals.dryRunByRule.sorted { $0.key < $1.key }.map {
                .init(labels: [$0.key], value: Double($0.value))
            }
        }
        registry.counterFamily(
            "labeler_rule_errors_total", help: "Rule failures (regex match limit, bad data), by rule.",
            labelNames: ["rule"]
        ) {
            labeler.totals.errorsByRule.sorted { $0.key < $1.key }.map {
                .init(labels: [$0.key], value: Double($0.value))
            }
        }
        registry.counter(
            "labeler_rule_reload_failures_total", help: "Rule reloads refused because the new rules did not load."
        ) {
            Double(holder.failedReloads)
        }
        registry.counterFamily(
            "labeler_labels_requested_total", help: "Labels the rules asked for, by value.", labelNames: ["val"]
        ) {
            labeler.totals.byValue.sorted { $0.key < $1.key }.map { .init(labels: [$0.key], value: Double($0.value)) }
        }
        registry.counter("labeler_labels_written_total", help: "Label rows written (changes that changed something).") {
            Double(writer.totals.labels)
        }
        registry.counter("labeler_writer_transactions_total", help: "Label transactions committed.") {
            Double(writer.totals.batches)
        }
        registry.counter("labeler_writer_failed_transactions_total", help: "Label transactions that failed (retried).")
        {
            Double(writer.totals.failedTransactions)
        }
        registry.gauge("labeler_writer_largest_batch", help: "Changes in the largest transaction so far.") {
            Double(writer.totals.largestBatch)
        }
        registry.counter("labeler_writer_commit_seconds_total", help: "Time spent in label transactions.") {
            writer.totals.commitSeconds
        }
        registerBudgetMetrics(on: registry)
    }

    /// Budgets: what rules' budgets withheld and tripped, and the global budget's queue.
    func registerBudgetMetrics(on registry: MetricsRegistry) {
        let writer = self.writer
        let store = self.store
        registry.counterFamily(
            "labeler_rule_withheld_total", help: "Labels withheld because their rule tripped its budget, by rule.",
            labelNames: ["rule"]
        ) {
            writer.totals.withheldByRule.sorted { $0.key < $1.key }.map {
                .init(labels: [$0.key], value: Double($0.value))
            }
        }
        registry.counter("labeler_rule_trips_total", help: "Rules that went over their budget (limits:) and tripped.") {
            Double(writer.totals.trips)
        }
        registry.gauge(
            "labeler_rules_tripped", help: "Rules tripped now (until `labeler rules reset`), read from the database."
        ) {
            Double((try? store.trips().count) ?? 0)
        }
        registry.gauge(
            "labeler_label_queue_depth",
            help: "Label changes waiting for room in the global budget (limits.labels_per_*)."
        ) {
            Double(writer.totals.queueDepth)
        }
        registry.counter("labeler_label_queued_total", help: "Label changes queued by the global budget.") {
            Double(writer.totals.queued)
        }
        if let alerter {
            registry.counter("labeler_budget_alerts_sent_total", help: "Trip alerts the webhook took.") {
                Double(alerter.totals.sent)
            }
            registry.counter("labeler_budget_alerts_failed_total", help: "Trip alert attempts that failed (retried).") {
                Double(alerter.totals.failed)
            }
        }
    }

    /// `source.verify`'s counters: commits verified and failed (every reason listed, zeros too,
    /// so an alert can name one before it first happens), the resolver's cache, and the lookups.
    func registerVerificationMetrics(_ gate: VerificationGate, on registry: MetricsRegistry) {
        let verifier = gate.verifier
        registry.counter("labeler_verify_verified_total", help: "Commits whose signature (and proof, if any) verified.")
        {
            Double(gate.counts.verified)
        }
        registry.counter(
            "labeler_verify_without_proof_total",
            help: "Verified commits without prevData (no sync 1.1 inversion proof to check)."
        ) {
            Double(gate.counts.withoutProof)
        }
        registry.counterFamily(
            "labeler_verify_failed_total", help: "Commits that did not verify, by reason.", labelNames: ["reason"]
        ) {
            let failed = gate.counts.failed
            return CommitVerificationError.Reason.names.map { .init(labels: [$0], value: Double(failed[$0] ?? 0)) }
        }
        let lookups: [(String, String, @Sendable (CommitVerifier.LookupCounts) -> Double)] = [
            (
                "labeler_verify_key_lookups_total", "Account key lookups (from the resolver's cache or not).",
                { Double($0.lookups) }
            ),
            (
                "labeler_verify_key_lookup_seconds_total", "Time spent in key lookups, waiting for a turn included.",
                { $0.seconds }
            ),
            (
                "labeler_verify_key_lookup_failures_total", "Key lookups that failed (the DID then backs off).",
                { Double($0.failures) }
            ),
            (
                "labeler_verify_key_lookups_backed_off_total",
                "Key lookups refused at once because the DID's last lookup failed recently.", { Double($0.backedOff) }
            ),
        ]
        for (name, help, read) in lookups {
            registry.counter(name, help: help) { read(verifier.lookupCounts) }
        }
        let cache = verifier.resolver.documentLookups
        registry.counter("labeler_identity_cache_hits_total", help: "DID documents answered from the resolver's cache.")
        {
            Double(cache.hitCount)
        }
        registry.counter("labeler_identity_cache_misses_total", help: "DID documents the resolver had to fetch.") {
            Double(cache.missCount)
        }
    }

    /// What a source counts about its connections, relay and Jetstream alike.
    struct ConnectionCounts: Sendable {
        var reconnects: Int
        var httpErrors: Int
        var connectTimeouts: Int
        var closeCodes: [UInt16: Int]
        var reconnectDelay: Duration?
    }

    /// Registers the connection metrics both sources serve under the same names.
    static func registerConnectionMetrics(
        on registry: MetricsRegistry, _ read: @escaping @Sendable () -> ConnectionCounts
    ) {
        registry.counter("labeler_source_reconnects_total", help: "Reconnections after a failure or a close.") {
            Double(read().reconnects)
        }
        registry.counter("labeler_source_http_errors_total", help: "Refused WebSocket upgrades (HTTP errors).") {
            Double(read().httpErrors)
        }
        registry.counter(
            "labeler_source_connect_timeouts_total",
            help: "Connections whose TCP, TLS or WebSocket upgrade did not finish within source.connect_timeout."
        ) { Double(read().connectTimeouts) }
        registry.counterFamily(
            "labeler_source_close_frames_total",
            help: "Close frames the source sent, by close code (1005: none given).", labelNames: ["code"]
        ) {
            read().closeCodes.sorted { $0.key < $1.key }.map {
                .init(labels: [String($0.key)], value: Double($0.value))
            }
        }
        registry.gauge(
            "labeler_source_reconnect_delay_seconds",
            help: "The wait before the last reconnection (it starts over after a connection that worked)."
        ) {
            (read().reconnectDelay ?? .zero).inSeconds
        }
    }
}
