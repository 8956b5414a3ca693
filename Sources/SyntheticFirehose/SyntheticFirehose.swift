import ATProto
import SeededRandom

/// Builds realistic `subscribeRepos` messages from a seed, with real DAG-CBOR, CARs and CIDs:
/// commits creating posts (facets, embeds, replies), likes, reposts, follows, profile updates and
/// deletes, plus identity, account and sync events. Tests, fuzz seeds and benchmarks use it so they
/// never depend on files outside the repository. The same seed always gives the same bytes.
public struct SyntheticFirehose {
    public private(set) var seq: Int64
    private var rng: SplitMix64
    private let dids: [String]
    private var revCounter: UInt64 = 0
    /// Recent post URIs with CIDs, for likes, reposts, replies and quotes to point at.
    private var recentPosts: [(uri: String, cid: CID)] = []
    /// Per thousand posts and profile writes: how many carry planted moderation content.
    private let plantRate: UInt64
    /// Categories planted in the record being built, until its commit knows its URI and CID.
    private var plantedInRecord: Set<PlantedCategory> = []
    /// Every record with planted content: the exact ground truth of the reference rules.
    public private(set) var planted: [PlantedRecord] = []

    /// - Parameter plantRate: per thousand posts and profile writes, how many carry planted
    ///   moderation content (see `PlantedCategory`); 0 plants nothing, and then the same seed
    ///   gives the same bytes as before planting existed.
    public init(seed: UInt64, accounts: Int = 500, startSeq: Int64 = 7_000_000_000, plantRate: Int = 0) {
        rng = SplitMix64(seed: seed)
        self.plantRate = UInt64(max(0, min(1000, plantRate)))
        seq = startSeq
        var dids = [String]()
        var r = SplitMix64(seed: seed ^ 0x5eed)
        for i in 0..<max(1, accounts) {
            if i % 100 == 99 {
                dids.append("did:web:user\(i).example.com")
            } else {
                dids.append("did:plc:" + String((0..<24).map { _ in Self.base32[Int(r.next() % 32)] }))
            }
        }
        self.dids = dids
    }

    static let base32 = Array("abcdefghijklmnopqrstuvwxyz234567")
    static let words = [
        "the", "labeler", "firehose", "morning", "coffee", "rain", "garden", "train", "music", "cats",
        "weekend", "ship", "build", "swift", "protocol", "sky", "blue", "river", "mountain", "light",
        "café", "naïve", "résumé", "東京", "こんにちは", "🌸", "👩‍👩‍👧‍👧", "🇯🇵", "São", "Straße",
    ]

    /// The next message, as a relay would send it.
    public mutating func next() -> [UInt8] {
        seq += 1 + (rng.next() % 100 == 0 ? Int64(rng.next() % 5) : 0)
        let roll = rng.next() % 1000
        let did = dids[Int(zipfIndex())]
        switch roll {
        case 0..<5: return identity(did)
        case 5..<8: return account(did)
        case 8..<9: return sync(did)
        default: return commit(did)
        }
    }

    /// `count` messages.
    public mutating func messages(_ count: Int) -> [[UInt8]] {
        (0..<count).map { _ in next() }
    }

    // MARK: Events

    private mutating func commit(_ did: String) -> [UInt8] {
        var ops: [CBORValue] = []
        var recordBlocks: [(CID, [UInt8])] = []
        let opCount = rng.next() % 200 == 0 ? 2 + Int(rng.next() % 10) : 1
        for _ in 0..<opCount {
            let roll = rng.next() % 100
            let (collection, action, record) = makeOp(roll: roll, did: did)
            let rkey = tid()
            var op: [(String, CBORValue)] = [
                ("action", .text(CBORText(action))), ("path", .text(CBORText(collection + "/" + rkey))),
            ]
            if let record {
                let bytes = CBOREncoder.encode(record)
                let cid = CID.compute(for: bytes)
                recordBlocks.append((cid, bytes))
                op.append(("cid", .link(cid)))
                if action == "update" { op.append(("prev", .link(randomCID()))) }
                if collection == Collections.post {
                    recentPosts.append(("at://\(did)/\(collection)/\(rkey)", cid))
                    if recentPosts.count > 64 { recentPosts.removeFirst() }
                }
                if !plantedInRecord.isEmpty {
                    planted.append(
                        PlantedRecord(
                            uri: "at://\(did)/\(collection)/\(rkey)", cid: cid.string, categories: plantedInRecord))
                    plantedInRecord = []
                }
            } else {
                op.append(("cid", .null))
                op.append(("prev", .link(randomCID())))
            }
            ops.append(.map(CBORMap(op)))
        }
        let rev = tid()
        let (car, commitCID) = makeCAR(did: did, rev: rev, records: recordBlocks)
        let body: CBORMap = [
            "seq": .int(seq), "rebase": false, "tooBig": false, "repo": .text(CBORText(did)),
            "commit": .link(commitCID), "rev": .text(CBORText(rev)), "since": .text(CBORText(tid())),
            "blocks": .bytes(car[...]), "ops": .array(ops), "blobs": [], "prevData": .link(randomCID()),
            "time": .text(CBORText(time())),
        ]
        return FrameCodec.encodeMessage(type: "#commit", body: body)
    }

    private mutating func makeOp(roll: UInt64, did: String) -> (String, String, CBORValue?) {
        switch roll {
        case 0..<25: return (Collections.post, "create", post())
        case 25..<65: return ("app.bsky.feed.like", "create", subjectRecord("app.bsky.feed.like"))
        case 65..<72: return ("app.bsky.feed.repost", "create", subjectRecord("app.bsky.feed.repost"))
        case 72..<92:
            return (
                "app.bsky.graph.follow", "create",
                .map([
                    "$type": "app.bsky.graph.follow",
                    "subject": .text(CBORText(dids[Int(rng.next() % UInt64(dids.count))])),
                    "createdAt": .text(CBORText(time())),
                ])
            )
        case 92..<94: return (Collections.profile, "update", profile())
        case 94..<95:
            return (
                Collections.list, "create",
                .map([
                    "$type": "app.bsky.graph.list", "name": .text(CBORText(sentence(3))),
                    "purpose": "app.bsky.graph.defs#curatelist", "description": .text(CBORText(sentence(12))),
                    "createdAt": .text(CBORText(time())),
                ])
            )
        case 95..<96:
            return (
                "com.example.unknown.thing", "create",
                .map([
                    "$type": "com.example.unknown.thing", "note": .text(CBORText(sentence(6))),
                    "n": .int(Int64(rng.next() % 1000)),
                ])
            )
        default:
            let collections = [Collections.post, "app.bsky.feed.like", "app.bsky.graph.follow"]
            return (collections[Int(rng.next() % 3)], "delete", nil)
        }
    }

    private mutating func post() -> CBORValue {
        var text = sentence(3 + Int(rng.next() % 30))
        // Planted content goes in the text, a link facet or an image's alt text.
        var plantedLink: String? = nil
        var plantedAlt: String? = nil
        if plantRate > 0, rng.next() % 1000 < plantRate {
            let category = PlantedCategory.allCases[Int(rng.next() % UInt64(PlantedCategory.allCases.count))]
            plantedInRecord.insert(category)
            switch (category, rng.next() % 4) {
            case (.spamLink, 0): plantedLink = "https://free-crypto-giveaway.example/claim"
            case (_, 1): plantedAlt = sentence(2) + " " + plant(category)
            default: text += " " + plant(category)
            }
        }
        var fields: [(String, CBORValue)] = [
            ("$type", "app.bsky.feed.post"), ("text", .text(CBORText(text))), ("createdAt", .text(CBORText(time()))),
        ]
        if rng.next() % 10 < 9 { fields.append(("langs", .array([["en", "ja", "pt", "de"][Int(rng.next() % 4)]]))) }
        if let plantedLink {
            fields.append(
                (
                    "facets",
                    [
                        .map([
                            "index": .map(["byteStart": 0, "byteEnd": 4]),
                            "features": [
                                .map(["$type": "app.bsky.richtext.facet#link", "uri": .text(CBORText(plantedLink))])
                            ],
                        ])
                    ]
                ))
        } else if rng.next() % 100 < 25 {
            let utf8 = text.utf8.count
            let feature: CBORValue =
                switch rng.next() % 3 {
                case 0:
                    .map([
                        "$type": "app.bsky.richtext.facet#link",
                        "uri": .text(CBORText("https://example.com/\(rng.next() % 1000)")),
                    ])
                case 1:
                    .map([
                        "$type": "app.bsky.richtext.facet#mention",
                        "did": .text(CBORText(dids[Int(rng.next() % UInt64(dids.count))])),
                    ])
                default: .map(["$type": "app.bsky.richtext.facet#tag", "tag": "swift"])
                }
            fields.append(
                (
                    "facets",
                    [
                        .map([
                            "index": .map(["byteStart": 0, "byteEnd": .int(Int64(min(utf8, 5)))]),
                            "features": [feature],
                        ])
                    ]
                ))
        }
        let embedRoll = plantedAlt != nil ? 0 : rng.next() % 100
        if embedRoll < 12 {
            var images: [CBORValue] = (0..<(1 + Int(rng.next() % 3))).map { _ in
                .map([
                    "alt": .text(CBORText(sentence(4))),
                    "image": .map([
                        "$type": "blob", "ref": .link(randomCID(codec: CID.raw)), "mimeType": "image/jpeg",
                        "size": .int(Int64(10_000 + rng.next() % 900_000)),
                    ]),
                    "aspectRatio": .map(["width": 1200, "height": 800]),
                ])
            }
            if let plantedAlt {
                images.append(
                    .map([
                        "alt": .text(CBORText(plantedAlt)),
                        "image": .map([
                            "$type": "blob", "ref": .link(randomCID(codec: CID.raw)), "mimeType": "image/jpeg",
                            "size": 4321,
                        ]),
                    ]))
            }
            fields.append(("embed", .map(["$type": "app.bsky.embed.images", "images": .array(images)])))
        } else if embedRoll < 17 {
            fields.append(
                (
                    "embed",
                    .map([
                        "$type": "app.bsky.embed.external",
                        "external": .map([
                            "uri": .text(CBORText("https://news.example.org/\(rng.next() % 10_000)")),
                            "title": .text(CBORText(sentence(5))), "description": .text(CBORText(sentence(10))),
                        ]),
                    ])
                ))
        } else if embedRoll < 21, let quoted = recentPosts.last {
            fields.append(("embed", .map(["$type": "app.bsky.embed.record", "record": strongRef(quoted)])))
        }
        if rng.next() % 100 < 25, let parent = recentPosts.randomElement(using: &rng) {
            fields.append(("reply", .map(["root": strongRef(parent), "parent": strongRef(parent)])))
        }
        return .map(CBORMap(fields))
    }

    private mutating func profile() -> CBORValue {
        var displayName = sentence(2)
        var description = sentence(15)
        if plantRate > 0, rng.next() % 1000 < plantRate {
            let category = PlantedCategory.allCases[Int(rng.next() % UInt64(PlantedCategory.allCases.count))]
            plantedInRecord.insert(category)
            if rng.next() % 2 == 0 {
                displayName += " " + plant(category)
            } else {
                description += " " + plant(category)
            }
        }
        return .map([
            "$type": "app.bsky.actor.profile", "displayName": .text(CBORText(displayName)),
            "description": .text(CBORText(description)),
            "avatar": .map([
                "$type": "blob", "ref": .link(randomCID(codec: CID.raw)), "mimeType": "image/png", "size": 12345,
            ]),
        ])
    }

    private mutating func subjectRecord(_ type: String) -> CBORValue {
        let subject: CBORValue =
            recentPosts.randomElement(using: &rng).map(strongRef)
            ?? .map([
                "uri": "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3aaaaaaaaaaaa",
                "cid": .text(CBORText(randomCID().string)),
            ])
        return .map(["$type": .text(CBORText(type)), "subject": subject, "createdAt": .text(CBORText(time()))])
    }

    private func strongRef(_ post: (uri: String, cid: CID)) -> CBORValue {
        .map(["uri": .text(CBORText(post.uri)), "cid": .text(CBORText(post.cid.string))])
    }

    private mutating func identity(_ did: String) -> [UInt8] {
        var body: [(String, CBORValue)] = [
            ("seq", .int(seq)), ("did", .text(CBORText(did))), ("time", .text(CBORText(time()))),
        ]
        if rng.next() % 20 != 0 { body.append(("handle", .text(CBORText("user\(rng.next() % 100_000).bsky.social")))) }
        return FrameCodec.encodeMessage(type: "#identity", body: CBORMap(body))
    }

    private mutating func account(_ did: String) -> [UInt8] {
        let active = rng.next() % 3 == 0
        var body: [(String, CBORValue)] = [
            ("seq", .int(seq)), ("did", .text(CBORText(did))), ("time", .text(CBORText(time()))),
            ("active", .bool(active)),
        ]
        if !active {
            body.append(
                ("status", .text(CBORText(["takendown", "deactivated", "suspended", "deleted"][Int(rng.next() % 4)]))))
        }
        return FrameCodec.encodeMessage(type: "#account", body: CBORMap(body))
    }

    private mutating func sync(_ did: String) -> [UInt8] {
        let rev = tid()
        let (car, _) = makeCAR(did: did, rev: rev, records: [], includeTree: false)
        return FrameCodec.encodeMessage(
            type: "#sync",
            body: [
                "seq": .int(seq), "did": .text(CBORText(did)), "rev": .text(CBORText(rev)), "blocks": .bytes(car[...]),
                "time": .text(CBORText(time())),
            ])
    }

    // MARK: CAR and commit

    private mutating func makeCAR(did: String, rev: String, records: [(CID, [UInt8])], includeTree: Bool = true)
        -> ([UInt8], CID)
    {
        var sig = [UInt8](repeating: 0, count: 64)
        for i in sig.indices { sig[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let tree = CBOREncoder.encode(.map(["e": [], "l": .null]))
        let treeCID = CID.compute(for: tree)
        let commit = CBOREncoder.encode(
            .map([
                "did": .text(CBORText(did)), "version": 3, "data": .link(treeCID), "rev": .text(CBORText(rev)),
                "prev": .null, "sig": .bytes(sig[...]),
            ]))
        let commitCID = CID.compute(for: commit)
        var blocks = [(commitCID, commit)]
        if includeTree { blocks.append((treeCID, tree)) }
        blocks.append(contentsOf: records)
        // Producers put the commit first or last; consumers must not care.
        if rng.next() % 10 < 3 { blocks.append(blocks.removeFirst()) }
        return (RepoWriter.car(root: commitCID, blocks), commitCID)
    }

    // MARK: Values

    private mutating func zipfIndex() -> UInt64 {
        // A cheap heavy-tailed pick: a few accounts are far more active than most.
        let u = Double(rng.next() % 1_000_000) / 1_000_000
        return UInt64(Double(dids.count - 1) * u * u * u)
    }

    private mutating func tid() -> String {
        revCounter += 1
        let micros = UInt64(1_750_000_000_000_000) + revCounter * 1_000 + rng.next() % 1000
        return TID(micros: micros, clockID: UInt16(rng.next() % 1024)).rawValue
    }

    private mutating func time() -> String {
        Datetime.format(unixMicros: Int64(1_750_000_000_000_000) + Int64(seq - 7_000_000_000) * 10_000)
    }

    private mutating func randomCID(codec: UInt64 = CID.dagCBOR) -> CID {
        var digest = [UInt8](repeating: 0, count: 32)
        for i in digest.indices { digest[i] = UInt8(truncatingIfNeeded: rng.next()) }
        return CID(codec: codec, digest: digest)
    }

    /// A piece of text that the reference rule of `category` matches (and no other rule does).
    private mutating func plant(_ category: PlantedCategory) -> String {
        switch category {
        case .badword: return "BADWORD\(1 + rng.next() % 20)"
        case .spamLink: return ["free-crypto-giveaway", "FREE-Crypto-Giveaway"][Int(rng.next() % 2)]
        case .phone:
            let line = 1000 + rng.next() % 9000
            return rng.next() % 2 == 0 ? "+1 555-201-\(line)" : "(555) 201-\(line)"
        case .repeatedChars:
            return String(repeating: ["o", "!", "é", "🌸"][Int(rng.next() % 4)], count: 10 + Int(rng.next() % 6))
        }
    }

    private mutating func sentence(_ words: Int) -> String {
        (0..<max(1, words)).map { _ in Self.words[Int(rng.next() % UInt64(Self.words.count))] }.joined(separator: " ")
    }
}

/// Kinds of planted moderation content, after the reference rules of the corpus generator:
/// `BADWORD1`…`BADWORD20`, the `free-crypto-giveaway` link, North American phone numbers, and a
/// character repeated ten times or more.
public enum PlantedCategory: String, Sendable, Hashable, CaseIterable {
    case badword
    case spamLink = "spam_link"
    case phone
    case repeatedChars = "repeated_chars"
}

/// A record that carries planted content, with every category planted in it.
public struct PlantedRecord: Sendable, Hashable {
    public var uri: String
    public var cid: String
    public var categories: Set<PlantedCategory>
}
