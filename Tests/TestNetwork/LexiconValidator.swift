import ATProto
import Foundation

/// Checks JSON values against the AT Protocol lexicons in `Tests/Fixtures/lexicons`: the subset
/// of the schema language the methods and records the labeler uses need (objects, required and
/// nullable fields, strings with formats and lengths, integers, booleans, arrays, refs, unions,
/// unknown, tokens). The test PDS and PLC directory run every body through it, so a client that
/// sends the wrong shape fails its test as it would fail against a real PDS.
public struct LexiconValidator: Sendable {
    /// Every lexicon document, by NSID.
    let documents: [String: [String: any Sendable]]

    /// Loads every `*.json` under `directory`.
    public init(directory: String) throws {
        var documents: [String: [String: any Sendable]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let file = enumerator?.nextObject() as? String {
            guard file.hasSuffix(".json") else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let id = object["id"] as? String
            else { continue }
            documents[id] = Self.sendable(object) as? [String: any Sendable]
        }
        self.documents = documents
    }

    /// The lexicons kept in the repository beside the tests.
    public static func fixtures(filePath: String = #filePath) throws -> LexiconValidator {
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
        return try LexiconValidator(directory: root.appendingPathComponent("Fixtures/lexicons").path)
    }

    static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let d as [String: Any]: d.mapValues { sendable($0) }
        case let a as [Any]: a.map { sendable($0) }
        case let s as String: s
        case let n as NSNumber: n.doubleValue
        default: "null"
        }
    }

    /// The schema named `ref` (`nsid`, `nsid#def`, or `#def` inside `context`).
    func definition(_ ref: String, context: String) -> (schema: [String: any Sendable], nsid: String)? {
        let (nsid, name): (String, String)
        if ref.hasPrefix("#") {
            (nsid, name) = (context, String(ref.dropFirst()))
        } else if let hash = ref.firstIndex(of: "#") {
            (nsid, name) = (String(ref[..<hash]), String(ref[ref.index(after: hash)...]))
        } else {
            (nsid, name) = (ref, "main")
        }
        guard let defs = documents[nsid]?["defs"] as? [String: any Sendable],
            let schema = defs[name] as? [String: any Sendable]
        else { return nil }
        return (schema, nsid)
    }

    /// Problems with a procedure's input (`input`), a method's output (`output`) or a query's
    /// parameters (`parameters`); empty when the body fits.
    public func check(_ part: String, of method: String, _ value: Any?) -> [String] {
        guard let main = definition(method, context: method)?.schema else { return ["unknown lexicon \(method)"] }
        if part == "parameters" {
            guard let schema = main["parameters"] as? [String: any Sendable] else { return [] }
            return validate(value ?? [String: Any](), schema, context: method, path: "params")
        }
        guard let body = main[part] as? [String: any Sendable] else {
            return value == nil ? [] : ["\(method) has no \(part)"]
        }
        guard let schema = body["schema"] as? [String: any Sendable] else { return [] }
        guard let value else { return ["\(method) \(part) is missing"] }
        return validate(value, schema, context: method, path: part)
    }

    /// Problems with a record written to `collection`; records of collections without a loaded
    /// lexicon are not checked (the PDS does the same unless `validate: true`).
    public func checkRecord(_ record: Any, collection: String) -> [String] {
        guard let main = definition(collection, context: collection)?.schema,
            let schema = main["record"] as? [String: any Sendable]
        else { return [] }
        var problems = validate(record, schema, context: collection, path: "record")
        if (record as? [String: Any])?["$type"] as? String != collection {
            problems.append("record.$type must be \(collection)")
        }
        return problems
    }

    func validate(_ value: Any, _ schema: [String: any Sendable], context: String, path: String) -> [String] {
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path) must be an object"] }
            var problems: [String] = []
            let properties = schema["properties"] as? [String: any Sendable] ?? [:]
            let nullable = Set((schema["nullable"] as? [any Sendable] ?? []).compactMap { $0 as? String })
            for case let name as String in schema["required"] as? [any Sendable] ?? [] where object[name] == nil {
                problems.append("\(path).\(name) is required")
            }
            for (name, item) in object {
                guard let property = properties[name] as? [String: any Sendable] else { continue }
                if item is NSNull {
                    if !nullable.contains(name) { problems.append("\(path).\(name) must not be null") }
                    continue
                }
                problems += validate(item, property, context: context, path: "\(path).\(name)")
            }
            return problems
        case "string":
            guard let string = value as? String else { return ["\(path) must be a string"] }
            var problems: [String] = []
            if let max = schema["maxLength"] as? Double, string.utf8.count > Int(max) {
                problems.append("\(path) is longer than \(Int(max)) bytes")
            }
            if let max = schema["maxGraphemes"] as? Double, string.count > Int(max) {
                problems.append("\(path) is longer than \(Int(max)) graphemes")
            }
            if let format = schema["format"] as? String, !Self.fits(string, format: format) {
                problems.append("\(path) is not a valid \(format): \(string)")
            }
            return problems
        case "integer":
            guard let number = value as? NSNumber, !Self.isBoolean(number),
                number.doubleValue == number.doubleValue.rounded()
            else { return ["\(path) must be an integer"] }
            return []
        case "boolean":
            guard let number = value as? NSNumber, Self.isBoolean(number) else {
                return ["\(path) must be a boolean"]
            }
            return []
        case "array":
            guard let array = value as? [Any] else { return ["\(path) must be an array"] }
            guard let items = schema["items"] as? [String: any Sendable] else { return [] }
            return array.enumerated().flatMap { validate($1, items, context: context, path: "\(path)[\($0)]") }
        case "ref":
            guard let ref = schema["ref"] as? String, let target = definition(ref, context: context) else {
                return ["\(path): unknown ref \(String(describing: schema["ref"]))"]
            }
            return validate(value, target.schema, context: target.nsid, path: path)
        case "union":
            guard let object = value as? [String: Any], let type = object["$type"] as? String else {
                return ["\(path) must be an object with $type"]
            }
            let refs = (schema["refs"] as? [any Sendable] ?? []).compactMap { $0 as? String }
            let qualified = refs.map { $0.hasPrefix("#") ? context + $0 : $0 }
            let typeKey = type.contains("#") ? type : type + "#main"
            guard let match = qualified.first(where: { ($0.contains("#") ? $0 : $0 + "#main") == typeKey }) else {
                return schema["closed"] as? Double == 1 ? ["\(path).$type \(type) is not one of \(refs)"] : []
            }
            guard let target = definition(match, context: context) else { return ["\(path): unknown ref \(match)"] }
            return validate(value, target.schema, context: target.nsid, path: path)
        case "token":
            return []
        case "unknown":
            return value is [String: Any] ? [] : ["\(path) must be an object"]
        default:
            return []
        }
    }

    /// JSONSerialization gives booleans as NSNumber too; they are the ones of ObjC type `c`.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    static func fits(_ string: String, format: String) -> Bool {
        switch format {
        case "did": DID.isValid(string)
        case "handle": Handle.isValid(string)
        case "at-identifier": DID.isValid(string) || Handle.isValid(string)
        case "nsid": NSID.isValid(string)
        case "record-key": RecordKey.isValid(string)
        case "at-uri": ATURI.isValid(string)
        case "datetime": (try? Datetime(string)) != nil
        case "cid": string.hasPrefix("b") && string.count > 8
        case "uri": string.contains(":")
        case "language": true
        default: true
        }
    }
}
