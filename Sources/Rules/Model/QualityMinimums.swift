/// `min_precision` and `min_recall`: how good a rule must stay on its labeled samples for
/// `labeler rules test` to pass, so a rule edit that makes it worse fails in CI rather than on
/// the network. Each is a share from 0 to 1; `nil` when not set.
public struct QualityMinimums: Hashable, Sendable {
    /// The least share of the rule's hits that must be expected (true positives).
    public var precision: Double?
    /// The least share of the samples expecting the rule's value that the rule must hit.
    public var recall: Double?

    public init(precision: Double? = nil, recall: Double? = nil) {
        self.precision = precision
        self.recall = recall
    }

    public var isEmpty: Bool { precision == nil && recall == nil }
}
