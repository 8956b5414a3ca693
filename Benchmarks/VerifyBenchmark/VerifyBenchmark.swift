import ATCrypto
import ATProto
import Firehose
import Foundation
import Identity
import SeededRandom
import SyntheticFirehose
import TestNetwork

/// What `source.verify` costs per commit, on one task (run it under `taskset -c 0` for the
/// one-core figure): signed sync 1.1 commits are written for many accounts (RepoWriter: real
/// MSTs, inversion proofs, signatures, 90 % secp256k1 and 10 % P-256 keys), their DIDs served by
/// the in-process PLC directory, then
///   decode   every frame decoded as the pipeline does (CAR, block hashes, commit, records)
///   verify   + CommitVerifier.verify: did/rev, inversion proof, signature (keys cached after a
///            first pass that fetched every DID document once)
/// With `--out`, the commits are also written as a capture, and with `--keys`, each account's
/// did:key as JSON (`{did: did:key}`), for `scripts/bench-verify.sh` to replay them through
/// `labeler replay --verify` against a PLC directory serving those keys.
/// Usage: verify-bench [--commits N] [--accounts N] [--rounds R] [--out CAPTURE] [--keys FILE]
@main
struct VerifyBenchmark {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var commits = 20_000
        var accounts = 1_000
        var rounds = 3
        var out: String?
        var keysFile: String?
        while !args.isEmpty {
            let arg = args.removeFirst()
            switch arg {
            case "--commits": commits = Int(args.removeFirst()) ?? commits
            case "--accounts": accounts = Int(args.removeFirst()) ?? accounts
            case "--rounds": rounds = Int(args.removeFirst()) ?? rounds
            case "--out": out = args.removeFirst()
            case "--keys": keysFile = args.removeFirst()
            default:
                print("usage: verify-bench [--commits N] [--accounts N] [--rounds R] [--out CAPTURE] [--keys FILE]")
                return
            }
        }

        let network = try TestNetwork()
        let base = try await network.start()
        let clock = ContinuousClock()
        let generation = clock.now
        let messages = try corpus(commits: commits, accounts: accounts, network: network)
        let bytes = messages.reduce(0) { $0 + $1.count }
        print(
            "input: \(messages.count) signed commits of \(accounts) accounts, \(bytes) bytes "
                + "(written in \(Int((clock.now - generation).inSeconds)) s), best of \(rounds) rounds")
        if let out {
            let writer = try CaptureWriter(path: out)
            for message in messages { try writer.write(message) }
            try writer.flush()
        }
        if let keysFile {
            let registered = network.withState { $0.plc }
            let lines = registered.sorted { $0.key < $1.key }.map { did, data in
                "\"\(did)\":\"\(data.verificationMethods["atproto"] ?? "")\""
            }
            try ("{" + lines.joined(separator: ",\n") + "}\n").write(
                toFile: keysFile, atomically: true, encoding: .utf8)
        }

        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        let verifier = CommitVerifier(resolver: IdentityResolver(configuration: configuration))
        let decoder = RepoEventDecoder()
        // First pass: every DID document fetched once, and every commit must verify.
        var failures = 0
        for message in messages {
            guard case .commit(let event) = try decoder.decode(message) else { continue }
            do { try await verifier.verify(event) } catch { failures += 1 }
        }
        print("first pass: \(failures) failures, \(verifier.lookupCounts.lookups) key lookups")
        guard failures == 0 else {
            print("every commit must verify before the timing means anything")
            await network.stop()
            return
        }

        let decodeRate = try await best(rounds, messages.count) {
            for message in messages { _ = try decoder.decode(message) }
        }
        let verifyRate = try await best(rounds, messages.count) {
            for message in messages {
                guard case .commit(let event) = try decoder.decode(message) else { continue }
                try await verifier.verify(event)
            }
        }
        print("decode  \(Int(decodeRate)) commits/s")
        print("verify  \(Int(verifyRate)) commits/s (decode + verify)")
        let share = (1 / verifyRate - 1 / decodeRate) / (1 / verifyRate) * 100
        print(
            "verification: \(Int(1e6 / verifyRate - 1e6 / decodeRate)) µs per commit, \(Int(share)) % of the verified rate's time"
        )
        await network.stop()
    }

    /// The best of `rounds` runs of `body`, as items per second.
    static func best(_ rounds: Int, _ items: Int, _ body: @Sendable () async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        var best = Duration.seconds(1_000_000)
        for _ in 0..<max(1, rounds) {
            let start = clock.now
            try await body()
            best = min(best, clock.now - start)
        }
        return Double(items) / best.inSeconds
    }

    /// Signed commits of `accounts` repositories (creates mostly, some updates and deletes), each
    /// account's key registered with `network`'s PLC directory.
    static func corpus(commits: Int, accounts: Int, network: TestNetwork) throws -> [[UInt8]] {
        var rng = SplitMix64(seed: 16)
        var writers: [RepoWriter] = []
        var keys: [SigningKey] = []
        var paths: [[String]] = []
        for i in 0..<accounts {
            // Padded with a letter radix 32 does not use, so that no two accounts share a DID.
            let did = "did:plc:" + String(i, radix: 32).padding(toLength: 24, withPad: "x", startingAt: 0)
            let key = SigningKey.generate(i % 10 == 9 ? .p256 : .secp256k1)
            writers.append(RepoWriter(did: did))
            keys.append(key)
            paths.append([])
            network.withState {
                $0.plc[did] = .init(
                    verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }
        var messages: [[UInt8]] = []
        messages.reserveCapacity(commits)
        for seq in 1...commits {
            // A few accounts write far more than most, as on the network.
            let u = Double(rng.next() % 1_000_000) / 1_000_000
            let account = Int(Double(accounts - 1) * u * u)
            let roll = rng.next() % 10
            let operation: RepoWriter.Operation
            if roll == 0, let path = paths[account].popLast() {
                operation = .delete(path: path)
            } else if roll == 1, let path = paths[account].last {
                operation = .update(path: path, record: post("edited \(seq)"))
            } else {
                let collection = roll < 6 ? "app.bsky.feed.like" : "app.bsky.feed.post"
                let path = "\(collection)/3l\(String(seq, radix: 32))"
                paths[account].append(path)
                operation = .create(path: path, record: post("post \(seq)"))
            }
            let key = keys[account]
            messages.append(try writers[account].commit(seq: Int64(seq), [operation], sign: { try key.sign($0) }))
        }
        return messages
    }

    static func post(_ text: String) -> CBORValue {
        .map([
            "$type": "app.bsky.feed.post", "text": .text(CBORText(text)), "createdAt": "2026-12-02T00:00:00.000Z",
        ])
    }
}
