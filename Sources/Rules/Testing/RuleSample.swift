import ATProto
import Foundation

/// One labeled sample: a record and the label values a person decided it should get. Samples
/// measure rules (precision and recall) where test cases check single decisions.
public struct RuleSample: Sendable {
    /// `file:line`, for messages.
    public var location: String
    public var context: RecordContext
    /// The label values expected (`expect:`); empty for a record that should get none.
    public var expect: Set<String>
}

/// A problem in a sample file, as `file:line: message` (`file: message` for the file as a whole,
/// one that cannot be read).
public struct RuleSampleProblem: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// Sample files that do not load, with every problem found.
public struct RuleSampleError: Error, Sendable, CustomStringConvertible {
    public var problems: [RuleSampleProblem]

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Reads labeled sample files: JSON Lines, one sample per line,
///
/// ```json
/// {"record": {"$type": "app.bsky.feed.post", "text": "FREE crypto giveaway"}, "collection": "app.bsky.feed.post", "expect": ["spam"]}
/// {"record": {"text": "good morning"}, "expect": []}
/// ```
///
/// `collection` defaults to `app.bsky.feed.post`; an optional `did` names the account (for
/// account labels and rollouts). Blank lines are skipped. Every sample is a create evaluated at
/// ``RuleTestSuite/time`` with no earlier threshold matches.
public enum RuleSampleFile {
    static let keys = ["record", "collection", "expect", "did"]

    /// `directory/tests/*.jsonl`, sorted; none when there is no such folder.
    public static func paths(in directory: String) -> [String] {
        let root = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        let folder = root + "/tests"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.sorted().map { folder + "/" + $0 }
    }

    /// The samples of every file in `paths`, in order.
    /// - Throws: ``RuleSampleError`` with every problem in every file.
    public static func load(paths: [String]) throws(RuleSampleError) -> [RuleSample] {
        var samples: [RuleSample] = []
        var problems: [RuleSampleProblem] = []
        for path in paths {
            do {
                samples += try parse(RuleSources.readUTF8(path), file: path, problems: &problems)
            } catch {
                problems.append(RuleSampleProblem(file: path, line: nil, message: error.description))
            }
        }
        guard problems.isEmpty else { throw RuleSampleError(problems: problems) }
        return samples
    }

    /// The samples of one file's text; each problem is added to `problems`.
    static func parse(_ text: String, file: String, problems: inout [RuleSampleProblem]) -> [RuleSample] {
        var samples: [RuleSample] = []
        // "\r\n" is one Character, so Windows line endings split too.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (index, line) in lines.enumerated() {
            guard !line.allSatisfy({ $0 == " " || $0 == "\t" }) else { continue }
            switch sample(String(line), location: "\(file):\(index + 1)") {
            case .success(let sample): samples.append(sample)
            case .failure(let message):
                problems.append(RuleSampleProblem(file: file, line: index + 1, message: message.text))
            }
        }
        return samples
    }

    /// A problem's message.
    struct Message: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    private static func sample(_ line: String, location: String) -> Result<RuleSample, Message> {
        let object: CBORMap
        do {
            // parseObject returns a map or throws.
            object = try DataModelJSON.parseObject(line).mapValue ?? CBORMap([])
        } catch {
            return .failure(
                Message("not a JSON object: \(error.reason)" + (error.offset.map { " at byte \($0)" } ?? "")))
        }
        for key in object.keys where !keys.contains(key) {
            return .failure(
                Message(
                    "unknown key '\(key)' in a sample; use record, collection, expect and did"
                        + Suggestion.hint(for: key, in: keys)))
        }
        guard let record = object["record"] else {
            return .failure(Message("a sample needs 'record': the record as a JSON object"))
        }
        guard case .map = record else {
            return .failure(Message("'record' must be a JSON object, not \(record.kindName)"))
        }
        var collection = Collections.post
        if let value = object["collection"] {
            guard let text = value.stringValue, NSID.isValid(text) else {
                return .failure(Message("'collection' must be an NSID such as app.bsky.feed.post"))
            }
            collection = text
        }
        var did = RuleTestSuite.defaultDID
        if let value = object["did"] {
            guard let text = value.stringValue, DID.isValid(text) else {
                return .failure(Message("'did' must be a DID such as did:plc:abc"))
            }
            did = text
        }
        guard let expectValue = object["expect"] else {
            return .failure(Message("a sample needs 'expect': the label values it should get, [] for none"))
        }
        let values = expectValue.arrayValue?.compactMap(\.stringValue)
        guard let values, values.count == expectValue.arrayValue?.count else {
            return .failure(Message("'expect' must be a list of label values, such as [\"spam\"] or []"))
        }
        let context = RecordContext(
            did: did, collection: collection, rkey: "3lsamplerecord", action: .create, cid: RuleTestSuite.testCID,
            record: record, time: RuleTestSuite.time)
        return .success(RuleSample(location: location, context: context, expect: Set(values)))
    }
}
