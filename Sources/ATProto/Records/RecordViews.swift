/// Read-only views of the record kinds rules look at. They pick the fields out of a decoded record
/// leniently: a field of the wrong type is treated as absent, because a record that does not match
/// its lexicon must still be readable for moderation (spam often is malformed on purpose).
public enum Collections {
    public static let post = "app.bsky.feed.post"
    public static let profile = "app.bsky.actor.profile"
    public static let list = "app.bsky.graph.list"
    public static let starterPack = "app.bsky.graph.starterpack"
}

/// A reference to a specific version of a record (`com.atproto.repo.strongRef`).
public struct StrongRef: Hashable, Sendable {
    public var uri: String
    public var cid: String

    init?(_ value: CBORValue?) {
        guard let uri = value?["uri"]?.stringValue, let cid = value?["cid"]?.stringValue else { return nil }
        self.uri = uri
        self.cid = cid
    }
}

/// `app.bsky.feed.post`.
public struct PostView: Sendable {
    public var text: String
    public var langs: [String]
    /// Hashtags from `#tag` facets followed by the record's own `tags`.
    public var tags: [String]
    /// URIs of `#link` facets followed by the external embed's URI.
    public var links: [String]
    /// DIDs of `#mention` facets.
    public var mentions: [String]
    /// Alt texts of images (also inside a record-with-media embed) and of a video.
    public var altTexts: [String]
    public var externalURI: String?
    /// The record quoted by a record or record-with-media embed.
    public var quoted: StrongRef?
    public var replyRoot: StrongRef?
    public var replyParent: StrongRef?

    public init(_ record: CBORValue) {
        text = record["text"]?.stringValue ?? ""
        langs = record["langs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var tags = [String]()
        var links = [String]()
        var mentions = [String]()
        for facet in record["facets"]?.arrayValue ?? [] {
            for feature in facet["features"]?.arrayValue ?? [] {
                switch feature["$type"]?.stringValue {
                case "app.bsky.richtext.facet#link": if let uri = feature["uri"]?.stringValue { links.append(uri) }
                case "app.bsky.richtext.facet#mention":
                    if let did = feature["did"]?.stringValue { mentions.append(did) }
                case "app.bsky.richtext.facet#tag": if let tag = feature["tag"]?.stringValue { tags.append(tag) }
                default: break
                }
            }
        }
        tags.append(contentsOf: record["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])

        var altTexts = [String]()
        var externalURI: String? = nil
        var quoted: StrongRef? = nil
        func media(_ embed: CBORValue) {
            switch embed["$type"]?.stringValue {
            case "app.bsky.embed.images":
                for image in embed["images"]?.arrayValue ?? [] {
                    if let alt = image["alt"]?.stringValue, !alt.isEmpty { altTexts.append(alt) }
                }
            case "app.bsky.embed.video":
                if let alt = embed["alt"]?.stringValue, !alt.isEmpty { altTexts.append(alt) }
            case "app.bsky.embed.external":
                externalURI = embed["external"]?["uri"]?.stringValue
            default: break
            }
        }
        if let embed = record["embed"] {
            switch embed["$type"]?.stringValue {
            case "app.bsky.embed.record":
                quoted = StrongRef(embed["record"])
            case "app.bsky.embed.recordWithMedia":
                quoted = StrongRef(embed["record"]?["record"])
                if let m = embed["media"] { media(m) }
            default:
                media(embed)
            }
        }
        if let externalURI { links.append(externalURI) }

        self.tags = tags
        self.links = links
        self.mentions = mentions
        self.altTexts = altTexts
        self.externalURI = externalURI
        self.quoted = quoted
        self.replyRoot = StrongRef(record["reply"]?["root"])
        self.replyParent = StrongRef(record["reply"]?["parent"])
    }
}

/// `app.bsky.actor.profile`.
public struct ProfileView: Sendable {
    public var displayName: String?
    public var description: String?

    public init(_ record: CBORValue) {
        displayName = record["displayName"]?.stringValue
        description = record["description"]?.stringValue
    }
}

/// `app.bsky.graph.list` and `app.bsky.graph.starterpack`: both have a name and a description.
public struct NamedCollectionView: Sendable {
    public var name: String?
    public var description: String?

    public init(_ record: CBORValue) {
        name = record["name"]?.stringValue
        description = record["description"]?.stringValue
    }
}

/// Every string in a record with the path it was found at (`embed.images[0].alt`), for collections
/// without named fields. Map keys and `$type` values are structure, not content, so they are skipped.
public enum RecordStrings {
    public static func all(in record: CBORValue) -> [(path: String, value: String)] {
        var out = [(path: String, value: String)]()
        visit(record, path: "") { path, text in out.append((path, text.string)) }
        return out
    }

    /// Calls `body` with each string and its path, without collecting them.
    public static func visit(_ value: CBORValue, path: String, _ body: (String, CBORText) -> Void) {
        switch value {
        case .text(let t):
            body(path, t)
        case .array(let items):
            for (i, item) in items.enumerated() { visit(item, path: "\(path)[\(i)]", body) }
        case .map(let m):
            for entry in m.entries where !(entry.key == "$type") {
                let key = entry.key.string
                visit(entry.value, path: path.isEmpty ? key : path + "." + key, body)
            }
        default:
            break
        }
    }
}
