extension RuleSet {
    /// Whether any rule reads records of `collection`. A source's decoder skips decoding the records
    /// of every other collection, so likes and follows cost a header decode only.
    public func readsRecords(of collection: String) -> Bool {
        rules.contains { rule in
            rule.kinds.contains { kind in
                switch kind {
                case .collection(let glob): CollectionGlob.matches(glob, collection)
                case .handle: false
                default: kind.collection == collection
                }
            }
        }
    }

    /// Whether any rule looks at handles (identity events).
    public var readsHandles: Bool {
        rules.contains { $0.kinds.contains(.handle) }
    }
}
