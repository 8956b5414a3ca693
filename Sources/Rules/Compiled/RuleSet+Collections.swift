extension RuleSet {
    /// Whether any rule reads records of `collection`. A source's decoder skips decoding the records
    /// of every other collection, so likes and follows cost a header decode only.
    public func readsRecords(of collection: String) -> Bool {
        collectionsRead.contains(collection) || collectionGlobsRead.contains { CollectionGlob.matches($0, collection) }
    }
}
