/// A repo commit object (version 3, WEB `specs/repository` "Commit Objects") read from its
/// block, with the bytes its signature covers.
///
/// The signature is over the commit's canonical DAG-CBOR without `sig`. The decoder accepts
/// only canonical DAG-CBOR, so encoding the decoded map without `sig` gives exactly those bytes.
public struct SignedCommit: Sendable {
    public let did: String
    public let rev: String
    /// The MST root after the commit.
    public let data: CID
    public let prev: CID?
    /// The 64-byte `r ‖ s` signature as stored (its length is checked by the verifier).
    public let signature: [UInt8]
    /// The commit without `sig`, as DAG-CBOR: what `signature` signs.
    public let unsignedBytes: [UInt8]

    /// Reads the commit in `block`.
    ///
    /// - Throws: ``CommitVerificationError`` `.malformedCommit` when it is not a version 3
    ///   commit with every field of the right type.
    public init(block: ArraySlice<UInt8>, decoder: CBORDecoder = CBORDecoder()) throws(CommitVerificationError) {
        func fail(_ reason: String) -> CommitVerificationError { CommitVerificationError(.malformedCommit(reason)) }
        let value: CBORValue
        do { value = try decoder.decode(block) } catch { throw fail("not DAG-CBOR: \(error)") }
        guard let map = value.mapValue else { throw fail("not a map") }
        guard map["version"]?.intValue == 3 else { throw fail("version is not 3") }
        guard let did = map["did"]?.stringValue else { throw fail("did is missing or not a string") }
        guard let rev = map["rev"]?.stringValue else { throw fail("rev is missing or not a string") }
        guard let data = map["data"]?.linkValue else { throw fail("data is missing or not a link") }
        guard let prev = map["prev"] else { throw fail("prev is missing (it must be present, even as null)") }
        guard prev.isNull || prev.linkValue != nil else { throw fail("prev is neither a link nor null") }
        guard let sig = map["sig"]?.bytesValue else { throw fail("sig is missing or not bytes") }
        self.did = did
        self.rev = rev
        self.data = data
        self.prev = prev.linkValue
        signature = Array(sig)
        unsignedBytes = CBOREncoder.encode(.map(map.removing("sig")))
    }
}

/// Why a `#commit` did not verify. Each reason has a short name for metrics and JSON
/// (``Reason/name``).
public struct CommitVerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The event carries no commit block to check (Jetstream, or a frame without it).
        case noCommitBlock
        /// The commit block is not a well-formed version 3 commit.
        case malformedCommit(String)
        /// The commit's `did` is not the event's `repo`.
        case didMismatch(commit: String, event: String)
        /// The commit's `rev` is not the event's.
        case revMismatch(commit: String, event: String)
        /// The signature does not verify against the account's current `#atproto` key.
        case badSignature
        /// The account's key could not be had (its DID document did not resolve, or names none).
        case keyUnavailable(String)
        /// The ops cannot be undone on the blocks the frame carries (a node they need is missing,
        /// or an update or delete lacks its `prev`).
        case proofIncomplete(String)
        /// An MST node in the frame is malformed.
        case proofMalformed(String)
        /// Undoing the ops does not give `prevData`: the ops are not the whole change.
        case proofMismatch(String)
        /// The account was deactivated, suspended, taken down or deleted (`#account`).
        case inactiveAccount(String)
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    public var description: String {
        switch reason {
        case .noCommitBlock: "the event carries no commit block"
        case .malformedCommit(let why): "commit object: \(why)"
        case .didMismatch(let commit, let event): "the commit's did \(commit) is not the event's repo \(event)"
        case .revMismatch(let commit, let event): "the commit's rev \(commit) is not the event's rev \(event)"
        case .badSignature: "the signature does not verify against the account's #atproto key"
        case .keyUnavailable(let why): "no key to check against: \(why)"
        case .proofIncomplete(let why): "inversion proof incomplete: \(why)"
        case .proofMalformed(let why): "inversion proof: \(why)"
        case .proofMismatch(let why): "inversion proof does not hold: \(why)"
        case .inactiveAccount(let status): "the account is inactive (\(status))"
        }
    }
}

extension CommitVerificationError.Reason {
    /// Every reason's short name, in a fixed order (for metrics that list them all).
    public static let names = [
        "no_commit_block", "malformed_commit", "did_mismatch", "rev_mismatch", "bad_signature", "key_unavailable",
        "proof_incomplete", "proof_malformed", "proof_mismatch", "inactive_account",
    ]

    /// The reason's short name (`bad_signature`, `proof_mismatch`, …).
    public var name: String {
        switch self {
        case .noCommitBlock: "no_commit_block"
        case .malformedCommit: "malformed_commit"
        case .didMismatch: "did_mismatch"
        case .revMismatch: "rev_mismatch"
        case .badSignature: "bad_signature"
        case .keyUnavailable: "key_unavailable"
        case .proofIncomplete: "proof_incomplete"
        case .proofMalformed: "proof_malformed"
        case .proofMismatch: "proof_mismatch"
        case .inactiveAccount: "inactive_account"
        }
    }
}

extension CommitEvent {
    /// The signed commit this event carries, checked against the event: same `did` as `repo`,
    /// same `rev`. What does not depend on the account's key; the signature is checked with
    /// `ATCrypto`'s `SignedCommit.verifySignature(with:)`.
    public func signedCommit() throws(CommitVerificationError) -> SignedCommit {
        guard let blocks, let commit, let block = blocks.block(for: commit) else {
            throw CommitVerificationError(.noCommitBlock)
        }
        let signed = try SignedCommit(block: block)
        guard signed.did == repo.rawValue else {
            throw CommitVerificationError(.didMismatch(commit: signed.did, event: repo.rawValue))
        }
        guard signed.rev == rev else { throw CommitVerificationError(.revMismatch(commit: signed.rev, event: rev)) }
        return signed
    }

    /// The sync 1.1 inversion proof: undoing the ops on the new tree (root `data`, from the
    /// frame's blocks) gives the previous commit's tree, `prevData`. Returns false, having
    /// checked nothing, when the event has no `prevData` (a producer older than sync 1.1).
    ///
    /// - Throws: ``CommitVerificationError`` `.proofIncomplete`, `.proofMalformed` or
    ///   `.proofMismatch`.
    @discardableResult
    public func checkInversionProof(data: CID) throws(CommitVerificationError) -> Bool {
        guard let prevData else { return false }
        guard let blocks else { throw CommitVerificationError(.noCommitBlock) }
        do {
            var tree = try MerkleSearchTree(root: data, block: { blocks.block(for: $0) })
            // Undone last to first, as a commit applied them first to last.
            for op in ops.reversed() {
                let key = Array(op.path.utf8)
                switch op.action {
                case .create:
                    let removed = try tree.remove(key)
                    guard removed == op.cid else {
                        throw CommitVerificationError(
                            .proofMismatch("the tree holds \(removed.map(\.string) ?? "nothing") at created \(op.path)")
                        )
                    }
                case .update, .delete:
                    guard let prev = op.prev else {
                        throw CommitVerificationError(
                            .proofIncomplete("the \(op.action.rawValue) of \(op.path) has no prev"))
                    }
                    let replaced = try tree.insert(key, value: prev)
                    guard replaced == op.cid else {
                        throw CommitVerificationError(
                            .proofMismatch(
                                "the tree holds \(replaced.map(\.string) ?? "nothing") at \(op.action.rawValue)d \(op.path)"
                            ))
                    }
                }
            }
            let root = tree.rootCID
            guard root == prevData else {
                throw CommitVerificationError(.proofMismatch("undoing the ops gives \(root), not prevData \(prevData)"))
            }
            return true
        } catch let error as CommitVerificationError {
            throw error
        } catch let error as MSTError {
            switch error {
            case .absentNode: throw CommitVerificationError(.proofIncomplete(error.description))
            case .malformedNode: throw CommitVerificationError(.proofMalformed(error.description))
            }
        } catch {
            throw CommitVerificationError(.proofMalformed("\(error)"))
        }
    }
}
