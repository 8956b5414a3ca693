extension RuleSet {
    /// Whether any rule reads records of `collection`. A source's decoder skips decoding the records
    /// of every other collection, so likes and follows cost a header decode only.
    public func readsRecords(of collection: String) -> Bool {
        collectionsRead.contains(collection) || collectionGlobsRead.contains { CollectionGlob.matches($0, collection) }
    }

    /// The collections the rules read: NSIDs and globs (`com.example.*`, `*`), sorted. A Jetstream
    /// source asks for these (its `wantedCollections` takes the same globs).
    public var collectionPatternsRead: [String] { (Array(collectionsRead) + collectionGlobsRead).sorted() }

    /// Whether `collection` matches one of `patterns` (NSIDs or globs, as in rule files).
    public static func collection(_ collection: String, matchesAnyOf patterns: [String]) -> Bool {
        patterns.contains { CollectionGlob.matches($0, collection) }
    }
}
