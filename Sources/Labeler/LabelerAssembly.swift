import ATCrypto
import ATProto
import Foundation
import Identity
import LabelStore
import Logging
import Rules

/// The parts every command builds from the configuration, built one way: the database, the
/// signing key, the labels' `src`, the rule set and the label writer. `labeler run`
/// (`LabelerService`), `replay` and `label add|negate` take them from here, so the same
/// configuration means the same database, key and DID everywhere, with the same errors.
public struct LabelerAssembly: Sendable {
    /// One line saying what is wrong with the configuration.
    public struct Failure: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String

        public init(_ description: String) { self.description = description }
    }

    public let configuration: LabelerConfiguration
    /// For `LABELER_SIGNING_PRIVATE_KEY`.
    public let environment: [String: String]

    public init(configuration: LabelerConfiguration, environment: [String: String]) {
        self.configuration = configuration
        self.environment = environment
    }

    /// The identity resolver the `identity.*` keys describe.
    public func identityResolver() throws(Failure) -> IdentityResolver {
        var resolver = IdentityResolver.Configuration()
        resolver.plcURL = configuration.identityPLCURL
        resolver.cacheTTL = configuration.identityCacheTTL
        resolver.timeout = configuration.identityTimeout
        resolver.dnsTimeout = min(configuration.identityTimeout, .seconds(3))
        if !configuration.identityDNSServer.isEmpty {
            do { resolver.dnsServer = try DNSTXTClient.parseServer(configuration.identityDNSServer) } catch {
                throw Failure("identity.dns_server: \(error)")
            }
        }
        return IdentityResolver(configuration: resolver)
    }

    /// The gate `source.verify` asks for, checking keys through `resolver`; nil when it is `off`.
    ///
    /// With `store`, the gate starts knowing the accounts its earlier runs heard were inactive
    /// (within the last 30 days).
    public func verificationGate(
        resolver: IdentityResolver, logger: Logger, store: LabelStore? = nil
    ) throws(Failure) -> VerificationGate? {
        guard configuration.sourceVerify != .off else { return nil }
        let verifier = CommitVerifier(
            resolver: resolver,
            configuration: .init(
                lookupsInFlight: configuration.identityLookupsInFlight,
                failureBackoff: configuration.identityFailureBackoff))
        let gate = VerificationGate(mode: configuration.sourceVerify, verifier: verifier, logger: logger)
        if let store {
            let since = Self.inactiveAccountsCutoff(now: .now())
            do { gate.restore(inactive: try store.inactiveAccounts(since: since)) } catch {
                throw Failure(error.description)
            }
        }
        return gate
    }

    /// The oldest `#account` news the verification gate takes back from the store at its start:
    /// 30 days before `now`, as long as the gate remembers an inactive account. Older statuses
    /// are dropped from the store.
    static func inactiveAccountsCutoff(now: Datetime) -> Datetime {
        Datetime(unixMicros: now.unixMicros - 30 * 86_400 * 1_000_000)
    }

    /// The labeler's DID (`did`), which going live needs.
    public func labelerDID() throws(Failure) -> DID {
        guard !configuration.did.isEmpty else {
            throw Failure("did is empty: set it to the labeler account's DID in the configuration (or LABELER_DID)")
        }
        do { return try DID(configuration.did) } catch { throw Failure("did: \(error)") }
    }

    /// Opens (creating it and its folder when absent) the database at `store.path`.
    public func openStore() throws(Failure) -> LabelStore {
        do { try createParentDirectory(of: configuration.storePath) } catch { throw Failure(error.description) }
        do { return try LabelStore(path: configuration.storePath, durability: configuration.storeDurability) } catch {
            throw Failure(error.description)
        }
    }

    /// The signing key: `LABELER_SIGNING_PRIVATE_KEY`, else the key file, which is created
    /// (mode 0600) when absent and `createIfAbsent`.
    public func signingKey(createIfAbsent: Bool, logger: Logger) throws(Failure) -> SigningKey {
        let type: KeyType = configuration.signingType == .p256 ? .p256 : .secp256k1
        if !createIfAbsent && environment[SigningKeyLoader.environmentVariable]?.isEmpty != false
            && access(configuration.signingKey, F_OK) != 0
        {
            throw Failure("\(configuration.signingKey): no signing key (create one with `labeler keys generate`)")
        }
        do {
            return try SigningKeyLoader.load(
                path: configuration.signingKey, typeForNewKey: type, environment: environment, logger: logger)
        } catch {
            throw Failure(error.description)
        }
    }

    /// What labels may be signed as. The configured `did`, checked; without one, the key's
    /// did:key, which the network ignores: the service runs with a warning (`.warn`), a command
    /// that writes labels refuses unless told otherwise (`.refuse`).
    public enum WithoutDID: Sendable {
        case warn(Logger)
        case refuse
        case allow
    }

    /// The labels' `src`.
    public func src(signingWith key: SigningKey, withoutDID: WithoutDID) throws(Failure) -> String {
        guard configuration.did.isEmpty else {
            guard DID.isValid(configuration.did) else { throw Failure("did: '\(configuration.did)' is not a DID") }
            return configuration.did
        }
        let src = key.publicKey.didKey
        switch withoutDID {
        case .warn(let logger):
            logger.warning(
                "no did configured: labels are signed with src = the key's did:key; set did to the labeler account's DID before serving the network",
                metadata: ["src": "\(src)"])
        case .refuse:
            throw Failure(
                "no DID configured: the label would be signed with src = the key's did:key, which the network ignores; "
                    + "set did in the configuration (or pass --did), or pass --allow-did-key-src")
        case .allow:
            break
        }
        return src
    }

    /// The rule set in `rules.path`; with no such folder, the empty set (`missingIsEmpty`) or a
    /// failure. Each problem of a set that does not load is logged as `file:line:column: …`, each
    /// warning of one that does too.
    public func ruleSet(missingIsEmpty: Bool, logger: Logger) throws(Failure) -> RuleSet {
        let directory = configuration.rulesPath
        guard FileManager.default.fileExists(atPath: directory) else {
            if missingIsEmpty { return .empty }
            throw Failure("\(directory): no rules folder")
        }
        do {
            let set = try RuleSet.load(directory: directory)
            for warning in set.warnings { logger.warning("\(warning)") }
            if set.labelDefinitions == nil {
                logger.info(
                    "no \(LabelDefinitions.fileName) in the rules folder: label values are not checked against definitions",
                    metadata: ["rules": "\(directory)"])
            }
            return set
        } catch {
            for diagnostic in error.diagnostics { logger.error("\(diagnostic)") }
            throw Failure("\(directory): the rules do not load (\(error.diagnostics.count) problems)")
        }
    }

    /// The label writer for `store`, signing with `key` as `src`; with a stream, it stores that
    /// stream's cursor (the low-water marks the pipeline hands it) with its transactions.
    ///
    /// With `globalBudget`, it keeps to `limits.labels_per_*`: what does not fit is queued, and
    /// the writer that `drainsQueue` (the service's) sends it as the budget makes room.
    public func labelWriter(
        store: LabelStore, key: SigningKey, src: String, logger: Logger,
        configuration: LabelWriter.Configuration = .init(), eventSource: CursorName? = nil,
        globalBudget: Bool = false, drainsQueue: Bool = false
    ) throws(Failure) -> LabelWriter {
        var configuration = configuration
        if globalBudget { configuration.globalBudget = self.configuration.globalBudget }
        configuration.drainsQueue = drainsQueue
        do {
            return try LabelWriter(
                store: store, src: src, key: key, configuration: configuration, logger: logger,
                eventSource: eventSource)
        } catch {
            throw Failure(error.description)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
