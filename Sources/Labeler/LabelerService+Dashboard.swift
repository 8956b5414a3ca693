import LabelServer
import LabelStore
import Rules

extension LabelerService {
    /// What the dashboard reads from the ingest side: the same totals `/metrics` shows (read
    /// when a page asks, so the pipeline pays nothing), the rules loaded now, and the rule
    /// engine for the playground.
    static func dashboardSource(
        labeler: EventLabeler, pipeline: IngestPipeline, writer: LabelWriter, holder: RuleSetHolder
    ) -> DashboardSource {
        DashboardSource(
            counters: {
                let rules = labeler.totals
                let written = writer.totals
                return DashboardCounters(
                    events: rules.events, labelsWritten: written.labels, labelsByValue: written.labelsByValue,
                    ruleHits: rules.byRule, lagSeconds: labeler.secondsBehind, cursor: pipeline.lowWaterMark,
                    commits: written.batches, commitSeconds: written.commitSeconds,
                    schedulerQueue: pipeline.schedulerMetrics.queueDepth, labelQueue: written.queueDepth)
            },
            rules: {
                let hits = labeler.totals.byRule
                return holder.current.rules.map { rule in
                    DashboardRule(
                        id: rule.id, label: rule.label, mode: rule.mode.rawValue, hits: hits[rule.id] ?? 0,
                        limits: rule.limits.map(BudgetLimits.init))
                }
            },
            evaluate: { input in RulePlayground.evaluate(input, with: holder.current) })
    }
}
