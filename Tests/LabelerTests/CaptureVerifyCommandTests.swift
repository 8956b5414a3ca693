import Foundation
import TestSupport
import Testing

@testable import Labeler

/// `labeler capture verify`, run as an operator runs it, against the in-process directory.
@Suite struct CaptureVerifyCommandTests {
    @Test func countsVerifiedAndFailedCommitsAndExitsNonZeroOnFailures() async throws {
        var alice = VerificationPipelineTests.Account("capturealice", .secp256k1)
        var bob = VerificationPipelineTests.Account("capturebob", .p256)
        let (network, _) = try await VerificationPipelineTests.network([alice, bob])
        let base = try await network.start()
        let clean = try VerificationPipelineTests.capture([
            try alice.commit(1, "one"), try bob.commit(2, "two"), try alice.commit(3, "three"),
        ])
        let forged = try VerificationPipelineTests.capture([
            try alice.commit(4, "four"), try bob.commit(5, "five", signingWith: .generate(.p256)),
        ])
        let folder = temporaryPath("run")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = ["LABELER_IDENTITY_PLC_URL": base + "/plc"]

        func run(_ file: String) async throws -> (status: Int32?, output: String) {
            let process = try ServiceProcess(
                ["capture", "verify", file, "--json"], in: folder, environment: environment,
                log: temporaryPath("verify.log"))
            let status = await process.wait(timeout: .seconds(120))
            return (status, process.logText)
        }

        let good = try await run(clean)
        #expect(good.status == 0)
        #expect(good.output.contains(#""commits":3,"verified":3,"without_proof":0,"failed":0,"undecodable":0"#))
        let bad = try await run(forged)
        #expect(bad.status == 1)
        #expect(bad.output.contains(#""verified":1,"#))
        #expect(bad.output.contains(#""failed_by_reason":{"bad_signature":1}"#))
        await network.stop()
    }
}
