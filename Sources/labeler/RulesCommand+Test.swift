import ATProto
import Rules

/// What `labeler rules test` found: the cases' results and the rules' figures on the labeled
/// samples, as text for people or one JSON object for CI.
struct TestOutcome {
    let results: [RuleTestResult]
    let quality: RuleQualityReport

    var failedCases: [RuleTestResult] { results.filter { !$0.passed } }

    var passed: Bool { failedCases.isEmpty && quality.failures.isEmpty }

    /// Failing cases, `N passed, N failed`, then with samples a table of the rules' figures and a
    /// `FAIL rule …` line for each minimum not met.
    var text: String {
        var lines: [String] = []
        let failed = failedCases
        for result in failed {
            lines.append("FAIL \(result.testCase.location): \(result.testCase.name)")
            for line in result.mismatches { lines.append("  " + line) }
        }
        lines.append("\(results.count - failed.count) passed, \(failed.count) failed")
        if quality.samples > 0 {
            lines.append("\(quality.samples) labeled sample\(quality.samples == 1 ? "" : "s")")
            lines += table
            if quality.values.contains(where: { $0.ruleIDs.count > 1 }) {
                lines.append("")
                lines += valueTable
            }
        }
        for failure in quality.failures { lines.append("FAIL " + failure) }
        return lines.joined(separator: "\n")
    }

    /// One row per label value, its rules together (shown when rules share a value).
    private var valueTable: [String] {
        let header = ["value", "rules", "TP", "FP", "FN", "precision", "recall", "F1"]
        let rows = quality.values.map { entry -> [String] in
            let f = entry.figures
            return [
                entry.value, "\(entry.ruleIDs.count)", "\(f.truePositives)", "\(f.falsePositives)",
                "\(f.falseNegatives)", RuleQuality.format(f.precision), RuleQuality.format(f.recall),
                RuleQuality.format(f.f1),
            ]
        }
        return aligned([header] + rows)
    }

    /// One row per labeling rule, columns aligned.
    private var table: [String] {
        let header = ["rule", "value", "TP", "FP", "FN", "precision", "recall", "F1", "minimums"]
        let rows = quality.entries.map { entry -> [String] in
            let f = entry.figures
            var minimums: [String] = []
            if let p = entry.minimums.precision { minimums.append("precision \(RuleQuality.format(p))") }
            if let r = entry.minimums.recall { minimums.append("recall \(RuleQuality.format(r))") }
            return [
                entry.ruleID, entry.value, "\(f.truePositives)", "\(f.falsePositives)", "\(f.falseNegatives)",
                RuleQuality.format(f.precision), RuleQuality.format(f.recall), RuleQuality.format(f.f1),
                minimums.joined(separator: ", "),
            ]
        }
        return aligned([header] + rows)
    }

    /// Rows as lines, each column as wide as its widest cell.
    private func aligned(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                .trimmingSuffix()
        }
    }

    /// `{"passed", "failed", "failures": [{"name", "location", "mismatches"}], "samples", "rules":
    /// {id: {"value", "tp", "fp", "fn", "precision", "recall", "f1", "min_precision",
    /// "min_recall"}}, "values": {value: {"rules", "tp", "fp", "fn", "precision", "recall", "f1"}},
    /// "quality_failures": [...]}`; figures that cannot be computed are null.
    var json: String {
        let failed = failedCases
        let failures = failed.map { result in
            "{\"name\":\(quote(result.testCase.name)),\"location\":\(quote("\(result.testCase.location)")),"
                + "\"mismatches\":[\(result.mismatches.map(quote).joined(separator: ","))]}"
        }
        let rules = quality.entries.map { entry in
            let f = entry.figures
            return "\(quote(entry.ruleID)):{\"value\":\(quote(entry.value)),\"tp\":\(f.truePositives),"
                + "\"fp\":\(f.falsePositives),\"fn\":\(f.falseNegatives),\"precision\":\(number(f.precision)),"
                + "\"recall\":\(number(f.recall)),\"f1\":\(number(f.f1)),"
                + "\"min_precision\":\(number(entry.minimums.precision)),"
                + "\"min_recall\":\(number(entry.minimums.recall))}"
        }
        let values = quality.values.map { entry in
            let f = entry.figures
            return "\(quote(entry.value)):{\"rules\":[\(entry.ruleIDs.map(quote).joined(separator: ","))],"
                + "\"tp\":\(f.truePositives),\"fp\":\(f.falsePositives),\"fn\":\(f.falseNegatives),"
                + "\"precision\":\(number(f.precision)),\"recall\":\(number(f.recall)),\"f1\":\(number(f.f1))}"
        }
        return "{\"passed\":\(results.count - failed.count),\"failed\":\(failed.count),"
            + "\"failures\":[\(failures.joined(separator: ","))],\"samples\":\(quality.samples),"
            + "\"rules\":{\(rules.joined(separator: ","))},\"values\":{\(values.joined(separator: ","))},"
            + "\"quality_failures\":[\(quality.failures.map(quote).joined(separator: ","))]}"
    }

    private func quote(_ text: String) -> String { DataModelJSON.quote(text) }

    private func number(_ value: Double?) -> String { value == nil ? "null" : RuleQuality.format(value) }
}

extension String {
    /// The string without trailing spaces.
    fileprivate func trimmingSuffix() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
