import Foundation
import Testing

@testable import ATProto

/// `atproto-interop-tests/firehose/commit-proof-fixtures.json`: for every case, the tree of
/// `keys` has root `rootBeforeCommit`; with `adds` and `dels` applied, `rootAfterCommit`; and
/// undoing them on only the `blocksInProof` nodes of the new tree gives `rootBeforeCommit` again.
@Suite struct CommitProofFixtureTests {
    struct Case: Decodable, CustomTestStringConvertible {
        let comment: String
        let leafValue: String
        let keys: [String]
        let adds: [String]
        let dels: [String]
        let rootBeforeCommit: String
        let rootAfterCommit: String
        let blocksInProof: [String]

        var testDescription: String { comment }
    }

    static let cases: [Case] = {
        let url = FixturePath.url("atproto-interop-tests/firehose/commit-proof-fixtures.json")
        guard let data = try? Data(contentsOf: url), let cases = try? JSONDecoder().decode([Case].self, from: data)
        else { return [] }
        return cases
    }()

    @Test func everyCaseIsRead() {
        #expect(Self.cases.count == 6)
    }

    @Test(arguments: cases)
    func inversionGivesThePreviousRoot(_ fixture: Case) throws {
        let leaf = try CID(string: fixture.leafValue)
        var tree = MerkleSearchTree()
        for key in fixture.keys { try tree.insert(Array(key.utf8), value: leaf) }
        #expect(tree.rootCID.string == fixture.rootBeforeCommit)

        for key in fixture.adds { #expect(try tree.insert(Array(key.utf8), value: leaf) == nil) }
        for key in fixture.dels { #expect(try tree.remove(Array(key.utf8)) == leaf) }
        #expect(tree.rootCID.string == fixture.rootAfterCommit)

        let proof = Set(fixture.blocksInProof)
        let blocks = Dictionary(
            tree.blocks().filter { proof.contains($0.cid.string) }.map { ($0.cid, $0.bytes) },
            uniquingKeysWith: { a, _ in a })
        #expect(blocks.count == proof.count)
        var inverted = try MerkleSearchTree(root: tree.rootCID, block: { blocks[$0]?[...] })
        for key in fixture.adds { #expect(try inverted.remove(Array(key.utf8)) == leaf) }
        for key in fixture.dels { #expect(try inverted.insert(Array(key.utf8), value: leaf) == nil) }
        #expect(inverted.rootCID.string == fixture.rootBeforeCommit)
    }
}
