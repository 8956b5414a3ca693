import ATProto
import Identity
import LabelStore
import Logging
import Synchronization

/// `source.verify`: what happens to a commit that does not verify.
public enum VerifyMode: String, Sendable, CaseIterable {
    /// Nothing is checked (the relay is trusted).
    case off
    /// Every commit is checked and failures are counted (and logged at debug level: at the
    /// network's rate a line each would drown the log); everything is labeled.
    case log
    /// Every commit is checked; one that fails is rejected: counted, logged with its seq, never
    /// labeled.
    case enforce
}

/// Stands between the decoder and the rules when `source.verify` is `log` or `enforce`: checks
/// each `#commit` with the ``CommitVerifier`` and keeps track of accounts that `#account`
/// events say are inactive (taken down, suspended, deleted, deactivated), whose commits fail as
/// `inactive_account` until an event says they are active again.
///
/// The pipeline runs one event of an account at a time, so an account's `#account` event is
/// always seen before its later commits are checked.
public final class VerificationGate: Sendable {
    /// What was checked so far.
    public struct Counts: Sendable, Equatable {
        /// Commits that verified.
        public var verified = 0
        /// Of those, the ones without `prevData`, whose ops could not be proved complete.
        public var withoutProof = 0
        /// Commits that did not verify, by reason (``CommitVerificationError/Reason/name``).
        public var failed: [String: Int] = [:]
        /// Of those, the ones rejected (`enforce`).
        public var rejected = 0
        /// The first few failures, one line each (`seq N did: why`), for a report.
        public var firstFailures: [String] = []

        public var failures: Int { failed.values.reduce(0, +) }
    }

    /// The `#account` statuses that stop an account's events from being labeled. Others
    /// (`desynchronized`, `throttled`) describe a hop, not the account.
    public static let inactiveStatuses: Set<String> = ["takendown", "suspended", "deleted", "deactivated"]

    public let mode: VerifyMode
    public let verifier: CommitVerifier
    let logger: Logger
    /// Inactive accounts and their status; bounded, and forgotten after 30 days without news.
    private let inactive = Mutex(ExpiringCache<String, String>(capacity: 1_000_000, timeToLive: .seconds(30 * 86_400)))
    private let tally = Mutex(Counts())

    /// - Precondition: `mode` is not `off` (then there is no gate).
    public init(mode: VerifyMode, verifier: CommitVerifier, logger: Logger) {
        precondition(mode != .off, "verify: off builds no gate")
        self.mode = mode
        self.verifier = verifier
        self.logger = logger
    }

    public var counts: Counts { tally.withLock { $0 } }

    /// What an `#account` event changes for verification, to store: the account became
    /// inactive (with its status), or active again; nil for a status about a hop
    /// (`throttled`, `desynchronized`), which changes nothing.
    public static func statusChange(_ account: AccountEvent) -> AccountStatusChange? {
        let status = account.status ?? ""
        if !account.active && inactiveStatuses.contains(status) {
            return AccountStatusChange(did: account.did.rawValue, status: status)
        }
        return account.active ? AccountStatusChange(did: account.did.rawValue, status: nil) : nil
    }

    /// Takes back what the store says about inactive accounts (after a restart: their events
    /// were handled, and the cursor passed them, before it).
    public func restore(inactive accounts: [(did: String, status: String)]) {
        inactive.withLock { cache in
            for account in accounts { cache.insert(account.status, for: account.did, at: .now) }
        }
    }

    /// Checks one event; returns why it is rejected (only in `enforce`), or nil when it goes on
    /// to the rules.
    public func check(seq: Int64, _ event: RepoEvent) async -> CommitVerificationError? {
        switch event {
        case .account(let account):
            if let change = Self.statusChange(account) {
                inactive.withLock { accounts in
                    if let status = change.status {
                        accounts.insert(status, for: change.did, at: .now)
                    } else {
                        accounts.remove(change.did)
                    }
                }
            }
            return nil
        case .commit(let commit):
            let failure: CommitVerificationError
            if let status = inactive.withLock({ $0.value(for: commit.repo.rawValue, at: .now) }) {
                failure = CommitVerificationError(.inactiveAccount(status))
            } else {
                do {
                    let proved = try await verifier.verify(commit)
                    tally.withLock {
                        $0.verified += 1
                        if !proved { $0.withoutProof += 1 }
                    }
                    return nil
                } catch {
                    failure = error
                }
            }
            let rejects = mode == .enforce
            tally.withLock {
                $0.failed[failure.reason.name, default: 0] += 1
                if rejects { $0.rejected += 1 }
                if $0.firstFailures.count < 10 { $0.firstFailures.append("seq \(seq) \(commit.repo): \(failure)") }
            }
            logger.log(
                level: rejects ? .warning : .debug, rejects ? "commit rejected" : "commit did not verify",
                metadata: [
                    "seq": "\(seq)", "did": "\(commit.repo)", "reason": "\(failure.reason.name)",
                    "error": "\(failure)",
                ])
            return rejects ? failure : nil
        default:
            return nil
        }
    }
}
