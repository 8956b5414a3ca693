import ATCrypto
import ATProto
import Foundation
import Identity

/// What `labeler declare` publishes and how it compares with what is published: the
/// `app.bsky.labeler.service` record and the two DID-document entries the network reads
/// (`#atproto_label`, `#atproto_labeler`). Pure: no network, no clock.
public enum LabelerDeclaration {
    public static let collection = "app.bsky.labeler.service"
    public static let rkey = "self"
    public static let labelKeyFragment = "atproto_label"
    public static let labelerServiceFragment = "atproto_labeler"
    public static let labelerServiceType = "AtprotoLabeler"

    /// The service record. `reasonTypes`, `subjectTypes` and `subjectCollections` are always
    /// written: an absent field means "accept everything", so a labeler that takes no reports
    /// publishes empty lists.
    public static func serviceRecord(
        labelValues: [String], definitions: [[String: Any]], reasonTypes: [String] = [], subjectTypes: [String] = [],
        subjectCollections: [String] = [], createdAt: String
    ) -> [String: Any] {
        [
            "$type": collection,
            "policies": ["labelValues": labelValues, "labelValueDefinitions": definitions],
            "reasonTypes": reasonTypes, "subjectTypes": subjectTypes, "subjectCollections": subjectCollections,
            "createdAt": createdAt,
        ]
    }

    /// Canonical, readable JSON (sorted keys, two-space indent), one line per element.
    public static func lines(of object: Any) -> [String] {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
    }

    /// The record's difference from what is published, as `- `/`+ ` lines (empty: nothing to
    /// write). `createdAt` is not compared: it says when the labeler was first declared.
    public static func recordDiff(published: [String: Any]?, wanted: [String: Any]) -> [String] {
        var old = published ?? [:]
        var new = wanted
        old["createdAt"] = nil
        new["createdAt"] = nil
        if published == nil { return lines(of: wanted).map { "+ " + $0 } }
        return LineDiff.changes(from: lines(of: old), to: lines(of: new))
    }

    /// What the DID document says against what it should say.
    public struct DocumentState: Sendable, Equatable {
        public var labelKey: String?
        public var labelerEndpoint: String?
        public var labelerType: String?
        public let wantedKey: String
        public let wantedEndpoint: String

        public var labelKeyIsRight: Bool { labelKey == wantedKey }
        public var endpointIsRight: Bool { labelerEndpoint == wantedEndpoint && labelerType == labelerServiceType }
        public var isRight: Bool { labelKeyIsRight && endpointIsRight }

        /// One line per entry that has to change.
        public var changes: [String] {
            var out: [String] = []
            if !labelKeyIsRight { out.append("#\(labelKeyFragment): \(labelKey ?? "(none)") → \(wantedKey)") }
            if !endpointIsRight {
                out.append("#\(labelerServiceFragment): \(labelerEndpoint ?? "(none)") → \(wantedEndpoint)")
            }
            return out
        }
    }

    public static func documentState(_ document: DIDDocument, key: PublicKey, publicURL: String) -> DocumentState {
        let method = document.verificationMethod(labelKeyFragment)
        let current = try? document.key(labelKeyFragment)
        let service = document.service(labelerServiceFragment)
        return DocumentState(
            labelKey: current?.didKey ?? method?.publicKeyMultibase.map { "did:key:" + $0 },
            labelerEndpoint: service?.endpoint, labelerType: service?.type, wantedKey: key.didKey,
            wantedEndpoint: publicURL)
    }

    /// The `verificationMethods` and `services` of a PLC update that sets ours and keeps every
    /// other key and service exactly as the directory has them (`data` is `GET /{did}/data`).
    public static func plcChanges(data: [String: Any], key: PublicKey, publicURL: String) -> [String: Any] {
        var methods = data["verificationMethods"] as? [String: Any] ?? [:]
        methods[labelKeyFragment] = key.didKey
        var services = data["services"] as? [String: Any] ?? [:]
        services[labelerServiceFragment] = ["type": labelerServiceType, "endpoint": publicURL]
        return ["verificationMethods": methods, "services": services]
    }

    /// What a did:web operator adds to their `/.well-known/did.json` (nothing else is removed).
    public static func didWebFragment(did: DID, key: PublicKey, publicURL: String) -> [String: Any] {
        [
            "verificationMethod": [
                [
                    "id": "\(did)#\(labelKeyFragment)", "type": "Multikey", "controller": did.rawValue,
                    "publicKeyMultibase": key.multikey,
                ]
            ],
            "service": [
                ["id": "#\(labelerServiceFragment)", "type": labelerServiceType, "serviceEndpoint": publicURL]
            ],
        ]
    }
}

/// A line diff (longest common subsequence), for showing what a write will change.
enum LineDiff {
    /// `- ` for lines only in `old`, `+ ` for lines only in `new`; unchanged lines are left out.
    static func changes(from old: [String], to new: [String]) -> [String] {
        let n = old.count, m = new.count
        var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = old[i] == new[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, old[i] == new[j] {
                i += 1
                j += 1
            } else if j < m, i == n || table[i][j + 1] >= table[i + 1][j] {
                out.append("+ " + new[j])
                j += 1
            } else {
                out.append("- " + old[i])
                i += 1
            }
        }
        return out
    }
}
