import ATProto
import Yams

/// A record written as YAML in a test file, turned into the atproto data model: mappings, lists,
/// strings, integers, booleans and null (the data model has no floats).
enum YAMLRecord {
    struct Problem: Error {
        let mark: Mark?
        let message: String

        init(node: Node, message: String) {
            mark = node.mark
            self.message = message
        }
    }

    static func value(_ node: Node) throws(Problem) -> CBORValue {
        switch node {
        case .mapping(let mapping):
            var pairs: [(String, CBORValue)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw Problem(node: key, message: "record keys must be strings")
                }
                pairs.append((name, try self.value(value)))
            }
            return .map(CBORMap(pairs))
        case .sequence(let sequence):
            var items: [CBORValue] = []
            for item in sequence { items.append(try value(item)) }
            return .array(items)
        case .scalar(let scalar):
            guard scalar.style == .plain || scalar.style == .any else { return .text(CBORText(scalar.string)) }
            switch node.tag.rawValue {
            case Tag.Name.int.rawValue:
                guard let int = Int.construct(from: scalar) else { return .text(CBORText(scalar.string)) }
                return .int(Int64(int))
            case Tag.Name.bool.rawValue: return .bool(Bool.construct(from: scalar) ?? false)
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.float.rawValue:
                throw Problem(
                    node: node, message: "floats are not part of the atproto data model; use an integer or a string")
            default: return .text(CBORText(scalar.string))
            }
        case .alias:
            throw Problem(node: node, message: "aliases are not supported in records")
        }
    }
}
