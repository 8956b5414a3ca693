import ATProto
import ArgumentParser
import LabelStore
import Labeler
import Rules

extension RulesCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each rule's labels in the current minute, hour and day, its budget, and whether it is tripped.",
            discussion: """
                Budgets are `limits:` in rule files; a rule over one is tripped: its labels are withheld until \
                `labeler rules reset ID`. Counts are by event time, in whole UTC windows; the global budget \
                (limits.labels_per_*) and its queue are shown too.
                """
        )

        @Option(help: "The rules folder (default: the configuration's rules.path).") var rules: String?
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Flag(
            help: #"Print {"rules": [{"id", "tripped", "per_minute", "per_hour", "per_day", "limits"}], "global": …}."#)
        var json = false

        func run() throws {
            let configured = try file.load()
            let set = try loadRules(rules ?? configured.rulesPath)
            let store = try openExistingStore(db ?? configured.storePath)
            let now = Datetime.now().unixMicros
            let counts: [String: [BudgetWindow: Int]]
            let trips: [String: StoredTrip]
            let depth: Int
            do {
                counts = try store.budgetCounts(at: now)
                trips = Dictionary(try store.trips().map { ($0.trip.ruleID, $0) }, uniquingKeysWith: { a, _ in a })
                depth = try store.queueDepth()
            } catch {
                throw CommandFailure(error.description)
            }
            // Every rule that labels, and tripped rules no longer in the files (still tripped).
            var rows: [(id: String, limits: BudgetLimits?)] = set.rules.filter { $0.label != nil }.map {
                ($0.id, $0.limits.map(BudgetLimits.init))
            }
            let known = Set(rows.map(\.id))
            rows += trips.keys.filter { !known.contains($0) }.sorted().map { ($0, nil) }
            let windows: [BudgetWindow] = [.minute, .hour, .day]
            let global = configured.globalBudget
            if json {
                func limitsJSON(_ limits: BudgetLimits?, _ windows: [BudgetWindow]) -> String {
                    guard let limits else { return "null" }
                    let items = windows.compactMap { w in limits.perWindow[w].map { "\"\(w.key)\":\($0)" } }
                    return "{" + items.joined(separator: ",") + "}"
                }
                let items = rows.map { row in
                    var fields = ["\"id\":\(DataModelJSON.quote(row.id))", "\"tripped\":\(trips[row.id] != nil)"]
                    for window in windows { fields.append("\"\(window.key)\":\(counts[row.id]?[window] ?? 0)") }
                    fields.append("\"limits\":\(limitsJSON(row.limits, windows))")
                    if let trip = trips[row.id] {
                        fields.append(
                            "\"trip\":{\"window\":\(DataModelJSON.quote(trip.trip.window.rawValue)),"
                                + "\"limit\":\(trip.trip.limit),\"tripped_at\":\(DataModelJSON.quote(trip.trip.trippedAt)),"
                                + "\"label\":\(DataModelJSON.quote(trip.trip.label)),"
                                + "\"alerted\":\(trip.alertedAt != nil)}")
                    }
                    return "{" + fields.joined(separator: ",") + "}"
                }
                let globalWindows: [BudgetWindow] = [.second, .hour, .day]
                var globalFields = globalWindows.map {
                    "\"\($0.key)\":\(counts[BudgetLedger.globalID]?[$0] ?? 0)"
                }
                globalFields.append("\"limits\":\(limitsJSON(global, globalWindows))")
                globalFields.append("\"queued\":\(depth)")
                print(
                    "{\"rules\":[\(items.joined(separator: ","))],\"global\":{\(globalFields.joined(separator: ","))}}")
                return
            }
            func cell(_ owner: String, _ window: BudgetWindow, _ limits: BudgetLimits?) -> String {
                let count = counts[owner]?[window] ?? 0
                return limits?.perWindow[window].map { "\(count)/\($0)" } ?? "\(count)"
            }
            let width = max(4, rows.map(\.id.count).max() ?? 0)
            func pad(_ text: String, _ n: Int) -> String {
                text + String(repeating: " ", count: max(0, n - text.count))
            }
            print(pad("RULE", width) + "  " + pad("MINUTE", 12) + pad("HOUR", 12) + pad("DAY", 12) + "STATE")
            for row in rows {
                var state = row.limits == nil ? "no budget" : "ok"
                if let trip = trips[row.id]?.trip {
                    state =
                        "TRIPPED at \(trip.trippedAt) (over \(trip.limit)/\(trip.window.rawValue)): labeler rules reset \(row.id)"
                }
                print(
                    pad(row.id, width) + "  " + pad(cell(row.id, .minute, row.limits), 12)
                        + pad(cell(row.id, .hour, row.limits), 12) + pad(cell(row.id, .day, row.limits), 12) + state)
            }
            let g = BudgetLedger.globalID
            print(
                "global: \(cell(g, .second, global)) this second, \(cell(g, .hour, global)) this hour, "
                    + "\(cell(g, .day, global)) today; \(depth) queued"
                    + (global == nil ? " (no limits.labels_per_*)" : ""))
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a tripped rule label again: drop its trip and start its budget's windows afresh.",
            discussion: "A running labeler takes the reset at its next transaction; no restart is needed."
        )

        @Argument(help: "The rule's id.") var id: String
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let trip: StoredTrip?
            do { trip = try store.resetRule(id) } catch { throw CommandFailure(error.description) }
            if let trip {
                print(
                    "reset \(id): tripped at \(trip.trip.trippedAt) (over \(trip.trip.limit)/\(trip.trip.window.rawValue)); "
                        + "its labels go out again")
            } else {
                print("\(id) was not tripped; its budget's windows start afresh")
            }
        }
    }
}
