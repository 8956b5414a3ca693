import ATProto
import Firehose
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
            help: "Events rejected by the decoder (a block not matching its CID, a bad record)."
        ) {
            Double(pipeline.counts.rejected)
        }
        registry.counter(
            "labeler_events_undecodable_total",
            help: "Events whose message was whole but did not decode when opened (skipped, their seq consumed)."
        ) {
            Double(pipeline.counts.undecodable)
        }
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
                ("labeler_source_reconnects_total", "Reconnections after a failure or a close.", { $0.reconnects }),
                (
                    "labeler_source_decode_errors_total",
                    "Frames that could not be decoded (the connection is dropped).", { $0.decodeErrors }
                ),
                ("labeler_source_outdated_cursor_total", "#info OutdatedCursor messages.", { $0.outdatedCursors }),
                (
                    "labeler_source_future_cursor_total",
                    "FutureCursor errors (the stored cursor was ahead of the relay).", { $0.futureCursors }
                ),
                ("labeler_source_http_errors_total", "Refused WebSocket upgrades (HTTP errors).", { $0.httpErrors }),
                (
                    "labeler_source_connect_timeouts_total",
                    "Connections whose TCP, TLS or WebSocket upgrade did not finish within source.connect_timeout.",
                    { $0.connectTimeouts }
                ),
            ]
            for (name, help, read) in source {
                registry.counter(name, help: help) { Double(read(relay.snapshot)) }
            }
            registry.counterFamily(
                "labeler_source_close_frames_total",
                help: "Close frames the relay sent, by close code (1005: none given).", labelNames: ["code"]
            ) {
                relay.snapshot.closeCodes.sorted { $0.key < $1.key }.map {
                    .init(labels: [String($0.key)], value: Double($0.value))
                }
            }
            registry.gauge(
                "labeler_source_reconnect_delay_seconds",
                help: "The wait before the last reconnection (it starts over after a connection that worked)."
            ) {
                (relay.snapshot.reconnectDelay ?? .zero).inSeconds
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
    }
}
