import Foundation
import Labeler
import TestRelay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The log of the real `labeler` process: JSON lines when asked, the status line, and a bad log
/// setting refused in one line.
@Suite struct RunLoggingTests {
    @Test(.timeLimit(.minutes(2))) func jsonLogsAreOneObjectPerLineAndIncludeTheStatusLine() async throws {
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        let folder = (temporaryPath("run") as NSString).deletingLastPathComponent
        let child = try ServiceProcess(
            ["run"], in: folder,
            environment: [
                "LABELER_SOURCE_URL": relay.url, "LABELER_SERVER_PORT": "0", "LABELER_LOG_FORMAT": "json",
                // Short, so the test sees status lines without waiting a minute.
                "LABELER_LOG_STATUS_INTERVAL": "100ms",
            ],
            log: folder + "/log")
        try await waitUntil("two status lines") {
            child.logText.components(separatedBy: #""msg":"status""#).count >= 3
        }
        // The port, from the JSON "serving labels" line; the health report has the version.
        let serving = try #require(Self.objects(child.logText).first { $0["msg"] as? String == "serving labels" })
        let port = try #require((serving["port"] as? String).flatMap(Int.init))
        let (health, _) = try await CrashTests.get("http://127.0.0.1:\(port)/xrpc/_health")
        #expect(health.contains(#""version":"\#(LabelerVersion.current)""#), "\(health)")
        child.signal(SIGTERM)
        #expect(await child.wait(timeout: .seconds(30)) == 0, "\(child.logText)")

        let lines = child.logText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count >= 5)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            for key in ["ts", "level", "msg"] { #expect(object?[key] is String, "\(key) missing: \(line)") }
        }
        let objects = Self.objects(child.logText)
        let status = try #require(objects.first { $0["msg"] as? String == "status" })
        for key in ["events_per_second", "lag_seconds", "cursor", "labels", "new_labels", "errors", "new_errors"] {
            #expect(status[key] is String, "status line without \(key)")
        }
        #expect(objects.contains { $0["msg"] as? String == "labeler stopped" })
    }

    @Test func anUnknownLogFormatStopsTheCommandWithOneLine() async throws {
        let folder = (temporaryPath("run") as NSString).deletingLastPathComponent
        let child = try ServiceProcess(
            ["keys", "show", "--key", folder + "/none.key"], in: folder, environment: ["LABELER_LOG_FORMAT": "xml"],
            log: folder + "/log")
        #expect(await child.wait(timeout: .seconds(60)) == 1)
        #expect(child.logText == "Error: environment: LABELER_LOG_FORMAT: must be one of text, json, not 'xml'\n")
    }

    static func objects(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
