import Foundation
import Rules

/// What the labeler's service record publishes about its labels: the values it emits and the
/// definitions clients show them with, taken from `labels.yaml` and the rules.
public struct ServicePolicies: Sendable, Equatable {
    /// `policies.labelValues`: the defined values, then the global ones the rules emit.
    public var labelValues: [String]
    /// `policies.labelValueDefinitions`, a JSON list of `labelValueDefinition` objects.
    public var definitions: Data
    /// Every value some rule can emit.
    public var emittedValues: [String]

    public init(labelValues: [String], definitions: Data, emittedValues: [String]) {
        self.labelValues = labelValues
        self.definitions = definitions
        self.emittedValues = emittedValues
    }

    /// The record `labeler declare` writes.
    public func serviceRecord(createdAt: String) -> [String: Any] {
        let parsed = (try? JSONSerialization.jsonObject(with: definitions)) as? [[String: Any]] ?? []
        return LabelerDeclaration.serviceRecord(labelValues: labelValues, definitions: parsed, createdAt: createdAt)
    }

    /// Whether clients can use `value`: lowercase ASCII letters and '-', at most 100 characters,
    /// after the '!' of a global value.
    public static func isWellFormed(_ value: String) -> Bool {
        let body = value.hasPrefix("!") ? value.dropFirst() : Substring(value)
        return !body.isEmpty && body.utf8.count <= 100
            && body.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "-") }
    }

    /// The policies of a rule set: its `labels.yaml` definitions, and every value its rules emit
    /// (the global ones among them are published without a definition).
    public static func of(_ ruleSet: RuleSet) throws(LabelerAssembly.Failure) -> ServicePolicies {
        guard let definitions = ruleSet.labelDefinitions else {
            throw LabelerAssembly.Failure(
                "the rules folder has no \(LabelDefinitions.fileName): define the label values there first (see docs/rules.md)"
            )
        }
        let policies = definitions.policies(alsoPublishing: ruleSet.emittedValues)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(policies.labelValueDefinitions) } catch {
            throw LabelerAssembly.Failure("\(definitions.path): cannot encode the definitions: \(error)")
        }
        return ServicePolicies(
            labelValues: policies.labelValues, definitions: data, emittedValues: ruleSet.emittedValues)
    }
}
